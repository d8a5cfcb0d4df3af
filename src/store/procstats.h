/*
 * procstats.h — process numbers for /metrics that only workers and the
 * scheduler know, meeting in PostgreSQL (schemas/019_process_metrics.sql):
 * counters every process adds to, and the live worker and scheduler
 * processes.  Writers call these at most once a second per process
 * (throttle_publish, worker.c, scheduler.c); the API reads them in its
 * once-a-second /metrics read (api/queue_metrics.c, procstats_read;
 * the workers busy and idle come from jobq_workers, which owns the jobs
 * side of that count).
 *
 * Errors: -1 with libpq's reason in a caller-supplied errbuf.  No heap
 * kept; any thread with its own connection.
 */
#ifndef STORE_PROCSTATS_H
#define STORE_PROCSTATS_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#define PROCSTATS_NODE_MAX	128	/* a host name */
#define PROCSTATS_FRESH_S	10	/* a row older than this: gone */

/* Why a bulk job waited in its throttle (throttle.c). */
enum procstats_cause {
	PROCSTATS_LIMIT,	/* limits.rows_per_second, bytes_per_second */
	PROCSTATS_INTERACTIVE,	/* the interactive-latency controller's cap */
	PROCSTATS_NCAUSES,
};

/* What /metrics shows (procstats_read). */
struct procstats {
	double	ps_waits[PROCSTATS_NCAUSES];	/* throttle waits */
	double	ps_wait_s[PROCSTATS_NCAUSES];	/* seconds waited */
	double	ps_rescues;			/* lease rescues */
	int	ps_leader;	/* 1: the leader scheduler runs on node */
};

/* The label of a cause ("limit", "interactive"). */
const char *procstats_cause_name(enum procstats_cause);
/* This host's name, ':' replaced by '-' (the worker id's first part). */
void	procstats_node(char *out, size_t outlen);
/* Adds n waits of secs seconds in all, of cause, to the counters. */
int	procstats_add_waits(PGconn *, enum procstats_cause, int64_t n,
	    double secs, char *errbuf, size_t errlen);
/* Records that process id (a worker's lease owner name, a scheduler's
 * "scheduler host:pid") of role "worker" or "scheduler" on node is alive
 * now, and for a scheduler whether it is the leader; the row carries
 * this connection's backend pid.  Also deletes rows stale for a minute. */
int	procstats_beat(PGconn *, const char *id, const char *node,
	    const char *role, int leader, char *errbuf, size_t errlen);
/* Deletes process id's row (a clean exit). */
int	procstats_gone(PGconn *, const char *id, char *errbuf, size_t errlen);
/* Reads the counters and whether the scheduler leader (the
 * fresh scheduler row whose session holds lock_key) is on node. */
int	procstats_read(PGconn *, const char *node, long long lock_key,
	    struct procstats *out, char *errbuf, size_t errlen);

#endif
