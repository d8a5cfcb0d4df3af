/*
 * job_openimis.h — the openIMIS job kinds (issue 17).
 *
 * "openimis-pull" reads openIMIS's FHIR R4 module into the store.
 * params {"full": bool (default: per type, when its last full pull is
 * older than openimis_full_every days or it was never pulled), "types":
 * [..] (default openimis_types)}.  Each type is paged with _count =
 * openimis_page_size and page-offset = 1, 2, ...; an incremental pull
 * asks _lastUpdated=ge<high-water - 60 s> (openIMIS filters validity_from,
 * second precision).  Pages are stored in transactions of one page, or
 * of the pages that queued up while the store lagged (at most 1 s or
 * 20,000 rows): their resources upserted by the import's rule
 * (LOAD_UPSERT: a new version only when the content changed) and their
 * ids recorded as seen; then, at most
 * once a second, the checkpoint {"ti","page",...} names the next page (a
 * page read again is upserted again, unchanged).  A fetcher thread reads
 * and parses page n+1 while the job's thread stores page n, one request
 * at a time at the client's pace (job_openimis_pull.c).  A type's new
 * high-water mark is the Date of its first answer (openIMIS's clock).
 * A full pull that saw as many ids as openIMIS's total for the type then
 * marks deleted the rows an earlier pull stored and this one did not see
 * (openIMIS deletes softly: a deleted row just stops being listed).
 * Result {"types":{T:{"read","changed","deleted","full"}}, "requests",
 * "retries", "logins", "backoff", "wait_s" (pacing and back-off),
 * "latency_s" (summed request time), "store_s" (storing pages)}.
 *
 * "openimis-claims-push" POSTs claims to openIMIS (job_openimis_push.c).
 */
#ifndef JOBS_JOB_OPENIMIS_H
#define JOBS_JOB_OPENIMIS_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "jobs/job_ctx.h"

struct openimis_client;

int		 job_openimis_pull_check(const cJSON *, char *, size_t);
enum job_status	 job_openimis_pull_run(struct job_ctx *);
int		 job_openimis_push_check(const cJSON *, char *, size_t);
enum job_status	 job_openimis_push_run(struct job_ctx *);

/* For a completed import whose params say "forwardTo": "openimis":
 * submits its openimis-claims-push job and adds {"forwardedTo":
 * {"openimis": "<job id>"}} to result.  0 (also when not asked), -1
 * with the reason set by job_ctx_error. */
int	job_openimis_forward(struct job_ctx *, cJSON *result);

/* A client for the configured openIMIS whose waits heartbeat ctx (and
 * stop when it must).  NULL with errbuf set when openimis_url is unset.
 * Caller frees with openimis_client_free. */
struct openimis_client *job_openimis_client(struct job_ctx *, char *errbuf,
	    size_t errlen);

#endif
