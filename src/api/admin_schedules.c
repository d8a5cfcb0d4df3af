/*
 * admin_schedules.c — the admin API's schedule routes: list, show, put,
 * delete, run now, pause and resume (see admin_api.h for the routes).
 *
 * The rows are jobs/schedule.c's (schedule_*, each its own transaction);
 * this file parses and checks the request, arms the audit triggers
 * around the change (admin_auth.h) and answers.  A run-now answers with
 * the job it submitted, as the job routes show it (admin_jobs.h).
 * libmicrohttpd threads, the thread's database connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/admin_api.h"
#include "api/admin_auth.h"
#include "api/admin_jobs.h"
#include "http/http_route.h"
#include "jobs/schedule.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "store/jobq.h"

#define ADMIN_SCHEDULES_MAX	((size_t)64 << 20)	/* schedule list body */

static int	 admin_schedules_name(struct admin_ctx *, const char **);
static int	 admin_schedules_results(struct admin_ctx *,
		    struct schedule **, size_t);
static void	 admin_schedules_fail(struct admin_ctx *, int, const char *,
		    const char *);
static void	 admin_schedules_reply(struct admin_ctx *, unsigned int,
		    const char *);
static int	 admin_schedules_spec(const cJSON *, const char *,
		    struct schedule_spec *, char **, char *, size_t);
static void	 admin_schedules_enable(struct http_req *, int);

/*
 * The {name} of the path if it is a valid schedule name (the CHECK of
 * 004_schedules.sql); else answers 400.  The router has already refused
 * "..", "." and encoded slashes with 404.
 */
static int
admin_schedules_name(struct admin_ctx *ax, const char **name)
{
	const char	*s;
	size_t		 i, len;

	s = *name = http_req_param(ax->ax_req, "name");
	len = s != NULL ? strlen(s) : 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || (i > 0 && (c == '.' ||
		    c == '_' || c == '-'))))
			break;
	}
	if (len == 0 || len >= SCHEDULE_NAME_MAX + 1 || i < len) {
		(void)http_reply_outcome(ax->ax_req, 400, "invalid", "invalid "
		    "schedule name: 1 to %d characters A-Z a-z 0-9 . _ -, "
		    "starting with a letter or digit", SCHEDULE_NAME_MAX);
		return -1;
	}
	return 0;
}

/* Answers a schedule_* failure. */
static void
admin_schedules_fail(struct admin_ctx *ax, int rc, const char *what,
    const char *err)
{
	switch (rc) {
	case SCHEDULE_R_NOTFOUND:
		(void)http_reply_outcome(ax->ax_req, 404, "not-found", "%s",
		    err);
		break;
	case SCHEDULE_R_INVALID:
		(void)http_reply_outcome(ax->ax_req, 400, "invalid", "%s",
		    err);
		break;
	default:
		admin_auth_db_fail(ax, what, err);
		break;
	}
}

/* Fills each schedule's last_result: its last job's state, in one
 * read.  0, or -1 after answering. */
static int
admin_schedules_results(struct admin_ctx *ax, struct schedule **list,
    size_t n)
{
	const char	**ids;
	char		(*st)[JOBQ_STATE_MAX];
	char		  err[ADMIN_ERR_MAX];
	size_t		  i;
	int		  rc = -1;

	ids = xcalloc(n + 1, sizeof(*ids));
	st = xcalloc(n + 1, sizeof(*st));
	for (i = 0; i < n; i++)
		ids[i] = list[i]->sc_last_job;
	if (jobq_states(ax->ax_conn, ids, n, st, err, sizeof(err)) == -1) {
		admin_auth_db_fail(ax, "schedule results", err);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (st[i][0] != '\0')
			list[i]->sc_last_result = xstrdup(st[i]);
	rc = 0;
 out:
	free(ids);
	free(st);
	return rc;
}

/* Answers status with the schedule called name. */
static void
admin_schedules_reply(struct admin_ctx *ax, unsigned int status,
    const char *name)
{
	struct schedule	*s = NULL;
	struct buf	 b;
	char		 err[ADMIN_ERR_MAX];
	int		 rc;

	buf_init(&b, ADMIN_SCHEDULES_MAX);
	if ((rc = schedule_get(ax->ax_conn, name, &s, err, sizeof(err))) !=
	    0) {
		admin_schedules_fail(ax, rc, "schedule", err);
		goto out;
	}
	if (admin_schedules_results(ax, &s, 1) == -1)
		goto out;
	if (schedule_json(s, &b) == -1) {
		(void)http_reply_internal(ax->ax_req, "schedule %s: too large",
		    name);
		goto out;
	}
	(void)http_reply_buf(ax->ax_req, status, "application/json", &b);
 out:
	schedule_free(s);
	buf_free(&b);
}

void
admin_api_schedules_list(struct http_req *req)
{
	struct admin_ctx	  ax;
	struct schedule		**list = NULL;
	struct buf		  b;
	char			  err[ADMIN_ERR_MAX];
	size_t			  n = 0;

	if (admin_auth_open(req, &ax, 1) == -1)
		return;
	buf_init(&b, ADMIN_SCHEDULES_MAX);
	if (schedule_list(ax.ax_conn, &list, &n, err, sizeof(err)) != 0) {
		admin_auth_db_fail(&ax, "schedule list", err);
		goto out;
	}
	if (admin_schedules_results(&ax, list, n) == -1)
		goto out;
	if (buf_puts(&b, "{\"schedules\":") == -1 ||
	    schedule_list_json(list, n, &b) == -1 || buf_putc(&b, '}') == -1) {
		(void)http_reply_internal(req, "schedule list too large");
		goto out;
	}
	(void)http_reply_buf(req, 200, "application/json", &b);
 out:
	schedule_list_free(list, n);
	buf_free(&b);
}

void
admin_api_schedule_get(struct http_req *req)
{
	struct admin_ctx	 ax;
	const char		*name;

	if (admin_auth_open(req, &ax, 1) == -1 ||
	    admin_schedules_name(&ax, &name) == -1)
		return;
	admin_schedules_reply(&ax, 200, name);
}

/*
 * Fills *sp from a PUT body: {cron, timezone?, enabled?, misfire?,
 * job: {kind, params?}, name?}; unknown members are errors.  *params is
 * the params' text (caller frees with cJSON_free).  0, or -1 with the
 * reason for a 400.
 */
static int
admin_schedules_spec(const cJSON *body, const char *name,
    struct schedule_spec *sp, char **params, char *errbuf, size_t errlen)
{
	const cJSON	*e, *job = NULL, *pj = NULL;

	memset(sp, 0, sizeof(*sp));
	*params = NULL;
	sp->sp_name = name;
	sp->sp_enabled = 1;
	sp->sp_source = "api";
	if (!cJSON_IsObject(body)) {
		snprintf(errbuf, errlen, "the body must be a JSON object "
		    "{cron, timezone, enabled, misfire, job: {kind, params}}");
		return -1;
	}
	cJSON_ArrayForEach(e, body) {
		if (strcmp(e->string, "name") == 0) {
			if (!cJSON_IsString(e) ||
			    strcmp(e->valuestring, name) != 0) {
				snprintf(errbuf, errlen, "name: the body names "
				    "another schedule than the URL");
				return -1;
			}
		} else if (strcmp(e->string, "cron") == 0) {
			if (!cJSON_IsString(e)) {
				snprintf(errbuf, errlen, "cron: must be a "
				    "string such as \"0 2 * * *\"");
				return -1;
			}
			sp->sp_cron = e->valuestring;
		} else if (strcmp(e->string, "timezone") == 0) {
			if (!cJSON_IsString(e) && !cJSON_IsNull(e)) {
				snprintf(errbuf, errlen, "timezone: must be a "
				    "string such as \"Africa/Dar_es_Salaam\"");
				return -1;
			}
			sp->sp_timezone = cJSON_GetStringValue(e);
		} else if (strcmp(e->string, "enabled") == 0) {
			if (!cJSON_IsBool(e)) {
				snprintf(errbuf, errlen, "enabled: must be "
				    "true or false");
				return -1;
			}
			sp->sp_enabled = cJSON_IsTrue(e);
		} else if (strcmp(e->string, "misfire") == 0) {
			if (!cJSON_IsString(e) && !cJSON_IsNull(e)) {
				snprintf(errbuf, errlen, "misfire: must be "
				    "\"run-once\" or \"skip\"");
				return -1;
			}
			sp->sp_misfire = cJSON_GetStringValue(e);
		} else if (strcmp(e->string, "job") == 0)
			job = e;
		else {
			snprintf(errbuf, errlen, "unknown member \"%.40s\" "
			    "(cron, timezone, enabled, misfire, job)",
			    e->string);
			return -1;
		}
	}
	if (sp->sp_cron == NULL) {
		snprintf(errbuf, errlen, "cron: missing");
		return -1;
	}
	if (!cJSON_IsObject(job)) {
		snprintf(errbuf, errlen, "job: missing, or not an object "
		    "{kind, params}");
		return -1;
	}
	cJSON_ArrayForEach(e, job) {
		if (strcmp(e->string, "kind") == 0) {
			if (!cJSON_IsString(e)) {
				snprintf(errbuf, errlen, "job.kind: must be a "
				    "string");
				return -1;
			}
			sp->sp_job_kind = e->valuestring;
		} else if (strcmp(e->string, "params") == 0)
			pj = e;
		else {
			snprintf(errbuf, errlen, "job: unknown member "
			    "\"%.40s\" (kind, params)", e->string);
			return -1;
		}
	}
	if (sp->sp_job_kind == NULL) {
		snprintf(errbuf, errlen, "job.kind: missing");
		return -1;
	}
	if (pj != NULL && !cJSON_IsNull(pj)) {
		if (!cJSON_IsObject(pj)) {
			snprintf(errbuf, errlen, "job.params: must be a JSON "
			    "object");
			return -1;
		}
		*params = cJSON_PrintUnformatted(pj);
		sp->sp_job_params = *params;
	}
	return 0;
}

void
admin_api_schedule_put(struct http_req *req)
{
	struct admin_ctx	 ax;
	struct schedule_spec	 sp;
	const cJSON		*body;
	const char		*name;
	char			*params = NULL, err[ADMIN_ERR_MAX];
	size_t			 len;
	int			 rc, created = 0;

	if (admin_auth_open(req, &ax, 1) == -1 ||
	    admin_schedules_name(&ax, &name) == -1)
		return;
	body = http_req_body_json(req);
	(void)http_req_body(req, &len);
	if (body == NULL) {
		(void)http_reply_outcome(req, 400, "invalid", "%s", len > 0 ?
		    "the body is not valid JSON" : "a JSON body is required: "
		    "{cron, timezone, enabled, misfire, job: {kind, params}}");
		return;
	}
	if (admin_schedules_spec(body, name, &sp, &params, err,
	    sizeof(err)) == -1 ||
	    schedule_spec_check(&sp, err, sizeof(err)) != 0) {
		(void)http_reply_outcome(req, 400, "invalid", "%s", err);
		goto out;
	}
	if (admin_auth_audit_begin(&ax, "schedule.put", "schedules",
	    name) == -1)
		goto out;
	rc = schedule_put(ax.ax_conn, &sp, &created, err, sizeof(err));
	admin_auth_audit_end(&ax);
	if (rc != 0) {
		admin_schedules_fail(&ax, rc, "schedule put", err);
		goto out;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "schedule put: audit reset "
		    "failed");
		goto out;
	}
	log_info("schedule %s: %s by %s (%s)", name, created ? "created" :
	    "replaced", ax.ax_who.aa_actor, ax.ax_who.aa_addr);
	if (created) {
		char	loc[ADMIN_URL_MAX];

		snprintf(loc, sizeof(loc), "/admin/api/schedules/%s", name);
		(void)http_resp_header(req, "Location", loc);
	}
	admin_schedules_reply(&ax, created ? 201 : 200, name);
 out:
	cJSON_free(params);
}

void
admin_api_schedule_delete(struct http_req *req)
{
	struct admin_ctx	 ax;
	const char		*name;
	char			 err[ADMIN_ERR_MAX];
	int			 rc;

	if (admin_auth_open(req, &ax, 1) == -1 ||
	    admin_schedules_name(&ax, &name) == -1)
		return;
	if (admin_auth_audit_begin(&ax, "schedule.delete", "schedules", name) ==
	    -1)
		return;
	rc = schedule_delete(ax.ax_conn, name, err, sizeof(err));
	admin_auth_audit_end(&ax);
	if (rc != 0) {
		admin_schedules_fail(&ax, rc, "schedule delete", err);
		return;
	}
	log_info("schedule %s: deleted by %s (%s)", name, ax.ax_who.aa_actor,
	    ax.ax_who.aa_addr);
	(void)http_reply_data(req, 204, NULL, "", 0);
}

void
admin_api_schedule_run(struct http_req *req)
{
	struct admin_ctx	 ax;
	const char		*name;
	char			 err[ADMIN_ERR_MAX], id[JOBQ_ID_MAX];
	int			 rc;

	if (admin_auth_open(req, &ax, 1) == -1 ||
	    admin_schedules_name(&ax, &name) == -1)
		return;
	/* The change is the job it submits; the target the schedule. */
	if (admin_auth_audit_begin(&ax, "schedule.run", "jobs", name) == -1)
		return;
	rc = schedule_run_now(ax.ax_conn, name, id, sizeof(id), err,
	    sizeof(err));
	admin_auth_audit_end(&ax);
	if (rc != 0) {
		admin_schedules_fail(&ax, rc, "schedule run", err);
		return;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "schedule run: audit reset "
		    "failed");
		return;
	}
	log_info("schedule %s: run now by %s (%s): job %s", name,
	    ax.ax_who.aa_actor, ax.ax_who.aa_addr, id);
	admin_jobs_reply(&ax, 202, id, 1);
}

static void
admin_schedules_enable(struct http_req *req, int enabled)
{
	struct admin_ctx	 ax;
	const char		*name;
	char			 err[ADMIN_ERR_MAX];
	int			 rc;

	if (admin_auth_open(req, &ax, 1) == -1 ||
	    admin_schedules_name(&ax, &name) == -1)
		return;
	if (admin_auth_audit_begin(&ax, enabled ? "schedule.resume" :
	    "schedule.pause", "schedules", name) == -1)
		return;
	rc = schedule_set_enabled(ax.ax_conn, name, enabled, err, sizeof(err));
	admin_auth_audit_end(&ax);
	if (rc != 0) {
		admin_schedules_fail(&ax, rc, enabled ? "schedule resume" :
		    "schedule pause", err);
		return;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "schedule: audit reset failed");
		return;
	}
	log_info("schedule %s: %s by %s (%s)", name, enabled ? "resumed" :
	    "paused", ax.ax_who.aa_actor, ax.ax_who.aa_addr);
	admin_schedules_reply(&ax, 200, name);
}

void
admin_api_schedule_pause(struct http_req *req)
{
	admin_schedules_enable(req, 0);
}

void
admin_api_schedule_resume(struct http_req *req)
{
	admin_schedules_enable(req, 1);
}
