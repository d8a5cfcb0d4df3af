/*
 * scheduler.h — the scheduler process: one leader across all nodes
 * (pg_try_advisory_lock) turns due schedules into jobs and runs the
 * house-keeping (expired outputs, dead leases).  Every scheduler, leader
 * or not, records itself in the processes table once a second
 * (store/procstats.h) for /metrics.  Returns the exit status.
 */
#ifndef JOBS_SCHEDULER_H
#define JOBS_SCHEDULER_H

struct cfg;

/* The leader's session-level advisory lock (also read by /metrics,
 * api/queue_metrics.c, to tell whether the leader is on its node). */
#define SCHEDULER_LOCK_KEY	7431002LL

int	scheduler_main(struct cfg *);

#endif
