/*
 * admin_jobs.c — the admin API's job routes: list, show, pause, resume,
 * cancel and retry (see admin_api.h for the routes and the job state
 * rules).
 *
 * Runs on libmicrohttpd's threads with the thread's own database
 * connection (admin_auth.h).  A job action is one jobq verb whose WHERE
 * clause is the state rule (store/jobq.h, OPERATOR VERBS), so a worker
 * changing the job at the same moment can never be overruled: the
 * pre-check here only makes the 409 message precise, the verb decides.
 * Every change runs with the audit triggers armed, disarmed again on
 * every path.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/admin_api.h"
#include "api/admin_auth.h"
#include "api/admin_deliveries.h"
#include "api/admin_jobs.h"
#include "bulk/export_cache.h"
#include "core/cfg.h"
#include "http/http_route.h"
#include "jobs/job_kinds.h"
#include "lib/log.h"
#include "lib/str.h"
#include "store/job_files.h"
#include "store/jobq.h"
#include "store/ndjson.h"

#define ADMIN_LIST_DEFAULT	100	/* GET /admin/api/jobs without limit */

/* Job actions besides retry. */
enum admin_jobs_act {
	ADMIN_PAUSE,
	ADMIN_RESUME,
	ADMIN_CANCEL,
};

static const struct {
	const char	*a_name;	/* "pause" */
	const char	*a_audit;	/* audit action */
} admin_jobs_acts[] = {
	[ADMIN_PAUSE] = { "pause", "job.pause" },
	[ADMIN_RESUME] = { "resume", "job.resume" },
	[ADMIN_CANCEL] = { "cancel", "job.cancel" },
};

/* Kinds whose jobs have a FHIR status URL (api/export_api.c). */
static const char *const admin_jobs_status_kinds[] = {
	"export", "renewal-export", "import",
};

/* Query parameters of GET /admin/api/jobs. */
struct admin_listq {
	const char	*lq_state;
	const char	*lq_kind;
	const char	*lq_client;
	const char	*lq_limit;
	char		 lq_bad[128];	/* first problem, or "" */
};

static int	 admin_jobs_id(struct admin_ctx *, const char **);
static void	 admin_jobs_add_str(cJSON *, const char *, const char *);
static void	 admin_jobs_add_raw(cJSON *, const char *, const char *);
static int	 admin_jobs_status_kind(const char *);
static cJSON	*admin_jobs_json(const struct cfg *,
		    const struct jobq_job *);
static int	 admin_jobs_outputs(struct admin_ctx *,
		    const struct jobq_job *, cJSON *);
static int	 admin_jobs_load(struct admin_ctx *, const char *,
		    struct jobq_job **);
static int	 admin_jobs_refused(enum admin_jobs_act,
		    const struct jobq_job *, char *, size_t);
static int	 admin_jobs_do(struct admin_ctx *, enum admin_jobs_act,
		    const char *, enum jobq_state *, char *, size_t);
static void	 admin_jobs_action(struct http_req *, enum admin_jobs_act);
static int	 admin_jobs_listq_add(void *, const char *, const char *);

/* The {id} of the path if it can be a job id; else answers 404. */
static int
admin_jobs_id(struct admin_ctx *ax, const char **id)
{
	*id = http_req_param(ax->ax_req, "id");
	if (*id == NULL || strlen(*id) >= JOBQ_ID_MAX ||
	    !ndjson_valid_id(*id, strlen(*id))) {
		(void)http_reply_outcome(ax->ax_req, 404, "not-found",
		    "no such job");
		return -1;
	}
	return 0;
}

static void
admin_jobs_add_str(cJSON *o, const char *name, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

/* v is JSON text from PostgreSQL (valid by construction), or NULL. */
static void
admin_jobs_add_raw(cJSON *o, const char *name, const char *v)
{
	if (v != NULL)
		cJSON_AddRawToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

static int
admin_jobs_status_kind(const char *kind)
{
	size_t	i;

	for (i = 0; i < sizeof(admin_jobs_status_kinds) /
	    sizeof(admin_jobs_status_kinds[0]); i++)
		if (strcmp(kind, admin_jobs_status_kinds[i]) == 0)
			return 1;
	return 0;
}

/* The job as the admin API shows it.  Caller frees with cJSON_Delete. */
static cJSON *
admin_jobs_json(const struct cfg *cfg, const struct jobq_job *j)
{
	cJSON	*o = cJSON_CreateObject();
	char	 url[ADMIN_URL_MAX];

	cJSON_AddStringToObject(o, "id", j->j_id);
	cJSON_AddStringToObject(o, "kind", j->j_kind);
	cJSON_AddStringToObject(o, "state", jobq_state_name(j->j_state));
	cJSON_AddBoolToObject(o, "pause_requested", j->j_pause_requested);
	admin_jobs_add_raw(o, "params", j->j_params);
	admin_jobs_add_str(o, "client", j->j_client);
	cJSON_AddNumberToObject(o, "priority", j->j_priority);
	cJSON_AddNumberToObject(o, "attempts", j->j_attempts);
	cJSON_AddNumberToObject(o, "max_attempts", j->j_max_attempts);
	admin_jobs_add_raw(o, "progress", j->j_progress);
	admin_jobs_add_raw(o, "checkpoint", j->j_checkpoint);
	admin_jobs_add_str(o, "created", j->j_created);
	admin_jobs_add_str(o, "started", j->j_started);
	admin_jobs_add_str(o, "finished", j->j_finished);
	admin_jobs_add_str(o, "updated", j->j_updated);
	admin_jobs_add_str(o, "run_after", j->j_run_after);
	admin_jobs_add_str(o, "lease_owner", j->j_lease_owner);
	admin_jobs_add_str(o, "lease_expires", j->j_lease_expires);
	admin_jobs_add_str(o, "heartbeat_at", j->j_heartbeat_at);
	admin_jobs_add_str(o, "transaction_time", j->j_transaction_time);
	admin_jobs_add_str(o, "error", j->j_error);
	admin_jobs_add_raw(o, "result", j->j_result);
	admin_jobs_add_str(o, "retry_of", j->j_retry_of);
	admin_jobs_add_str(o, "status_url", admin_jobs_status_kind(j->j_kind) &&
	    job_files_status_url(cfg->base_url, j->j_id, url,
	    sizeof(url)) == 0 ? url : NULL);
	return o;
}

/*
 * Adds "outputs": [{seq, channel, type, url, count, bytes[, input]}]: url
 * is the download URL of a file, or else the URL the row names (an
 * import's input); input is that URL when both exist.  0, or -1 after
 * answering.
 */
static int
admin_jobs_outputs(struct admin_ctx *ax, const struct jobq_job *j, cJSON *o)
{
	struct jobq_outrow	*rows = NULL, *r;
	cJSON			*arr, *item;
	char			 err[ADMIN_ERR_MAX], url[ADMIN_URL_MAX];
	size_t			 i, n = 0;

	if (jobq_outputs_list(ax->ax_conn, j->j_id, NULL, &rows, &n, err,
	    sizeof(err)) == -1) {
		admin_auth_db_fail(ax, "job outputs", err);
		return -1;
	}
	arr = cJSON_AddArrayToObject(o, "outputs");
	for (i = 0; i < n; i++) {
		r = &rows[i];
		item = cJSON_CreateObject();
		cJSON_AddNumberToObject(item, "seq", r->r_seq);
		cJSON_AddStringToObject(item, "channel", r->r_channel);
		cJSON_AddStringToObject(item, "type", r->r_type);
		if (r->r_file != NULL) {
			admin_jobs_add_str(item, "url", job_files_url(
			    ax->ax_cfg->base_url, j->j_id, r->r_file, url,
			    sizeof(url)) == 0 ? url : NULL);
			if (r->r_url != NULL)
				cJSON_AddStringToObject(item, "input",
				    r->r_url);
		} else
			admin_jobs_add_str(item, "url", r->r_url);
		cJSON_AddNumberToObject(item, "count", (double)r->r_count);
		cJSON_AddNumberToObject(item, "bytes", (double)r->r_bytes);
		cJSON_AddItemToArray(arr, item);
	}
	jobq_outrows_free(rows, n);
	return 0;
}

/* Reads a job.  1 (*job set, caller frees), 0 (no such job: nothing
 * answered), -1 after answering. */
static int
admin_jobs_load(struct admin_ctx *ax, const char *id, struct jobq_job **job)
{
	char	err[ADMIN_ERR_MAX];
	int	r;

	if ((r = jobq_get(ax->ax_conn, id, job, err, sizeof(err))) == -1) {
		admin_auth_db_fail(ax, "job", err);
		return -1;
	}
	return r;
}

void
admin_jobs_reply(struct admin_ctx *ax, unsigned int status, const char *id,
    int location)
{
	struct jobq_job	*j = NULL;
	cJSON		*o = NULL;
	char		 loc[ADMIN_URL_MAX];
	int		 r;

	if ((r = admin_jobs_load(ax, id, &j)) == -1)
		goto out;
	if (r == 0) {
		(void)http_reply_outcome(ax->ax_req, 404, "not-found", "no "
		    "such job");
		goto out;
	}
	o = admin_jobs_json(ax->ax_cfg, j);
	if (admin_jobs_outputs(ax, j, o) == -1 ||
	    admin_deliveries_add(ax, id, o) == -1)
		goto out;
	if (location && snprintf(loc, sizeof(loc), "/admin/api/jobs/%s", id) <
	    (int)sizeof(loc))
		(void)http_resp_header(ax->ax_req, "Location", loc);
	(void)http_reply_json(ax->ax_req, status, o);
 out:
	cJSON_Delete(o);
	jobq_job_free(j);
}

/* Why action cannot apply to j now (msg, return 1), or 0 if it can. */
static int
admin_jobs_refused(enum admin_jobs_act act, const struct jobq_job *j,
    char *msg, size_t len)
{
	const char	*st = jobq_state_name(j->j_state);
	int		 pause_requested = j->j_pause_requested;

	switch (act) {
	case ADMIN_PAUSE:
		if (j->j_state == JOBQ_QUEUED ||
		    (j->j_state == JOBQ_RUNNING && !pause_requested))
			return 0;
		if (j->j_state == JOBQ_RUNNING)
			snprintf(msg, len, "job %s: a pause was already "
			    "requested; the worker stops it at its next batch "
			    "boundary", j->j_id);
		else if (j->j_state == JOBQ_PAUSED)
			snprintf(msg, len, "job %s is already paused", j->j_id);
		else
			snprintf(msg, len, "job %s is %s: only a queued or "
			    "running job can be paused", j->j_id, st);
		return 1;
	case ADMIN_RESUME:
		if (j->j_state == JOBQ_PAUSED ||
		    (j->j_state == JOBQ_RUNNING && pause_requested))
			return 0;
		snprintf(msg, len, "job %s is %s: only a paused job (or a "
		    "running one with a pause requested) can be resumed",
		    j->j_id, st);
		return 1;
	case ADMIN_CANCEL:
		if (j->j_state == JOBQ_QUEUED || j->j_state == JOBQ_PAUSED ||
		    j->j_state == JOBQ_RUNNING)
			return 0;
		if (j->j_state == JOBQ_CANCELLING)
			snprintf(msg, len, "job %s is already being cancelled",
			    j->j_id);
		else
			snprintf(msg, len, "job %s is %s: only a queued, "
			    "paused or running job can be cancelled", j->j_id,
			    st);
		return 1;
	}
	return 1;
}


/* Runs the action's verb.  1 (*state after), 0 (refused), -1 (err). */
static int
admin_jobs_do(struct admin_ctx *ax, enum admin_jobs_act act, const char *id,
    enum jobq_state *state, char *err, size_t errlen)
{
	switch (act) {
	case ADMIN_PAUSE:
		return jobq_pause(ax->ax_conn, id, state, err, errlen);
	case ADMIN_RESUME:
		return jobq_resume(ax->ax_conn, id, state, err, errlen);
	case ADMIN_CANCEL:
		return jobq_cancel(ax->ax_conn, ax->ax_cfg->data_dir, id,
		    JOBQ_CANCEL_OPERATOR, state, err, errlen);
	}
	snprintf(err, errlen, "unknown action");
	return -1;
}

static void
admin_jobs_action(struct http_req *req, enum admin_jobs_act act)
{
	struct admin_ctx	 ax;
	struct jobq_job		*j = NULL;
	enum jobq_state		 state = JOBQ_NSTATES;
	const char		*id;
	char			 err[ADMIN_ERR_MAX], msg[ADMIN_MSG_MAX];
	int			 r;

	if (admin_auth_open(req, &ax, 1) == -1 || admin_jobs_id(&ax, &id) == -1)
		return;
	if ((r = admin_jobs_load(&ax, id, &j)) <= 0) {
		if (r == 0)
			(void)http_reply_outcome(req, 404, "not-found",
			    "no such job");
		goto out;
	}
	if (admin_jobs_refused(act, j, msg, sizeof(msg)))
		goto refuse;
	if (admin_auth_audit_begin(&ax, admin_jobs_acts[act].a_audit, "jobs",
	    id) == -1)
		goto out;
	/* A cancel that ends the job removes its files (jobq_cancel). */
	r = admin_jobs_do(&ax, act, id, &state, err, sizeof(err));
	admin_auth_audit_end(&ax);
	if (r == -1) {
		admin_auth_db_fail(&ax, admin_jobs_acts[act].a_name, err);
		goto out;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "%s: audit reset failed",
		    admin_jobs_acts[act].a_name);
		goto out;
	}
	if (r == 0) {
		/* The job moved on between the check and the update. */
		jobq_job_free(j);
		j = NULL;
		if ((r = admin_jobs_load(&ax, id, &j)) <= 0) {
			if (r == 0)
				(void)http_reply_outcome(req, 404,
				    "not-found", "no such job");
			goto out;
		}
		if (admin_jobs_refused(act, j, msg, sizeof(msg)))
			goto refuse;
		snprintf(msg, sizeof(msg), "job %s changed state while being "
		    "updated; try again", id);
		goto refuse;
	}
	/* Committed: this process's status polls see it from now on. */
	export_cache_invalidate(id);
	log_info("job %s: %s by %s (%s) -> %s", id,
	    admin_jobs_acts[act].a_name, ax.ax_who.aa_actor,
	    ax.ax_who.aa_addr, jobq_state_name(state));
	/* 202: a pause or cancel the worker has yet to act on. */
	admin_jobs_reply(&ax, (act == ADMIN_PAUSE && state == JOBQ_RUNNING) ||
	    state == JOBQ_CANCELLING ? 202 : 200, id, 0);
	goto out;
 refuse:
	(void)http_reply_outcome(req, 409, "conflict", "%s", msg);
 out:
	jobq_job_free(j);
}

void
admin_api_job_pause(struct http_req *req)
{
	admin_jobs_action(req, ADMIN_PAUSE);
}

void
admin_api_job_resume(struct http_req *req)
{
	admin_jobs_action(req, ADMIN_RESUME);
}

void
admin_api_job_cancel(struct http_req *req)
{
	admin_jobs_action(req, ADMIN_CANCEL);
}

void
admin_api_job_retry(struct http_req *req)
{
	struct admin_ctx	 ax;
	struct jobq_job		*j = NULL;
	const char		*id;
	char			 err[ADMIN_ERR_MAX], newid[JOBQ_ID_MAX];
	int			 r;

	if (admin_auth_open(req, &ax, 1) == -1 || admin_jobs_id(&ax, &id) == -1)
		return;
	if ((r = admin_jobs_load(&ax, id, &j)) <= 0) {
		if (r == 0)
			(void)http_reply_outcome(req, 404, "not-found",
			    "no such job");
		goto out;
	}
	if (j->j_state != JOBQ_FAILED && j->j_state != JOBQ_CANCELLED) {
		(void)http_reply_outcome(req, 409, "conflict", "job %s is %s: "
		    "only a failed or cancelled job can be retried", id,
		    jobq_state_name(j->j_state));
		goto out;
	}
	/* The kind may have tightened its parameters since. */
	if (job_kind_check(j->j_kind, j->j_params, j->j_client, err,
	    sizeof(err)) == -1) {
		(void)http_reply_outcome(req, 409, "conflict", "job %s cannot "
		    "be retried: %s", id, err);
		goto out;
	}
	if (admin_auth_audit_begin(&ax, "job.retry", "jobs", id) == -1)
		goto out;
	r = jobq_retry(ax.ax_conn, id, newid, sizeof(newid), err,
	    sizeof(err));
	admin_auth_audit_end(&ax);
	if (r == -1) {
		admin_auth_db_fail(&ax, "retry", err);
		goto out;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "retry: audit reset failed");
		goto out;
	}
	if (r == 0) {
		(void)http_reply_outcome(req, 409, "conflict", "job %s changed "
		    "state while being retried; try again", id);
		goto out;
	}
	log_info("job %s: retried as %s by %s (%s)", id, newid,
	    ax.ax_who.aa_actor, ax.ax_who.aa_addr);
	admin_jobs_reply(&ax, 201, newid, 1);
 out:
	jobq_job_free(j);
}

void
admin_api_job_get(struct http_req *req)
{
	struct admin_ctx	 ax;
	const char		*id;

	if (admin_auth_open(req, &ax, 1) == -1 || admin_jobs_id(&ax, &id) == -1)
		return;
	admin_jobs_reply(&ax, 200, id, 0);
}

static int
admin_jobs_listq_add(void *arg, const char *key, const char *value)
{
	struct admin_listq	 *q = arg;
	const char		**slot;

	if (strcmp(key, "state") == 0)
		slot = &q->lq_state;
	else if (strcmp(key, "kind") == 0)
		slot = &q->lq_kind;
	else if (strcmp(key, "client") == 0)
		slot = &q->lq_client;
	else if (strcmp(key, "limit") == 0)
		slot = &q->lq_limit;
	else {
		snprintf(q->lq_bad, sizeof(q->lq_bad), "unknown query "
		    "parameter \"%.40s\" (state, kind, client, limit)", key);
		return 1;
	}
	if (*slot != NULL) {
		snprintf(q->lq_bad, sizeof(q->lq_bad), "query parameter "
		    "\"%s\" given twice", key);
		return 1;
	}
	*slot = value;
	return 0;
}

void
admin_api_jobs_list(struct http_req *req)
{
	struct admin_ctx	  ax;
	struct admin_listq	  q;
	struct jobq_filter	  f;
	struct jobq_job		**jobs = NULL;
	enum jobq_state		  st;
	cJSON			 *o = NULL, *arr;
	const char		 *errstr;
	char			  err[ADMIN_ERR_MAX];
	int64_t			  limit = ADMIN_LIST_DEFAULT;
	size_t			  i, n = 0;

	if (admin_auth_open(req, &ax, 0) == -1)
		return;
	memset(&q, 0, sizeof(q));
	memset(&f, 0, sizeof(f));
	f.f_state = -1;
	if (http_req_query_each(req, admin_jobs_listq_add, &q) != 0) {
		(void)http_reply_outcome(req, 400, "invalid", "%s", q.lq_bad);
		return;
	}
	if (q.lq_state != NULL) {
		if (jobq_state_parse(q.lq_state, &st) == -1) {
			(void)http_reply_outcome(req, 400, "invalid", "state: "
			    "unknown state \"%.40s\" (queued, running, paused, "
			    "cancelling, cancelled, failed, completed)",
			    q.lq_state);
			return;
		}
		f.f_state = (int)st;
	}
	if (q.lq_kind != NULL && job_kind_find(q.lq_kind) == NULL) {
		(void)http_reply_outcome(req, 400, "invalid", "kind: unknown "
		    "job kind \"%.40s\"", q.lq_kind);
		return;
	}
	if (q.lq_limit != NULL && str_to_i64(q.lq_limit, 1, JOBQ_LIST_MAX,
	    &limit, &errstr) == -1) {
		(void)http_reply_outcome(req, 400, "invalid", "limit: "
		    "\"%.20s\" is %s (expected 1 to %d)", q.lq_limit, errstr,
		    JOBQ_LIST_MAX);
		return;
	}
	f.f_kind = q.lq_kind;
	f.f_client = q.lq_client;
	f.f_limit = (int)limit;
	if (admin_auth_connect(&ax) == -1)
		return;
	if (jobq_list(ax.ax_conn, &f, &jobs, &n, err, sizeof(err)) == -1) {
		admin_auth_db_fail(&ax, "job list", err);
		goto out;
	}
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "jobs");
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, admin_jobs_json(ax.ax_cfg,
		    jobs[i]));
	(void)http_reply_json(req, 200, o);
 out:
	cJSON_Delete(o);
	jobq_jobs_free(jobs, n);
}

