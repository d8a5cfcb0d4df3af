/*
 * job_housekeeping.h — the "housekeeping" job kind, run by the built-in
 * schedule of the same name (schemas/007_housekeeping.sql): removes the
 * output files of jobs finished more than export_retention seconds ago
 * (the status URL then says they expired) and deletes jobs finished more
 * than history_days ago, with their outputs.  Params: {} (or
 * {"history_days": N} to override the setting for one run).
 */
#ifndef JOBS_JOB_HOUSEKEEPING_H
#define JOBS_JOB_HOUSEKEEPING_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "jobs/job_ctx.h"

enum job_status	job_housekeeping_run(struct job_ctx *);
int		job_housekeeping_check(const cJSON *params, char *errbuf,
		    size_t errlen);

#endif
