/*
 * delivery.h — OpenHIM deliveries, run by the workers (never the API):
 * create the deliveries of newly completed jobs, claim due ones, build
 * each notification and POST it to its target on the OpenHIM router.
 *
 * Notification (application/json): {"jobId", "kind", "transactionTime",
 * "delivery": {"n", "attempt", "target"}, "output": [{"type", "url",
 * "count", "bytes"}], "error": [...]} — a manifest with absolute download
 * URLs, not the files (OpenHIM caps a transaction's bodies at 15 MiB,
 * core-js src/utils.js enforceMaxBodiesSize).  Only when the target's
 * max_inline_bytes is set and the job's files total less (uncompressed)
 * does each output and error entry also carry "inline": its NDJSON text,
 * decompressed, as one JSON string — and only if the whole notification
 * stays within 15 MiB; otherwise URLs only.  The header
 * X-Bulkhead-Delivery: JOB/N lets a receiver drop a repeat.
 * A delivery never changes its job's state.  A job whose files are gone
 * (the client's DELETE, expiry) or that is no longer completed gets no
 * notification: its pending delivery ends failed with that reason.
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
 * NULL with errbuf set when it cannot: *gone is 1 when the job or its
 * files are gone (no retry helps), 0 on a database error or a signing
 * key that would not load (a later attempt may do). */
char	*delivery_notification(PGconn *, const struct cfg *, const char *job,
	    int n, int attempt, const char *target, int *gone, char *errbuf,
	    size_t errlen);

#endif
