/*
 * job_export.c — the "export" job kind (see job_export.h): one attempt
 * from start to end.  Resumes from the checkpoint, opens the snapshot,
 * plans the steps (job_export_plan.c), runs them (job_export_copy.c),
 * saves the checkpoint after every recorded file and every step, reports
 * progress by heap pages, and records the result.  The design of the
 * whole job is in job_export_int.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulk/outfile.h"
#include "core/cfg.h"
#include "core/embed.h"
#include "jobs/job_export.h"
#include "jobs/job_export_int.h"
#include "lib/buf.h"
#include "lib/fsutil.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/job_files.h"
#include "store/jobq.h"
#include "store/ndjson.h"

static int	xp_check_instants(const cJSON *, char *, size_t);

int
job_export_check(const cJSON *params, char *errbuf, size_t errlen)
{
	const cJSON	*level = cJSON_GetObjectItemCaseSensitive(params,
			    "level");
	const cJSON	*a;
	const char	*lv;

	/* No level: a system export, as a $export with no level is. */
	lv = level == NULL ? JOB_EXPORT_LEVEL_DEFAULT :
	    cJSON_IsString(level) ? level->valuestring : NULL;
	if (lv == NULL || (strcmp(lv, "system") && strcmp(lv, "patient") &&
	    strcmp(lv, "renewal") && strcmp(lv, "group"))) {
		snprintf(errbuf, errlen, "export: \"level\" must be system, "
		    "patient or group");
		return -1;
	}
	if (strcmp(lv, "renewal") == 0) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(params,
		    "days");

		if (d != NULL && (!cJSON_IsNumber(d) || d->valuedouble < 1 ||
		    d->valuedouble > 366 || d->valuedouble !=
		    (double)d->valueint)) {
			snprintf(errbuf, errlen, "renewal-export: \"days\" must "
			    "be an integer from 1 to 366");
			return -1;
		}
	}
	if (strcmp(lv, "group") == 0 &&
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(params,
	    "group"))) {
		snprintf(errbuf, errlen, "export: a group export needs "
		    "\"group\"");
		return -1;
	}
	a = cJSON_GetObjectItemCaseSensitive(params, "associated");
	if (a != NULL && (!cJSON_IsString(a) || (strcmp(a->valuestring,
	    "latest") != 0 && strcmp(a->valuestring, "relevant") != 0))) {
		snprintf(errbuf, errlen, "export: \"associated\" must be "
		    "latest or relevant");
		return -1;
	}
	return xp_check_instants(params, errbuf, errlen);
}

/*
 * since (or its alias _since, the FHIR name) and until: FHIR instants;
 * since may also be "last-success" (schedules, issue 5).  The public
 * $export never gets here with anything else: export_params.c refuses
 * a non-instant _since with a 400 before a job exists.
 */
static int
xp_check_instants(const cJSON *params, char *errbuf, size_t errlen)
{
	const cJSON	*s = cJSON_GetObjectItemCaseSensitive(params, "since");
	const cJSON	*a = cJSON_GetObjectItemCaseSensitive(params, "_since");
	const cJSON	*u = cJSON_GetObjectItemCaseSensitive(params, "until");

	if (s != NULL && a != NULL) {
		snprintf(errbuf, errlen, "export: give \"_since\" or "
		    "\"since\", not both");
		return -1;
	}
	if (s == NULL)
		s = a;
	if (s != NULL && (!cJSON_IsString(s) || (strcmp(s->valuestring,
	    EXPORT_SINCE_LAST_SUCCESS) != 0 && !ndjson_valid_instant(
	    s->valuestring, strlen(s->valuestring))))) {
		snprintf(errbuf, errlen, "export: \"_since\" must be a FHIR "
		    "instant (e.g. 2026-01-31T00:00:00Z) or \""
		    EXPORT_SINCE_LAST_SUCCESS "\"");
		return -1;
	}
	if (u != NULL && (!cJSON_IsString(u) || !ndjson_valid_instant(
	    u->valuestring, strlen(u->valuestring)))) {
		snprintf(errbuf, errlen, "export: \"until\" must be a FHIR "
		    "instant (e.g. 2026-01-31T00:00:00Z)");
		return -1;
	}
	return 0;
}

const char *
job_export_str(const cJSON *obj, const char *name)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
job_export_exec(struct xp *x, const char *sql, int n, const char *const *params)
{
	if (db_exec(x->conn, sql, n, params, x->err, sizeof(x->err)) == -1) {
		job_ctx_error(x->ctx, "export: %s", x->err);
		return -1;
	}
	return 0;
}

/* Binds a value for current_setting('bulkhead.<name>') in this
 * transaction. */
int
job_export_setting(struct xp *x, const char *name, const char *value)
{
	char		 key[80];
	const char	*p[2];

	snprintf(key, sizeof(key), "bulkhead.%s", name);
	p[0] = key;
	p[1] = value;
	return job_export_exec(x, "SELECT set_config($1, $2, true)", 2, p);
}

int64_t
job_export_int(struct xp *x, const char *sql, const char *arg)
{
	const char	*p[1] = { arg };
	PGresult	*res;
	const char	*errstr;
	int64_t		 v = -1;

	if ((res = db_query(x->conn, sql, arg ? 1 : 0, arg ? p : NULL,
	    x->err, sizeof(x->err))) == NULL)
		return -1;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		(void)str_to_i64(PQgetvalue(res, 0, 0), INT64_MIN, INT64_MAX,
		    &v, &errstr);
	PQclear(res);
	return v;
}

static char *
xp_checkpoint(struct xp *x, int step, const char *cursor, int next_seq)
{
	cJSON	*c = cJSON_CreateObject();
	char	*s;

	cJSON_AddStringToObject(c, "transactionTime", x->tt);
	cJSON_AddNumberToObject(c, "step", step);
	cJSON_AddStringToObject(c, "cursor", cursor);
	cJSON_AddNumberToObject(c, "next_seq", next_seq);
	if (x->last_success)
		(void)job_export_since_json(x, c);
	s = cJSON_PrintUnformatted(c);
	cJSON_Delete(c);
	return s;
}

/* Pages read so far out of plan_pages_total: the steps before the
 * running one as planned, and what the running one has read. */
static int64_t
xp_pages_done(const struct xp *x)
{
	int64_t	done = 0;
	int	i;

	for (i = 0; i < x->step && i < x->nsteps; i++)
		done += x->plan_pages[i];
	if (x->step < x->nsteps)
		done += x->step_pages < x->plan_pages[x->step] ?
		    x->step_pages : x->plan_pages[x->step];
	return done;
}

char *
job_export_progress(struct xp *x, const struct xp_step *s)
{
	cJSON	*p = cJSON_CreateObject();
	char	*out;

	cJSON_AddStringToObject(p, "type", s->s_type);
	cJSON_AddNumberToObject(p, "done", (double)x->type_rows);
	if (x->type_total >= 0)
		cJSON_AddNumberToObject(p, "total", (double)x->type_total);
	cJSON_AddNumberToObject(p, "step", x->step + 1);
	cJSON_AddNumberToObject(p, "steps", x->nsteps);
	cJSON_AddNumberToObject(p, "pages_done", (double)xp_pages_done(x));
	cJSON_AddNumberToObject(p, "pages", (double)x->plan_pages_total);
	cJSON_AddStringToObject(p, "transactionTime", x->tt);
	out = cJSON_PrintUnformatted(p);
	cJSON_Delete(p);
	return out;
}

/* outfile callback: a file is complete; record it with the checkpoint
 * that resumes right after its last row. */
int
job_export_file_done(void *arg, const struct outfile_info *info, char *errbuf,
    size_t errlen)
{
	struct xp		*x = arg;
	const struct xp_step	*s = &x->steps[x->step];
	struct jobq_output	 o;
	char			 file[1400], *cp;
	int			 rc;

	if (job_files_rel(job_ctx_id(x->ctx), info->oi_name, file,
	    sizeof(file)) == -1) {
		snprintf(errbuf, errlen, "file name too long: %s",
		    info->oi_name);
		return -1;
	}
	memset(&o, 0, sizeof(o));
	o.o_channel = s->s_kind == XP_WARNINGS ? "error" :
	    s->s_kind == XP_DELETED ? "deleted" : "output";
	o.o_type = s->s_kind == XP_BLOCKS ? "Patient" :
	    s->s_kind == XP_WARNINGS ? "OperationOutcome" :
	    s->s_kind == XP_DELETED ? "Bundle" : s->s_type;
	o.o_file = file;
	o.o_count = info->oi_count;
	o.o_bytes = info->oi_bytes;
	o.o_checksum = info->oi_sha256;
	cp = xp_checkpoint(x, x->step, x->last_key, info->oi_seq + 1);
	rc = job_ctx_output(x->ctx, &o, cp);
	free(cp);
	if (rc == -1) {
		snprintf(errbuf, errlen, "stopped while recording %s",
		    info->oi_name);
		return -1;
	}
	return 0;
}

/* Reads the resume point saved by an earlier attempt, if any. */
static void
xp_resume(struct xp *x)
{
	const cJSON	*cp = job_ctx_checkpoint(x->ctx), *v;

	x->step = 0;
	x->cursor[0] = '\0';
	x->next_seq = 1;
	if (cp == NULL)
		return;
	if ((v = cJSON_GetObjectItemCaseSensitive(cp, "transactionTime")) &&
	    cJSON_IsString(v))
		str_lcpy(x->tt, v->valuestring, sizeof(x->tt));
	if ((v = cJSON_GetObjectItemCaseSensitive(cp, "step")) &&
	    cJSON_IsNumber(v))
		x->step = v->valueint;
	if ((v = cJSON_GetObjectItemCaseSensitive(cp, "cursor")) &&
	    cJSON_IsString(v))
		str_lcpy(x->cursor, v->valuestring, sizeof(x->cursor));
	if ((v = cJSON_GetObjectItemCaseSensitive(cp, "next_seq")) &&
	    cJSON_IsNumber(v))
		x->next_seq = v->valueint;
}

static cJSON *
xp_required_table(void)
{
	const struct embed_file	*f = embed_find("fhir/required-elements.json");

	return f != NULL ? cJSON_Parse((const char *)f->ef_data) : NULL;
}

static char *
xp_types_setting(const struct xp *x)
{
	struct buf	b;
	int		i, n = 0;

	buf_init(&b, EXPORT_SQL_MAX);
	(void)buf_putc(&b, '{');
	for (i = 0; i < x->nsteps; i++) {
		if (x->steps[i].s_kind != XP_SCAN &&
		    x->steps[i].s_kind != XP_LOOKUP)
			continue;
		/* Type names are [A-Za-z]+ (fhir_type_valid): no quoting. */
		(void)buf_printf(&b, "%s%s", n++ ? "," : "",
		    x->steps[i].s_type);
	}
	(void)buf_putc(&b, '}');
	return buf_steal(&b, NULL);
}

enum job_status
job_export_run(struct job_ctx *ctx)
{
	return job_export_main(ctx, NULL);
}

/* level: NULL to take it from the params. */
enum job_status
job_export_main(struct job_ctx *ctx, const char *level)
{
	struct xp	*x;
	enum job_status	 rc = JOB_RETRY, st;
	char		*types = NULL, *cp, *result;
	cJSON		*res;
	int		 i, started;

	x = xcalloc(1, sizeof(*x));
	x->ctx = ctx;
	x->cfg = job_ctx_cfg(ctx);
	x->params = job_ctx_params(ctx);
	x->level = level != NULL ? level : job_export_str(x->params, "level");
	if (x->level == NULL)
		x->level = JOB_EXPORT_LEVEL_DEFAULT;
	if (level != NULL ? job_renewal_check(x->params, x->err,
	    sizeof(x->err)) == -1 : job_export_check(x->params, x->err,
	    sizeof(x->err)) == -1) {
		job_ctx_error(ctx, "%s", x->err);
		rc = JOB_FAIL;
		goto out;
	}
	x->elements = cJSON_GetObjectItemCaseSensitive(x->params, "elements");
	if (x->elements != NULL && (x->required = xp_required_table()) ==
	    NULL) {
		job_ctx_error(ctx, "export: fhir/required-elements.json is "
		    "missing from the build");
		rc = JOB_FAIL;
		goto out;
	}
	if ((x->conn = job_ctx_conn(ctx, x->err, sizeof(x->err))) == NULL) {
		job_ctx_error(ctx, "export: database: %s", x->err);
		goto out;
	}
	if (job_files_dir(job_ctx_id(ctx), x->reldir, sizeof(x->reldir)) ==
	    -1 || job_files_path(x->cfg->data_dir, x->reldir, x->dir,
	    sizeof(x->dir)) == -1) {
		job_ctx_error(ctx, "export: the output directory's path is "
		    "too long");
		rc = JOB_FAIL;
		goto out;
	}
	if (fs_mkdirs(x->dir) == -1) {
		job_ctx_error(ctx, "export: cannot create %s: %s", x->dir,
		    strerror(errno));
		goto out;
	}
	xp_resume(x);
	started = job_ctx_checkpoint(ctx) != NULL;
	job_export_copy_sweep(x);
	if ((st = job_export_since_resolve(x)) != JOB_DONE) {
		rc = st;
		goto out;
	}

	if (!started && (strcmp(x->level, "group") == 0 ||
	    cJSON_GetObjectItemCaseSensitive(x->params, "patients") != NULL)) {
		if ((st = job_export_plan_cohort(x)) != JOB_DONE) {
			rc = st;
			goto out;
		}
	}
	if (job_export_plan_snapshot(x) == -1 || (strcmp(x->level,
	    "renewal") == 0 && job_renewal_cohort(x) == -1) ||
	    job_export_plan(x) == -1)
		goto out;
	if (job_export_plan_pages(x) == -1) {
		job_ctx_error(ctx, "export: sizing the plan: %s", x->err);
		goto out;
	}
	types = xp_types_setting(x);
	if (job_export_setting(x, "types", types) == -1)
		goto out;
	if (!started) {
		/* Fix transactionTime before the first file exists. */
		cp = xp_checkpoint(x, 0, "", 1);
		i = job_ctx_save(ctx, NULL, cp);
		free(cp);
		if (i == -1) {
			rc = JOB_STOPPED;
			goto out;
		}
	}
	for (; x->step < x->nsteps; x->step++) {
		if (!x->steps[x->step].s_in_block &&
		    job_export_copy_step(x) == -1) {
			rc = job_ctx_stopping(ctx) ? JOB_STOPPED : JOB_RETRY;
			goto out;
		}
		/* The step is done; the next starts from its beginning. */
		x->cursor[0] = '\0';
		x->next_seq = 1;
		cp = xp_checkpoint(x, x->step + 1, "", 1);
		i = job_ctx_save(ctx, NULL, cp);
		free(cp);
		if (i == -1) {
			rc = JOB_STOPPED;
			goto out;
		}
	}
	res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "transactionTime", x->tt);
	cJSON_AddNumberToObject(res, "resources", (double)x->all_rows);
	if (job_export_str(x->params, "since") != NULL)
		cJSON_AddStringToObject(res, "since", job_export_str(x->params,
		    "since"));
	if (x->last_success) {
		cJSON *ls = job_export_since_json(x, res);

		cJSON_AddStringToObject(ls, "note", x->ls_note);
	}
	result = cJSON_PrintUnformatted(res);
	cJSON_Delete(res);
	job_ctx_result(ctx, result);
	cJSON_free(result);
	rc = JOB_DONE;
 out:
	if (x->conn != NULL)
		(void)db_exec(x->conn, "ROLLBACK", 0, NULL, x->err,
		    sizeof(x->err));
	if (rc == JOB_STOPPED && job_ctx_stop_reason(ctx) == JOB_STOP_CANCEL)
		job_files_remove(x->cfg->data_dir, job_ctx_id(ctx));
	for (i = 0; i < x->nsteps; i++)
		free(x->steps[i].s_filter);
	cJSON_Delete(x->required);
	cJSON_Delete(x->own_params);
	free(types);
	free(x);
	return rc;
}
