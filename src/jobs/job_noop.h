/*
 * job_noop.h — the "noop" job kind: proves the engine end to end.
 *
 * params {"steps": N (0..10000, default 3), "step_ms": M (0..60000,
 * default 100), "fail_times": K (0..100, default 0), "outputs": F
 * (0..100, default 0)}: the first K attempts fail retryably; then N
 * steps of M ms each, saving progress {"done": i, "total": N} and
 * checkpoint {"step": i} after each and resuming from the checkpoint
 * after a takeover; then F pretend outputs (type "Basic", count = seq,
 * no file) recorded with job_ctx_output.  Result {"steps": N,
 * "resumed_from": s}.
 */
#ifndef JOBS_JOB_NOOP_H
#define JOBS_JOB_NOOP_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "jobs/job_ctx.h"

enum job_status	 job_noop_run(struct job_ctx *);
int		 job_noop_check(const cJSON *params, char *errbuf,
		    size_t errlen);

#endif
