/*
 * openhim_poll.c — the routes of OpenHIM polling channels:
 *
 *   GET /openhim/poll/{schedule}          runs the schedule once
 *   GET /openhim/poll/{schedule}/outputs  outputs of its jobs since a time
 *
 * OpenHIM's polling app sends a GET on each cron tick with
 * X-OpenHIM-LastRunAt and X-OpenHIM-TransactionID (core-js
 * src/polling.js, src/middleware/router.js); the answer is a mediator
 * response, Content-Type application/json+openhim, which router.js
 * parses whenever the type contains that string, whatever the HTTP
 * status (docs/dev-guide/mediators.md).
 *
 * The run: status "Processing", response 202 with the job's status URL,
 * properties with the job id, one orchestration for the kick-off.  The
 * transaction id is claimed first (store/deliveries.h), so a replayed
 * transaction (rerun, auto-retry) answers with the job it started, never
 * a second one.
 *
 * The outputs: status "Successful", response 200 whose body lists the
 * schedule's completed jobs (files not yet expired) that finished after
 * the `since` query parameter, else X-OpenHIM-LastRunAt (openhim/
 * openhim_time.h: RFC 3339 or the JavaScript date core sends), else any
 * time, compared in milliseconds; oldest first, at most
 * OPENHIM_POLL_MAX_JOBS, cut on a millisecond boundary (then "truncated"
 * and "nextSince" say where to go on: following it lists every job
 * once).  Each file has a signed download URL (auth/urlsign.h) that
 * needs no token, its type and count.
 *
 * Errors: infrastructure failures (database down) answer HTTP 500 with
 * "error" set, which makes OpenHIM queue the transaction for auto-retry
 * (B6 of OPENIMIS.md); client errors answer HTTP 200 (a mediator
 * response; the client's status is response.status), status "Failed"
 * with an OperationOutcome as response.body.
 *
 * Authentication: an admin principal (store/admins.h) of role operator or
 * admin, as an OpenHIM route sends it: its username and password are
 * Basic auth (router.js constructOptionsObject: options.auth), so
 * "Authorization: Basic base64(NAME:TOKEN)" with NAME the principal's
 * name and TOKEN its token (or "config" and the legacy admin_token); a
 * Bearer TOKEN works too.  The token is hashed and looked up as on the
 * admin API (admin_auth.c): constant time, never stored or logged.
 * Missing or wrong: HTTP 401, WWW-Authenticate Basic and Bearer, and a
 * Failed mediator response; a lower role: 403.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api/admin_auth.h"
#include "api/openhim_poll.h"
#include "auth/urlsign.h"
#include "core/cfg.h"
#include "http/http_db.h"
#include "http/http_route.h"
#include "jobs/cron.h"
#include "jobs/schedule.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "openhim/openhim_mediator.h"
#include "openhim/openhim_time.h"
#include "store/deliveries.h"
#include "store/job_files.h"
#include "store/jobq.h"

#define OPENHIM_POLL_TYPE	"application/json+openhim"
#define OPENHIM_POLL_REALM	"Basic realm=\"bulkhead\", " \
				"Bearer realm=\"bulkhead\""
#define OPENHIM_POLL_MAX_JOBS	100	/* jobs per outputs answer */
#define OPENHIM_POLL_MAX_BODY	(15 << 20)	/* api.maxBodiesSizeMB */
#define OPENHIM_POLL_CRED_MAX	512	/* decoded Basic credentials */

static cJSON	*openhim_poll_doc(const char *status, int code,
		    const char *ctype, const char *body, const char *location);
static void	 openhim_poll_send(struct http_req *, unsigned int, cJSON *);
static void	 openhim_poll_error(struct http_req *, const char *);
static void	 openhim_poll_outcome(struct http_req *, unsigned int, int,
		    const char *, const char *);
static int	 openhim_poll_basic(const char *, char *, size_t, size_t *);
static int	 openhim_poll_auth(struct http_req *, struct admin_ctx *);
static int	 openhim_poll_schedule(struct http_req *, PGconn *,
		    const char *);
static int	 openhim_poll_same_ms(const struct jobq_job *,
		    const struct jobq_job *);
static int	 openhim_poll_job(PGconn *, struct urlsign_signer *,
		    const struct jobq_job *, cJSON *, int *, char *, size_t);

/* A mediator response (caller sends or frees it): x-mediator-urn,
 * status, response {status, headers, body, timestamp}, orchestrations
 * [], properties {}. */
static cJSON *
openhim_poll_doc(const char *status, int code, const char *ctype,
    const char *body, const char *location)
{
	cJSON		*o, *r, *h;
	char		 ts[32];
	time_t		 now = time(NULL);
	struct tm	 tm;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "x-mediator-urn", OPENHIM_MEDIATOR_URN);
	cJSON_AddStringToObject(o, "status", status);
	r = cJSON_AddObjectToObject(o, "response");
	cJSON_AddNumberToObject(r, "status", code);
	h = cJSON_AddObjectToObject(r, "headers");
	cJSON_AddStringToObject(h, "content-type", ctype);
	if (location != NULL)
		cJSON_AddStringToObject(h, "location", location);
	cJSON_AddStringToObject(r, "body", body);
	cJSON_AddStringToObject(r, "timestamp", ts);
	cJSON_AddArrayToObject(o, "orchestrations");
	cJSON_AddObjectToObject(o, "properties");
	return o;
}

/* Answers o (freed) with HTTP status http. */
static void
openhim_poll_send(struct http_req *req, unsigned int http, cJSON *o)
{
	struct buf	 b;
	char		*text;

	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	buf_init(&b, OPENHIM_POLL_MAX_BODY);
	if (text == NULL || buf_puts(&b, text) == -1) {
		free(text);
		buf_free(&b);
		(void)http_reply_internal(req, "mediator response too large");
		return;
	}
	free(text);
	(void)http_reply_buf(req, http, OPENHIM_POLL_TYPE, &b);
}

/* An infrastructure failure: HTTP 500 with "error", so that OpenHIM
 * retries the transaction. */
static void
openhim_poll_error(struct http_req *req, const char *msg)
{
	cJSON	*o, *e;

	log_warnx("request %s: OpenHIM poll: %s", http_req_id(req), msg);
	o = openhim_poll_doc("Failed", 500, "application/fhir+json", "",
	    NULL);
	e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "message", msg);
	openhim_poll_send(req, 500, o);
}

/* A client error: status Failed, the OperationOutcome as the body,
 * response.status code; HTTP http. */
static void
openhim_poll_outcome(struct http_req *req, unsigned int http, int code,
    const char *issue_code, const char *msg)
{
	cJSON	*oo, *issue, *arr;
	char	*text;

	oo = cJSON_CreateObject();
	cJSON_AddStringToObject(oo, "resourceType", "OperationOutcome");
	arr = cJSON_AddArrayToObject(oo, "issue");
	issue = cJSON_CreateObject();
	cJSON_AddStringToObject(issue, "severity", "error");
	cJSON_AddStringToObject(issue, "code", issue_code);
	cJSON_AddStringToObject(issue, "diagnostics", msg);
	cJSON_AddItemToArray(arr, issue);
	text = cJSON_PrintUnformatted(oo);
	cJSON_Delete(oo);
	openhim_poll_send(req, http, openhim_poll_doc("Failed", code,
	    "application/fhir+json", text != NULL ? text : "", NULL));
	free(text);
}

/*
 * Decodes the base64 of a Basic credential b64 (NUL-terminated) into
 * out[0..outlen), NUL-terminated, *len bytes.  0, or -1 if it is not
 * base64 or does not fit.
 */
static int
openhim_poll_basic(const char *b64, char *out, size_t outlen, size_t *len)
{
	size_t	n = strlen(b64), pad = 0;
	int	r;

	while (n > 0 && (b64[n - 1] == ' ' || b64[n - 1] == '\t'))
		n--;
	if (n == 0 || n % 4 != 0 || n / 4 * 3 >= outlen)
		return -1;
	if (b64[n - 1] == '=')
		pad++;
	if (n > 1 && b64[n - 2] == '=')
		pad++;
	if ((r = EVP_DecodeBlock((unsigned char *)out,
	    (const unsigned char *)b64, (int)n)) < 0 || (size_t)r < pad)
		return -1;
	*len = (size_t)r - pad;
	out[*len] = '\0';
	return memchr(out, '\0', *len) == NULL ? 0 : -1;
}

/*
 * Authenticates a poll (see the header) and fills ax as admin_auth_open
 * does, with the thread's connection.  0, or -1 after answering (401,
 * 403, or 500 with "error" when the database is unavailable).
 */
static int
openhim_poll_auth(struct http_req *req, struct admin_ctx *ax)
{
	const struct cfg	*cfg = http_req_cfg(req);
	const char		*auth, *tok = NULL, *user = NULL;
	char			 cred[OPENHIM_POLL_CRED_MAX], *colon;
	char			 found[ADMINS_NAME_MAX], err[ADMIN_ERR_MAX];
	char			 addr[AUDIT_ADDR_MAX];
	unsigned char		 got[ADMINS_HASH_LEN], want[ADMINS_HASH_LEN];
	enum admins_role	 role = ADMINS_VIEWER;
	size_t			 len = 0;
	int			 disabled = 0, r, rc = -1;

	memset(ax, 0, sizeof(*ax));
	ax->ax_req = req;
	ax->ax_cfg = cfg;
	cred[0] = '\0';
	auth = http_req_header(req, "Authorization");
	if (auth != NULL && strncasecmp(auth, "Basic", 5) == 0 &&
	    (auth[5] == ' ' || auth[5] == '\t')) {
		for (auth += 6; *auth == ' ' || *auth == '\t'; auth++)
			;
		if (openhim_poll_basic(auth, cred, sizeof(cred), &len) == -1 ||
		    (colon = strchr(cred, ':')) == NULL || colon == cred ||
		    colon[1] == '\0') {
			(void)http_resp_header(req, "WWW-Authenticate",
			    OPENHIM_POLL_REALM);
			openhim_poll_outcome(req, 401, 401, "login", "the "
			    "Basic credentials are not NAME:TOKEN of an "
			    "admin principal");
			goto out;
		}
		*colon = '\0';
		user = cred;
		tok = colon + 1;
		len = strlen(tok);
	} else if (auth != NULL && strncasecmp(auth, "Bearer", 6) == 0 &&
	    (auth[6] == ' ' || auth[6] == '\t')) {
		for (tok = auth + 7; *tok == ' ' || *tok == '\t'; tok++)
			;
		len = strlen(tok);
		while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
			len--;
	}
	if (tok == NULL || len == 0) {
		(void)http_resp_header(req, "WWW-Authenticate",
		    OPENHIM_POLL_REALM);
		openhim_poll_outcome(req, 401, 401, "login", "authentication "
		    "required: set the OpenHIM route's username and password "
		    "to an admin principal of role operator and its token "
		    "(Basic NAME:TOKEN), or send \"Authorization: Bearer "
		    "TOKEN\"");
		goto out;
	}
	if (admins_token_hash(tok, len, got) == -1) {
		openhim_poll_error(req, "SHA-256 unavailable");
		goto out;
	}
	(void)http_req_client_addr(req, addr, sizeof(addr));
	audit_actor_init(&ax->ax_who, tok, len, addr, http_req_id(req));
	if (cfg->admin_token != NULL && cfg->admin_token[0] != '\0' &&
	    admins_token_hash(cfg->admin_token, strlen(cfg->admin_token),
	    want) == 0 && CRYPTO_memcmp(want, got, ADMINS_HASH_LEN) == 0 &&
	    (user == NULL || strcmp(user, ADMINS_CONFIG_NAME) == 0)) {
		role = ADMINS_ADMIN;
		str_lcpy(found, ADMINS_CONFIG_NAME, sizeof(found));
	} else {
		if ((ax->ax_conn = http_db_conn(err, sizeof(err))) == NULL) {
			openhim_poll_error(req, "database unavailable");
			goto out;
		}
		r = admins_lookup(ax->ax_conn, got, found, &role, &disabled,
		    err, sizeof(err));
		if (r == -1) {
			http_db_discard();
			ax->ax_conn = NULL;
			openhim_poll_error(req, "database unavailable");
			goto out;
		}
		if (r == 1 || (user != NULL && strcmp(user, found) != 0) ||
		    disabled) {
			if (r == 0 && disabled)
				log_info("request %s: admin principal %s is "
				    "disabled; poll refused", http_req_id(req),
				    found);
			(void)http_resp_header(req, "WWW-Authenticate",
			    OPENHIM_POLL_REALM);
			openhim_poll_outcome(req, 401, 401, "login", "invalid "
			    "credentials (name, token, or a disabled "
			    "principal)");
			goto out;
		}
	}
	ax->ax_role = role;
	audit_actor_principal(&ax->ax_who, found, admins_role_name(role));
	if (role < ADMINS_OPERATOR) {
		log_info("request %s: admin principal %s (%s) refused: OpenHIM "
		    "polls need the role operator", http_req_id(req), found,
		    admins_role_name(role));
		snprintf(err, sizeof(err), "the admin principal \"%s\" has "
		    "the role %s; OpenHIM polls need the role operator", found,
		    admins_role_name(role));
		openhim_poll_outcome(req, 403, 403, "forbidden", err);
		goto out;
	}
	if (ax->ax_conn == NULL &&
	    (ax->ax_conn = http_db_conn(err, sizeof(err))) == NULL) {
		openhim_poll_error(req, "database unavailable");
		goto out;
	}
	rc = 0;
 out:
	OPENSSL_cleanse(cred, sizeof(cred));
	return rc;
}

/* 0 if schedule name exists, else -1 after answering (404, or 500 with
 * "error"). */
static int
openhim_poll_schedule(struct http_req *req, PGconn *conn, const char *name)
{
	struct schedule	*sc = NULL;
	char		 err[ADMIN_ERR_MAX];
	int		 r;

	r = schedule_get(conn, name, &sc, err, sizeof(err));
	schedule_free(sc);
	if (r == -1) {
		http_db_discard();
		openhim_poll_error(req, "database unavailable");
		return -1;
	}
	if (r != 0) {
		snprintf(err, sizeof(err), "no such schedule \"%.64s\"",
		    name);
		openhim_poll_outcome(req, 200, 404, "not-found", err);
		return -1;
	}
	return 0;
}

void
openhim_poll_get(struct http_req *req)
{
	struct admin_ctx	 ax;
	const char		*name, *tid, *last;
	char			 err[ADMIN_ERR_MAX], job[JOBQ_ID_MAX] = "";
	char			 url[ADMIN_URL_MAX], body[ADMIN_URL_MAX + 128];
	cJSON			*o, *props, *e, *r;
	int			 rr, claimed = 0;

	if (openhim_poll_auth(req, &ax) == -1)
		return;
	name = http_req_param(req, "schedule");
	tid = http_req_header(req, "X-OpenHIM-TransactionID");
	last = http_req_header(req, "X-OpenHIM-LastRunAt");
	if (name == NULL || strlen(name) > 64) {
		openhim_poll_outcome(req, 200, 404, "not-found", "no such "
		    "schedule");
		return;
	}
	if (tid != NULL && (tid[0] == '\0' || strlen(tid) > 128)) {
		openhim_poll_outcome(req, 200, 400, "invalid",
		    "X-OpenHIM-TransactionID: 1 to 128 characters");
		return;
	}
	if (tid != NULL) {
		rr = deliveries_poll_claim(ax.ax_conn, tid, name, job,
		    sizeof(job), err, sizeof(err));
		if (rr == -1) {
			http_db_discard();
			openhim_poll_error(req, "database unavailable");
			return;
		}
		claimed = rr;
	}
	if (tid == NULL || claimed) {
		if (audit_begin(ax.ax_conn, &ax.ax_who, "schedule.run", "jobs",
		    name, err, sizeof(err)) == -1) {
			http_db_discard();
			openhim_poll_error(req, "database unavailable");
			return;
		}
		rr = schedule_run_now(ax.ax_conn, name, job, sizeof(job), err,
		    sizeof(err));
		admin_auth_audit_end(&ax);
		if (ax.ax_conn == NULL) {
			openhim_poll_error(req, "audit reset failed");
			return;
		}
		if (tid != NULL)
			(void)deliveries_poll_done(ax.ax_conn, tid, rr == 0 ?
			    job : NULL, err, sizeof(err));
		if (rr == SCHEDULE_R_NOTFOUND || rr == SCHEDULE_R_INVALID) {
			openhim_poll_outcome(req, 200, rr ==
			    SCHEDULE_R_NOTFOUND ? 404 : 400, rr ==
			    SCHEDULE_R_NOTFOUND ? "not-found" : "invalid", err);
			return;
		}
		if (rr != 0) {
			openhim_poll_error(req, "the schedule's run could not "
			    "be submitted");
			return;
		}
		log_info("schedule %s: run by an OpenHIM polling tick (%s, "
		    "last run at %.64s): job %s", name, tid != NULL ? tid :
		    "-", last != NULL ? last : "-", job);
	}
	(void)job_files_status_url(ax.ax_cfg->base_url, job, url,
	    sizeof(url));
	snprintf(body, sizeof(body), "{\"jobId\":\"%.64s\",\"status\":"
	    "\"%.2000s\"}", job, url);
	o = openhim_poll_doc("Processing", 202, "application/json", body,
	    job[0] != '\0' ? url : NULL);
	props = cJSON_GetObjectItemCaseSensitive(o, "properties");
	cJSON_AddStringToObject(props, "schedule", name);
	if (job[0] != '\0')
		cJSON_AddStringToObject(props, "jobId", job);
	if (last != NULL)
		cJSON_AddStringToObject(props, "lastRunAt", last);
	cJSON_AddStringToObject(props, "replayed", claimed || tid == NULL ?
	    "false" : "true");
	e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "name", "schedule run (kick-off)");
	r = cJSON_AddObjectToObject(e, "request");
	cJSON_AddStringToObject(r, "method", "POST");
	cJSON_AddStringToObject(r, "path", http_req_path(req));
	cJSON_AddStringToObject(r, "timestamp", cJSON_GetObjectItem(
	    cJSON_GetObjectItem(o, "response"), "timestamp")->valuestring);
	r = cJSON_AddObjectToObject(e, "response");
	cJSON_AddNumberToObject(r, "status", 202);
	cJSON_AddStringToObject(r, "body", body);
	cJSON_AddStringToObject(r, "timestamp", cJSON_GetObjectItem(
	    cJSON_GetObjectItem(o, "response"), "timestamp")->valuestring);
	cJSON_AddItemToArray(cJSON_GetObjectItem(o, "orchestrations"), e);
	openhim_poll_send(req, 200, o);
}

/*
 * Adds job j to jobs: {jobId, kind, finished, transactionTime, output:
 * [{type, url, count, bytes}], error: [...]}, URLs signed by us; *nout
 * counts the files.  0, or -1 (database) with err.
 */
static int
openhim_poll_job(PGconn *conn, struct urlsign_signer *us,
    const struct jobq_job *j, cJSON *jobs, int *nout, char *err,
    size_t errlen)
{
	struct jobq_outrow	*rows = NULL;
	cJSON			*o, *out, *errs, *item;
	char			 url[ADMIN_URL_MAX];
	time_t			 finished = 0;
	size_t			 i, n = 0;

	if (jobq_outputs_list(conn, j->j_id, NULL, &rows, &n, err,
	    errlen) == -1)
		return -1;
	if (j->j_finished != NULL && cron_time_parse(j->j_finished,
	    &finished) == -1)
		finished = 0;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "jobId", j->j_id);
	cJSON_AddStringToObject(o, "kind", j->j_kind);
	if (j->j_finished != NULL)
		cJSON_AddStringToObject(o, "finished", j->j_finished);
	if (j->j_transaction_time != NULL)
		cJSON_AddStringToObject(o, "transactionTime",
		    j->j_transaction_time);
	out = cJSON_AddArrayToObject(o, "output");
	errs = cJSON_AddArrayToObject(o, "error");
	for (i = 0; i < n; i++) {
		if (rows[i].r_file == NULL ||
		    (strcmp(rows[i].r_channel, "output") != 0 &&
		    strcmp(rows[i].r_channel, "error") != 0) ||
		    urlsign_url(us, j->j_id, rows[i].r_file,
		    (int64_t)finished, url, sizeof(url)) == -1)
			continue;
		item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "type", rows[i].r_type);
		cJSON_AddStringToObject(item, "url", url);
		cJSON_AddNumberToObject(item, "count", (double)rows[i].r_count);
		cJSON_AddNumberToObject(item, "bytes", (double)rows[i].r_bytes);
		cJSON_AddItemToArray(strcmp(rows[i].r_channel, "output") == 0 ?
		    out : errs, item);
		(*nout)++;
	}
	cJSON_AddItemToArray(jobs, o);
	jobq_outrows_free(rows, n);
	return 0;
}

/* Whether a and b finished in the same millisecond (j_finished is
 * written in milliseconds). */
static int
openhim_poll_same_ms(const struct jobq_job *a, const struct jobq_job *b)
{
	return a->j_finished != NULL && b->j_finished != NULL &&
	    strcmp(a->j_finished, b->j_finished) == 0;
}

void
openhim_poll_outputs_get(struct http_req *req)
{
	struct admin_ctx	 ax;
	struct urlsign_signer	 us;
	struct jobq_job		**jobs = NULL;
	const char		*name, *since, *src = "since";
	char			 err[ADMIN_ERR_MAX], text[OPENHIM_TIME_TEXT];
	char			 client[sizeof(SCHEDULE_CLIENT_PREFIX) + 64];
	char			 num[32], *body = NULL;
	cJSON			*doc = NULL, *arr, *o, *props;
	int64_t			 usec = 0;
	size_t			 total = 0, n, i;
	int			 nout = 0, truncated;

	memset(&us, 0, sizeof(us));
	if (openhim_poll_auth(req, &ax) == -1)
		return;
	name = http_req_param(req, "schedule");
	if (name == NULL || strlen(name) > 64) {
		openhim_poll_outcome(req, 200, 404, "not-found", "no such "
		    "schedule");
		return;
	}
	if ((since = http_req_query(req, "since")) == NULL) {
		since = http_req_header(req, "X-OpenHIM-LastRunAt");
		src = "X-OpenHIM-LastRunAt";
	}
	if (since != NULL && openhim_time_parse(since, strlen(since),
	    &usec) == -1) {
		snprintf(err, sizeof(err), "%s: \"%.80s\" is not an instant "
		    "(RFC 3339 with an offset, e.g. 2026-12-05T02:00:00Z, or "
		    "the date OpenHIM sends, e.g. Sat Dec 05 2026 02:00:00 "
		    "GMT+0000)", src, since);
		openhim_poll_outcome(req, 200, 400, "invalid", err);
		return;
	}
	if (since != NULL)
		openhim_time_format(usec, text, sizeof(text));
	if (openhim_poll_schedule(req, ax.ax_conn, name) == -1)
		return;
	snprintf(client, sizeof(client), "%s%s", SCHEDULE_CLIENT_PREFIX, name);
	if (jobq_completed_since(ax.ax_conn, client, since != NULL ? text :
	    NULL, OPENHIM_POLL_MAX_JOBS + 1, &jobs, &total, err,
	    sizeof(err)) == -1 || urlsign_signer_open(ax.ax_conn, ax.ax_cfg,
	    &us, err, sizeof(err)) == -1) {
		log_warnx("request %s: OpenHIM outputs poll: %s",
		    http_req_id(req), err);
		http_db_discard();
		openhim_poll_error(req, "database unavailable");
		goto out;
	}
	truncated = total > OPENHIM_POLL_MAX_JOBS;
	n = truncated ? OPENHIM_POLL_MAX_JOBS : total;
	/* nextSince is a millisecond: the page ends where one ends, so the
	 * next poll starts with the first job this one leaves out.  (More
	 * jobs than a page in one millisecond cannot be cut cleanly; the
	 * page then stays whole.) */
	if (truncated) {
		size_t	cut = n;

		while (cut > 0 && openhim_poll_same_ms(jobs[cut - 1],
		    jobs[cut]))
			cut--;
		if (cut > 0)
			n = cut;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "schedule", name);
	if (since != NULL)
		cJSON_AddStringToObject(o, "since", text);
	else
		cJSON_AddNullToObject(o, "since");
	arr = cJSON_AddArrayToObject(o, "jobs");
	for (i = 0; i < n; i++)
		if (openhim_poll_job(ax.ax_conn, &us, jobs[i], arr, &nout, err,
		    sizeof(err)) == -1) {
			cJSON_Delete(o);
			log_warnx("request %s: OpenHIM outputs poll: %s",
			    http_req_id(req), err);
			http_db_discard();
			openhim_poll_error(req, "database unavailable");
			goto out;
		}
	cJSON_AddBoolToObject(o, "truncated", truncated);
	if (truncated && jobs[n - 1]->j_finished != NULL)
		cJSON_AddStringToObject(o, "nextSince",
		    jobs[n - 1]->j_finished);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	doc = openhim_poll_doc("Successful", 200, "application/json",
	    body != NULL ? body : "{}", NULL);
	props = cJSON_GetObjectItemCaseSensitive(doc, "properties");
	cJSON_AddStringToObject(props, "schedule", name);
	if (since != NULL)
		cJSON_AddStringToObject(props, "since", text);
	snprintf(num, sizeof(num), "%zu", n);
	cJSON_AddStringToObject(props, "jobs", num);
	snprintf(num, sizeof(num), "%d", nout);
	cJSON_AddStringToObject(props, "files", num);
	cJSON_AddStringToObject(props, "truncated", truncated ? "true" :
	    "false");
	openhim_poll_send(req, 200, doc);
 out:
	urlsign_signer_close(&us);
	free(body);
	jobq_jobs_free(jobs, total);
}
