/*
 * export_api.c — $export kick-off, status, DELETE and file download
 * (SPEC §1.2–§1.13).  Runs in the API process on libmicrohttpd's threads:
 * each handler makes a few short queries on its thread's connection and
 * answers; a worker does the export itself (jobs/job_export.c).
 *
 * Status URLs are <base>/_jobs/<id> with a 128-bit random id; file URLs
 * are <base>/_jobs/<id>/files/<name> and are served only when a
 * job_outputs row of that job names the file, so no path from a client
 * ever reaches the file system.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "api/export_api.h"
#include "bulk/export_cache.h"
#include "bulk/export_params.h"
#include "api/import_api.h"
#include "bulk/transcode.h"
#include "core/cfg.h"
#include "http/http_db.h"
#include "http/http_parse.h"
#include "http/http_route.h"
#include "store/job_files.h"
#include "store/jobq.h"
#include "lib/buf.h"
#include "lib/httptext.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/ndjson.h"

#define EXPORT_PROGRESS_MAX	99	/* X-Progress under 100 chars */
#define EXPORT_RETRY_MIN	1
#define EXPORT_RETRY_MAX	30
#define EXPORT_READ_CHUNK	(256 * 1024)
#define EXPORT_FHIR_JSON	"application/fhir+json"

/* ---- helpers ---------------------------------------------------------- */

/* The client a job belongs to: a hash of its bearer token when it sends
 * one, else its address.  Used for the concurrency limit (EXP-KR-04). */
static void
export_client_id(struct http_req *req, char *out, size_t outlen)
{
	const char			*auth = http_req_header(req,
					    "Authorization");
	unsigned char			 md[EVP_MAX_MD_SIZE];
	unsigned int			 mdlen = 0, i;
	char				 host[64] = "unknown";
	size_t				 n;

	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0 &&
	    EVP_Digest(auth + 7, strlen(auth + 7), md, &mdlen, EVP_sha256(),
	    NULL) == 1) {
		n = (size_t)snprintf(out, outlen, "token:");
		for (i = 0; i < 8 && n + 2 < outlen; i++, n += 2)
			snprintf(out + n, outlen - n, "%02x", md[i]);
		return;
	}
	if (http_req_client_addr(req, host, sizeof(host)) == -1)
		str_lcpy(host, "unknown", sizeof(host));
	snprintf(out, outlen, "ip:%s", host);
}

static PGconn *
export_conn(struct http_req *req)
{
	char	 err[512];
	PGconn	*conn;

	if ((conn = http_db_conn(err, sizeof(err))) == NULL)
		(void)http_reply_outcome(req, 503, "transient",
		    "database unavailable; retry later");
	return conn;
}

/* Appends s to b percent-encoded for a URL query component. */
static void
export_url_encode(struct buf *b, const char *s)
{
	(void)httptext_pct_encode(b, s, "-._~:/,$");
}

struct export_collect {
	struct export_kickoff	*k;
	struct export_error	*err;
	struct buf		*url;
	int			 n;
	int			 failed;
};

static int
export_collect_query(void *arg, const char *key, const char *value)
{
	struct export_collect	*c = arg;

	(void)buf_putc(c->url, c->n++ ? '&' : '?');
	export_url_encode(c->url, key);
	(void)buf_putc(c->url, '=');
	export_url_encode(c->url, value);
	if (export_kickoff_add(c->k, key, value, c->err) == -1) {
		c->failed = 1;
		return 1;
	}
	return 0;
}

/* A FHIR OperationOutcome with one issue of any severity. */
static void
export_outcome(struct buf *b, const char *severity, const char *code,
    const char *text)
{
	(void)buf_puts(b, "{\"resourceType\":\"OperationOutcome\",\"issue\":"
	    "[{\"severity\":\"");
	(void)buf_puts(b, severity);
	(void)buf_puts(b, "\",\"code\":\"");
	(void)buf_puts(b, code);
	(void)buf_puts(b, "\",\"diagnostics\":\"");
	(void)buf_json_escape(b, text, strlen(text));
	(void)buf_puts(b, "\"}]}");
}

static void
export_http_date(time_t t, char *out, size_t outlen)
{
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* "2026-11-26T19:40:01.123456Z" (jobq's format) to time_t; 0 if bad. */
static time_t
export_parse_time(const char *s)
{
	struct tm	tm;

	if (s == NULL)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if (strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return 0;
	return timegm(&tm);
}

/* ---- kick-off ------------------------------------------------------- */

/*
 * The kick-off headers (EXP-H-01, EXP-H-02).  The IG lets a server assume
 * or reject a missing Accept or Prefer: respond-async; the reference
 * implementation rejects, and clients are tested against that, so we do
 * too.  Accept must list application/fhir+json itself (q > 0): a
 * wildcard or application/json alone is not enough.  0, or -1 after
 * answering 400.
 */
static int
export_check_headers(struct http_req *req, const struct http_prefer *prefer)
{
	static const char *const offers[] = { EXPORT_FHIR_JSON };
	struct buf	 accept;
	const char	*p, *e;
	size_t		 n;
	int		 listed = 0, rc = -1;

	buf_init(&accept, HTTP_ROUTE_MAX_HEADER);
	if (http_req_header_all(req, MHD_HTTP_HEADER_ACCEPT, &accept) > 0) {
		for (p = accept.b_data; *p != '\0'; p = *e ? e + 1 : e) {
			e = p + strcspn(p, ",");
			p += strspn(p, " \t");
			n = strcspn(p, ";, \t");
			if (n == strlen(EXPORT_FHIR_JSON) && p + n <= e &&
			    strncasecmp(p, EXPORT_FHIR_JSON, n) == 0)
				listed = 1;
		}
		/* Listed with q=0 means "not acceptable". */
		if (listed && http_parse_accept(accept.b_data, offers, 1) != 0)
			listed = 0;
	}
	if (!listed) {
		(void)http_reply_outcome(req, 400, "invalid", "the kick-off "
		    "needs an Accept header listing application/fhir+json");
		goto out;
	}
	if (!prefer->hp_respond_async) {
		(void)http_reply_outcome(req, 400, "invalid", "the kick-off "
		    "needs a Prefer: respond-async header");
		goto out;
	}
	rc = 0;
 out:
	buf_free(&accept);
	return rc;
}

/* Checks that a Group exists and, when patients were POSTed, that each is
 * a current member (EXP-P-PA-2) or at least a Patient we hold. */
static int
export_check_cohort(struct http_req *req, PGconn *conn, const char *group,
    const cJSON *params)
{
	const cJSON	*patients = cJSON_GetObjectItemCaseSensitive(params,
			    "patients");
	const char	*p[2];
	PGresult	*res;
	char		 err[512], *list = NULL;
	int		 rc = -1;

	if (group != NULL) {
		p[0] = group;
		res = db_query(conn, "SELECT 1 FROM resources WHERE type = "
		    "'Group' AND id = $1 AND NOT deleted", 1, p, err,
		    sizeof(err));
		if (res == NULL) {
			(void)http_reply_internal(req, "group lookup: %s", err);
			return -1;
		}
		if (PQntuples(res) == 0) {
			PQclear(res);
			(void)http_reply_outcome(req, 404, "not-found",
			    "Group/%s does not exist", group);
			return -1;
		}
		PQclear(res);
	}
	if (cJSON_GetArraySize(patients) == 0)
		return 0;
	list = cJSON_PrintUnformatted(patients);
	p[0] = list;
	p[1] = group != NULL ? group : "";
	res = db_query(conn,
	    "WITH want AS (SELECT DISTINCT jsonb_array_elements_text($1::jsonb)"
	    "  AS pid), "
	    "mem AS (SELECT substr(e->'entity'->>'reference', 9) AS pid "
	    "  FROM resources g, jsonb_array_elements(coalesce("
	    "  g.content::jsonb->'member', '[]')) e WHERE g.type = 'Group' "
	    "  AND g.id = $2 AND NOT g.deleted AND "
	    "  coalesce((e->>'inactive')::boolean, false) = false) "
	    "SELECT pid FROM want WHERE NOT EXISTS (SELECT 1 FROM resources r "
	    "  WHERE r.type = 'Patient' AND r.id = want.pid AND NOT r.deleted) "
	    "  OR ($2 <> '' AND pid NOT IN (SELECT pid FROM mem)) "
	    "ORDER BY pid LIMIT 1", 2, p, err, sizeof(err));
	if (res == NULL) {
		(void)http_reply_internal(req, "patient check: %s", err);
		goto out;
	}
	if (PQntuples(res) > 0) {
		(void)http_reply_outcome(req, 400, "invalid", "patient: "
		    "Patient/%s %s", PQgetvalue(res, 0, 0), group != NULL ?
		    "is not a member of the group" : "does not exist");
		PQclear(res);
		goto out;
	}
	PQclear(res);
	rc = 0;
 out:
	cJSON_free(list);
	return rc;
}

/* Rejects a kick-off over the client's concurrent-export limit. */
static int
export_check_limit(struct http_req *req, PGconn *conn, const char *client)
{
	const struct cfg	*cfg = http_req_cfg(req);
	char			 err[512];
	int64_t			 n = 0;

	if (jobq_count_active(conn, "export", client, &n, err,
	    sizeof(err)) == -1) {
		(void)http_reply_internal(req, "limit check: %s", err);
		return -1;
	}
	if (n < cfg->export_max_per_client)
		return 0;
	(void)http_resp_header(req, "Retry-After", "30");
	(void)http_reply_outcome(req, 429, "throttled", "this client already "
	    "has %lld exports in progress (the limit is %d); retry when one "
	    "completes", (long long)n, cfg->export_max_per_client);
	return -1;
}

static void
export_kickoff(struct http_req *req, enum export_level level)
{
	const struct cfg	*cfg = http_req_cfg(req);
	struct export_kickoff	*k = xcalloc(1, sizeof(*k));
	struct export_error	 ee;
	struct export_collect	 col;
	struct http_prefer	 prefer;
	struct jobq_spec	 spec;
	struct buf		 url, hdr, body;
	const char		*group = NULL, *path;
	cJSON			*params = NULL;
	char			*ptext = NULL, id[JOBQ_ID_MAX], err[512];
	char			 client[64], loc[1024], applied[128];
	const char		*lockp[1];
	PGconn			*conn = NULL;
	int			 in_tx = 0;

	buf_init(&url, 16384);
	buf_init(&hdr, HTTP_ROUTE_MAX_HEADER);
	buf_init(&body, 4096);
	memset(&ee, 0, sizeof(ee));
	(void)http_req_header_all(req, "Prefer", &hdr);
	http_parse_prefer(hdr.b_len ? hdr.b_data : NULL, &prefer);
	if (export_check_headers(req, &prefer) == -1)
		goto out;

	if (level == EXPORT_GROUP) {
		group = http_req_param(req, "id");
		if (group == NULL || !ndjson_valid_id(group, strlen(group))) {
			(void)http_reply_outcome(req, 404, "not-found",
			    "no such Group");
			goto out;
		}
	}
	/* "request": the kick-off URL without body parameters (EXP-M-02). */
	path = http_req_path(req);
	(void)buf_puts(&url, cfg->base_url);
	(void)buf_puts(&url, str_has_prefix(path, "/fhir") ? path + 5 : path);
	k->ek_level = level;
	k->ek_group = group;
	k->ek_lenient = prefer.hp_handling == HTTP_PREFER_HANDLING_LENIENT;
	k->ek_post = strcmp(http_req_method(req), "POST") == 0;
	memset(&col, 0, sizeof(col));
	col.k = k;
	col.err = &ee;
	col.url = &url;
	(void)http_req_query_each(req, export_collect_query, &col);
	if (col.failed)
		goto refuse;
	k->ek_request = url.b_data;
	if (k->ek_post) {
		const cJSON	*json = http_req_body_json(req);
		size_t		 len;

		(void)http_req_body(req, &len);
		if (len > 0 && json == NULL) {
			(void)http_reply_outcome(req, 400, "invalid", "the body "
			    "is not JSON; send a FHIR Parameters resource");
			goto out;
		}
		if (json != NULL && export_kickoff_from_parameters(k, json,
		    &ee) == -1)
			goto refuse;
	}
	if (export_params_build(k, &params, &ee) == -1)
		goto refuse;
	if (prefer.hp_separate_status)
		cJSON_AddBoolToObject(params, "separateStatus", 1);

	if ((conn = export_conn(req)) == NULL)
		goto out;
	if (export_check_cohort(req, conn, group, params) == -1)
		goto out;
	export_client_id(req, client, sizeof(client));
	/* Count and insert under one lock per client, or parallel
	 * kick-offs could all pass the count (EXP-KR-04). */
	lockp[0] = client;
	if (db_exec(conn, "BEGIN", 0, NULL, err, sizeof(err)) == -1 ||
	    (in_tx = 1, db_exec(conn, "SELECT pg_advisory_xact_lock("
	    "hashtext('bulkhead export ' || $1))", 1, lockp, err,
	    sizeof(err))) == -1) {
		http_db_discard();
		in_tx = 0;
		(void)http_reply_outcome(req, 503, "transient", "database "
		    "unavailable; retry later");
		goto out;
	}
	if (export_check_limit(req, conn, client) == -1)
		goto out;
	ptext = cJSON_PrintUnformatted(params);
	memset(&spec, 0, sizeof(spec));
	spec.s_kind = "export";
	spec.s_params = ptext;
	spec.s_client = client;
	spec.s_max_attempts = cfg->job_max_attempts;
	if (jobq_submit(conn, &spec, id, sizeof(id), err, sizeof(err)) == -1 ||
	    db_exec(conn, "COMMIT", 0, NULL, err, sizeof(err)) == -1) {
		http_db_discard();
		in_tx = 0;
		(void)http_reply_internal(req, "submit: %s", err);
		goto out;
	}
	in_tx = 0;
	log_info("export %s accepted for %s (%s level)", id, client,
	    level == EXPORT_SYSTEM ? "system" : level == EXPORT_PATIENT ?
	    "patient" : "group");
	(void)job_files_status_url(cfg->base_url, id, loc, sizeof(loc));
	(void)http_resp_header(req, "Content-Location", loc);
	applied[0] = '\0';
	if (prefer.hp_respond_async || prefer.hp_separate_status)
		str_lcpy(applied, "respond-async", sizeof(applied));
	if (prefer.hp_separate_status)
		snprintf(applied + strlen(applied), sizeof(applied) -
		    strlen(applied), ", separate-export-status");
	if (k->ek_lenient)
		snprintf(applied + strlen(applied), sizeof(applied) -
		    strlen(applied), "%shandling=lenient", applied[0] ?
		    ", " : "");
	if (applied[0] != '\0')
		(void)http_resp_header(req, "Preference-Applied", applied);
	export_outcome(&body, "information", "informational", "export "
	    "accepted; poll the Content-Location URL for its status");
	(void)http_reply_buf(req, 202, http_req_json_type(req), &body);
	goto out;
 refuse:
	(void)http_reply_outcome(req, ee.ee_status ? ee.ee_status : 400,
	    ee.ee_code ? ee.ee_code : "invalid", "%s", ee.ee_msg);
 out:
	if (in_tx)
		(void)db_exec(conn, "ROLLBACK", 0, NULL, err, sizeof(err));
	cJSON_Delete(params);
	cJSON_free(ptext);
	buf_free(&url);
	buf_free(&hdr);
	buf_free(&body);
	free(k);
}

void
export_api_kickoff_system(struct http_req *req)
{
	export_kickoff(req, EXPORT_SYSTEM);
}

void
export_api_kickoff_patient(struct http_req *req)
{
	export_kickoff(req, EXPORT_PATIENT);
}

void
export_api_kickoff_group(struct http_req *req)
{
	export_kickoff(req, EXPORT_GROUP);
}

/* ---- status ----------------------------------------------------------- */

struct export_row {
	struct jobq_job	*job;
	cJSON		*params;	/* parsed j_params */
	int		 removed;	/* files_removed is set */
	int		 import;	/* an import job, not an export */
	char		 removed_at[40];
};

/* The job id of a status URL, or NULL after answering 404. */
static const char *
export_req_id(struct http_req *req)
{
	const char	*id = http_req_param(req, "id");

	if (id == NULL || strlen(id) >= JOBQ_ID_MAX ||
	    !ndjson_valid_id(id, strlen(id))) {
		(void)http_reply_outcome(req, 404, "not-found", "no such "
		    "export job");
		return NULL;
	}
	return id;
}

/* Loads a bulk job: 1 and *row (free with export_row_free), 0 when there
 * is no such job or it is not of a kind status URLs serve, -1 when the
 * database failed (errbuf). */
static int
export_row_load(PGconn *conn, const char *id, struct export_row *row,
    char *errbuf, size_t errlen)
{
	int	n;

	memset(row, 0, sizeof(*row));
	if ((n = jobq_get(conn, id, &row->job, errbuf, errlen)) <= 0)
		return n;
	/* Status URLs serve the bulk kinds only; other jobs are the admin
	 * API's business. */
	if (strcmp(row->job->j_kind, "export") != 0 &&
	    strcmp(row->job->j_kind, "renewal-export") != 0 &&
	    strcmp(row->job->j_kind, "import") != 0) {
		jobq_job_free(row->job);
		row->job = NULL;
		return 0;
	}
	row->import = strcmp(row->job->j_kind, "import") == 0;
	/* Read with the job itself: one query per load. */
	if (row->job->j_files_removed != NULL) {
		row->removed = 1;
		str_lcpy(row->removed_at, row->job->j_files_removed,
		    sizeof(row->removed_at));
	}
	row->params = cJSON_Parse(row->job->j_params);
	return 1;
}

static void
export_row_free(struct export_row *row)
{
	jobq_job_free(row->job);
	cJSON_Delete(row->params);
}

/*
 * "Claim: 412,000 of 1,200,000 resources (step 9 of 12, 63%)", and the
 * fraction done for Retry-After.  The worker reports heap pages read out
 * of the pages its plan will read (job_export.c), so the fraction follows
 * the work: the small types first do not make a job look half done.
 * Progress without pages (older workers) weighs every step alike.
 */
static void
export_progress(const struct jobq_job *j, char *out, size_t outlen,
    double *fraction)
{
	cJSON		*p = j->j_progress ? cJSON_Parse(j->j_progress) : NULL;
	const cJSON	*type, *done, *total, *step, *steps, *pd, *pt;
	char		 d[32], t[32], text[200];
	size_t		 n;

	*fraction = 0;
	text[0] = '\0';
	if (j->j_state == JOBQ_QUEUED) {
		str_lcpy(text, "queued", sizeof(text));
		goto out;
	}
	if (j->j_state == JOBQ_PAUSED) {
		str_lcpy(text, "paused by an operator", sizeof(text));
		goto out;
	}
	type = cJSON_GetObjectItemCaseSensitive(p, "type");
	done = cJSON_GetObjectItemCaseSensitive(p, "done");
	total = cJSON_GetObjectItemCaseSensitive(p, "total");
	step = cJSON_GetObjectItemCaseSensitive(p, "step");
	steps = cJSON_GetObjectItemCaseSensitive(p, "steps");
	pd = cJSON_GetObjectItemCaseSensitive(p, "pages_done");
	pt = cJSON_GetObjectItemCaseSensitive(p, "pages");
	if (!cJSON_IsString(type) || !cJSON_IsNumber(done)) {
		str_lcpy(text, "starting", sizeof(text));
		goto out;
	}
	str_group_digits(d, sizeof(d), (int64_t)done->valuedouble);
	if (cJSON_IsNumber(total) && total->valuedouble >= done->valuedouble) {
		str_group_digits(t, sizeof(t), (int64_t)total->valuedouble);
		snprintf(text, sizeof(text), "%.30s: %s of %s resources",
		    type->valuestring, d, t);
	} else
		snprintf(text, sizeof(text), "%.30s: %s resources",
		    type->valuestring, d);
	if (!cJSON_IsNumber(step) || !cJSON_IsNumber(steps) ||
	    steps->valuedouble <= 0)
		goto out;
	if (cJSON_IsNumber(pd) && cJSON_IsNumber(pt) && pt->valuedouble > 0)
		*fraction = pd->valuedouble / pt->valuedouble;
	else {
		double f = cJSON_IsNumber(total) && total->valuedouble > 0 ?
		    done->valuedouble / total->valuedouble : 0.5;

		*fraction = (step->valuedouble - 1 + (f > 1 ? 1 : f)) /
		    steps->valuedouble;
	}
	if (*fraction < 0)
		*fraction = 0;
	if (*fraction > 1)
		*fraction = 1;
	n = strlen(text);
	snprintf(text + n, sizeof(text) - n, " (step %d of %d, %d%%)",
	    step->valueint, steps->valueint, (int)(*fraction * 100));
 out:
	/* X-Progress stays under 100 characters (EXP-S-05). */
	str_lcpy(out, text, outlen < EXPORT_PROGRESS_MAX + 1 ? outlen :
	    EXPORT_PROGRESS_MAX + 1);
	cJSON_Delete(p);
}

/*
 * Integer seconds, scaled to the job (EXP-S-02, PP-01): a quarter of the
 * time it still seems to need at its rate so far, but at most half the
 * time it has run, since early estimates are noise and a short job must
 * not send its client away for long; within [1, 30].
 */
static int
export_retry_after(const struct jobq_job *j, double fraction)
{
	time_t	started = export_parse_time(j->j_started), now = time(NULL);
	double	elapsed, wait, remaining;

	if (j->j_state == JOBQ_QUEUED)
		return 2;
	if (j->j_state != JOBQ_RUNNING || started == 0)
		return 5;
	elapsed = difftime(now, started);
	wait = elapsed / 2;
	if (fraction > 0.01) {
		remaining = elapsed * (1 - fraction) / fraction;
		if (remaining / 4 < wait)
			wait = remaining / 4;
	}
	if (wait < EXPORT_RETRY_MIN)
		return EXPORT_RETRY_MIN;
	if (wait > EXPORT_RETRY_MAX)
		return EXPORT_RETRY_MAX;
	return (int)wait;
}

/* Appends the manifest arrays from job_outputs.  -1: database (errbuf). */
static int
export_manifest(const struct cfg *cfg, PGconn *conn, struct export_row *row,
    struct buf *b, char *errbuf, size_t errlen)
{
	const char		*channels[] = { "output", "deleted", "error" };
	struct jobq_outrow	*rows = NULL;
	cJSON			*result = NULL;
	const cJSON		*tt;
	const char		*req_url, *organized;
	char			 url[2048];
	size_t			 nrows = 0, i;
	int			 c, n;

	if (jobq_outputs_list(conn, row->job->j_id, NULL, &rows, &nrows,
	    errbuf, errlen) == -1)
		return -1;
	result = row->job->j_result ? cJSON_Parse(row->job->j_result) : NULL;
	tt = cJSON_GetObjectItemCaseSensitive(result, "transactionTime");
	req_url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    row->params, "request"));
	(void)buf_puts(b, "{\"transactionTime\":\"");
	(void)buf_puts(b, cJSON_IsString(tt) ? tt->valuestring :
	    row->job->j_finished);
	(void)buf_puts(b, "\",\"request\":\"");
	if (req_url != NULL)
		(void)buf_json_escape(b, req_url, strlen(req_url));
	(void)buf_puts(b, "\",\"requiresAccessToken\":false");
	organized = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    row->params, "organizeOutputBy"));
	if (organized != NULL)
		(void)buf_puts(b, ",\"outputOrganizedBy\":\"Patient\"");
	for (c = 0; c < 3; c++) {
		(void)buf_printf(b, ",\"%s\":[", channels[c]);
		for (i = 0, n = 0; i < nrows; i++) {
			const struct jobq_outrow *r = &rows[i];

			if (strcmp(r->r_channel, channels[c]) != 0)
				continue;
			(void)buf_puts(b, n++ ? ",{" : "{");
			/* Organized output has no type (EXP-M-08). */
			if (organized == NULL || c != 0) {
				(void)buf_puts(b, "\"type\":\"");
				(void)buf_json_escape(b, r->r_type,
				    strlen(r->r_type));
				(void)buf_puts(b, "\",");
			}
			(void)job_files_url(cfg->base_url, row->job->j_id,
			    r->r_file != NULL ? r->r_file : "", url,
			    sizeof(url));
			(void)buf_puts(b, "\"url\":\"");
			(void)buf_json_escape(b, url, strlen(url));
			(void)buf_printf(b, "\",\"count\":%lld}",
			    (long long)r->r_count);
		}
		(void)buf_putc(b, ']');
	}
	(void)buf_puts(b, ",\"extension\":{\"https://bulkhead.openimis.org/"
	    "contentEncodings\":[\"zstd\",\"gzip\",\"identity\"]}}");
	jobq_outrows_free(rows, nrows);
	cJSON_Delete(result);
	return 0;
}

/* The import manifest: counts per input from the job's result, error
 * files from job_outputs.  -1: database (errbuf). */
static int
export_import_manifest(const struct cfg *cfg, PGconn *conn,
    struct export_row *row, struct buf *b, char *errbuf, size_t errlen)
{
	struct jobq_outrow	*out = NULL;
	const char		**rows = NULL;
	char			(*counts)[24] = NULL;
	size_t			 n = 0, i;
	int			 rc;

	if (jobq_outputs_list(conn, row->job->j_id, "error", &out, &n,
	    errbuf, errlen) == -1)
		return -1;
	rows = xcalloc(n * 3 + 1, sizeof(*rows));
	counts = xcalloc(n + 1, sizeof(*counts));
	/* As PQgetvalue gave them: "" for SQL NULL, the count as text. */
	for (i = 0; i < n; i++) {
		snprintf(counts[i], sizeof(counts[i]), "%lld",
		    (long long)out[i].r_count);
		rows[i * 3] = out[i].r_url != NULL ? out[i].r_url : "";
		rows[i * 3 + 1] = out[i].r_file != NULL ? out[i].r_file : "";
		rows[i * 3 + 2] = counts[i];
	}
	rc = import_api_manifest(cfg, row->job, row->params, rows, (int)n, b);
	free(rows);
	free(counts);
	jobq_outrows_free(out, n);
	if (rc == -1)
		snprintf(errbuf, errlen, "import manifest too large");
	return rc;
}

/* Makes s an error OperationOutcome, rendered per request. */
static void
export_snap_outcome(struct export_snap *s, unsigned int status,
    const char *code, const char *text)
{
	s->sn_status = status;
	s->sn_outcome = 1;
	s->sn_code = code;
	free(s->sn_text);
	s->sn_text = xstrdup(text);
}

/*
 * The answer a poll of job id gets now (export_cache_load_fn): rendered
 * once, sent to every poll until the next load.  0 and *out, or -1 when
 * the database failed (errbuf).  Any thread, on its own conn.
 */
static int
export_render(const struct cfg *cfg, PGconn *conn, const char *id,
    struct export_snap **out, char *errbuf, size_t errlen)
{
	struct export_snap	*s = export_snap_new();
	struct export_row	 row;
	struct buf		 body;
	char			 text[600];
	double			 fraction;
	int			 n, rc = -1;

	memset(&row, 0, sizeof(row));
	buf_init(&body, (size_t)64 << 20);
	if ((n = export_row_load(conn, id, &row, errbuf, errlen)) == -1)
		goto out;
	if (n == 0) {
		export_snap_outcome(s, 404, "not-found", "no such export job");
		goto done;
	}
	s->sn_separate = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
	    row.params, "separateStatus"));
	if (row.removed) {
		snprintf(text, sizeof(text), "the files of this export were "
		    "removed at %s (deleted by the client, or past the "
		    "retention of %d s)", row.removed_at,
		    cfg->export_retention);
		export_snap_outcome(s, 404, "not-found", text);
		goto done;
	}
	switch (row.job->j_state) {
	case JOBQ_QUEUED:
	case JOBQ_RUNNING:
	case JOBQ_PAUSED:
		if (row.import)
			import_api_progress(row.job, s->sn_progress,
			    sizeof(s->sn_progress), &fraction);
		else
			export_progress(row.job, s->sn_progress,
			    sizeof(s->sn_progress), &fraction);
		snprintf(s->sn_retry, sizeof(s->sn_retry), "%d",
		    export_retry_after(row.job, fraction));
		s->sn_status = 202;
		s->sn_reason = "Accepted";
		/* No body, so no Content-Type: a client parses any body
		 * labelled JSON, and an empty one is not JSON (EXP-S-05). */
		s->sn_ctype = NULL;
		break;
	case JOBQ_CANCELLING:
	case JOBQ_CANCELLED:
		export_snap_outcome(s, 404, "not-found", "this export was "
		    "cancelled");
		break;
	case JOBQ_FAILED:
		/* The stored error may quote SQL or paths: operators read it
		 * with 'bulkhead jobs show'; clients get this. */
		snprintf(text, sizeof(text), "the job failed after %d "
		    "attempt%s; the server's operators can see why (job %s)",
		    row.job->j_attempts, row.job->j_attempts == 1 ? "" : "s",
		    row.job->j_id);
		export_outcome(&body, "error", "exception", text);
		s->sn_status = 500;
		s->sn_reason = "Internal Server Error";
		s->sn_ctype = "application/fhir+json";
		break;
	case JOBQ_COMPLETED:
		if ((row.import ? export_import_manifest(cfg, conn, &row,
		    &body, errbuf, errlen) : export_manifest(cfg, conn, &row,
		    &body, errbuf, errlen)) == -1)
			goto out;
		export_http_date(export_parse_time(row.job->j_finished) +
		    cfg->export_retention, s->sn_expires,
		    sizeof(s->sn_expires));
		s->sn_status = 200;
		s->sn_reason = "OK";
		s->sn_ctype = "application/json";
		break;
	default:
		log_error("job %s in state %d", row.job->j_id,
		    row.job->j_state);
		export_snap_outcome(s, 500, "exception", "internal error");
	}
 done:
	s->sn_body = buf_steal(&body, &s->sn_len);
	*out = s;
	s = NULL;
	rc = 0;
 out:
	export_snap_unref(s);
	export_row_free(&row);
	buf_free(&body);
	return rc;
}

/* Sends a rendered answer; with separate-export-status, 200 plus
 * X-Export-Status carrying its status (EXP-H-03b). */
static void
export_reply_snap(struct http_req *req, const struct export_snap *s)
{
	unsigned int	status = s->sn_status;
	char		xs[64];

	if (s->sn_progress[0] != '\0')
		(void)http_resp_header(req, "X-Progress", s->sn_progress);
	if (s->sn_retry[0] != '\0')
		(void)http_resp_header(req, "Retry-After", s->sn_retry);
	if (s->sn_expires[0] != '\0')
		(void)http_resp_header(req, "Expires", s->sn_expires);
	if (s->sn_outcome) {
		(void)http_reply_outcome(req, status, s->sn_code, "%s",
		    s->sn_text);
		return;
	}
	if (s->sn_separate) {
		snprintf(xs, sizeof(xs), "%u %s", status, s->sn_reason);
		(void)http_resp_header(req, "X-Export-Status", xs);
		status = 200;
	}
	(void)http_reply_data(req, status, s->sn_ctype, s->sn_body != NULL ?
	    s->sn_body : "", s->sn_len);
}

/* Polls are answered from export_cache; only a miss reads the job. */
void
export_api_status(struct http_req *req)
{
	struct export_cache_ticket	 t;
	struct export_snap		*s;
	const char			*id;
	char				 err[512];
	PGconn				*conn;

	if ((id = export_req_id(req)) == NULL)
		return;
	if ((s = export_cache_get(id, &t)) == NULL) {
		if ((conn = export_conn(req)) == NULL) {
			export_cache_abandon(id, &t);
			return;
		}
		if (export_render(http_req_cfg(req), conn, id, &s, err,
		    sizeof(err)) == -1) {
			http_db_discard();
			export_cache_abandon(id, &t);
			(void)http_reply_outcome(req, 503, "transient", "job "
			    "store unavailable; retry later");
			return;
		}
		export_cache_put(id, &t, s);
	}
	export_reply_snap(req, s);
	export_snap_unref(s);
}

int
export_api_start(const struct cfg *cfg, char *errbuf, size_t errlen)
{
	return export_cache_start(cfg, export_render, errbuf, errlen);
}

void
export_api_stop(void)
{
	export_cache_stop();
}

/* ---- DELETE ------------------------------------------------------------ */

void
export_api_delete(struct http_req *req)
{
	const struct cfg	*cfg = http_req_cfg(req);
	struct export_row	 row;
	struct buf		 body;
	const char		*id;
	enum jobq_state		 st;
	char			 err[512];
	PGconn			*conn;
	int			 n;

	memset(&row, 0, sizeof(row));
	buf_init(&body, 4096);
	if ((id = export_req_id(req)) == NULL ||
	    (conn = export_conn(req)) == NULL)
		goto out;
	if ((n = export_row_load(conn, id, &row, err, sizeof(err))) <= 0) {
		if (n == -1) {
			http_db_discard();
			(void)http_reply_outcome(req, 503, "transient", "job "
			    "store unavailable; retry later");
		} else
			(void)http_reply_outcome(req, 404, "not-found", "no "
			    "such export job");
		goto out;
	}
	if (row.removed || row.job->j_state == JOBQ_CANCELLED ||
	    row.job->j_state == JOBQ_CANCELLING) {
		/* A second DELETE: consistently 404 (EXP-D-05). */
		(void)http_reply_outcome(req, 404, "not-found", "this export "
		    "was already cancelled or deleted");
		goto out;
	}
	/* Queued or paused jobs end at once; a running one is asked to stop
	 * and its worker removes the partial files; any other job's files
	 * go now (jobq_cancel decides on the state its UPDATE saw). */
	n = jobq_cancel(conn, cfg->data_dir, row.job->j_id,
	    JOBQ_CANCEL_DELETE, &st, err, sizeof(err));
	if (n == -1) {
		http_db_discard();
		(void)http_reply_outcome(req, 503, "transient", "job store "
		    "unavailable; retry later");
		goto out;
	}
	/* Committed: this process's polls see it from now on. */
	export_cache_invalidate(row.job->j_id);
	if (n == 0) {
		/* Pruned since it was read. */
		(void)http_reply_outcome(req, 404, "not-found", "no such "
		    "export job");
		goto out;
	}
	log_info("export %s deleted by the client", row.job->j_id);
	export_outcome(&body, "information", "informational", "export "
	    "cancelled and its files removed");
	(void)http_reply_buf(req, 202, http_req_json_type(req), &body);
 out:
	export_row_free(&row);
	buf_free(&body);
}

/* ---- files ------------------------------------------------------------- */

struct export_stream {
	struct transcode	*ts_tc;
	struct http_req		*ts_req;
	int64_t			 ts_left;	/* identity range bytes, or -1 */
};

static ssize_t
export_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct export_stream	*s = cls;
	ssize_t			 n;

	(void)pos;
	if (s->ts_left == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (s->ts_left > 0 && (int64_t)max > s->ts_left)
		max = (size_t)s->ts_left;
	n = transcode_read(s->ts_tc, buf, max);
	if (n == 0)
		return s->ts_left > 0 ? MHD_CONTENT_READER_END_WITH_ERROR :
		    MHD_CONTENT_READER_END_OF_STREAM;
	if (n < 0) {
		log_warnx("request %s: file stream: %s",
		    http_req_id(s->ts_req), transcode_error(s->ts_tc));
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (s->ts_left > 0)
		s->ts_left -= n;
	http_req_count_bytes(s->ts_req, (uint64_t)n);
	return n;
}

static void
export_stream_free(void *cls)
{
	struct export_stream	*s = cls;

	transcode_close(s->ts_tc);
	free(s);
}

/* Parses a single "bytes=a-b" range against len.  0: no (usable) range,
 * serve whole; 1: *from and *to set; -1: unsatisfiable. */
static int
export_range(const char *h, int64_t len, int64_t *from, int64_t *to)
{
	const char	*errstr;
	char		 a[32], b[32];
	const char	*dash;
	size_t		 alen;

	if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
		return 0;
	h += 6;
	if ((dash = strchr(h, '-')) == NULL)
		return 0;
	alen = (size_t)(dash - h);
	if (alen >= sizeof(a) || strlen(dash + 1) >= sizeof(b))
		return 0;
	memcpy(a, h, alen);
	a[alen] = '\0';
	str_lcpy(b, dash + 1, sizeof(b));
	if (alen == 0) {		/* suffix: the last N bytes */
		int64_t n;

		if (str_to_i64(b, 1, INT64_MAX, &n, &errstr) == -1)
			return 0;
		*from = n >= len ? 0 : len - n;
		*to = len - 1;
	} else {
		if (str_to_i64(a, 0, INT64_MAX, from, &errstr) == -1)
			return 0;
		if (b[0] == '\0')
			*to = len - 1;
		else if (str_to_i64(b, 0, INT64_MAX, to, &errstr) == -1 ||
		    *to < *from)
			return 0;
		if (*to >= len)
			*to = len - 1;
	}
	return *from < len ? 1 : -1;
}

void
export_api_file(struct http_req *req)
{
	const struct cfg	*cfg = http_req_cfg(req);
	const char		*id = http_req_param(req, "id");
	const char		*name = http_req_param(req, "name");
	const char		*inm;
	struct export_stream	*s = NULL;
	struct MHD_Response	*resp = NULL;
	struct buf		 ae;
	enum transcode_enc	 enc;
	struct stat		 st;
	PGconn			*conn;
	char			 rel[512], path[1400], err[512], etag[100];
	char			 cr[96], checksum[80];
	int64_t			 bytes = 0, from = 0, to = 0;
	int			 fd = -1, ranged = 0, n;
	unsigned int		 status = 200;

	buf_init(&ae, HTTP_ROUTE_MAX_HEADER);
	if (id == NULL || name == NULL || strlen(id) >= JOBQ_ID_MAX ||
	    !ndjson_valid_id(id, strlen(id)) || strchr(name, '/') != NULL) {
		(void)http_reply_outcome(req, 404, "not-found", "no such file");
		goto out;
	}
	if (job_files_rel(id, name, rel, sizeof(rel)) == -1 ||
	    job_files_path(cfg->data_dir, rel, path, sizeof(path)) == -1) {
		(void)http_reply_outcome(req, 404, "not-found", "no such file");
		goto out;
	}
	if ((conn = export_conn(req)) == NULL)
		goto out;
	if ((n = jobq_output_find(conn, id, rel, 1, &bytes, checksum,
	    sizeof(checksum), err, sizeof(err))) == -1) {
		http_db_discard();
		(void)http_reply_outcome(req, 503, "transient", "job store "
		    "unavailable; retry later");
		goto out;
	}
	if (n == 0) {
		(void)http_reply_outcome(req, 404, "not-found", "no such file "
		    "(unknown, not yet complete, deleted or expired)");
		goto out;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		(void)http_reply_outcome(req, 404, "not-found", "the file is "
		    "no longer available (expired)");
		goto out;
	}
	(void)http_req_header_all(req, "Accept-Encoding", &ae);
	if (transcode_choose(ae.b_len ? ae.b_data : NULL, &enc) == -1) {
		(void)http_reply_outcome(req, 406, "not-supported", "no "
		    "acceptable content coding: this server sends zstd, gzip "
		    "or identity");
		goto out;
	}
	/* A strong ETag per representation: the stored bytes' hash and
	 * the coding (gzip output is deterministic at a fixed level). */
	snprintf(etag, sizeof(etag), "\"%.64s-%s\"", checksum,
	    transcode_enc_name(enc));
	(void)http_resp_header(req, "ETag", etag);
	(void)http_resp_header(req, "Vary", "Accept-Encoding");
	(void)http_resp_header(req, "Cache-Control", "private, no-transform");
	if ((inm = http_req_header(req, "If-None-Match")) != NULL &&
	    (strstr(inm, etag) != NULL || strcmp(inm, "*") == 0)) {
		(void)http_reply_data(req, 304, "application/fhir+ndjson", "",
		    0);
		goto out;
	}
	if (enc == TRANSCODE_ZSTD) {
		(void)http_resp_header(req, "Content-Encoding", "zstd");
		resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
		if (resp == NULL)
			goto fail;
		fd = -1;	/* the response owns it */
		(void)MHD_add_response_header(resp, "Content-Type",
		    "application/fhir+ndjson");
		(void)http_reply_response(req, 200, resp,
		    (uint64_t)st.st_size);
		resp = NULL;
		goto out;
	}
	s = xcalloc(1, sizeof(*s));
	s->ts_req = req;
	s->ts_left = -1;
	if (enc == TRANSCODE_IDENTITY) {
		(void)http_resp_header(req, "Accept-Ranges", "bytes");
		ranged = export_range(http_req_header(req, "Range"), bytes,
		    &from, &to);
		if (ranged == -1) {
			snprintf(cr, sizeof(cr), "bytes */%lld",
			    (long long)bytes);
			(void)http_resp_header(req, "Content-Range", cr);
			(void)http_reply_outcome(req, 416, "invalid", "range "
			    "not satisfiable: the file has %lld bytes",
			    (long long)bytes);
			goto out;
		}
		if (ranged == 0) {
			from = 0;
			to = bytes - 1;
		} else {
			status = 206;
			snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld",
			    (long long)from, (long long)to, (long long)bytes);
			(void)http_resp_header(req, "Content-Range", cr);
		}
		s->ts_left = to - from + 1;
	} else
		(void)http_resp_header(req, "Content-Encoding", "gzip");
	s->ts_tc = transcode_open(path, enc, enc == TRANSCODE_IDENTITY ?
	    from : 0, err, sizeof(err));
	if (s->ts_tc == NULL) {
		(void)http_reply_internal(req, "open %s: %s", path, err);
		goto out;
	}
	resp = MHD_create_response_from_callback(enc == TRANSCODE_IDENTITY ?
	    (uint64_t)(to - from + 1) : MHD_SIZE_UNKNOWN, EXPORT_READ_CHUNK,
	    export_stream_read, s, export_stream_free);
	if (resp == NULL)
		goto fail;
	s = NULL;	/* the response owns it */
	(void)MHD_add_response_header(resp, "Content-Type",
	    "application/fhir+ndjson");
	(void)http_reply_response(req, status, resp, 0);
	resp = NULL;
	goto out;
 fail:
	(void)http_reply_internal(req, "cannot build the response for %s",
	    path);
 out:
	if (s != NULL)
		export_stream_free(s);
	if (fd != -1)
		close(fd);
	buf_free(&ae);
}
