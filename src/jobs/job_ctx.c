/*
 * job_ctx.c — the context a job kind runs in: parameters, checkpoint,
 * lease renewal, progress, outputs, and the stop decision.
 *
 * Heartbeats happen inside the kind's own calls (tick, sleep, save,
 * output), so a kind that works in batches and calls one of them between
 * batches keeps its lease without threads or timers.  A heartbeat that
 * fails for a transient database error is not fatal: the kind goes on
 * until its lease would have run out by our own clock, and only then
 * stops as "lost" (someone else may have the job by then).
 *
 * Limits: the context keeps the worker's copy of the limits row, re-reads
 * it every LIMITS_RELOAD_S inside tick, and passes the rates on to the
 * job's throttle; the kind's timeout is checked there too.  The kind sees
 * a copy of the configuration with the limits' overrides applied
 * (import_batch_lines, capped to about 10 s of lines when rows_per_second
 * is set, because an import paces its lines inside the transaction).
 *
 * Interactive latency: tick also steps the job's side of the controller
 * (backoff.h), which caps the throttle while the API's p99 is above the
 * target; save adds its state to a JSON object progress ("interactive").
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cfg.h"
#include "jobs/job_ctx.h"
#include "jobs/job_kinds.h"
#include "store/jobq.h"
#include "jobs/limits.h"
#include "jobs/backoff.h"
#include "jobs/throttle.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"

#define JOB_CTX_THROTTLED_TXN_S	10	/* see job_ctx_new */

struct job_ctx {
	const struct cfg	*c_cfg;		/* &c_cfgcopy */
	struct cfg		 c_cfgcopy;	/* strings borrowed */
	struct limits		 c_limits;
	struct throttle		*c_throttle;	/* owned */
	char			 c_kind[JOBQ_KIND_MAX];
	double			 c_started;	/* this attempt */
	double			 c_limits_at;	/* last limits reload */
	int			 c_work_ready;	/* throttle_conn done */
	char			 c_stopmsg[256];	/* why it timed out */
	PGconn			*c_ctl;		/* worker's, for leases */
	PGconn			**c_work;	/* worker's bulk connection */
	struct jobq_lease	 c_lease;
	char			*c_client;	/* owned, or NULL */
	int			 c_max_attempts;
	cJSON			*c_params;	/* owned */
	cJSON			*c_checkpoint;	/* owned, or NULL */
	const volatile sig_atomic_t *c_stop;	/* worker's shutdown flag */
	int			 c_wakefd;	/* readable once *c_stop */
	enum job_stop		 c_reason;	/* set once, never cleared */
	double			 c_renewed;	/* last renewal that worked */
	double			 c_tried;	/* last renewal attempted */
	char			*c_result;	/* owned JSON, or NULL */
	char			 c_error[JOBQ_ERROR_MAX];
	int			 c_idle;	/* our thread put in SCHED_IDLE */
	struct backoff		 c_backoff;	/* interactive-latency control */
};

static int	job_ctx_renewed(struct job_ctx *, int, const char *,
		    const char *);
static void	job_ctx_stop(struct job_ctx *, enum job_stop);
static int	job_ctx_throttle_tick(void *);
static void	job_ctx_apply_limits(struct job_ctx *);
static int	job_ctx_wants_idle(const struct job_ctx *);
static int	job_ctx_check_limits(struct job_ctx *, double);

/* Sets the stop reason (the first one sticks) and stops the throttle,
 * so that the kind's other threads stop too. */
static void
job_ctx_stop(struct job_ctx *ctx, enum job_stop why)
{
	if (ctx->c_reason == JOB_STOP_NONE)
		ctx->c_reason = why;
	throttle_stop(ctx->c_throttle);
}

/* The throttle's tick hook: heartbeats while the kind's main thread
 * sleeps in throttle_take. */
static int
job_ctx_throttle_tick(void *arg)
{
	return job_ctx_tick(arg);
}

/* 1 if the job's work belongs in SCHED_IDLE: the limits say so and the
 * kind allows it (job_kinds.h). */
static int
job_ctx_wants_idle(const struct job_ctx *ctx)
{
	const struct job_kind	*k = job_kind_find(ctx->c_kind);

	return ctx->c_limits.lim_worker_idle && k != NULL && k->k_idle;
}

/* Hands the current limits to the throttle and the configuration copy. */
static void
job_ctx_apply_limits(struct job_ctx *ctx)
{
	const struct limits	*l = &ctx->c_limits;

	throttle_set_rates(ctx->c_throttle, l->lim_rows_per_second,
	    l->lim_bytes_per_second);
	/* A throttled statement lasts as long as the rate makes it (an
	 * export's COPY of one page range at 10 rows/s: hours), so the
	 * timeout guards unthrottled jobs only; kind_timeout_s and the
	 * lease bound the others. */
	throttle_set_session(ctx->c_throttle, l->lim_rows_per_second > 0 ||
	    l->lim_bytes_per_second > 0 ? 0 : l->lim_statement_timeout_ms,
	    l->lim_worker_nice, job_ctx_wants_idle(ctx));
}

/* Re-reads the limits when due and checks the kind's timeout.  0 go on,
 * -1 stop. */
static int
job_ctx_check_limits(struct job_ctx *ctx, double now)
{
	const struct limits_kind	*k;
	char				 err[512];

	if (now - ctx->c_limits_at >= (double)LIMITS_RELOAD_S) {
		ctx->c_limits_at = now;
		if (limits_load(ctx->c_ctl, &ctx->c_limits, err,
		    sizeof(err)) == -1)
			log_warnx("job %s: reading limits: %s (keeping the "
			    "previous ones)", ctx->c_lease.l_id, err);
		else
			job_ctx_apply_limits(ctx);
	}
	k = limits_kind(&ctx->c_limits, ctx->c_kind);
	if (k != NULL && k->lk_timeout_s > 0 &&
	    now - ctx->c_started >= (double)k->lk_timeout_s) {
		snprintf(ctx->c_stopmsg, sizeof(ctx->c_stopmsg), "timed out: "
		    "the %s attempt ran longer than its limit of %d s "
		    "(limits.kind_timeout_s)", ctx->c_kind, k->lk_timeout_s);
		log_warnx("job %s: %s", ctx->c_lease.l_id, ctx->c_stopmsg);
		job_ctx_stop(ctx, JOB_STOP_TIMEOUT);
		return -1;
	}
	return 0;
}

struct job_ctx *
job_ctx_new(const struct cfg *cfg, const struct limits *lim, PGconn *ctl,
    PGconn **work, const struct jobq_job *job, const struct jobq_lease *lease,
    const volatile sig_atomic_t *stop, int wakefd, char *errbuf,
    size_t errlen)
{
	struct job_ctx	*ctx;
	cJSON		*params, *cp = NULL;

	params = cJSON_Parse(job->j_params);
	if (params == NULL || !cJSON_IsObject(params)) {
		snprintf(errbuf, errlen, "params are not a JSON object");
		cJSON_Delete(params);
		return NULL;
	}
	if (job->j_checkpoint != NULL &&
	    (cp = cJSON_Parse(job->j_checkpoint)) == NULL) {
		snprintf(errbuf, errlen, "checkpoint is not valid JSON");
		cJSON_Delete(params);
		return NULL;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->c_cfgcopy = *cfg;
	ctx->c_cfg = &ctx->c_cfgcopy;
	ctx->c_limits = *lim;
	if (lim->lim_import_batch_lines > 0)
		ctx->c_cfgcopy.import_batch_lines =
		    lim->lim_import_batch_lines;
	/* A throttled import paces the lines inside its transaction: keep
	 * a transaction to about JOB_CTX_THROTTLED_TXN_S seconds. */
	if (lim->lim_rows_per_second > 0 &&
	    ctx->c_cfgcopy.import_batch_lines >
	    lim->lim_rows_per_second * JOB_CTX_THROTTLED_TXN_S)
		ctx->c_cfgcopy.import_batch_lines = (int)(
		    lim->lim_rows_per_second * JOB_CTX_THROTTLED_TXN_S < 100 ?
		    100 : lim->lim_rows_per_second * JOB_CTX_THROTTLED_TXN_S);
	str_lcpy(ctx->c_kind, job->j_kind, sizeof(ctx->c_kind));
	ctx->c_ctl = ctl;
	ctx->c_work = work;
	ctx->c_lease = *lease;
	ctx->c_client = job->j_client ? xstrdup(job->j_client) : NULL;
	ctx->c_max_attempts = job->j_max_attempts;
	/* "deliver" is OpenHIM's, run after the job (openhim/delivery.h):
	 * the kinds never see it. */
	cJSON_DeleteItemFromObjectCaseSensitive(params, "deliver");
	ctx->c_params = params;
	ctx->c_checkpoint = cp;
	ctx->c_stop = stop;
	ctx->c_wakefd = wakefd;
	ctx->c_reason = JOB_STOP_NONE;
	ctx->c_renewed = ctx->c_tried = clock_mono();	/* claim renewed */
	ctx->c_started = ctx->c_limits_at = ctx->c_renewed;
	ctx->c_throttle = throttle_new(stop, job_ctx_throttle_tick, ctx);
	job_ctx_apply_limits(ctx);
	backoff_init(&ctx->c_backoff, cfg, ctx->c_kind, lease->l_id,
	    lim->lim_worker_nice, ctx->c_started);
	/* The worker's thread (and the threads the kind starts, which
	 * inherit it) in the kind's class for this job; job_ctx_free puts
	 * it back.  The normal class comes with a bulk time slice. */
	if (job_ctx_wants_idle(ctx)) {
		if (throttle_sched_idle(0, 1) == 0)
			ctx->c_idle = 1;
		else
			log_warn("sched_setscheduler(SCHED_IDLE)");
	} else if (throttle_sched_idle(0, 0) == -1)
		log_warn("sched_setscheduler(SCHED_OTHER)");
	return ctx;
}

void
job_ctx_free(struct job_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->c_idle && throttle_sched_idle(0, 0) == -1)
		log_warn("sched_setscheduler(SCHED_OTHER)");
	backoff_end(&ctx->c_backoff, ctx->c_ctl);
	throttle_free(ctx->c_throttle);
	cJSON_Delete(ctx->c_params);
	cJSON_Delete(ctx->c_checkpoint);
	free(ctx->c_client);
	free(ctx->c_result);
	free(ctx);
}

const char *
job_ctx_id(const struct job_ctx *ctx)
{
	return ctx->c_lease.l_id;
}

const char *
job_ctx_client(const struct job_ctx *ctx)
{
	return ctx->c_client;
}

int
job_ctx_attempt(const struct job_ctx *ctx)
{
	return ctx->c_lease.l_attempt;
}

int
job_ctx_max_attempts(const struct job_ctx *ctx)
{
	return ctx->c_max_attempts;
}

const struct cfg *
job_ctx_cfg(const struct job_ctx *ctx)
{
	return ctx->c_cfg;
}

const cJSON *
job_ctx_params(const struct job_ctx *ctx)
{
	return ctx->c_params;
}

const cJSON *
job_ctx_checkpoint(const struct job_ctx *ctx)
{
	return ctx->c_checkpoint;
}

enum job_stop
job_ctx_stop_reason(const struct job_ctx *ctx)
{
	return ctx->c_reason;
}

const char *
job_ctx_result_json(const struct job_ctx *ctx)
{
	return ctx->c_result;
}

const char *
job_ctx_error_text(const struct job_ctx *ctx)
{
	/* The kind may have reported a symptom of the stop; the timeout is
	 * the reason. */
	if (ctx->c_reason == JOB_STOP_TIMEOUT)
		return ctx->c_stopmsg;
	return ctx->c_error;
}

struct throttle *
job_ctx_throttle(const struct job_ctx *ctx)
{
	return ctx->c_throttle;
}

const struct limits *
job_ctx_limits(const struct job_ctx *ctx)
{
	return &ctx->c_limits;
}

PGconn *
job_ctx_conn(struct job_ctx *ctx, char *errbuf, size_t errlen)
{
	if (!db_alive(*ctx->c_work)) {
		PQfinish(*ctx->c_work);
		ctx->c_work_ready = 0;
		*ctx->c_work = db_connect(ctx->c_cfg->database_url,
		    "worker job", errbuf, errlen);
		if (*ctx->c_work == NULL)
			return NULL;
	}
	/* Once per job: the session may be left from an earlier job with
	 * other limits. */
	if (!ctx->c_work_ready) {
		(void)throttle_conn(ctx->c_throttle, *ctx->c_work);
		ctx->c_work_ready = 1;
	}
	return *ctx->c_work;
}

int
job_ctx_stopping(const struct job_ctx *ctx)
{
	return ctx->c_reason != JOB_STOP_NONE || *ctx->c_stop;
}

/* Digests the result of a lease-renewing jobq call: 0 go on, -1 stop. */
static int
job_ctx_renewed(struct job_ctx *ctx, int rc, const char *what,
    const char *err)
{
	double	now = clock_mono();

	ctx->c_tried = now;
	switch (rc) {
	case JOBQ_R_OK:
		ctx->c_renewed = now;
		return 0;
	case JOBQ_R_CANCEL:
		log_info("job %s: cancel requested", ctx->c_lease.l_id);
		job_ctx_stop(ctx, JOB_STOP_CANCEL);
		return -1;
	case JOBQ_R_PAUSE:
		log_info("job %s: pause requested", ctx->c_lease.l_id);
		job_ctx_stop(ctx, JOB_STOP_PAUSE);
		return -1;
	case JOBQ_R_LOST:
		log_warnx("job %s: lease lost (taken over or finished "
		    "elsewhere); stopping", ctx->c_lease.l_id);
		job_ctx_stop(ctx, JOB_STOP_LOST);
		return -1;
	default:
		break;
	}
	log_warnx("job %s: %s failed: %s", ctx->c_lease.l_id, what, err);
	if (PQstatus(ctx->c_ctl) != CONNECTION_OK)
		(void)db_ensure(ctx->c_ctl);
	if (now - ctx->c_renewed >= (double)ctx->c_lease.l_seconds) {
		log_warnx("job %s: lease not renewed for %d s; stopping",
		    ctx->c_lease.l_id, ctx->c_lease.l_seconds);
		job_ctx_stop(ctx, JOB_STOP_LOST);
		return -1;
	}
	return 0;
}

int
job_ctx_tick(struct job_ctx *ctx)
{
	char	err[512] = "";
	double	now;
	int	rc;

	if (ctx->c_reason != JOB_STOP_NONE)
		return -1;
	if (*ctx->c_stop) {
		job_ctx_stop(ctx, JOB_STOP_SHUTDOWN);
		return -1;
	}
	now = clock_mono();
	if (job_ctx_check_limits(ctx, now) == -1)
		return -1;
	backoff_step(&ctx->c_backoff, ctx->c_ctl, ctx->c_throttle, now);
	/* This process's throttle waits, for /metrics (once a second). */
	(void)throttle_publish(ctx->c_ctl, 0);
	if (now - ctx->c_tried < (double)ctx->c_cfg->job_heartbeat)
		return 0;
	rc = jobq_heartbeat(ctx->c_ctl, &ctx->c_lease, err, sizeof(err));
	return job_ctx_renewed(ctx, rc, "heartbeat", err);
}

int
job_ctx_sleep(struct job_ctx *ctx, int ms)
{
	struct pollfd	pfd;
	double		deadline, now, next;
	int		wait;

	deadline = clock_mono() + (double)ms / 1000.0;
	for (;;) {
		if (job_ctx_tick(ctx) == -1)
			return -1;
		now = clock_mono();
		if (now >= deadline)
			return 0;
		next = ctx->c_tried + (double)ctx->c_cfg->job_heartbeat;
		if (next > deadline)
			next = deadline;
		wait = (int)((next - now) * 1000.0) + 1;
		pfd.fd = ctx->c_wakefd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, wait) == -1 && errno != EINTR) {
			log_warn("job %s: poll", ctx->c_lease.l_id);
			return -1;
		}
	}
}

int
job_ctx_save(struct job_ctx *ctx, const char *progress,
    const char *checkpoint)
{
	char	err[512] = "", ictl[256], *merged = NULL;
	size_t	len;
	int	rc;

	if (job_ctx_tick(ctx) == -1)
		return -1;
	/* The controller's state joins a JSON object progress. */
	backoff_progress(&ctx->c_backoff, ictl, sizeof(ictl));
	len = progress != NULL ? strlen(progress) : 0;
	if (ictl[0] != '\0' && len > 1 && progress[0] == '{' &&
	    progress[len - 1] == '}') {
		merged = xasprintf("%.*s%s}", (int)(len - 1), progress,
		    strcmp(progress, "{}") == 0 ? ictl + 1 : ictl);
		progress = merged;
	}
	rc = jobq_save(ctx->c_ctl, &ctx->c_lease, progress, checkpoint, err,
	    sizeof(err));
	free(merged);
	return job_ctx_renewed(ctx, rc, "saving progress", err);
}

int
job_ctx_output(struct job_ctx *ctx, struct jobq_output *o,
    const char *checkpoint)
{
	char	err[512] = "";
	int	rc;

	if (job_ctx_tick(ctx) == -1)
		return -1;
	rc = jobq_output_add(ctx->c_ctl, &ctx->c_lease, o, checkpoint, err,
	    sizeof(err));
	if (rc == -1) {
		job_ctx_error(ctx, "recording output: %s", err);
		return -1;
	}
	return job_ctx_renewed(ctx, rc, "recording output", err);
}

void
job_ctx_result(struct job_ctx *ctx, const char *json)
{
	free(ctx->c_result);
	ctx->c_result = json != NULL ? xstrdup(json) : NULL;
}

void
job_ctx_error(struct job_ctx *ctx, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(ctx->c_error, sizeof(ctx->c_error), fmt, ap);
	va_end(ap);
}
