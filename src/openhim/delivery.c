/*
 * delivery.c — builds and sends OpenHIM notifications (see delivery.h).
 * The target's router client authenticates with Basic auth, checked by
 * core as hash(password + salt) (core-js src/middleware/
 * basicAuthentication.js).  Any answer but 2xx, or none, is retried with
 * the store's backoff up to the delivery's max_attempts.
 *
 * Targets: the config file's (cfg.h, openhim.target.NAME.*) win over
 * those OpenHIM pushed under the same name.  Addresses: a target's URL
 * passes the import fetcher's address policy (bulk/fetch_policy.h,
 * fetch_policy_target_refused) at connect time, so a pushed target
 * cannot point Bulkhead at a cloud metadata service or a private
 * address unless import_allow names its host; a refusal ends the
 * delivery failed, with the reason, at once.  Inline files: see
 * delivery.h.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "auth/urlsign.h"
#include "bulk/fetch_policy.h"
#include "bulk/transcode.h"
#include "core/cfg.h"
#include "core/version.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "openhim/delivery.h"
#include "store/db.h"
#include "store/deliveries.h"
#include "store/job_files.h"

/* A target resolved for one send (delivery_target).  Strings owned. */
struct delivery_target {
	char		*dt_url;
	char		*dt_user;	/* "" when none */
	char		*dt_pass;
	int64_t		 dt_max_inline;
	const char	*dt_from;	/* "the config file" or "OpenHIM" */
};

/* The address policy's state for one send (delivery_on_socket). */
struct delivery_guard {
	const char	*g_allow;	/* import_allow, borrowed */
	char		 g_host[256];	/* the URL's host, unbracketed */
	char		 g_blocked[512]; /* why an address was refused */
};

static size_t	delivery_on_body(char *, size_t, size_t, void *);
static int	delivery_target(PGconn *, const char *, const struct cfg *,
		    struct delivery_target *, char *, size_t);
static void	delivery_target_free(struct delivery_target *);
static curl_socket_t delivery_on_socket(void *, curlsocktype,
		    struct curl_sockaddr *);
static int	delivery_guard_init(struct delivery_guard *,
		    const struct cfg *, const char *, char *, size_t);
static int	delivery_read_file(const struct cfg *, const char *,
		    struct buf *);
static char	*delivery_inline(PGconn *, const struct cfg *, const char *,
		    int64_t, char *);
static int	delivery_send(PGconn *, const struct cfg *,
		    const struct delivery *);

static size_t
delivery_on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct buf	*b = arg;

	(void)buf_append(b, p, sz * n);	/* kept up to its cap */
	return sz * n;
}

char *
delivery_notification(PGconn *conn, const struct cfg *c, const char *job,
    int n, int attempt, const char *target, int *gone, char *errbuf,
    size_t errlen)
{
	PGresult	*res = NULL;
	cJSON		*o = NULL, *d, *arr;
	const char	*p[1] = { job };
	char		 url[2048], *text = NULL;
	struct urlsign_signer us;
	int64_t		 finished;
	int		 i;

	memset(&us, 0, sizeof(us));
	*gone = 0;
	res = db_query(conn, "SELECT kind, state, to_char(transaction_time "
	    "AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
	    "files_removed IS NOT NULL, coalesce(floor(extract(epoch FROM "
	    "finished))::bigint, 0) FROM jobs WHERE id = $1", 1, p,
	    errbuf, errlen);
	if (res == NULL)
		goto out;
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 1),
	    "completed") != 0) {
		snprintf(errbuf, errlen, "job %s is no longer completed", job);
		*gone = 1;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 3), "t") == 0) {
		snprintf(errbuf, errlen, "the files of job %s were removed",
		    job);
		*gone = 1;
		goto out;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "jobId", job);
	cJSON_AddStringToObject(o, "kind", PQgetvalue(res, 0, 0));
	if (!PQgetisnull(res, 0, 2))
		cJSON_AddStringToObject(o, "transactionTime",
		    PQgetvalue(res, 0, 2));
	job_files_status_url(c->base_url, job, url, sizeof(url));
	cJSON_AddStringToObject(o, "statusUrl", url);
	d = cJSON_AddObjectToObject(o, "delivery");
	cJSON_AddNumberToObject(d, "n", n);
	cJSON_AddNumberToObject(d, "attempt", attempt);
	cJSON_AddStringToObject(d, "target", target);
	/* Download URLs: signed, needing no token (auth/urlsign.h). */
	finished = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	PQclear(res);
	res = NULL;
	if (urlsign_signer_open(conn, c, &us, errbuf, errlen) == -1)
		goto out;
	res = db_query(conn, "SELECT channel, type, coalesce(file, ''), "
	    "count, bytes FROM job_outputs WHERE job_id = $1 AND channel IN "
	    "('output', 'error') ORDER BY seq", 1, p, errbuf, errlen);
	if (res == NULL)
		goto out;
	cJSON_AddArrayToObject(o, "output");
	cJSON_AddArrayToObject(o, "error");
	for (i = 0; i < PQntuples(res); i++) {
		arr = cJSON_GetObjectItemCaseSensitive(o,
		    PQgetvalue(res, i, 0));
		d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "type", PQgetvalue(res, i, 1));
		if (urlsign_url(&us, job, PQgetvalue(res, i, 2), finished,
		    url, sizeof(url)) == -1)
			url[0] = '\0';
		cJSON_AddStringToObject(d, "url", url);
		cJSON_AddNumberToObject(d, "count",
		    strtod(PQgetvalue(res, i, 3), NULL));
		cJSON_AddNumberToObject(d, "bytes",
		    strtod(PQgetvalue(res, i, 4), NULL));
		cJSON_AddItemToArray(arr, d);
	}
	text = cJSON_PrintUnformatted(o);
 out:
	urlsign_signer_close(&us);
	PQclear(res);
	cJSON_Delete(o);
	return text;
}

/* The target called name: the config file's first (it wins on a name
 * clash: an OpenHIM administrator cannot redirect a target the
 * operator's file declares), else one pushed by OpenHIM.  1 found, 0
 * none, -1 database error. */
static int
delivery_target(PGconn *conn, const char *name, const struct cfg *c,
    struct delivery_target *t, char *errbuf, size_t errlen)
{
	const struct cfg_target	*ct;
	PGresult		*res;
	const char		*p[1] = { name };
	int			 rc = 0;

	memset(t, 0, sizeof(*t));
	if ((ct = cfg_target_find(c, name)) != NULL) {
		t->dt_url = xstrdup(ct->ct_value[CFG_TF_URL]);
		t->dt_user = xstrdup(ct->ct_value[CFG_TF_USERNAME] != NULL ?
		    ct->ct_value[CFG_TF_USERNAME] : "");
		t->dt_pass = xstrdup(ct->ct_value[CFG_TF_PASSWORD] != NULL ?
		    ct->ct_value[CFG_TF_PASSWORD] : "");
		t->dt_max_inline = ct->ct_max_inline;
		t->dt_from = "the config file";
		return 1;
	}
	res = db_query(conn, "SELECT url, coalesce(username, ''), "
	    "coalesce(password, ''), max_inline FROM openhim_targets WHERE "
	    "name = $1", 1, p, errbuf, errlen);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		t->dt_url = xstrdup(PQgetvalue(res, 0, 0));
		t->dt_user = xstrdup(PQgetvalue(res, 0, 1));
		t->dt_pass = xstrdup(PQgetvalue(res, 0, 2));
		t->dt_max_inline = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
		t->dt_from = "OpenHIM";
		rc = 1;
	}
	PQclear(res);
	return rc;
}

static void
delivery_target_free(struct delivery_target *t)
{
	free(t->dt_url);
	free(t->dt_user);
	free(t->dt_pass);
	memset(t, 0, sizeof(*t));
}

/* Before each connect(): create the socket unless the address policy
 * (fetch_policy_target_refused) refuses it; curl then tries the host's
 * next address, and not even a SYN goes to a refused one.  A fresh easy
 * handle per send, so no connection is reused unchecked. */
static curl_socket_t
delivery_on_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct delivery_guard	*g = arg;
	char			 ip[INET6_ADDRSTRLEN];
	const char		*what;
	int			 fd;

	if (purpose != CURLSOCKTYPE_IPCXN ||
	    fetch_policy_addr_text(sa->family, &sa->addr, sa->addrlen, ip,
	    sizeof(ip)) == -1) {
		snprintf(g->g_blocked, sizeof(g->g_blocked), "host %s: "
		    "refused a non-IP connection", g->g_host);
		return CURL_SOCKET_BAD;
	}
	if (fetch_policy_target_refused(g->g_allow, g->g_host, ip, &what)) {
		snprintf(g->g_blocked, sizeof(g->g_blocked), "refused by the "
		    "address policy: host %s is %s address %s (name the host "
		    "in import_allow to allow it)", g->g_host, what, ip);
		return CURL_SOCKET_BAD;
	}
	fd = socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
	return fd == -1 ? CURL_SOCKET_BAD : fd;
}

/* The host of url, unbracketed, into g. */
static int
delivery_guard_init(struct delivery_guard *g, const struct cfg *c,
    const char *url, char *errbuf, size_t errlen)
{
	CURLU		*u;
	char		*host = NULL;
	const char	*h;
	size_t		 hl;
	int		 rc = -1;

	memset(g, 0, sizeof(*g));
	g->g_allow = c->import_allow;
	if ((u = curl_url()) == NULL || curl_url_set(u, CURLUPART_URL, url,
	    0) != CURLUE_OK || curl_url_get(u, CURLUPART_HOST, &host, 0) !=
	    CURLUE_OK) {
		snprintf(errbuf, errlen, "the target's URL \"%.200s\" cannot "
		    "be parsed", url);
		goto out;
	}
	fetch_policy_unbracket(host, strlen(host), &h, &hl);
	if (hl == 0 || hl >= sizeof(g->g_host)) {
		snprintf(errbuf, errlen, "the target's URL has no usable "
		    "host");
		goto out;
	}
	memcpy(g->g_host, h, hl);
	g->g_host[hl] = '\0';
	rc = 0;
 out:
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/* One stored output file, decompressed, into b (bounded by b's max). */
static int
delivery_read_file(const struct cfg *c, const char *rel, struct buf *b)
{
	struct transcode	*t;
	char			 path[4096], err[256], chunk[65536];
	ssize_t			 n;
	int			 rc = -1;

	if (job_files_path(c->data_dir, rel, path, sizeof(path)) == -1 ||
	    (t = transcode_open(path, TRANSCODE_IDENTITY, 0, err,
	    sizeof(err))) == NULL)
		return -1;
	while ((n = transcode_read(t, chunk, sizeof(chunk))) > 0)
		if (memchr(chunk, '\0', (size_t)n) != NULL ||
		    buf_append(b, chunk, (size_t)n) == -1)
			goto out;
	rc = n == 0 ? 0 : -1;
 out:
	transcode_close(t);
	return rc;
}

/*
 * body with each file's NDJSON text as "inline" beside its url, when the
 * job's files total less than max_inline bytes (uncompressed) and the
 * result stays within OpenHIM's 15 MiB body cap; otherwise body as it
 * is.  Takes body; returns what to send (caller frees with free()).
 */
static char *
delivery_inline(PGconn *conn, const struct cfg *c, const char *job,
    int64_t max_inline, char *body)
{
	PGresult	*res = NULL;
	cJSON		*o = NULL, *item;
	struct buf	 b;
	const char	*p[1] = { job };
	char		 err[256], *text = NULL;
	int		 i, nout = 0, nerr = 0;
	int64_t		 total = 0;

	buf_init(&b, 0);
	if (max_inline <= 0)
		return body;
	res = db_query(conn, "SELECT channel, coalesce(file, ''), bytes FROM "
	    "job_outputs WHERE job_id = $1 AND channel IN ('output', "
	    "'error') ORDER BY seq", 1, p, err, sizeof(err));
	if (res == NULL || PQntuples(res) == 0)
		goto keep;
	for (i = 0; i < PQntuples(res); i++) {
		if (PQgetvalue(res, i, 1)[0] == '\0')
			goto keep;	/* an output with no file */
		total += strtoll(PQgetvalue(res, i, 2), NULL, 10);
	}
	if (total >= max_inline || (o = cJSON_Parse(body)) == NULL)
		goto keep;
	for (i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 0), "output") == 0)
			item = cJSON_GetArrayItem(
			    cJSON_GetObjectItemCaseSensitive(o, "output"),
			    nout++);
		else
			item = cJSON_GetArrayItem(
			    cJSON_GetObjectItemCaseSensitive(o, "error"),
			    nerr++);
		/* Bounded by what is left of the cap: the byte counts are
		 * the writer's word, the files are what gets sent. */
		buf_free(&b);
		buf_init(&b, (size_t)(max_inline - 1));
		if (item == NULL || delivery_read_file(c, PQgetvalue(res, i,
		    1), &b) == -1)
			goto keep;
		max_inline -= (int64_t)b.b_len;
		cJSON_AddStringToObject(item, "inline", b.b_data != NULL ?
		    b.b_data : "");
	}
	text = cJSON_PrintUnformatted(o);
	if (text == NULL || strlen(text) > (size_t)CFG_TARGET_INLINE_MAX) {
		log_info("job %s: inline files would take the notification "
		    "past OpenHIM's 15 MiB: URLs only", job);
		cJSON_free(text);
		goto keep;
	}
	free(body);
	body = xstrdup(text);
	cJSON_free(text);
 keep:
	PQclear(res);
	cJSON_Delete(o);
	buf_free(&b);
	return body;
}

/* One attempt of d, its outcome recorded. */
static int
delivery_send(PGconn *conn, const struct cfg *c, const struct delivery *d)
{
	struct delivery_target	 t;
	struct delivery_guard	 g;
	CURL			*h = NULL;
	struct curl_slist	*hdrs = NULL;
	struct buf		 b;
	char			*body = NULL, *userpwd = NULL, *hdr = NULL;
	char			 err[512] = "", cerr[CURL_ERROR_SIZE] = "";
	long			 status = 0;
	int			 permanent = 0, bad = 0, rc;
	CURLcode		 cc;

	buf_init(&b, DELIVERIES_RESPONSE_MAX);
	memset(&t, 0, sizeof(t));
	if ((rc = delivery_target(conn, d->d_target, c, &t, err,
	    sizeof(err))) == -1)
		goto record;
	if (rc == 0) {
		snprintf(err, sizeof(err), "delivery target \"%s\" is not "
		    "configured", d->d_target);
		permanent = 1;
		goto record;
	}
	if (delivery_guard_init(&g, c, t.dt_url, err, sizeof(err)) == -1) {
		permanent = 1;
		goto record;
	}
	/* A job or files gone is final; a database error or a signing key
	 * that would not load is retried like a failed POST. */
	body = delivery_notification(conn, c, d->d_job, d->d_n, d->d_attempts,
	    d->d_target, &permanent, err, sizeof(err));
	if (body == NULL)
		goto record;
	body = delivery_inline(conn, c, d->d_job, t.dt_max_inline, body);
	if ((h = curl_easy_init()) == NULL) {
		snprintf(err, sizeof(err), "curl_easy_init failed");
		goto record;
	}
	hdr = xasprintf("X-Bulkhead-Delivery: %s/%d", d->d_job, d->d_n);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, hdr);
	bad += curl_easy_setopt(h, CURLOPT_URL, t.dt_url) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION,
	    delivery_on_socket) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &g) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_USERAGENT,
	    "bulkhead/" BULKHEAD_VERSION) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)DELIVERY_TIMEOUT) !=
	    CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, delivery_on_body) !=
	    CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_WRITEDATA, &b) != CURLE_OK;
	if (t.dt_user[0] != '\0') {
		userpwd = xasprintf("%s:%s", t.dt_user, t.dt_pass);
		bad += curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC) !=
		    CURLE_OK;
		bad += curl_easy_setopt(h, CURLOPT_USERPWD, userpwd) !=
		    CURLE_OK;
	}
	if (bad) {
		snprintf(err, sizeof(err), "curl option refused");
		goto record;
	}
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		if (g.g_blocked[0] != '\0') {
			/* Every address refused: no retry changes that. */
			snprintf(err, sizeof(err), "%s", g.g_blocked);
			permanent = 1;
		} else
			snprintf(err, sizeof(err), "%s", cerr[0] != '\0' ?
			    cerr : curl_easy_strerror(cc));
		goto record;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	snprintf(err, sizeof(err), "%.*s", (int)b.b_len,
	    b.b_data != NULL ? b.b_data : "");
	urlsign_redact(err);	/* a receiver may echo a signed URL */
 record:
	if (status >= 200 && status < 300)
		log_info("job %s: delivery %d to %s (from %s): delivered "
		    "(HTTP %ld, attempt %d)", d->d_job, d->d_n, d->d_target,
		    t.dt_from, status, d->d_attempts);
	else
		log_warnx("job %s: delivery %d to %s: attempt %d of %d: "
		    "HTTP %ld: %.200s", d->d_job, d->d_n, d->d_target,
		    d->d_attempts, d->d_max_attempts, status, err);
	rc = deliveries_finish(conn, d, status >= 200 && status < 300,
	    permanent, status, err, err, sizeof(err));
	if (rc == -1)
		log_warnx("job %s: delivery %d: recording: %s", d->d_job,
		    d->d_n, err);
	curl_slist_free_all(hdrs);
	if (h != NULL)
		curl_easy_cleanup(h);
	buf_free(&b);
	delivery_target_free(&t);
	free(body);
	free(userpwd);
	free(hdr);
	return rc;
}

int
delivery_run_due(PGconn *conn, const struct cfg *c)
{
	struct delivery	 d;
	char		 err[512];
	int		 i, n, r;

	if (deliveries_enqueue(conn, c->openhim_max_attempts, &n, err,
	    sizeof(err)) == -1) {
		log_warnx("deliveries: %s", err);
		return -1;
	}
	for (i = 0; i < DELIVERY_BATCH; i++) {
		if ((r = deliveries_claim(conn, &d, err, sizeof(err))) == -1) {
			log_warnx("deliveries: claim: %s", err);
			return -1;
		}
		if (r == 0)
			break;
		if (delivery_send(conn, c, &d) == -1)
			return -1;
	}
	return i;
}
