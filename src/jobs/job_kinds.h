/*
 * job_kinds.h — the table of job kinds a worker can run.
 *
 * Adding a kind is one row in job_kinds.c plus its file (job_foo.c with
 * job_foo_run and, optionally, job_foo_check).  Workers claim only kinds
 * in this table; submitters (CLI, API) validate against it, so a job of
 * an unknown kind is refused before it is queued.
 */
#ifndef JOBS_JOB_KINDS_H
#define JOBS_JOB_KINDS_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "jobs/job_ctx.h"

struct job_kind {
	const char	*k_name;	/* jobs.kind; [a-z0-9-], no commas */
	/* Runs one attempt; see job_ctx.h for the contract. */
	enum job_status	(*k_run)(struct job_ctx *);
	/* Checks parameters (a JSON object) at submit time; 0 or -1 with
	 * the reason in errbuf.  NULL accepts any object. */
	int		(*k_check)(const cJSON *params, char *errbuf,
			    size_t errlen);
	/* Checks params against the submitting client (jobs.client, may
	 * be NULL) at submit time; NULL when the client does not matter. */
	int		(*k_check_client)(const cJSON *params,
			    const char *client, char *errbuf, size_t errlen);
	const char	*k_help;	/* one line for usage texts */
	/*
	 * 1: runs in SCHED_IDLE when limits.worker_idle is on.  Not for a
	 * kind whose work is one backend streaming to one worker thread
	 * (export): two SCHED_IDLE tasks never preempt each other, and the
	 * kernel places a waking one on the other's CPU as if it were idle,
	 * so the pair takes turns on one core (measured: 1.34 -> 1.91x the
	 * raw COPY).  An import has threads and backends to spare.
	 */
	int		 k_idle;
};

/* The kind named name, or NULL. */
const struct job_kind	*job_kind_find(const char *name);
/* The whole table; *n set to its length.  Static, never freed. */
const struct job_kind	*job_kind_all(size_t *n);
/* Validates a submission: a known kind, params (NULL means {}) a JSON
 * object of at most JOBQ_JSON_MAX bytes that the kind accepts from that
 * client (jobs.client, or NULL).  0 or -1 with a one-line reason in
 * errbuf. */
int			 job_kind_check(const char *kind, const char *params,
			    const char *client, char *errbuf, size_t errlen);

#endif
