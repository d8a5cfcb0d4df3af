/*
 * worker.h — a worker process: claims jobs from the queue, runs them,
 * heartbeats its lease.  Runs until SIGTERM; returns the exit status.
 */
#ifndef JOBS_WORKER_H
#define JOBS_WORKER_H

struct cfg;

int	worker_main(struct cfg *);

#endif
