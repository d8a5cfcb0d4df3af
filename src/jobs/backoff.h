/*
 * backoff.h — a bulk job's side of the interactive-latency controller.
 *
 * Once a second (BACKOFF_STEP_S), on the job's main thread and its
 * control connection, the job publishes its rate factor and reads the
 * API processes' recent p99 (store/interactive.h), steps the AIMD factor
 * (lib/aimd.h) against interactive_p99_target_ms, and caps its
 * throttle's rows/s at factor x its reference rate (aimd_reference: the
 * highest rate it reached uncapped, decaying, and growing while a cap
 * binds, so that a reference taken on a bad second does not stick).
 * The first BACKOFF_WARMUP_S of a job are uncapped.  At factor 1 the
 * cap is lifted.  The factor never goes below
 * interactive_floor_pct, so a job never stalls.  With
 * interactive_control = off or a target of 0, nothing here runs.
 *
 * The floor is also a guarantee against starvation.  Once every
 * BACKOFF_STARVED_S, a job whose rate over those seconds stayed under
 * BACKOFF_STARVED x floor x reference although no cap held it there
 * (the CPU it needs goes to others) raises its scheduling group's
 * weight by BACKOFF_BOOST_STEP of nice, never above the API's own (nice
 * 0); over BACKOFF_SATED x floor x reference it gives back as much.  So
 * each change is judged on a window that follows the last one.  Why so
 * slow: under a saturating closed loop one second's rate can be a
 * fraction of the next one's, and a boost of 5 a second on single
 * samples took the group from nice 10 to the API's weight within
 * seconds while the job ran at twice its floor over the run; the
 * interactive p99 paid for it (37 ms against 8).  The group is the
 * worker's kernel autogroup (core/autogroup.h); where the worker has
 * none (a cgroup or systemd decides its share), nothing changes.
 *
 * Failure to reach the table counts as "no signal" (the factor climbs
 * back to 1), logged once per job.
 *
 * Thread safety: one owner thread (the kind's main thread).
 */
#ifndef JOBS_BACKOFF_H
#define JOBS_BACKOFF_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "lib/aimd.h"
#include "store/interactive.h"

#define BACKOFF_STEP_S		1.0	/* one step a second */
#define BACKOFF_DECREASE	0.5	/* multiplicative decrease */
#define BACKOFF_INCREASE	0.05	/* additive increase per step */
#define BACKOFF_WARMUP_S	3.0	/* uncapped after the job starts */
#define BACKOFF_STARVED		0.8	/* of the floor rate: boost */
#define BACKOFF_SATED		1.5	/* of the floor rate: give back */
#define BACKOFF_BOOST_STEP	2	/* nice per change */
#define BACKOFF_STARVED_S	5.0	/* the starvation rate's window */

struct cfg;
struct throttle;

struct backoff {
	struct aimd		b_aimd;
	int			b_on;		/* controller enabled */
	double			b_target_ms;
	double			b_next;		/* next step, monotonic */
	double			b_started;	/* backoff_init's time */
	double			b_last_t;	/* last rate sample */
	int64_t			b_last_rows;
	double			b_ref;		/* reference rows/s, 0 unknown */
	double			b_rate;		/* rows/s, last step */
	double			b_win_t;	/* starvation window's start */
	int64_t			b_win_rows;	/* rows at its start */
	int64_t			b_cap;		/* cap in force, 0 none */
	struct interactive_api	b_api;		/* last read */
	int			b_warned;	/* table error logged */
	int			b_published;	/* our row exists */
	int			b_base_nice;	/* worker_nice at start */
	int			b_nice;		/* group's nice now */
	int			b_boosted;	/* b_nice < b_base_nice */
	char			b_proc[INTERACTIVE_PROC_MAX];
};

/* Sets b up for job id of kind; on only for the bulk kinds and when the
 * configuration turns the controller on. */
void	backoff_init(struct backoff *, const struct cfg *, const char *kind,
	    const char *id, int worker_nice, double now);
/* One step when due (see above).  Never fails. */
void	backoff_step(struct backoff *, PGconn *ctl, struct throttle *,
	    double now);
/* Writes the state as ',"interactive":{...}' (or "" when off) for the
 * job's progress. */
void	backoff_progress(const struct backoff *, char *out, size_t outlen);
/* Removes the job's row (best effort) and gives a boost back. */
void	backoff_end(struct backoff *, PGconn *ctl);

#endif
