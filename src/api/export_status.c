/*
 * export_status.c — a bulk job's status URL (SPEC §1.6–§1.11, IMP-S-*):
 * polls answered from export_cache.h (a miss renders the answer once:
 * 202 with X-Progress and Retry-After, the manifest, or an
 * OperationOutcome), and the client's DELETE (§1.12), which cancels the
 * job and removes its files (jobq_cancel).  Both need a bearer token
 * (auth = smart) of the client that started the job; any other gets 404,
 * not 403, so a job's existence is not revealed (AUTH-BE-06), and so do
 * jobs that no SMART client started (schedules, the CLI, auth = none):
 * operators reach those through the admin API and 'bulkhead jobs'.  A
 * poll also needs scopes that cover ALL the job's types (AUTH-BE-06,
 * EXP-SEC-03): read on every exported type (its _type, _typeFilter
 * types, Provenance for includeAssociatedData; every type for an export
 * without _type), write on every imported type for an import; 403
 * otherwise.  DELETE needs the owner only: it reads nothing.  A poll
 * checks owner and scopes against the cached answer, without a query.
 * Serves export, renewal-export and import jobs; the manifests' file
 * URLs are job_files.h's.  API process, libmicrohttpd's threads, each on
 * its thread's connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/auth_bearer.h"
#include "api/export_api_int.h"
#include "api/export_status.h"
#include "api/import_api.h"
#include "auth/scope.h"
#include "bulk/export_cache.h"
#include "core/cfg.h"
#include "http/http_db.h"
#include "http/http_route.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/job_files.h"
#include "store/jobq.h"
#include "store/ndjson.h"

#define EXPORT_PROGRESS_MAX	99	/* X-Progress under 100 chars */
#define EXPORT_RETRY_MIN	1
#define EXPORT_RETRY_MAX	30

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
 * of the pages its plan will read (job_export_plan.c), so the fraction follows
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
	(void)buf_printf(b, "\",\"requiresAccessToken\":%s",
	    strcmp(cfg->auth, "smart") == 0 ? "true" : "false");
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

/* Adds type to the comma-separated list s->sn_types once; a list that
 * would overflow becomes "*" (every type: stricter, never looser). */
static void
export_need_type(struct export_snap *s, const char *type)
{
	const char	*p = s->sn_types;
	size_t		 n = strlen(type), len = strlen(s->sn_types);

	if (type[0] == '\0' || strcmp(s->sn_types, "*") == 0)
		return;
	if (strcmp(type, "*") == 0) {
		str_lcpy(s->sn_types, "*", sizeof(s->sn_types));
		return;
	}
	while (*p != '\0') {
		if (strncmp(p, type, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return;
		p = strchr(p, ',');
		p = p != NULL ? p + 1 : s->sn_types + len;
	}
	if (len + n + 2 > sizeof(s->sn_types)) {
		str_lcpy(s->sn_types, "*", sizeof(s->sn_types));
		return;
	}
	snprintf(s->sn_types + len, sizeof(s->sn_types) - len, "%s%s",
	    len ? "," : "", type);
}

/*
 * The types a poller's token must cover (AUTH-BE-06): an import's input
 * types (write); an export's _type, or every type without one, its
 * _typeFilter types, and Provenance for includeAssociatedData (read).
 */
static void
export_need_types(const struct export_row *row, struct export_snap *s)
{
	const cJSON	*it, *types, *filters;

	s->sn_types[0] = '\0';
	s->sn_write = row->import;
	if (row->import) {
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(
		    row->params, "inputs")) {
			const char *t = cJSON_GetStringValue(
			    cJSON_GetObjectItemCaseSensitive(it, "type"));

			export_need_type(s, t != NULL ? t : "*");
		}
		return;
	}
	types = cJSON_GetObjectItemCaseSensitive(row->params, "types");
	if (!cJSON_IsArray(types)) {
		export_need_type(s, "*");
		return;
	}
	cJSON_ArrayForEach(it, types)
		export_need_type(s, cJSON_IsString(it) ? it->valuestring : "*");
	filters = cJSON_GetObjectItemCaseSensitive(row->params, "typeFilters");
	cJSON_ArrayForEach(it, filters)
		export_need_type(s, it->string != NULL ? it->string : "*");
	if (cJSON_GetObjectItemCaseSensitive(row->params, "associated") != NULL)
		export_need_type(s, "Provenance");
}

/* 1 if the set holds a "*" item with every bit of perms. */
static int
export_scope_every(const struct scope_set *set, unsigned perms)
{
	size_t	i;

	for (i = 0; i < set->ss_n; i++)
		if (strcmp(set->ss_items[i].si_type, "*") == 0 &&
		    (set->ss_items[i].si_perms & perms) == perms)
			return 1;
	return 0;
}

/* 1 if the principal's scopes cover every type of s; else 0 and the
 * first type they miss in miss. */
static int
export_scope_covers(const struct token_principal *tp,
    const struct export_snap *s, char *miss, size_t misslen)
{
	const char	*p = s->sn_types, *e;
	char		 type[SCOPE_TYPE_MAX];
	size_t		 n;
	int		 ok;

	if (tp->tp_auth_off)
		return 1;
	if (strcmp(s->sn_types, "*") == 0) {
		str_lcpy(miss, "every type's", misslen);
		return export_scope_every(&tp->tp_scope, s->sn_write ?
		    (SCOPE_C | SCOPE_U) : SCOPE_READ);
	}
	while (*p != '\0') {
		e = strchr(p, ',');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (n >= sizeof(type))
			n = sizeof(type) - 1;
		memcpy(type, p, n);
		type[n] = '\0';
		ok = s->sn_write ? scope_can_write(&tp->tp_scope, type) :
		    scope_can_read(&tp->tp_scope, type);
		if (!ok) {
			str_lcpy(miss, type, misslen);
			return 0;
		}
		p = e != NULL ? e + 1 : p + strlen(p);
	}
	return 1;
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
	if (row.job->j_client != NULL)
		str_lcpy(s->sn_client, row.job->j_client,
		    sizeof(s->sn_client));
	export_need_types(&row, s);
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
		export_api_outcome(&body, "error", "exception", text);
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
export_status_get(struct http_req *req)
{
	struct export_cache_ticket	 t;
	struct token_principal		 tp;
	struct export_snap		*s;
	const char			*id;
	char				 err[512], client[EXPORT_API_CLIENT_MAX];
	char				 miss[SCOPE_TYPE_MAX];
	PGconn				*conn;

	if (export_api_principal(req, &tp, client, sizeof(client)) == -1 ||
	    (id = export_req_id(req)) == NULL)
		return;
	if ((s = export_cache_get(id, &t)) == NULL) {
		if ((conn = export_api_conn(req)) == NULL) {
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
	if (!export_api_owns(&tp, s->sn_client))
		(void)http_reply_outcome(req, 404, "not-found", "no such "
		    "export job");
	else if (s->sn_status != 404 && !export_scope_covers(&tp, s, miss,
	    sizeof(miss)))
		(void)auth_bearer_forbidden(req, "the access token's scopes do "
		    "not allow %s %s resources, which this job %s; ask for a "
		    "token that covers all of its types", s->sn_write ?
		    "writing" : "reading", miss, s->sn_write ? "imports" :
		    "exports");
	else
		export_reply_snap(req, s);
	export_snap_unref(s);
}

int
export_status_start(const struct cfg *cfg, char *errbuf, size_t errlen)
{
	return export_cache_start(cfg, export_render, errbuf, errlen);
}

void
export_status_stop(void)
{
	export_cache_stop();
}

/* ---- DELETE ------------------------------------------------------------ */

void
export_status_delete(struct http_req *req)
{
	const struct cfg	*cfg = http_req_cfg(req);
	struct token_principal	 tp;
	struct export_row	 row;
	struct buf		 body;
	const char		*id;
	enum jobq_state		 st;
	char			 err[512], client[EXPORT_API_CLIENT_MAX];
	PGconn			*conn;
	int			 n;

	memset(&row, 0, sizeof(row));
	buf_init(&body, 4096);
	if (export_api_principal(req, &tp, client, sizeof(client)) == -1 ||
	    (id = export_req_id(req)) == NULL ||
	    (conn = export_api_conn(req)) == NULL)
		goto out;
	if ((n = export_row_load(conn, id, &row, err, sizeof(err))) <= 0 ||
	    !export_api_owns(&tp, row.job->j_client)) {
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
	export_api_outcome(&body, "information", "informational", "export "
	    "cancelled and its files removed");
	(void)http_reply_buf(req, 202, http_req_json_type(req), &body);
 out:
	export_row_free(&row);
	buf_free(&body);
}
