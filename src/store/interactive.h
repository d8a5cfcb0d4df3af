/*
 * interactive.h — the interactive-latency blackboard
 * (schemas/018_interactive.sql): API processes publish their recent p99
 * and in-flight count, bulk jobs read them and publish their rate
 * factor.  One statement per call, each at most once a second per
 * process or job (the callers' rule), on an UNLOGGED table.
 *
 * Rows are fresh for INTERACTIVE_FRESH_S seconds; older ones are
 * ignored, and rows idle INTERACTIVE_PRUNE_S are deleted by the API's
 * publish.
 *
 * Errors: -1 with libpq's reason in errbuf.  Any thread, on a
 * connection it alone uses.
 */
#ifndef STORE_INTERACTIVE_H
#define STORE_INTERACTIVE_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#define INTERACTIVE_FRESH_S	3
#define INTERACTIVE_PRUNE_S	60
#define INTERACTIVE_PROC_MAX	96

/* What the bulk jobs look like from the API's side. */
struct interactive_jobs {
	int	ij_jobs;		/* jobs publishing now */
	double	ij_factor_min;		/* lowest factor; 1 with no job */
};

/* What the API processes look like from a job's side. */
struct interactive_api {
	int	ia_procs;		/* API processes publishing now */
	double	ia_p99_ms;		/* highest p99; -1 with none */
	int	ia_in_flight;		/* sum of requests being served */
	int	ia_requests;		/* sum of requests in their windows */
};

/* An API process's row (p99_ms < 0: no request in its window), and
 * the jobs' state read in the same statement. */
int	interactive_publish_api(PGconn *, const char *proc, double p99_ms,
	    int in_flight, int requests, struct interactive_jobs *out,
	    char *errbuf, size_t errlen);
/* A job's row, and the API processes' state read in the same
 * statement. */
int	interactive_publish_job(PGconn *, const char *proc, double factor,
	    double rate, struct interactive_api *out, char *errbuf,
	    size_t errlen);
/* Deletes proc's row (a job that ended). */
int	interactive_forget(PGconn *, const char *proc, char *errbuf,
	    size_t errlen);

#endif
