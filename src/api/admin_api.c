/*
 * admin_api.c — the operator API under /admin/api (see admin_api.h for
 * the routes and the job state rules).
 *
 * Runs on libmicrohttpd's threads with the thread's own database
 * connection (http_db.h); every handler makes a few short statements and
 * answers.  A job action is one conditional UPDATE (or INSERT for retry)
 * whose WHERE clause is the state rule, so a worker changing the job at
 * the same moment can never be overruled: the pre-check only makes the
 * 409 message precise, the UPDATE decides.  Every change runs with the
 * audit triggers armed (audit.h), disarmed again on every path.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api/admin_api.h"
#include "store/audit.h"
#include "bulk/export_cache.h"
#include "core/cfg.h"
#include "http/http_db.h"
#include "http/http_route.h"
#include "jobs/job_export.h"
#include "jobs/job_kinds.h"
#include "store/jobq.h"
#include "jobs/limits.h"
#include "jobs/schedule.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/ndjson.h"

#define ADMIN_REALM		"Bearer realm=\"bulkhead-admin\""
#define ADMIN_ERR_MAX		512	/* reasons from lower layers */
#define ADMIN_MSG_MAX		384	/* 409 messages */
#define ADMIN_URL_MAX		2048	/* status, download, Location URLs */
#define ADMIN_LIST_DEFAULT	100	/* GET /admin/api/jobs without limit */
#define ADMIN_LIMITS_MAX	(64 * 1024)	/* GET /admin/api/limits body */
#define ADMIN_SCHEDULES_MAX	((size_t)64 << 20)	/* schedule list body */

/* What every handler has after admin_open. */
struct admin_ctx {
	struct http_req		*ax_req;
	const struct cfg	*ax_cfg;	/* borrowed, process lifetime */
	PGconn			*ax_conn;	/* the thread's; borrowed */
	struct audit_actor	 ax_who;
};

/* Job actions besides retry. */
enum admin_action {
	ADMIN_PAUSE,
	ADMIN_RESUME,
	ADMIN_CANCEL,
};

/*
 * One conditional UPDATE per action; $1 is the job id.  The WHERE clause
 * is the state rule of admin_api.h and RETURNING state says which branch
 * applied; no row means the rule refused (or the job is gone).
 */
static const struct {
	const char	*a_name;	/* "pause" */
	const char	*a_audit;	/* audit action */
	const char	*a_sql;
} admin_actions[] = {
	[ADMIN_PAUSE] = { "pause", "job.pause",
	    "UPDATE jobs SET "
	    "state = CASE WHEN state = 'queued' THEN 'paused' ELSE state END, "
	    "pause_requested = (state = 'running'), updated = now() "
	    "WHERE id = $1 AND (state = 'queued' OR "
	    "(state = 'running' AND NOT pause_requested)) RETURNING state" },
	[ADMIN_RESUME] = { "resume", "job.resume",
	    "UPDATE jobs SET "
	    "state = CASE WHEN state = 'paused' THEN 'queued' ELSE state END, "
	    "run_after = CASE WHEN state = 'paused' THEN now() "
	    "ELSE run_after END, pause_requested = false, updated = now() "
	    "WHERE id = $1 AND (state = 'paused' OR "
	    "(state = 'running' AND pause_requested)) RETURNING state" },
	[ADMIN_CANCEL] = { "cancel", "job.cancel",
	    "UPDATE jobs SET "
	    "state = CASE WHEN state = 'running' THEN 'cancelling' "
	    "ELSE 'cancelled' END, "
	    "finished = CASE WHEN state = 'running' THEN finished "
	    "ELSE now() END, pause_requested = false, updated = now() "
	    "WHERE id = $1 AND state IN ('queued', 'paused', 'running') "
	    "RETURNING state" },
};

/* The columns jobq.h does not carry, one row per id in the order given
 * ($1: a JSON array of ids). */
#define ADMIN_JOBX_SQL \
	"SELECT coalesce(j.pause_requested, false), j.retry_of " \
	"FROM jsonb_array_elements_text($1::jsonb) WITH ORDINALITY " \
	"AS u(id, ord) LEFT JOIN jobs j ON j.id = u.id ORDER BY u.ord"

/* Kinds whose jobs have a FHIR status URL (api/export_api.c). */
static const char *const admin_status_kinds[] = {
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

static int	 admin_unauthorized(struct http_req *, const char *,
		    const char *);
static int	 admin_open(struct http_req *, struct admin_ctx *, int);
static int	 admin_connect(struct admin_ctx *);
static void	 admin_db_fail(struct admin_ctx *, const char *,
		    const char *);
static int	 admin_audit_begin(struct admin_ctx *, const char *,
		    const char *, const char *);
static void	 admin_audit_end(struct admin_ctx *);
static int	 admin_job_id(struct admin_ctx *, const char **);
static void	 admin_add_str(cJSON *, const char *, const char *);
static void	 admin_add_raw(cJSON *, const char *, const char *);
static int	 admin_status_kind(const char *);
static cJSON	*admin_job_json(const struct cfg *, const struct jobq_job *,
		    int, const char *);
static PGresult	*admin_jobx(struct admin_ctx *, struct jobq_job *const *,
		    size_t);
static int	 admin_outputs(struct admin_ctx *, const struct jobq_job *,
		    cJSON *);
static int	 admin_load_job(struct admin_ctx *, const char *,
		    struct jobq_job **, int *);
static void	 admin_reply_job(struct admin_ctx *, unsigned int,
		    const char *, int);
static int	 admin_refused(enum admin_action, const struct jobq_job *,
		    int, char *, size_t);
static void	 admin_job_action(struct http_req *, enum admin_action);
static int	 admin_listq_add(void *, const char *, const char *);
static int	 admin_schedule_name(struct admin_ctx *, const char **);
static void	 admin_schedule_fail(struct admin_ctx *, int, const char *,
		    const char *);
static void	 admin_reply_schedule(struct admin_ctx *, unsigned int,
		    const char *);
static int	 admin_schedule_spec(const cJSON *, const char *,
		    struct schedule_spec *, char **, char *, size_t);
static void	 admin_schedule_enable(struct http_req *, int);
static void	 admin_reply_limits(struct admin_ctx *);

/* ---- common ------------------------------------------------------------ */

/* 401 with a challenge; error is the RFC 6750 error code, or NULL. */
static int
admin_unauthorized(struct http_req *req, const char *error, const char *msg)
{
	char	challenge[128];

	if (error != NULL)
		snprintf(challenge, sizeof(challenge), "%s, error=\"%s\"",
		    ADMIN_REALM, error);
	else
		str_lcpy(challenge, ADMIN_REALM, sizeof(challenge));
	(void)http_resp_header(req, "WWW-Authenticate", challenge);
	(void)http_reply_outcome(req, 401, "security", "%s", msg);
	return -1;
}

/*
 * Authenticates the request and, with need_db, gets the thread's
 * connection.  0, or -1 after answering (401, 503).  The token check
 * compares SHA-256 digests with CRYPTO_memcmp: constant time whatever
 * the lengths and contents.
 */
static int
admin_open(struct http_req *req, struct admin_ctx *ax, int need_db)
{
	const struct cfg	*cfg = http_req_cfg(req);
	const char		*auth, *tok;
	unsigned char		 want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];
	unsigned int		 wlen = 0, glen = 0;
	char			 addr[AUDIT_ADDR_MAX];
	size_t			 len;

	memset(ax, 0, sizeof(*ax));
	ax->ax_req = req;
	ax->ax_cfg = cfg;
	if (cfg->admin_token == NULL || cfg->admin_token[0] == '\0')
		return admin_unauthorized(req, NULL, "the admin API is "
		    "disabled: no admin token is configured; set admin_token "
		    "(BULKHEAD_ADMIN_TOKEN) and send it as "
		    "\"Authorization: Bearer <token>\"");
	auth = http_req_header(req, "Authorization");
	if (auth == NULL || strncasecmp(auth, "Bearer", 6) != 0 ||
	    (auth[6] != ' ' && auth[6] != '\t'))
		return admin_unauthorized(req, NULL, "authentication "
		    "required: send \"Authorization: Bearer <admin token>\"");
	for (tok = auth + 7; *tok == ' ' || *tok == '\t'; tok++)
		;
	len = strlen(tok);
	while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
		len--;
	if (len == 0)
		return admin_unauthorized(req, "invalid_request",
		    "authentication required: the bearer token is empty");
	if (EVP_Digest(cfg->admin_token, strlen(cfg->admin_token), want,
	    &wlen, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(tok, len, got, &glen, EVP_sha256(), NULL) != 1 ||
	    wlen != glen) {
		(void)http_reply_internal(req, "SHA-256 unavailable");
		return -1;
	}
	if (CRYPTO_memcmp(want, got, wlen) != 0)
		return admin_unauthorized(req, "invalid_token",
		    "invalid admin token");
	(void)http_req_client_addr(req, addr, sizeof(addr));
	audit_actor_init(&ax->ax_who, tok, len, addr, http_req_id(req));
	return need_db ? admin_connect(ax) : 0;
}

/* Gets the thread's connection.  0, or -1 after answering 503. */
static int
admin_connect(struct admin_ctx *ax)
{
	char	err[ADMIN_ERR_MAX];

	if ((ax->ax_conn = http_db_conn(err, sizeof(err))) == NULL) {
		log_warnx("request %s: database: %s", http_req_id(ax->ax_req),
		    err);
		(void)http_reply_outcome(ax->ax_req, 503, "transient",
		    "database unavailable; retry later");
		return -1;
	}
	return 0;
}

/* A statement failed: the connection's state is unknown, drop it. */
static void
admin_db_fail(struct admin_ctx *ax, const char *what, const char *err)
{
	http_db_discard();
	ax->ax_conn = NULL;
	(void)http_reply_internal(ax->ax_req, "%s: %s", what, err);
}

/* Arms the audit triggers; on failure answers and returns -1. */
static int
admin_audit_begin(struct admin_ctx *ax, const char *action,
    const char *table, const char *target)
{
	char	err[ADMIN_ERR_MAX];

	if (audit_begin(ax->ax_conn, &ax->ax_who, action, table, target, err,
	    sizeof(err)) == -1) {
		admin_db_fail(ax, "audit", err);
		return -1;
	}
	return 0;
}

/*
 * Disarms them.  A connection that cannot be disarmed is dropped (it
 * could record someone else's change) and replaced, so that the handler
 * can still answer; ax_conn is NULL if that fails too.
 */
static void
admin_audit_end(struct admin_ctx *ax)
{
	char	err[ADMIN_ERR_MAX];

	if (ax->ax_conn == NULL)
		return;
	if (audit_end(ax->ax_conn, err, sizeof(err)) == -1) {
		log_warnx("request %s: audit reset failed (%s); connection "
		    "dropped", http_req_id(ax->ax_req), err);
		http_db_discard();
		ax->ax_conn = http_db_conn(err, sizeof(err));
	}
}

/* The {id} of the path if it can be a job id; else answers 404. */
static int
admin_job_id(struct admin_ctx *ax, const char **id)
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
admin_add_str(cJSON *o, const char *name, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

/* v is JSON text from PostgreSQL (valid by construction), or NULL. */
static void
admin_add_raw(cJSON *o, const char *name, const char *v)
{
	if (v != NULL)
		cJSON_AddRawToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

static int
admin_status_kind(const char *kind)
{
	size_t	i;

	for (i = 0; i < sizeof(admin_status_kinds) /
	    sizeof(admin_status_kinds[0]); i++)
		if (strcmp(kind, admin_status_kinds[i]) == 0)
			return 1;
	return 0;
}

/* ---- jobs -------------------------------------------------------------- */

/* The job as the admin API shows it.  Caller frees with cJSON_Delete. */
static cJSON *
admin_job_json(const struct cfg *cfg, const struct jobq_job *j,
    int pause_requested, const char *retry_of)
{
	cJSON	*o = cJSON_CreateObject();
	char	 url[ADMIN_URL_MAX];
	int	 n;

	cJSON_AddStringToObject(o, "id", j->j_id);
	cJSON_AddStringToObject(o, "kind", j->j_kind);
	cJSON_AddStringToObject(o, "state", jobq_state_name(j->j_state));
	cJSON_AddBoolToObject(o, "pause_requested", pause_requested);
	admin_add_raw(o, "params", j->j_params);
	admin_add_str(o, "client", j->j_client);
	cJSON_AddNumberToObject(o, "priority", j->j_priority);
	cJSON_AddNumberToObject(o, "attempts", j->j_attempts);
	cJSON_AddNumberToObject(o, "max_attempts", j->j_max_attempts);
	admin_add_raw(o, "progress", j->j_progress);
	admin_add_raw(o, "checkpoint", j->j_checkpoint);
	admin_add_str(o, "created", j->j_created);
	admin_add_str(o, "started", j->j_started);
	admin_add_str(o, "finished", j->j_finished);
	admin_add_str(o, "updated", j->j_updated);
	admin_add_str(o, "run_after", j->j_run_after);
	admin_add_str(o, "lease_owner", j->j_lease_owner);
	admin_add_str(o, "lease_expires", j->j_lease_expires);
	admin_add_str(o, "heartbeat_at", j->j_heartbeat_at);
	admin_add_str(o, "transaction_time", j->j_transaction_time);
	admin_add_str(o, "error", j->j_error);
	admin_add_raw(o, "result", j->j_result);
	admin_add_str(o, "retry_of", retry_of);
	n = snprintf(url, sizeof(url), "%s/_jobs/%s", cfg->base_url, j->j_id);
	admin_add_str(o, "status_url", admin_status_kind(j->j_kind) && n > 0 &&
	    (size_t)n < sizeof(url) ? url : NULL);
	return o;
}

/*
 * pause_requested and retry_of of n jobs, row i for jobs[i] (NULL
 * columns for a job deleted meanwhile).  Caller PQclears; NULL after
 * answering.
 */
static PGresult *
admin_jobx(struct admin_ctx *ax, struct jobq_job *const *jobs, size_t n)
{
	cJSON		*ids = cJSON_CreateArray();
	const char	*p[1];
	char		*text, err[ADMIN_ERR_MAX];
	PGresult	*res;
	size_t		 i;

	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(ids, cJSON_CreateString(jobs[i]->j_id));
	text = cJSON_PrintUnformatted(ids);
	cJSON_Delete(ids);
	p[0] = text;
	res = db_query(ax->ax_conn, ADMIN_JOBX_SQL, 1, p, err, sizeof(err));
	cJSON_free(text);
	if (res == NULL) {
		admin_db_fail(ax, "job details", err);
		return NULL;
	}
	if ((size_t)PQntuples(res) != n) {
		PQclear(res);
		admin_db_fail(ax, "job details", "row count mismatch");
		return NULL;
	}
	return res;
}

/*
 * Adds "outputs": [{seq, channel, type, url, count, bytes[, input]}]: url
 * is the download URL of a file, or else the URL the row names (an
 * import's input); input is that URL when both exist.  0, or -1 after
 * answering.
 */
static int
admin_outputs(struct admin_ctx *ax, const struct jobq_job *j, cJSON *o)
{
	const char	*p[1] = { j->j_id };
	const char	*file, *name, *errstr;
	cJSON		*arr, *item;
	PGresult	*res;
	char		 err[ADMIN_ERR_MAX], url[ADMIN_URL_MAX];
	int64_t		 v;
	int		 i, n;

	res = db_query(ax->ax_conn, "SELECT seq, channel, type, file, url, "
	    "count, bytes FROM job_outputs WHERE job_id = $1 ORDER BY seq", 1,
	    p, err, sizeof(err));
	if (res == NULL) {
		admin_db_fail(ax, "job outputs", err);
		return -1;
	}
	arr = cJSON_AddArrayToObject(o, "outputs");
	for (i = 0; i < PQntuples(res); i++) {
		item = cJSON_CreateObject();
		(void)str_to_i64(PQgetvalue(res, i, 0), 0, INT64_MAX, &v,
		    &errstr);
		cJSON_AddNumberToObject(item, "seq", (double)v);
		cJSON_AddStringToObject(item, "channel", PQgetvalue(res, i, 1));
		cJSON_AddStringToObject(item, "type", PQgetvalue(res, i, 2));
		if (!PQgetisnull(res, i, 3)) {
			file = PQgetvalue(res, i, 3);
			name = strrchr(file, '/');
			name = name != NULL ? name + 1 : file;
			n = snprintf(url, sizeof(url), "%s/_jobs/%s/files/%s",
			    ax->ax_cfg->base_url, j->j_id, name);
			admin_add_str(item, "url", n > 0 &&
			    (size_t)n < sizeof(url) ? url : NULL);
			if (!PQgetisnull(res, i, 4))
				cJSON_AddStringToObject(item, "input",
				    PQgetvalue(res, i, 4));
		} else
			admin_add_str(item, "url", PQgetisnull(res, i, 4) ?
			    NULL : PQgetvalue(res, i, 4));
		(void)str_to_i64(PQgetvalue(res, i, 5), 0, INT64_MAX, &v,
		    &errstr);
		cJSON_AddNumberToObject(item, "count", (double)v);
		(void)str_to_i64(PQgetvalue(res, i, 6), 0, INT64_MAX, &v,
		    &errstr);
		cJSON_AddNumberToObject(item, "bytes", (double)v);
		cJSON_AddItemToArray(arr, item);
	}
	PQclear(res);
	return 0;
}

/*
 * Reads a job and its pause_requested.  1 (*job set, caller frees), 0
 * (no such job: nothing answered), -1 after answering.
 */
static int
admin_load_job(struct admin_ctx *ax, const char *id, struct jobq_job **job,
    int *pause_requested)
{
	PGresult	*x;
	char		 err[ADMIN_ERR_MAX];
	int		 r;

	*job = NULL;
	if ((r = jobq_get(ax->ax_conn, id, job, err, sizeof(err))) == -1) {
		admin_db_fail(ax, "job", err);
		return -1;
	}
	if (r == 0)
		return 0;
	if ((x = admin_jobx(ax, job, 1)) == NULL) {
		jobq_job_free(*job);
		*job = NULL;
		return -1;
	}
	*pause_requested = strcmp(PQgetvalue(x, 0, 0), "t") == 0;
	PQclear(x);
	return 1;
}

/* Answers status with the job (and its outputs); Location if asked. */
static void
admin_reply_job(struct admin_ctx *ax, unsigned int status, const char *id,
    int location)
{
	struct jobq_job	*j = NULL;
	PGresult	*x = NULL;
	cJSON		*o = NULL;
	char		 err[ADMIN_ERR_MAX], loc[ADMIN_URL_MAX];
	int		 r;

	if ((r = jobq_get(ax->ax_conn, id, &j, err, sizeof(err))) == -1) {
		admin_db_fail(ax, "job", err);
		goto out;
	}
	if (r == 0) {
		(void)http_reply_outcome(ax->ax_req, 404, "not-found", "no "
		    "such job");
		goto out;
	}
	if ((x = admin_jobx(ax, &j, 1)) == NULL)
		goto out;
	o = admin_job_json(ax->ax_cfg, j, strcmp(PQgetvalue(x, 0, 0), "t") ==
	    0, PQgetisnull(x, 0, 1) ? NULL : PQgetvalue(x, 0, 1));
	if (admin_outputs(ax, j, o) == -1)
		goto out;
	if (location && snprintf(loc, sizeof(loc), "/admin/api/jobs/%s", id) <
	    (int)sizeof(loc))
		(void)http_resp_header(ax->ax_req, "Location", loc);
	(void)http_reply_json(ax->ax_req, status, o);
 out:
	cJSON_Delete(o);
	PQclear(x);
	jobq_job_free(j);
}

/* Why action cannot apply to j now (msg, return 1), or 0 if it can. */
static int
admin_refused(enum admin_action act, const struct jobq_job *j,
    int pause_requested, char *msg, size_t len)
{
	const char	*st = jobq_state_name(j->j_state);

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

static void
admin_job_action(struct http_req *req, enum admin_action act)
{
	struct admin_ctx	 ax;
	struct jobq_job		*j = NULL;
	const char		*id, *p[1];
	PGresult		*res = NULL;
	char			 err[ADMIN_ERR_MAX], msg[ADMIN_MSG_MAX];
	char			 state[16];
	int			 r, preq = 0;

	if (admin_open(req, &ax, 1) == -1 || admin_job_id(&ax, &id) == -1)
		return;
	if ((r = admin_load_job(&ax, id, &j, &preq)) <= 0) {
		if (r == 0)
			(void)http_reply_outcome(req, 404, "not-found",
			    "no such job");
		goto out;
	}
	if (admin_refused(act, j, preq, msg, sizeof(msg)))
		goto refuse;
	if (admin_audit_begin(&ax, admin_actions[act].a_audit, "jobs", id) ==
	    -1)
		goto out;
	p[0] = id;
	res = db_query(ax.ax_conn, admin_actions[act].a_sql, 1, p, err,
	    sizeof(err));
	admin_audit_end(&ax);
	if (res == NULL) {
		admin_db_fail(&ax, admin_actions[act].a_name, err);
		goto out;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "%s: audit reset failed",
		    admin_actions[act].a_name);
		goto out;
	}
	if (PQntuples(res) == 0) {
		/* The job moved on between the check and the update. */
		jobq_job_free(j);
		if ((r = admin_load_job(&ax, id, &j, &preq)) <= 0) {
			if (r == 0)
				(void)http_reply_outcome(req, 404,
				    "not-found", "no such job");
			goto out;
		}
		if (admin_refused(act, j, preq, msg, sizeof(msg)))
			goto refuse;
		snprintf(msg, sizeof(msg), "job %s changed state while being "
		    "updated; try again", id);
		goto refuse;
	}
	str_lcpy(state, PQgetvalue(res, 0, 0), sizeof(state));
	/* Committed: this process's status polls see it from now on. */
	export_cache_invalidate(id);
	log_info("job %s: %s by %s (%s) -> %s", id, admin_actions[act].a_name,
	    ax.ax_who.aa_actor, ax.ax_who.aa_addr, state);
	if (act == ADMIN_CANCEL && strcmp(state, "cancelled") == 0)
		job_export_remove_files(ax.ax_cfg, id);
	/* 202: a pause or cancel the worker has yet to act on. */
	admin_reply_job(&ax, (act == ADMIN_PAUSE && strcmp(state, "running") ==
	    0) || strcmp(state, "cancelling") == 0 ? 202 : 200, id, 0);
	goto out;
 refuse:
	(void)http_reply_outcome(req, 409, "conflict", "%s", msg);
 out:
	PQclear(res);
	jobq_job_free(j);
}

void
admin_api_job_pause(struct http_req *req)
{
	admin_job_action(req, ADMIN_PAUSE);
}

void
admin_api_job_resume(struct http_req *req)
{
	admin_job_action(req, ADMIN_RESUME);
}

void
admin_api_job_cancel(struct http_req *req)
{
	admin_job_action(req, ADMIN_CANCEL);
}

void
admin_api_job_retry(struct http_req *req)
{
	struct admin_ctx	 ax;
	struct jobq_job		*j = NULL;
	const char		*id, *p[1];
	PGresult		*res = NULL;
	char			 err[ADMIN_ERR_MAX], newid[JOBQ_ID_MAX];
	int			 r, preq = 0;

	if (admin_open(req, &ax, 1) == -1 || admin_job_id(&ax, &id) == -1)
		return;
	if ((r = admin_load_job(&ax, id, &j, &preq)) <= 0) {
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
	if (admin_audit_begin(&ax, "job.retry", "jobs", id) == -1)
		goto out;
	p[0] = id;
	res = db_query(ax.ax_conn, "INSERT INTO jobs (kind, params, client, "
	    "priority, max_attempts, retry_of) SELECT kind, params, client, "
	    "priority, max_attempts, id FROM jobs WHERE id = $1 AND "
	    "state IN ('failed', 'cancelled') RETURNING id", 1, p, err,
	    sizeof(err));
	admin_audit_end(&ax);
	if (res == NULL) {
		admin_db_fail(&ax, "retry", err);
		goto out;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "retry: audit reset failed");
		goto out;
	}
	if (PQntuples(res) == 0) {
		(void)http_reply_outcome(req, 409, "conflict", "job %s changed "
		    "state while being retried; try again", id);
		goto out;
	}
	str_lcpy(newid, PQgetvalue(res, 0, 0), sizeof(newid));
	log_info("job %s: retried as %s by %s (%s)", id, newid,
	    ax.ax_who.aa_actor, ax.ax_who.aa_addr);
	admin_reply_job(&ax, 201, newid, 1);
 out:
	PQclear(res);
	jobq_job_free(j);
}

void
admin_api_job_get(struct http_req *req)
{
	struct admin_ctx	 ax;
	const char		*id;

	if (admin_open(req, &ax, 1) == -1 || admin_job_id(&ax, &id) == -1)
		return;
	admin_reply_job(&ax, 200, id, 0);
}

static int
admin_listq_add(void *arg, const char *key, const char *value)
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
	PGresult		 *x = NULL;
	cJSON			 *o = NULL, *arr;
	const char		 *errstr;
	char			  err[ADMIN_ERR_MAX];
	int64_t			  limit = ADMIN_LIST_DEFAULT;
	size_t			  i, n = 0;

	if (admin_open(req, &ax, 0) == -1)
		return;
	memset(&q, 0, sizeof(q));
	memset(&f, 0, sizeof(f));
	f.f_state = -1;
	if (http_req_query_each(req, admin_listq_add, &q) != 0) {
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
	if (admin_connect(&ax) == -1)
		return;
	if (jobq_list(ax.ax_conn, &f, &jobs, &n, err, sizeof(err)) == -1) {
		admin_db_fail(&ax, "job list", err);
		goto out;
	}
	if ((x = admin_jobx(&ax, jobs, n)) == NULL)
		goto out;
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "jobs");
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, admin_job_json(ax.ax_cfg, jobs[i],
		    strcmp(PQgetvalue(x, (int)i, 0), "t") == 0,
		    PQgetisnull(x, (int)i, 1) ? NULL :
		    PQgetvalue(x, (int)i, 1)));
	(void)http_reply_json(req, 200, o);
 out:
	cJSON_Delete(o);
	PQclear(x);
	jobq_jobs_free(jobs, n);
}

/* ---- schedules --------------------------------------------------------- */

/*
 * The {name} of the path if it is a valid schedule name (the CHECK of
 * 004_schedules.sql); else answers 400.  The router has already refused
 * "..", "." and encoded slashes with 404.
 */
static int
admin_schedule_name(struct admin_ctx *ax, const char **name)
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
admin_schedule_fail(struct admin_ctx *ax, int rc, const char *what,
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
		admin_db_fail(ax, what, err);
		break;
	}
}

/* Answers status with the schedule called name. */
static void
admin_reply_schedule(struct admin_ctx *ax, unsigned int status,
    const char *name)
{
	struct schedule	*s = NULL;
	struct buf	 b;
	char		 err[ADMIN_ERR_MAX];
	int		 rc;

	buf_init(&b, ADMIN_SCHEDULES_MAX);
	if ((rc = schedule_get(ax->ax_conn, name, &s, err, sizeof(err))) !=
	    0) {
		admin_schedule_fail(ax, rc, "schedule", err);
		goto out;
	}
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

	if (admin_open(req, &ax, 1) == -1)
		return;
	buf_init(&b, ADMIN_SCHEDULES_MAX);
	if (schedule_list(ax.ax_conn, &list, &n, err, sizeof(err)) != 0) {
		admin_db_fail(&ax, "schedule list", err);
		goto out;
	}
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

	if (admin_open(req, &ax, 1) == -1 ||
	    admin_schedule_name(&ax, &name) == -1)
		return;
	admin_reply_schedule(&ax, 200, name);
}

/*
 * Fills *sp from a PUT body: {cron, timezone?, enabled?, misfire?,
 * job: {kind, params?}, name?}; unknown members are errors.  *params is
 * the params' text (caller frees with cJSON_free).  0, or -1 with the
 * reason for a 400.
 */
static int
admin_schedule_spec(const cJSON *body, const char *name,
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

	if (admin_open(req, &ax, 1) == -1 ||
	    admin_schedule_name(&ax, &name) == -1)
		return;
	body = http_req_body_json(req);
	(void)http_req_body(req, &len);
	if (body == NULL) {
		(void)http_reply_outcome(req, 400, "invalid", "%s", len > 0 ?
		    "the body is not valid JSON" : "a JSON body is required: "
		    "{cron, timezone, enabled, misfire, job: {kind, params}}");
		return;
	}
	if (admin_schedule_spec(body, name, &sp, &params, err,
	    sizeof(err)) == -1 ||
	    schedule_spec_check(&sp, err, sizeof(err)) != 0) {
		(void)http_reply_outcome(req, 400, "invalid", "%s", err);
		goto out;
	}
	if (admin_audit_begin(&ax, "schedule.put", "schedules", name) == -1)
		goto out;
	rc = schedule_put(ax.ax_conn, &sp, &created, err, sizeof(err));
	admin_audit_end(&ax);
	if (rc != 0) {
		admin_schedule_fail(&ax, rc, "schedule put", err);
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
	admin_reply_schedule(&ax, created ? 201 : 200, name);
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

	if (admin_open(req, &ax, 1) == -1 ||
	    admin_schedule_name(&ax, &name) == -1)
		return;
	if (admin_audit_begin(&ax, "schedule.delete", "schedules", name) ==
	    -1)
		return;
	rc = schedule_delete(ax.ax_conn, name, err, sizeof(err));
	admin_audit_end(&ax);
	if (rc != 0) {
		admin_schedule_fail(&ax, rc, "schedule delete", err);
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

	if (admin_open(req, &ax, 1) == -1 ||
	    admin_schedule_name(&ax, &name) == -1)
		return;
	/* The change is the job it submits; the target the schedule. */
	if (admin_audit_begin(&ax, "schedule.run", "jobs", name) == -1)
		return;
	rc = schedule_run_now(ax.ax_conn, name, id, sizeof(id), err,
	    sizeof(err));
	admin_audit_end(&ax);
	if (rc != 0) {
		admin_schedule_fail(&ax, rc, "schedule run", err);
		return;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "schedule run: audit reset "
		    "failed");
		return;
	}
	log_info("schedule %s: run now by %s (%s): job %s", name,
	    ax.ax_who.aa_actor, ax.ax_who.aa_addr, id);
	admin_reply_job(&ax, 202, id, 1);
}

static void
admin_schedule_enable(struct http_req *req, int enabled)
{
	struct admin_ctx	 ax;
	const char		*name;
	char			 err[ADMIN_ERR_MAX];
	int			 rc;

	if (admin_open(req, &ax, 1) == -1 ||
	    admin_schedule_name(&ax, &name) == -1)
		return;
	if (admin_audit_begin(&ax, enabled ? "schedule.resume" :
	    "schedule.pause", "schedules", name) == -1)
		return;
	rc = schedule_set_enabled(ax.ax_conn, name, enabled, err, sizeof(err));
	admin_audit_end(&ax);
	if (rc != 0) {
		admin_schedule_fail(&ax, rc, enabled ? "schedule resume" :
		    "schedule pause", err);
		return;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "schedule: audit reset failed");
		return;
	}
	log_info("schedule %s: %s by %s (%s)", name, enabled ? "resumed" :
	    "paused", ax.ax_who.aa_actor, ax.ax_who.aa_addr);
	admin_reply_schedule(&ax, 200, name);
}

void
admin_api_schedule_pause(struct http_req *req)
{
	admin_schedule_enable(req, 0);
}

void
admin_api_schedule_resume(struct http_req *req)
{
	admin_schedule_enable(req, 1);
}

/* ---- limits ------------------------------------------------------------ */

static void
admin_reply_limits(struct admin_ctx *ax)
{
	struct buf	b;
	char		err[ADMIN_ERR_MAX];

	buf_init(&b, ADMIN_LIMITS_MAX);
	if (limits_get_json(ax->ax_conn, &b, err, sizeof(err)) == -1)
		admin_db_fail(ax, "limits", err);
	else
		(void)http_reply_buf(ax->ax_req, 200, "application/json", &b);
	buf_free(&b);
}

void
admin_api_limits_get(struct http_req *req)
{
	struct admin_ctx	ax;

	if (admin_open(req, &ax, 1) == -1)
		return;
	admin_reply_limits(&ax);
}

void
admin_api_limits_put(struct http_req *req)
{
	struct admin_ctx	 ax;
	const cJSON		*body;
	const char		*text;
	char			 err[ADMIN_ERR_MAX];
	size_t			 len;
	int			 rc;

	if (admin_open(req, &ax, 1) == -1)
		return;
	body = http_req_body_json(req);
	text = http_req_body(req, &len);
	if (body == NULL) {
		(void)http_reply_outcome(req, 400, "invalid", "%s", len > 0 ?
		    "the body is not valid JSON" : "a JSON body is required: "
		    "an object with the limits to change");
		return;
	}
	if (!cJSON_IsObject(body)) {
		(void)http_reply_outcome(req, 400, "invalid", "the body must "
		    "be a JSON object with the limits to change");
		return;
	}
	if (strlen(text) != len) {
		(void)http_reply_outcome(req, 400, "invalid", "the body "
		    "contains a NUL byte");
		return;
	}
	if (admin_audit_begin(&ax, "limits.put", "limits", "limits") == -1)
		return;
	rc = limits_put_json(ax.ax_conn, text, err, sizeof(err));
	admin_audit_end(&ax);
	if (rc == -1) {
		(void)http_reply_outcome(req, 400, "invalid", "%s", err);
		return;
	}
	if (rc != 0) {
		admin_db_fail(&ax, "limits put", err);
		return;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "limits put: audit reset "
		    "failed");
		return;
	}
	log_info("limits changed by %s (%s)", ax.ax_who.aa_actor,
	    ax.ax_who.aa_addr);
	admin_reply_limits(&ax);
}
