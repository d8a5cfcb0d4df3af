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
#include <time.h>

#include <cjson/cJSON.h>

#include "api/admin_api.h"
#include "api/admin_auth.h"
#include "api/admin_deliveries.h"
#include "api/admin_jobs.h"
#include "auth/urlsign.h"
#include "bulk/export_cache.h"
#include "core/cfg.h"
#include "http/http_route.h"
#include "jobs/cron.h"
#include "jobs/job_kinds.h"
#include "jobs/schedule.h"
#include "lib/log.h"
#include "lib/str.h"
#include "store/job_files.h"
#include "store/jobq.h"
#include "store/ndjson.h"

#define ADMIN_LIST_DEFAULT	100	/* GET /admin/api/jobs without limit */
#define ADMIN_ERR_LINE		200	/* "error_line": bytes, with NUL */

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
	const char	*lq_before;
	const char	*lq_since;
	const char	*lq_schedule;
	char		 lq_bad[128];	/* first problem, or "" */
};

static int	 admin_jobs_id(struct admin_ctx *, const char **);
static void	 admin_jobs_add_str(cJSON *, const char *, const char *);
static void	 admin_jobs_add_raw(cJSON *, const char *, const char *);
static int	 admin_jobs_status_kind(const char *);
static double	 admin_jobs_epoch(const char *);
static void	 admin_jobs_summary(cJSON *, const struct jobq_job *);
static void	 admin_jobs_error_line(cJSON *, const char *);
static int	 admin_jobs_submit_spec(const cJSON *, struct jobq_spec *,
		    char *, char *, size_t);
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

/* Seconds since the epoch of a JOBQ_TS instant, or -1. */
static double
admin_jobs_epoch(const char *ts)
{
	time_t	t;

	if (ts == NULL || cron_time_parse(ts, &t) == -1)
		return -1;
	return (double)t;
}

/*
 * What the console's table shows without parsing the per-kind JSON:
 * "duration_s" (started to finished, or to now while it runs; null
 * before it starts) and "rows" (jobq.c's JOBQ_ROWS: an import's loaded
 * resources, an export's rows in finished files), "total" (the
 * progress's total when the kind knows it) and "rate" (rows a second
 * over the duration), each null when unknown.
 */
static void
admin_jobs_summary(cJSON *o, const struct jobq_job *j)
{
	cJSON	*p;
	double	 start, end, dur = -1;
	const cJSON *t;

	start = admin_jobs_epoch(j->j_started);
	end = j->j_finished != NULL ? admin_jobs_epoch(j->j_finished) :
	    (double)time(NULL);
	if (start >= 0 && end >= start)
		dur = end - start;
	if (dur >= 0)
		cJSON_AddNumberToObject(o, "duration_s", dur);
	else
		cJSON_AddNullToObject(o, "duration_s");
	if (j->j_rows >= 0)
		cJSON_AddNumberToObject(o, "rows", (double)j->j_rows);
	else
		cJSON_AddNullToObject(o, "rows");
	p = j->j_progress != NULL ? cJSON_Parse(j->j_progress) : NULL;
	t = cJSON_GetObjectItemCaseSensitive(p, "total");
	if (cJSON_IsNumber(t))
		cJSON_AddNumberToObject(o, "total", t->valuedouble);
	else
		cJSON_AddNullToObject(o, "total");
	cJSON_Delete(p);
	if (j->j_rows >= 0 && dur > 0)
		cJSON_AddNumberToObject(o, "rate", (double)j->j_rows / dur);
	else
		cJSON_AddNullToObject(o, "rate");
}

/* "error_line": the error's first line, at most ADMIN_ERR_LINE bytes
 * (the full text stays in "error"). */
static void
admin_jobs_error_line(cJSON *o, const char *error)
{
	char	line[ADMIN_ERR_LINE];
	size_t	n;

	if (error == NULL) {
		cJSON_AddNullToObject(o, "error_line");
		return;
	}
	n = strcspn(error, "\r\n");
	if (n >= sizeof(line)) {
		n = sizeof(line) - 1;
		/* Not in the middle of a UTF-8 sequence. */
		while (n > 0 && ((unsigned char)error[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(line, error, n);
	line[n] = '\0';
	cJSON_AddStringToObject(o, "error_line", line);
}

/* The job as the admin API shows it.  Caller frees with cJSON_Delete. */
static cJSON *
admin_jobs_json(const struct cfg *cfg, const struct jobq_job *j)
{
	cJSON	*o = cJSON_CreateObject();
	char	 url[ADMIN_URL_MAX];

	cJSON_AddStringToObject(o, "id", j->j_id);
	cJSON_AddStringToObject(o, "kind", j->j_kind);
	/* A queued job whose not_before is still to come: "scheduled". */
	cJSON_AddStringToObject(o, "state", j->j_scheduled ? "scheduled" :
	    jobq_state_name(j->j_state));
	cJSON_AddBoolToObject(o, "pause_requested", j->j_pause_requested);
	admin_jobs_add_raw(o, "params", j->j_params);
	admin_jobs_add_str(o, "client", j->j_client);
	admin_jobs_add_str(o, "schedule", schedule_client_name(j->j_client));
	cJSON_AddNumberToObject(o, "priority", j->j_priority);
	cJSON_AddNumberToObject(o, "attempts", j->j_attempts);
	cJSON_AddNumberToObject(o, "max_attempts", j->j_max_attempts);
	admin_jobs_add_raw(o, "progress", j->j_progress);
	admin_jobs_add_raw(o, "checkpoint", j->j_checkpoint);
	admin_jobs_summary(o, j);
	admin_jobs_add_str(o, "created", j->j_created);
	admin_jobs_add_str(o, "started", j->j_started);
	admin_jobs_add_str(o, "finished", j->j_finished);
	admin_jobs_add_str(o, "updated", j->j_updated);
	admin_jobs_add_str(o, "run_after", j->j_run_after);
	admin_jobs_add_str(o, "not_before", j->j_not_before);
	admin_jobs_add_str(o, "fire_at", j->j_fire_at);
	admin_jobs_add_str(o, "lease_owner", j->j_lease_owner);
	admin_jobs_add_str(o, "lease_expires", j->j_lease_expires);
	admin_jobs_add_str(o, "heartbeat_at", j->j_heartbeat_at);
	admin_jobs_add_str(o, "transaction_time", j->j_transaction_time);
	admin_jobs_add_str(o, "error", j->j_error);
	admin_jobs_error_line(o, j->j_error);
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
 * import's input); input is that URL when both exist.  For an operator
 * or an admin a file's URL is signed (auth/urlsign.h): it downloads with
 * no token, whoever started the job (a schedule, a SMART client); a
 * viewer gets the plain URL.  0, or -1 after answering.
 */
static int
admin_jobs_outputs(struct admin_ctx *ax, const struct jobq_job *j, cJSON *o)
{
	struct jobq_outrow	*rows = NULL, *r;
	struct urlsign_signer	 us;
	cJSON			*arr, *item;
	char			 err[ADMIN_ERR_MAX], url[ADMIN_URL_MAX];
	time_t			 finished = 0;
	size_t			 i, n = 0;

	memset(&us, 0, sizeof(us));
	if (jobq_outputs_list(ax->ax_conn, j->j_id, NULL, &rows, &n, err,
	    sizeof(err)) == -1) {
		admin_auth_db_fail(ax, "job outputs", err);
		return -1;
	}
	if (ax->ax_role < ADMINS_OPERATOR) {
		us.us_plain = 1;
		us.us_base = ax->ax_cfg->base_url;
	} else if (urlsign_signer_open(ax->ax_conn, ax->ax_cfg, &us, err,
	    sizeof(err)) == -1) {
		jobq_outrows_free(rows, n);
		admin_auth_db_fail(ax, "URL signing key", err);
		return -1;
	}
	if (j->j_finished != NULL && cron_time_parse(j->j_finished,
	    &finished) == -1)
		finished = 0;
	arr = cJSON_AddArrayToObject(o, "outputs");
	for (i = 0; i < n; i++) {
		r = &rows[i];
		item = cJSON_CreateObject();
		cJSON_AddNumberToObject(item, "seq", r->r_seq);
		cJSON_AddStringToObject(item, "channel", r->r_channel);
		cJSON_AddStringToObject(item, "type", r->r_type);
		if (r->r_file != NULL) {
			admin_jobs_add_str(item, "url", urlsign_url(&us,
			    j->j_id, r->r_file, (int64_t)finished, url,
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
	urlsign_signer_close(&us);
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
	else if (strcmp(key, "before") == 0)
		slot = &q->lq_before;
	else if (strcmp(key, "since") == 0)
		slot = &q->lq_since;
	else if (strcmp(key, "schedule") == 0)
		slot = &q->lq_schedule;
	else {
		snprintf(q->lq_bad, sizeof(q->lq_bad), "unknown query "
		    "parameter \"%.40s\" (state, kind, client, schedule, "
		    "limit, before, since)", key);
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
	char			  err[ADMIN_ERR_MAX], since[CRON_TIME_MAX];
	char			  now[CRON_TIME_MAX];
	char			  client[sizeof(SCHEDULE_CLIENT_PREFIX) +
				      SCHEDULE_NAME_MAX];
	time_t			  t;
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
		/* "scheduled" is a queued job whose not_before is to come;
		 * "queued" then means the others. */
		if (strcmp(q.lq_state, "scheduled") == 0) {
			st = JOBQ_QUEUED;
			f.f_sched = 1;
		} else if (jobq_state_parse(q.lq_state, &st) == -1) {
			(void)http_reply_outcome(req, 400, "invalid", "state: "
			    "unknown state \"%.40s\" (scheduled, queued, "
			    "running, paused, cancelling, cancelled, failed, "
			    "completed)", q.lq_state);
			return;
		} else if (st == JOBQ_QUEUED)
			f.f_sched = 2;
		f.f_state = (int)st;
	}
	if (q.lq_before != NULL && (strlen(q.lq_before) >= JOBQ_ID_MAX ||
	    !ndjson_valid_id(q.lq_before, strlen(q.lq_before)))) {
		(void)http_reply_outcome(req, 400, "invalid", "before: not a "
		    "job id");
		return;
	}
	if (q.lq_since != NULL) {
		if (cron_time_parse(q.lq_since, &t) == -1) {
			(void)http_reply_outcome(req, 400, "invalid", "since: "
			    "\"%.40s\" is not an RFC 3339 instant with an "
			    "offset (2026-12-05T02:00:00+03:00)", q.lq_since);
			return;
		}
		cron_time_format(t, since, sizeof(since));
		f.f_since = since;
	}
	if (q.lq_schedule != NULL) {
		if (snprintf(client, sizeof(client), "%s%s",
		    SCHEDULE_CLIENT_PREFIX, q.lq_schedule) >=
		    (int)sizeof(client) || q.lq_client != NULL) {
			(void)http_reply_outcome(req, 400, "invalid",
			    "schedule: too long, or given with client");
			return;
		}
		q.lq_client = client;
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
	f.f_before = q.lq_before;
	/* The next poll's since=: taken before the read, so a change
	 * committed while it runs is listed again rather than missed. */
	cron_time_format(time(NULL) - 1, now, sizeof(now));
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
	cJSON_AddStringToObject(o, "now", now);
	/* The cursor of the next page, when this one is full. */
	admin_jobs_add_str(o, "next_before", n > 0 && n == (size_t)limit ?
	    jobs[n - 1]->j_id : NULL);
	(void)http_reply_json(req, 200, o);
 out:
	cJSON_Delete(o);
	jobq_jobs_free(jobs, n);
}


/*
 * The body of POST /admin/api/jobs as a spec: {"kind", "params",
 * "not_before", "priority"}, each checked, the field named in the
 * message.  0, or -1 with the reason in msg.  The spec borrows from
 * body, and s_not_before points to nb (CRON_TIME_MAX bytes) where the
 * instant is written in UTC.
 */
static int
admin_jobs_submit_spec(const cJSON *body, struct jobq_spec *sp, char *nb,
    char *msg, size_t len)
{
	const cJSON	*f;
	time_t		 t;

	cJSON_ArrayForEach(f, body) {
		if (strcmp(f->string, "kind") != 0 &&
		    strcmp(f->string, "params") != 0 &&
		    strcmp(f->string, "not_before") != 0 &&
		    strcmp(f->string, "priority") != 0) {
			snprintf(msg, len, "%.40s: unknown field (kind, "
			    "params, not_before, priority)", f->string);
			return -1;
		}
	}
	f = cJSON_GetObjectItemCaseSensitive(body, "kind");
	if (!cJSON_IsString(f) || f->valuestring[0] == '\0') {
		snprintf(msg, len, "kind: required, a job kind (bulkhead "
		    "jobs kinds)");
		return -1;
	}
	sp->s_kind = f->valuestring;
	f = cJSON_GetObjectItemCaseSensitive(body, "params");
	if (f != NULL && !cJSON_IsNull(f) && !cJSON_IsObject(f)) {
		snprintf(msg, len, "params: must be a JSON object");
		return -1;
	}
	f = cJSON_GetObjectItemCaseSensitive(body, "not_before");
	if (f == NULL || cJSON_IsNull(f))
		sp->s_not_before = NULL;
	else if (!cJSON_IsString(f) ||
	    cron_time_parse(f->valuestring, &t) == -1) {
		snprintf(msg, len, "not_before: %s%.40s%s is not an RFC 3339 "
		    "instant with an offset (2026-12-05T02:00:00+03:00)",
		    cJSON_IsString(f) ? "\"" : "", cJSON_IsString(f) ?
		    f->valuestring : "the value", cJSON_IsString(f) ? "\"" :
		    "");
		return -1;
	} else {
		cron_time_format(t, nb, CRON_TIME_MAX);
		sp->s_not_before = nb;
	}
	f = cJSON_GetObjectItemCaseSensitive(body, "priority");
	if (f != NULL) {
		if (!cJSON_IsNumber(f) || f->valuedouble != (double)f->valueint ||
		    f->valueint < -32768 || f->valueint > 32767) {
			snprintf(msg, len, "priority: must be an integer from "
			    "-32768 to 32767");
			return -1;
		}
		sp->s_priority = f->valueint;
	}
	return 0;
}

/* POST /admin/api/jobs: a one-off job, now or not before a time. */
void
admin_api_jobs_submit(struct http_req *req)
{
	struct admin_ctx	 ax;
	struct jobq_spec	 sp;
	const cJSON		*body, *p;
	char			*params = NULL;
	char			 msg[ADMIN_MSG_MAX], err[ADMIN_ERR_MAX];
	char			 nb[CRON_TIME_MAX], id[JOBQ_ID_MAX];
	size_t			 len;
	int			 r;

	if (admin_auth_open(req, &ax, 0) == -1)
		return;
	body = http_req_body_json(req);
	(void)http_req_body(req, &len);
	if (body == NULL || !cJSON_IsObject(body)) {
		(void)http_reply_outcome(req, 400, "invalid", "%s",
		    body == NULL && len > 0 ? "the body is not valid JSON" :
		    "a JSON object is required: {\"kind\", \"params\", "
		    "\"not_before\"}");
		return;
	}
	memset(&sp, 0, sizeof(sp));
	nb[0] = '\0';
	if (admin_jobs_submit_spec(body, &sp, nb, msg, sizeof(msg)) == -1) {
		(void)http_reply_outcome(req, 400, "invalid", "%s", msg);
		return;
	}
	p = cJSON_GetObjectItemCaseSensitive(body, "params");
	params = cJSON_IsObject(p) ? cJSON_PrintUnformatted(p) : NULL;
	sp.s_params = params != NULL ? params : "{}";
	sp.s_max_attempts = ax.ax_cfg->job_max_attempts;
	/* The same check as every other way in; client NULL: operator. */
	if (job_kind_check(sp.s_kind, sp.s_params, NULL, err,
	    sizeof(err)) == -1) {
		(void)http_reply_outcome(req, 400, "invalid", "%s%s",
		    job_kind_find(sp.s_kind) == NULL ? "kind: " : "params: ",
		    err);
		goto out;
	}
	if (admin_auth_connect(&ax) == -1 ||
	    admin_auth_audit_begin(&ax, "job.submit", "jobs", sp.s_kind) == -1)
		goto out;
	r = jobq_submit(ax.ax_conn, &sp, id, sizeof(id), err, sizeof(err));
	admin_auth_audit_end(&ax);
	if (r == -1) {
		admin_auth_db_fail(&ax, "submit", err);
		goto out;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "submit: audit reset failed");
		goto out;
	}
	log_info("job %s (%s) submitted by %s (%s)%s%s", id, sp.s_kind,
	    ax.ax_who.aa_actor, ax.ax_who.aa_addr, nb[0] != '\0' ?
	    ", not before " : "", nb);
	admin_jobs_reply(&ax, 201, id, 1);
 out:
	cJSON_free(params);
}
