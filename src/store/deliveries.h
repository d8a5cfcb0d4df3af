/*
 * deliveries.h — the OpenHIM delivery store (schemas/016): targets
 * pushed by OpenHIM, and one tracked delivery per job and "deliver"
 * entry.  The only code on openhim_targets and openhim_deliveries.
 *
 * States: pending (to send, or being sent), delivered, failed (cannot
 * be sent: the target is gone, the job's files were removed), giving-up
 * (max_attempts reached).  Errors: -1 with the reason in errbuf.
 */
#ifndef STORE_DELIVERIES_H
#define STORE_DELIVERIES_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define DELIVERIES_LEASE_S	60	/* a claim's hold: > the send timeout */
#define DELIVERIES_BACKOFF_MAX	600	/* seconds */
#define DELIVERIES_RESPONSE_MAX	1024	/* bytes of answer kept */

struct delivery {
	char	 d_job[64];
	int	 d_n;
	char	 d_target[65];
	int	 d_attempts;		/* this one included */
	int	 d_max_attempts;
};

/* Replaces every pushed target with those of config (JSON text already
 * validated by openhim_cfg_parse), in one transaction. */
int	deliveries_put_targets(PGconn *, const char *config, char *errbuf,
	    size_t errlen);
/* Creates the pending deliveries of completed jobs that name targets and
 * have none yet; idempotent.  *n: rows created. */
int	deliveries_enqueue(PGconn *, int max_attempts, int *n, char *errbuf,
	    size_t errlen);
/* Claims one due delivery: counts the attempt and holds the row for
 * DELIVERIES_LEASE_S.  1 claimed (*d filled), 0 none, -1 error. */
int	deliveries_claim(PGconn *, struct delivery *d, char *errbuf,
	    size_t errlen);
/* Records an attempt's outcome.  status: HTTP status or 0 (no answer);
 * ok: 2xx; permanent: state failed at once.  response may be NULL. */
int	deliveries_finish(PGconn *, const struct delivery *d, int ok,
	    int permanent, long status, const char *response, char *errbuf,
	    size_t errlen);
/* Makes a delivery pending and due now, attempts reset (operator
 * retry).  1 done, 0 no such delivery, -1 error. */
int	deliveries_retry(PGconn *, const char *job, int n, char *errbuf,
	    size_t errlen);

/* The job's deliveries as a JSON array text [{n, target, state,
 * attempts, maxAttempts, nextAt, lastStatus, lastResponse, updated}]
 * (caller frees with free()), "[]" when none. */
int	deliveries_list_json(PGconn *, const char *job, char **json,
	    char *errbuf, size_t errlen);
/* Deliveries by target and state, for /metrics. */
struct deliveries_count {
	char	 dc_target[65];
	char	 dc_state[16];
	int64_t	 dc_n;
};
/* *out (caller frees with free()) gets *n rows; 0 or -1 with errbuf. */
int	deliveries_counts(PGconn *, struct deliveries_count **out, size_t *n,
	    char *errbuf, size_t errlen);
/* Claims polling transaction tid for schedule: 1 claimed (the caller
 * starts the run and calls deliveries_poll_done), 0 seen before (*job
 * set to its job id, "" while the first call is still submitting it),
 * -1 error. */
int	deliveries_poll_claim(PGconn *, const char *tid, const char *schedule,
	    char *job, size_t joblen, char *errbuf, size_t errlen);
/* Records the job a claimed tick started, or forgets the claim when job
 * is NULL (the run failed: a replay may try again). */
int	deliveries_poll_done(PGconn *, const char *tid, const char *job,
	    char *errbuf, size_t errlen);

#endif
