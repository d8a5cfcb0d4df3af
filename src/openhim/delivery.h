/*
 * delivery.h — OpenHIM deliveries, run by the workers (never the API):
 * create the deliveries of newly completed jobs, claim due ones, build
 * each notification and POST it to its target on the OpenHIM router.
 *
 * Notification (application/json): {"jobId", "kind", "transactionTime",
 * "delivery": {"n", "attempt", "target"}, "output": [{"type", "url",
 * "count", "bytes"}], "error": [...]} — a manifest with absolute download
 * URLs, never the files (OpenHIM caps a transaction's bodies at 15 MiB,
 * core-js src/utils.js enforceMaxBodiesSize).  The header
 * X-Bulkhead-Delivery: JOB/N lets a receiver drop a repeat.
 * A delivery never changes its job's state.
 */
#ifndef OPENHIM_DELIVERY_H
#define OPENHIM_DELIVERY_H

#include <libpq-fe.h>

#define DELIVERY_TIMEOUT	30	/* seconds per POST (< lease 60) */
#define DELIVERY_BATCH		4	/* sends per call at most */

struct cfg;

/* Does what is due; returns the number of sends tried (0 when idle), -1
 * on a database error (logged). */
int	delivery_run_due(PGconn *, const struct cfg *);
/* Builds the notification of job (JSON text; caller frees with free()),
 * NULL with errbuf set when the job or its files are gone. */
char	*delivery_notification(PGconn *, const struct cfg *, const char *job,
	    int n, int attempt, const char *target, char *errbuf,
	    size_t errlen);

#endif
