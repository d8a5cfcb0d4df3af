/*
 * delivery.c — builds and sends OpenHIM notifications (see delivery.h).
 * The target's router client authenticates with Basic auth, checked by
 * core as hash(password + salt) (core-js src/middleware/
 * basicAuthentication.js).  Any answer but 2xx, or none, is retried with
 * the store's backoff up to the delivery's max_attempts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "auth/urlsign.h"
#include "core/cfg.h"
#include "core/version.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "openhim/delivery.h"
#include "store/db.h"
#include "store/deliveries.h"
#include "store/job_files.h"

static size_t	delivery_on_body(char *, size_t, size_t, void *);
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
    int n, int attempt, const char *target, char *errbuf, size_t errlen)
{
	PGresult	*res = NULL;
	cJSON		*o = NULL, *d, *arr;
	const char	*p[1] = { job };
	char		 url[2048], *text = NULL;
	struct urlsign_signer us;
	int64_t		 finished;
	int		 i;

	memset(&us, 0, sizeof(us));
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
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 3), "t") == 0) {
		snprintf(errbuf, errlen, "the files of job %s were removed",
		    job);
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

/* One attempt of d, its outcome recorded. */
static int
delivery_send(PGconn *conn, const struct cfg *c, const struct delivery *d)
{
	PGresult		*res;
	CURL			*h = NULL;
	struct curl_slist	*hdrs = NULL;
	struct buf		 b;
	const char		*p[1] = { d->d_target };
	char			*body = NULL, *userpwd = NULL, *hdr = NULL;
	char			 err[512] = "", cerr[CURL_ERROR_SIZE] = "";
	long			 status = 0;
	int			 permanent = 0, bad = 0, rc;
	CURLcode		 cc;

	buf_init(&b, DELIVERIES_RESPONSE_MAX);
	res = db_query(conn, "SELECT url, coalesce(username, ''), "
	    "coalesce(password, '') FROM openhim_targets WHERE name = $1", 1,
	    p, err, sizeof(err));
	if (res == NULL)
		goto record;
	if (PQntuples(res) != 1) {
		snprintf(err, sizeof(err), "delivery target \"%s\" is not "
		    "configured", d->d_target);
		permanent = 1;
		goto record;
	}
	body = delivery_notification(conn, c, d->d_job, d->d_n, d->d_attempts,
	    d->d_target, err, sizeof(err));
	if (body == NULL) {
		permanent = 1;
		goto record;
	}
	if ((h = curl_easy_init()) == NULL) {
		snprintf(err, sizeof(err), "curl_easy_init failed");
		goto record;
	}
	hdr = xasprintf("X-Bulkhead-Delivery: %s/%d", d->d_job, d->d_n);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, hdr);
	bad += curl_easy_setopt(h, CURLOPT_URL, PQgetvalue(res, 0, 0)) !=
	    CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK;
	bad += curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK;
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
	if (PQgetvalue(res, 0, 1)[0] != '\0') {
		userpwd = xasprintf("%s:%s", PQgetvalue(res, 0, 1),
		    PQgetvalue(res, 0, 2));
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
		snprintf(err, sizeof(err), "%s", cerr[0] != '\0' ? cerr :
		    curl_easy_strerror(cc));
		goto record;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	snprintf(err, sizeof(err), "%.*s", (int)b.b_len,
	    b.b_data != NULL ? b.b_data : "");
	urlsign_redact(err);	/* a receiver may echo a signed URL */
 record:
	if (status >= 200 && status < 300)
		log_info("job %s: delivery %d to %s: delivered (HTTP %ld, "
		    "attempt %d)", d->d_job, d->d_n, d->d_target, status,
		    d->d_attempts);
	else
		log_warnx("job %s: delivery %d to %s: attempt %d of %d: "
		    "HTTP %ld: %.200s", d->d_job, d->d_n, d->d_target,
		    d->d_attempts, d->d_max_attempts, status, err);
	rc = deliveries_finish(conn, d, status >= 200 && status < 300,
	    permanent, status, err, err, sizeof(err));
	if (rc == -1)
		log_warnx("job %s: delivery %d: recording: %s", d->d_job,
		    d->d_n, err);
	PQclear(res);
	curl_slist_free_all(hdrs);
	if (h != NULL)
		curl_easy_cleanup(h);
	buf_free(&b);
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
