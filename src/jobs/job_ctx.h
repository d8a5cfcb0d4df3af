/*
 * job_ctx.h — what a job kind sees while it runs in a worker.
 *
 * A kind is one row in job_kinds.c and one run function:
 *
 *	enum job_status job_foo_run(struct job_ctx *ctx);
 *
 * It reads its parameters (job_ctx_params) and, after a takeover, the
 * checkpoint its previous attempt saved (job_ctx_checkpoint), then works
 * in batches.  Between batches it calls job_ctx_save (progress and
 * checkpoint, one statement) or at least job_ctx_tick, which heartbeats
 * the lease when due.  Either returns -1 when the kind must stop: the
 * worker is shutting down (SIGTERM), the lease was lost to another worker,
 * a cancel or a pause was requested, or the attempt outran its kind's
 * timeout; the kind then returns JOB_STOPPED at once, without further
 * writes, and the worker settles the job (release, nothing, cancelled,
 * paused with its checkpoint, or failed with the reason).  A finished
 * file is recorded with job_ctx_output, together with the checkpoint that
 * follows it, so a rescued job neither loses nor repeats an output.
 *
 * Bulk reads and writes go through job_ctx_conn: a connection of its own,
 * so a long transaction there does not hold back the heartbeats, which
 * use the worker's control connection.  The worker rolls back whatever
 * the kind left open on it.  The session gets the limits' statement
 * timeout and, where possible, a lowered backend priority (throttle_conn);
 * a kind that opens connections of its own passes them to throttle_conn.
 *
 * Rates: the kind calls throttle_take(job_ctx_throttle(ctx), rows, bytes)
 * at its batch points; it sleeps while the job is ahead of the limits'
 * rows_per_second / bytes_per_second, heartbeating meanwhile, and returns
 * -1 exactly when a job_ctx call would.
 *
 * All functions are for the worker process only, single-threaded, except
 * job_ctx_throttle, which any thread of the kind may call (the pointer is
 * fixed for the life of the context; throttle.h is thread-safe).
 */
#ifndef JOBS_JOB_CTX_H
#define JOBS_JOB_CTX_H

#include <signal.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>

struct cfg;
struct limits;
struct throttle;
struct jobq_job;
struct jobq_lease;
struct jobq_output;
struct job_ctx;

/* What a run function returns. */
enum job_status {
	JOB_DONE,	/* completed; result set with job_ctx_result */
	JOB_RETRY,	/* failed, may work later: retried with backoff */
	JOB_FAIL,	/* failed for good; reason via job_ctx_error */
	JOB_STOPPED,	/* a job_ctx call returned -1: stopped as asked */
};

/* Why a job_ctx call returned -1. */
enum job_stop {
	JOB_STOP_NONE,
	JOB_STOP_SHUTDOWN,	/* SIGTERM/SIGINT: the job goes back queued */
	JOB_STOP_LOST,		/* lease lost: the job is someone else's */
	JOB_STOP_CANCEL,	/* cancel requested: the job ends cancelled */
	JOB_STOP_PAUSE,		/* pause requested: the job is parked paused,
				   its checkpoint kept */
	JOB_STOP_TIMEOUT,	/* ran past limits.kind_timeout_s: failed */
};

/* --- for kinds --- */

const char	*job_ctx_id(const struct job_ctx *);
const char	*job_ctx_client(const struct job_ctx *);	/* or NULL */
/* 1 for the first claim, 2 after one retry or takeover, ... */
int		 job_ctx_attempt(const struct job_ctx *);
int		 job_ctx_max_attempts(const struct job_ctx *);
/* The configuration, with the limits' overrides applied (the import
 * batch size).  Borrowed. */
const struct cfg *job_ctx_cfg(const struct job_ctx *);
/* The job's throttle (throttle.h).  Borrowed; any thread may call this. */
struct throttle	*job_ctx_throttle(const struct job_ctx *);
/* The limits in force (re-read every LIMITS_RELOAD_S).  Borrowed. */
const struct limits *job_ctx_limits(const struct job_ctx *);
/* The parameters as a JSON object (never NULL).  Borrowed. */
const cJSON	*job_ctx_params(const struct job_ctx *);
/* The last saved checkpoint, or NULL on a fresh start.  Borrowed. */
const cJSON	*job_ctx_checkpoint(const struct job_ctx *);

/* The kind's own database connection, connected on first use.  Borrowed;
 * NULL with the reason in errbuf if the database is unreachable. */
PGconn		*job_ctx_conn(struct job_ctx *, char *errbuf, size_t errlen);

/* Heartbeats when due.  0: go on; -1: stop (see above).  Cheap when no
 * heartbeat is due: call it as often as convenient. */
int		 job_ctx_tick(struct job_ctx *);
/* Sleeps ms milliseconds, heartbeating as needed; -1 if it must stop. */
int		 job_ctx_sleep(struct job_ctx *, int ms);
/* Saves progress and/or checkpoint (JSON text; NULL leaves it) and
 * renews the lease.  0 or -1 (stop).  A failed write of a transient
 * database error is logged and not fatal: the kind goes on, and a rescue
 * resumes from the previous checkpoint. */
int		 job_ctx_save(struct job_ctx *, const char *progress,
		    const char *checkpoint);
/* Records a complete output file and the checkpoint after it (or NULL),
 * atomically.  0 or -1; -1 also when the database rejected it (the kind
 * should then return JOB_RETRY, see job_ctx_stop_reason == NONE). */
int		 job_ctx_output(struct job_ctx *, struct jobq_output *,
		    const char *checkpoint);
/* Sets the result (JSON text, copied) reported with JOB_DONE. */
void		 job_ctx_result(struct job_ctx *, const char *json);
/* Sets the reason reported with JOB_FAIL or JOB_RETRY. */
void		 job_ctx_error(struct job_ctx *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* True once the kind must stop (no database round trip). */
int		 job_ctx_stopping(const struct job_ctx *);

/* --- for the worker --- */

/*
 * Makes the context for one claimed job.  lim is the limits as read at
 * the claim (copied); ctl is the worker's control connection (leases,
 * limits); *work its lazily made bulk connection, which the context may
 * set; stop is the worker's shutdown flag and wakefd the read end of its
 * signal pipe (readable once stop is set).  Borrows the others; caller
 * frees with job_ctx_free.  Returns NULL and fills errbuf when the job's
 * params or checkpoint are not valid JSON.
 */
struct job_ctx	*job_ctx_new(const struct cfg *, const struct limits *lim,
		    PGconn *ctl, PGconn **work, const struct jobq_job *,
		    const struct jobq_lease *,
		    const volatile sig_atomic_t *stop, int wakefd,
		    char *errbuf, size_t errlen);
void		 job_ctx_free(struct job_ctx *);
enum job_stop	 job_ctx_stop_reason(const struct job_ctx *);
/* Result JSON (or NULL) and error text ("" if none).  Borrowed. */
const char	*job_ctx_result_json(const struct job_ctx *);
const char	*job_ctx_error_text(const struct job_ctx *);

#endif
