/*
 * job_import.h — the "import" job kind: $import of NDJSON inputs (http(s)
 * or file:// URLs) into the resource store, every bad line reported as an
 * OperationOutcome in that input's error file, every valid line loaded.
 *
 * Params (built by api/import_api.c, or given to a schedule):
 *   {"inputs":[{"type":T,"url":U,"etag":E?}...], "mode":"InitialLoad"|
 *    "IncrementalLoad", "inputSource":S?, "request":URL?, "concurrency":N?}
 *
 * Inputs run in parallel threads (up to "concurrency", default the
 * import_concurrency setting), each with its own database connection;
 * the worker's main thread keeps the lease and records results.  Lines
 * commit in batches (import_batch_lines); the checkpoint is the last
 * committed line per input, and a rescued job re-reads an input, skipping
 * the load of lines already committed, so counts and error files come
 * out exactly as an undisturbed run's.
 */
#ifndef JOBS_JOB_IMPORT_H
#define JOBS_JOB_IMPORT_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "jobs/job_ctx.h"

enum job_status	job_import_run(struct job_ctx *);
int		job_import_check(const cJSON *params, char *errbuf,
		    size_t errlen);

#endif
