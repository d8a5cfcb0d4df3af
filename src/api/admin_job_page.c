/*
 * admin_job_page.c — what the console's job page shows beside the job
 * itself (admin_jobs.c): its error file lines and its audit history.
 *
 *   GET /admin/api/jobs/{id}/errors?limit=&offset=
 *	The lines of the job's error files (job_outputs rows on channel
 *	"error", files where store/job_files.h says, decompressed with
 *	bulk/transcode.h), in file order, from line offset, at most limit:
 *	{"job", "offset", "limit", "total" (lines the rows record),
 *	"more", "missing" (files that could not be read),
 *	"files_removed" (when the job's files were removed, or null: then
 *	no lines), "lines": [{"n", "file", "line", "severity", "code",
 *	"diagnostics", "location", "issues"}]} with the first issue's
 *	fields (null when absent) and the number of issues; a line that
 *	is not an OperationOutcome gets "text" (its first
 *	ADMIN_ERRLINE_TEXT bytes) instead.
 *   GET /admin/api/jobs/{id}/audit?limit=
 *	{"job", "audit": [...]}: the audit rows about the job, newest first
 *	(store/audit.h, audit_job_json), at most limit.
 *
 * Bounded: limit <= ADMIN_ERRLINES_MAX lines of at most
 * ADMIN_ERRLINE_MAX bytes each (a longer line is reported, not read);
 * offset <= ADMIN_ERROFF_MAX, and whole files before the offset are
 * skipped by their recorded line count, never read.  Viewer role; the
 * thread's connection (admin_auth.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/admin_api.h"
#include "api/admin_auth.h"
#include "bulk/transcode.h"
#include "core/cfg.h"
#include "http/http_route.h"
#include "lib/lines.h"
#include "lib/log.h"
#include "lib/str.h"
#include "store/audit.h"
#include "store/job_files.h"
#include "store/jobq.h"
#include "store/ndjson.h"

#define ADMIN_ERRLINES_DEFAULT	100
#define ADMIN_ERRLINES_MAX	1000		/* lines in one answer */
#define ADMIN_ERRLINE_MAX	(64 * 1024)	/* bytes in one line */
#define ADMIN_ERRLINE_TEXT	500		/* of a line not understood */
#define ADMIN_ERROFF_MAX	10000000	/* the furthest offset */
#define ADMIN_AUDIT_DEFAULT	100
#define ADMIN_AUDIT_MAX		500
#define ADMIN_PATH_MAX		4096

/* Query parameters: each known name once, nothing else. */
struct admin_pageq {
	const char	*const *pq_names;	/* NULL-terminated */
	const char	*pq_val[2];
	char		 pq_bad[128];
};

/* Where the error lines walk is. */
struct admin_errwalk {
	cJSON		*ew_lines;
	int64_t		 ew_skip;	/* lines still to skip */
	int64_t		 ew_n;		/* number of the next line */
	int		 ew_left;	/* lines still to add */
	int		 ew_more;	/* a line past the limit exists */
};

static int	 admin_page_q_add(void *, const char *, const char *);
static int	 admin_page_query(struct http_req *, struct admin_pageq *,
		    const char *const *);
static int	 admin_page_num(struct http_req *, const char *, const char *,
		    int64_t, int64_t, int64_t *);
static int	 admin_page_job(struct admin_ctx *, struct jobq_job **);
static ssize_t	 admin_page_tc_read(void *, void *, size_t);
static void	 admin_page_str(cJSON *, const char *, const cJSON *);
static cJSON	*admin_page_line(const char *, size_t, int64_t, int, int64_t);
static int	 admin_page_file(const char *, int, struct admin_errwalk *,
		    char *, size_t);

static int
admin_page_q_add(void *arg, const char *key, const char *value)
{
	struct admin_pageq	*q = arg;
	size_t			 i;

	for (i = 0; q->pq_names[i] != NULL; i++) {
		if (strcmp(key, q->pq_names[i]) != 0)
			continue;
		if (q->pq_val[i] != NULL) {
			snprintf(q->pq_bad, sizeof(q->pq_bad), "query "
			    "parameter \"%s\" given twice", key);
			return 1;
		}
		q->pq_val[i] = value;
		return 0;
	}
	snprintf(q->pq_bad, sizeof(q->pq_bad), "unknown query parameter "
	    "\"%.40s\"", key);
	return 1;
}

/* Collects names (at most two) into q.  0, or -1 after answering 400. */
static int
admin_page_query(struct http_req *req, struct admin_pageq *q,
    const char *const *names)
{
	memset(q, 0, sizeof(*q));
	q->pq_names = names;
	if (http_req_query_each(req, admin_page_q_add, q) != 0) {
		(void)http_reply_outcome(req, 400, "invalid", "%s", q->pq_bad);
		return -1;
	}
	return 0;
}

/* Query value v of name as a number in [min, max] (absent: *out kept).
 * 0, or -1 after answering 400. */
static int
admin_page_num(struct http_req *req, const char *name, const char *v,
    int64_t min, int64_t max, int64_t *out)
{
	const char	*errstr;

	if (v == NULL)
		return 0;
	if (str_to_i64(v, min, max, out, &errstr) == -1) {
		(void)http_reply_outcome(req, 400, "invalid", "%s: \"%.20s\" "
		    "is %s (expected %lld to %lld)", name, v, errstr,
		    (long long)min, (long long)max);
		return -1;
	}
	return 0;
}

/* The {id} job.  1 (*j set, caller frees), or -1 after answering. */
static int
admin_page_job(struct admin_ctx *ax, struct jobq_job **j)
{
	const char	*id = http_req_param(ax->ax_req, "id");
	char		 err[ADMIN_ERR_MAX];
	int		 r;

	*j = NULL;
	if (id == NULL || strlen(id) >= JOBQ_ID_MAX ||
	    !ndjson_valid_id(id, strlen(id))) {
		(void)http_reply_outcome(ax->ax_req, 404, "not-found",
		    "no such job");
		return -1;
	}
	if ((r = jobq_get(ax->ax_conn, id, j, err, sizeof(err))) == -1) {
		admin_auth_db_fail(ax, "job", err);
		return -1;
	}
	if (r == 0) {
		(void)http_reply_outcome(ax->ax_req, 404, "not-found",
		    "no such job");
		return -1;
	}
	return 1;
}

static ssize_t
admin_page_tc_read(void *arg, void *buf, size_t len)
{
	return transcode_read(arg, buf, len);
}

/* o.name = the string item v, or null. */
static void
admin_page_str(cJSON *o, const char *name, const cJSON *v)
{
	/* v tested for NULL first: the analyzer does not see that
	 * cJSON_IsString(NULL) is false. */
	if (v != NULL && cJSON_IsString(v) && v->valuestring != NULL)
		cJSON_AddStringToObject(o, name, v->valuestring);
	else
		cJSON_AddNullToObject(o, name);
}

/* One error line as the console shows it.  Caller frees. */
static cJSON *
admin_page_line(const char *line, size_t len, int64_t n, int file,
    int64_t lineno)
{
	cJSON		*o = cJSON_CreateObject(), *doc;
	const cJSON	*issues, *first, *loc;
	char		 text[ADMIN_ERRLINE_TEXT + 1];
	size_t		 k;

	cJSON_AddNumberToObject(o, "n", (double)n);
	cJSON_AddNumberToObject(o, "file", file);
	cJSON_AddNumberToObject(o, "line", (double)lineno);
	doc = cJSON_ParseWithLength(line, len);
	issues = cJSON_GetObjectItemCaseSensitive(doc, "issue");
	first = cJSON_IsArray(issues) ? cJSON_GetArrayItem(issues, 0) : NULL;
	if (cJSON_IsObject(first)) {
		admin_page_str(o, "severity",
		    cJSON_GetObjectItemCaseSensitive(first, "severity"));
		admin_page_str(o, "code",
		    cJSON_GetObjectItemCaseSensitive(first, "code"));
		admin_page_str(o, "diagnostics",
		    cJSON_GetObjectItemCaseSensitive(first, "diagnostics"));
		loc = cJSON_GetObjectItemCaseSensitive(first, "location");
		if (!cJSON_IsArray(loc))
			loc = cJSON_GetObjectItemCaseSensitive(first,
			    "expression");
		admin_page_str(o, "location", cJSON_IsArray(loc) ?
		    cJSON_GetArrayItem(loc, 0) : NULL);
		cJSON_AddNumberToObject(o, "issues",
		    cJSON_GetArraySize(issues));
	} else {
		/* Not an OperationOutcome: its start, whole characters. */
		k = len < ADMIN_ERRLINE_TEXT ? len : ADMIN_ERRLINE_TEXT;
		while (k > 0 && k < len && ((unsigned char)line[k] & 0xc0) ==
		    0x80)
			k--;
		memcpy(text, line, k);
		text[k] = '\0';
		cJSON_AddStringToObject(o, "text", text);
	}
	cJSON_Delete(doc);
	return o;
}

/* Walks one error file.  0, or -1 (unreadable or corrupt: err). */
static int
admin_page_file(const char *path, int seq, struct admin_errwalk *w,
    char *err, size_t errlen)
{
	struct transcode	*tc;
	struct lines		 lr;
	enum lines_status	 st;
	const char		*line;
	size_t			 len;
	int			 rc = -1;

	if ((tc = transcode_open(path, TRANSCODE_IDENTITY, 0, err,
	    errlen)) == NULL)
		return -1;
	lines_init(&lr, admin_page_tc_read, tc, ADMIN_ERRLINE_MAX);
	for (;;) {
		st = lines_next(&lr, &line, &len);
		if (st == LINES_EOF)
			break;
		if (st == LINES_ERROR) {
			snprintf(err, errlen, "%s", transcode_error(tc));
			goto out;
		}
		if (st == LINES_OK && len == 0)
			continue;
		if (w->ew_skip > 0) {
			w->ew_skip--;
			w->ew_n++;
			continue;
		}
		if (w->ew_left == 0) {
			w->ew_more = 1;
			break;
		}
		if (st == LINES_TOOLONG) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddNumberToObject(o, "n", (double)w->ew_n);
			cJSON_AddNumberToObject(o, "file", seq);
			cJSON_AddNumberToObject(o, "line",
			    (double)lr.l_lineno);
			cJSON_AddStringToObject(o, "text", "(a line longer "
			    "than the console shows)");
			cJSON_AddItemToArray(w->ew_lines, o);
		} else
			cJSON_AddItemToArray(w->ew_lines, admin_page_line(line,
			    len, w->ew_n, seq, lr.l_lineno));
		w->ew_n++;
		w->ew_left--;
	}
	rc = 0;
 out:
	lines_free(&lr);
	transcode_close(tc);
	return rc;
}

void
admin_api_job_errors(struct http_req *req)
{
	static const char *const names[] = { "limit", "offset", NULL };
	struct admin_ctx	 ax;
	struct admin_pageq	 q;
	struct admin_errwalk	 w;
	struct jobq_job		*j = NULL;
	struct jobq_outrow	*rows = NULL;
	cJSON			*o = NULL;
	char			 err[ADMIN_ERR_MAX], path[ADMIN_PATH_MAX];
	int64_t			 limit = ADMIN_ERRLINES_DEFAULT, offset = 0;
	int64_t			 total = 0;
	size_t			 i, n = 0;
	int			 missing = 0;

	if (admin_auth_open(req, &ax, 1) == -1 ||
	    admin_page_query(req, &q, names) == -1 ||
	    admin_page_num(req, "limit", q.pq_val[0], 1, ADMIN_ERRLINES_MAX,
	    &limit) == -1 ||
	    admin_page_num(req, "offset", q.pq_val[1], 0, ADMIN_ERROFF_MAX,
	    &offset) == -1 ||
	    admin_page_job(&ax, &j) == -1)
		goto out;
	if (jobq_outputs_list(ax.ax_conn, j->j_id, "error", &rows, &n, err,
	    sizeof(err)) == -1) {
		admin_auth_db_fail(&ax, "job error files", err);
		goto out;
	}
	memset(&w, 0, sizeof(w));
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "job", j->j_id);
	cJSON_AddNumberToObject(o, "offset", (double)offset);
	cJSON_AddNumberToObject(o, "limit", (double)limit);
	w.ew_lines = cJSON_CreateArray();
	w.ew_skip = offset;
	w.ew_left = (int)limit;
	for (i = 0; i < n; i++) {
		total += rows[i].r_count;
		/* Files removed (cancel, expiry): nothing to read. */
		if (rows[i].r_file == NULL || w.ew_more ||
		    j->j_files_removed != NULL)
			continue;
		/* Full, with lines left in this file: there is more. */
		if (w.ew_left == 0 && w.ew_skip == 0) {
			w.ew_more = rows[i].r_count > 0;
			continue;
		}
		/* A whole file before the offset: skipped unread. */
		if (w.ew_skip >= rows[i].r_count && rows[i].r_count > 0) {
			w.ew_skip -= rows[i].r_count;
			w.ew_n += rows[i].r_count;
			continue;
		}
		if (job_files_path(ax.ax_cfg->data_dir, rows[i].r_file, path,
		    sizeof(path)) == -1 ||
		    admin_page_file(path, rows[i].r_seq, &w, err,
		    sizeof(err)) == -1) {
			log_warnx("job %s: error file %d: %s", j->j_id,
			    rows[i].r_seq, err);
			missing++;
		}
	}
	cJSON_AddNumberToObject(o, "total", (double)total);
	cJSON_AddBoolToObject(o, "more", w.ew_more);
	cJSON_AddNumberToObject(o, "missing", missing);
	if (j->j_files_removed != NULL)
		cJSON_AddStringToObject(o, "files_removed",
		    j->j_files_removed);
	else
		cJSON_AddNullToObject(o, "files_removed");
	cJSON_AddItemToObject(o, "lines", w.ew_lines);
	(void)http_reply_json(req, 200, o);
 out:
	cJSON_Delete(o);
	jobq_outrows_free(rows, n);
	jobq_job_free(j);
}

void
admin_api_job_audit(struct http_req *req)
{
	static const char *const names[] = { "limit", NULL };
	struct admin_ctx	 ax;
	struct admin_pageq	 q;
	struct jobq_job		*j = NULL;
	cJSON			*o = NULL, *arr;
	char			 err[ADMIN_ERR_MAX], *text = NULL;
	int64_t			 limit = ADMIN_AUDIT_DEFAULT;

	if (admin_auth_open(req, &ax, 1) == -1 ||
	    admin_page_query(req, &q, names) == -1 ||
	    admin_page_num(req, "limit", q.pq_val[0], 1, ADMIN_AUDIT_MAX,
	    &limit) == -1 ||
	    admin_page_job(&ax, &j) == -1)
		goto out;
	if (audit_job_json(ax.ax_conn, j->j_id, j->j_kind, j->j_retry_of,
	    (int)limit, &text, err, sizeof(err)) == -1) {
		admin_auth_db_fail(&ax, "job audit", err);
		goto out;
	}
	if ((arr = cJSON_Parse(text)) == NULL)
		arr = cJSON_CreateArray();
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "job", j->j_id);
	cJSON_AddItemToObject(o, "audit", arr);
	(void)http_reply_json(req, 200, o);
 out:
	free(text);
	cJSON_Delete(o);
	jobq_job_free(j);
}
