/*
 * scheduler.h — the scheduler process: one leader across all nodes
 * (pg_try_advisory_lock) turns due schedules into jobs and runs the
 * house-keeping (expired outputs, dead leases).  Returns the exit status.
 */
#ifndef JOBS_SCHEDULER_H
#define JOBS_SCHEDULER_H

struct cfg;

int	scheduler_main(struct cfg *);

#endif
