/*
 * schedule.h — cron schedules in PostgreSQL (schemas/004_schedules.sql).
 *
 * A schedule is a named cron expression in a time zone plus the job it
 * submits (kind + params, passed through unchanged: placeholders such as
 * "_since": "last-success" are the job kind's business).  Used by the
 * scheduler leader (schedule_fire_due) and by the admin API and CLI
 * (put, get, list, delete, pause/resume, run-now).
 *
 * Jobs a schedule submits carry client = "schedule:<name>" (see
 * SCHEDULE_CLIENT_PREFIX), so its history is
 * "SELECT ... FROM jobs WHERE client = 'schedule:<name>'".
 *
 * Times: next_fire is computed from schedule_now(), which is the real
 * clock unless the test hook BULKHEAD_CLOCK is set (see below).
 *
 * Results: every function returns 0 on success, -1 on a database or
 * internal error (HTTP 500), or one of the SCHEDULE_R_* codes below; the
 * reason is written into the caller's bounded errbuf (for -1 and
 * SCHEDULE_R_INVALID; SCHEDULE_R_NOTFOUND writes "no schedule 'x'").
 * Each function runs its own statement(s) or transaction on conn, which
 * must not be inside a transaction of the caller's.
 *
 * Ownership: struct schedule and arrays of them are allocated here;
 * the caller frees them with schedule_free / schedule_list_free.
 */
#ifndef JOBS_SCHEDULE_H
#define JOBS_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <libpq-fe.h>

struct buf;

#define SCHEDULE_NAME_MAX	64	/* ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ */
#define SCHEDULE_LIST_MAX	10000	/* most rows schedule_list returns */
#define SCHEDULE_FIRE_BATCH	100	/* due rows one fire_due call takes */
#define SCHEDULE_CLIENT_PREFIX	"schedule:"	/* jobs.client of its jobs */
#define SCHEDULE_DEFAULT_TZ	"UTC"

/* The schedule name in client (jobs.client, may be NULL) when it is a
 * schedule's job (SCHEDULE_CLIENT_PREFIX and a non-empty name), else
 * NULL.  Points into client. */
const char	*schedule_client_name(const char *client);
#define SCHEDULE_DEFAULT_MISFIRE "run-once"

#define SCHEDULE_R_NOTFOUND	1	/* no schedule of that name (404) */
#define SCHEDULE_R_INVALID	2	/* the spec is invalid (400) */
#define SCHEDULE_R_FENCED	3	/* fire_due: not the leader now */

/* What schedule_put creates or replaces.  Borrowed strings. */
struct schedule_spec {
	const char	*sp_name;	/* required */
	const char	*sp_cron;	/* required, see cron.h */
	const char	*sp_timezone;	/* IANA zone; NULL = "UTC" */
	int		 sp_enabled;	/* 0 = created paused */
	const char	*sp_misfire;	/* "run-once" (NULL) or "skip" */
	const char	*sp_job_kind;	/* required, a kind in job_kinds.c */
	const char	*sp_job_params;	/* JSON object text; NULL = {} */
	const char	*sp_source;	/* "api" | "config"; NULL = "api" */
};

/* A schedules row as text.  Instants are RFC 3339 UTC ("...Z"); any
 * pointer marked "or NULL" may be NULL (SQL NULL). */
struct schedule {
	char	*sc_name;
	char	*sc_cron;
	char	*sc_timezone;
	int	 sc_enabled;
	char	*sc_misfire;		/* "run-once" | "skip" */
	char	*sc_job_kind;
	char	*sc_job_params;		/* JSON object text */
	char	*sc_last_fire;		/* or NULL: see schedule_fire_due */
	char	*sc_next_fire;		/* or NULL: paused, or cannot fire */
	char	*sc_last_job;		/* or NULL: id of the last job */
	char	*sc_last_error;		/* or NULL: why the last fire failed */
	char	*sc_created;
	char	*sc_updated;
	char	*sc_source;		/* "api" | "config" */
	char	*sc_last_result;	/* or NULL: the last job's state as
					   the admin API shows it; not a
					   column, filled by the caller
					   (jobq_states) for schedule_json */
};

/*
 * Checks a spec without the database: name syntax, cron (cron_parse),
 * time zone (cron_tz_check), misfire, source, and job kind + params
 * (job_kind_check).  0 or SCHEDULE_R_INVALID with the reason, prefixed
 * by the field ("cron: minute: 60 is out of range 0-59").
 */
int	schedule_spec_check(const struct schedule_spec *, char *errbuf,
	    size_t errlen);

/*
 * Creates or replaces (by name) a schedule after schedule_spec_check.
 * next_fire becomes the first fire after schedule_now() (NULL when
 * paused), except that a replace keeping cron, timezone and enabled
 * keeps the pending next_fire, so re-applying the same definition never
 * loses or moves a due fire.  A replace keeps last_fire, last_job and
 * created.  *created (may be NULL) is set to 1 if the row is new.
 * 0, SCHEDULE_R_INVALID or -1.
 */
int	schedule_put(PGconn *, const struct schedule_spec *, int *created,
	    char *errbuf, size_t errlen);

/* Deletes a schedule (its jobs stay).  0, SCHEDULE_R_NOTFOUND or -1. */
int	schedule_delete(PGconn *, const char *name, char *errbuf,
	    size_t errlen);

/* Reads one schedule into *out (caller frees with schedule_free).
 * 0, SCHEDULE_R_NOTFOUND (*out NULL) or -1. */
int	schedule_get(PGconn *, const char *name, struct schedule **out,
	    char *errbuf, size_t errlen);

/* All schedules by name, at most SCHEDULE_LIST_MAX.  Sets *out (caller
 * frees with schedule_list_free) and *n.  0 or -1. */
int	schedule_list(PGconn *, struct schedule ***out, size_t *n,
	    char *errbuf, size_t errlen);

/*
 * Pause (enabled 0) or resume (1).  Pausing clears next_fire; resuming
 * a paused schedule sets next_fire to the first fire after
 * schedule_now() (fires missed while paused are not made up).  Setting
 * the state it already has changes nothing.  0, SCHEDULE_R_NOTFOUND,
 * SCHEDULE_R_INVALID (its stored cron or zone no longer valid) or -1.
 */
int	schedule_set_enabled(PGconn *, const char *name, int enabled,
	    char *errbuf, size_t errlen);

/*
 * Submits the schedule's job now, paused or not, and records it as
 * last_job; next_fire and last_fire are left alone.  Writes the job id
 * into job_id (JOBQ_ID_MAX bytes suffice).  0, SCHEDULE_R_NOTFOUND,
 * SCHEDULE_R_INVALID (job kind or params no longer accepted) or -1.
 */
int	schedule_run_now(PGconn *, const char *name, char *job_id,
	    size_t idlen, char *errbuf, size_t errlen);

/*
 * The scheduler's step: for each enabled schedule with next_fire <= now
 * (up to SCHEDULE_FIRE_BATCH, rows locked FOR UPDATE SKIP LOCKED), in
 * ONE transaction with the job inserts:
 *  - one fire due (the one after it is still in the future): submit
 *    the job;
 *  - more than one due (the scheduler was down): misfire "run-once"
 *    submits one job, "skip" submits none;
 *  - either way next_fire becomes the first fire after now; a submit
 *    sets last_job and last_fire (the scheduled instant, or now for a
 *    run-once catch-up) and clears last_error.
 * A schedule whose job is refused (job_kind_check) or whose cron/zone
 * no longer works records last_error and is not retried until its next
 * fire (or, if no next fire can be computed, until it is put again:
 * next_fire NULL).  A commit failure fires nothing, so no fire is lost
 * or doubled.
 * fence_key != 0: in the same transaction, first check that this
 * session holds the advisory lock pg_advisory_lock(fence_key) (pg_locks,
 * pg_backend_pid()), else fire nothing and return SCHEDULE_R_FENCED.
 * *nfired (may be NULL): jobs submitted; *nskipped (may be NULL):
 * schedules advanced without a job (skip misfire or error).
 * 0, SCHEDULE_R_FENCED or -1.
 */
int	schedule_fire_due(PGconn *, time_t now, int64_t fence_key,
	    int *nfired, int *nskipped, char *errbuf, size_t errlen);

/* Appends one schedule as a JSON object:
 * {"name","cron","timezone","enabled","misfire","job":{"kind","params"},
 *  "last_fire","next_fire","last_job","last_error","source","created",
 *  "updated","cron_text","last_result"}, instants RFC 3339 UTC or null;
 *  cron_text is the cron in words (jobs/cron_text.h, with the zone),
 *  last_result sc_last_result.  0, or -1 if b is full. */
int	schedule_json(const struct schedule *, struct buf *b);
/* Appends a JSON array of schedule_json objects.  0 or -1 (b full). */
int	schedule_list_json(struct schedule *const *, size_t n, struct buf *b);

void	schedule_free(struct schedule *);
void	schedule_list_free(struct schedule **, size_t n);

/*
 * The clock schedules run on.  Test hook: when the environment variable
 * BULKHEAD_CLOCK holds an RFC 3339 instant, "now" is that instant plus
 * the real (monotonic) time elapsed since the clock was first read in
 * this process; otherwise time(NULL).  Never set it in production.
 * schedule_clock_init reads the variable once (thread-safe, idempotent):
 * 0 with *fake (may be NULL) = 1 if the hook is active, or -1 if the
 * variable is set but not a valid instant (schedule_now then uses the
 * real clock).
 */
int	schedule_clock_init(int *fake, char *errbuf, size_t errlen);
time_t	schedule_now(void);

#endif
