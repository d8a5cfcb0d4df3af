/*
 * throttle.h — per-job rate limits (rows/s, bytes/s) and bulk-session
 * set-up, shared by every thread of one job.
 *
 * A job kind calls throttle_take at its batch points (export: per COPY
 * row; import: per line, from its input threads) with what it is about to
 * move; the call sleeps as long as the job is ahead of its rates.  The
 * limiter is a GCRA (virtual-time token bucket) per dimension with a
 * burst of THROTTLE_BURST_MS worth of work, so a 500 rows/s job moves at
 * most ~50 rows before its first sleep.  With both rates 0 a call is one
 * atomic load.
 *
 * Thread safety: every function may be called from any thread of the job.
 * Sleeps are sliced (THROTTLE_SLICE_MS); between slices the call checks
 * the stop flag and, on the thread that made the throttle (the kind's
 * main thread), calls the tick hook, which heartbeats the lease and sees
 * pause and cancel requests; so throttling never costs a lease.
 *
 * Errors: throttle_take returns -1 only when the job must stop
 * (throttle_stop was called, the process is shutting down, or the tick
 * hook said so); the caller then stops as for a job_ctx call returning -1.
 * Ownership: throttle_new allocates; throttle_free releases (NULL-safe).
 */
#ifndef JOBS_THROTTLE_H
#define JOBS_THROTTLE_H

#include <signal.h>
#include <stdint.h>
#include <libpq-fe.h>

#define THROTTLE_BURST_MS	100	/* work allowed ahead of the rate */
#define THROTTLE_SLICE_MS	100	/* longest uninterrupted sleep */

struct throttle;

/* The tick hook: 0 go on, -1 stop.  Called on the owner thread only. */
typedef int	(*throttle_tick_fn)(void *arg);

/* Makes a throttle owned by the calling thread; shutdown is the process's
 * stop flag (may be NULL); tick (may be NULL) is called while the owner
 * thread sleeps. */
struct throttle	*throttle_new(const volatile sig_atomic_t *shutdown,
		    throttle_tick_fn tick, void *tick_arg);
void		 throttle_free(struct throttle *);

/* Sets the rates (0: unlimited).  A change wakes sleepers, who go on at
 * the new rates. */
void		 throttle_set_rates(struct throttle *, int64_t rows_per_s,
		    int64_t bytes_per_s);
/* Sets the interactive-latency controller's cap on rows/s (0: none;
 * jobs/backoff.h), applied on top of the configured rate: the lower
 * wins.  A change wakes sleepers, as for throttle_set_rates. */
void		 throttle_set_cap(struct throttle *, int64_t rows_per_s);
/* The rows/s in force (0: unlimited); the configured rate and the cap
 * through the pointers when not NULL. */
int64_t		 throttle_rates(struct throttle *, int64_t *rows_per_s,
		    int64_t *cap_rows);
/* Sets what throttle_conn applies: statement_timeout in ms (0: none),
 * the nice value for backends and whether they go to SCHED_IDLE. */
void		 throttle_set_session(struct throttle *, int stmt_timeout_ms,
		    int nice, int idle);

/* Accounts rows and bytes, sleeping as the rates require.  0, or -1 when
 * the job must stop. */
int		 throttle_take(struct throttle *, int64_t rows, int64_t bytes);
/* Makes every current and later throttle_take return -1.  Idempotent. */
void		 throttle_stop(struct throttle *);

/*
 * Sets up a bulk database session of the job: statement_timeout, and the
 * backend's CPU and I/O priority lowered to the job's nice value when the
 * server runs on this machine and we may (same user, or root; logged once
 * per process if not).  0, or -1 if the statement_timeout could not be set
 * (logged; the session is usable).
 */
int		 throttle_conn(struct throttle *, PGconn *);

/*
 * Adds this process's throttle waits (count and seconds, by cause: every
 * throttle of the process) since the last call to the database's
 * counters (store/procstats.h), for /metrics.  At most once a second
 * unless force; one thread of the process only (the worker's main
 * thread: its idle loop and job_ctx_tick).  0, or -1 (kept for the next
 * call; logged at debug).
 */
int		 throttle_publish(PGconn *, int force);

/* Totals so far, for progress and tests. */
void		 throttle_totals(struct throttle *, int64_t *rows,
		    int64_t *bytes, int64_t *slept_ms);

/*
 * Lowers the priority of local process pid (a database backend): nice,
 * the SCHED_IDLE class when idle (else the normal one, with a long time
 * slice) and I/O
 * best-effort level 7.  0 done, -1 not possible (not local, not a
 * postgres process, or not permitted; errno set, EPERM/EACCES for the
 * latter).  Used by throttle_conn.
 */
int		 throttle_renice_backend(int pid, int nice, int idle);

/*
 * Puts thread pid (0: the calling thread; a single-threaded process's pid:
 * the process) in SCHED_IDLE when idle, else in the normal class with a
 * long time slice.  0, or -1 with errno.
 */
int		 throttle_sched_idle(int pid, int idle);

#endif
