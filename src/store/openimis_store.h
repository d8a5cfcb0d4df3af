/*
 * openimis_store.h — the openIMIS tables (schemas/017_openimis.sql): the
 * pull's high-water marks and the ids it stored, and the push's claim
 * ledger.  The only code on those tables.
 *
 * Every function runs one statement (or one short transaction where
 * said) on the caller's connection; 0 or -1 with the reason in errbuf.
 * Timestamps travel as text PostgreSQL reads (ISO 8601) or epoch seconds.
 */
#ifndef STORE_OPENIMIS_STORE_H
#define STORE_OPENIMIS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

struct openimis_pull_state {
	int64_t	ps_high_water;	/* epoch seconds; 0: never pulled */
	int64_t	ps_last_full;	/* epoch seconds; 0: never */
};

int	openimis_store_pull_get(PGconn *, const char *type,
	    struct openimis_pull_state *, char *errbuf, size_t errlen);
/* Records a finished pull of type: high_water (epoch), last_full = now()
 * when full, last_total. */
int	openimis_store_pull_done(PGconn *, const char *type,
	    int64_t high_water, int full, int64_t total, char *errbuf,
	    size_t errlen);
/* Marks ids (n of them) of type as seen at seen (text timestamptz). */
int	openimis_store_seen(PGconn *, const char *type, const char *const *ids,
	    size_t n, const char *seen, char *errbuf, size_t errlen);
/* How many ids of type were seen at seen. */
int	openimis_store_seen_count(PGconn *, const char *type,
	    const char *seen, int64_t *n, char *errbuf, size_t errlen);
/* After a full pull that saw everything: the pulled rows of type not
 * seen at seen are marked deleted in the store (a new version) and
 * forgotten.  One transaction; *n gets how many. */
int	openimis_store_reconcile(PGconn *, const char *type,
	    const char *seen, int64_t *n, char *errbuf, size_t errlen);

/* The push ledger. */
enum openimis_push_state {
	OPENIMIS_PUSH_NONE,
	OPENIMIS_PUSH_SENDING,
	OPENIMIS_PUSH_ACCEPTED,
	OPENIMIS_PUSH_REFUSED,
};

/* The state of code in job (NONE if no row). */
int	openimis_store_push_get(PGconn *, const char *job, const char *code,
	    enum openimis_push_state *, char *errbuf, size_t errlen);
/* The states of n codes in job at once: st[i] for codes[i] (NONE if no
 * row).  Codes must be claim codes ([A-Za-z0-9._-]); -1 otherwise. */
int	openimis_store_push_states(PGconn *, const char *job,
	    const char *const *codes, size_t n, enum openimis_push_state *st,
	    char *errbuf, size_t errlen);
/* Writes n 'sending' rows (codes[i], seqs[i], ids[i], sources[i] may be
 * NULL) in one statement and one transaction, committed durably (the
 * rows must survive a crash before their POSTs).  0 or -1. */
int	openimis_store_push_reserve(PGconn *, const char *job, size_t n,
	    const char *const *codes, const int64_t *seqs,
	    const char *const *ids, const char *const *sources, char *errbuf,
	    size_t errlen);
/* Inserts or updates the row of code in job.  A 'sending' row is one
 * statement (it joins the caller's transaction, if any); any other state
 * commits in a transaction of its own without waiting for the WAL flush. */
int	openimis_store_push_set(PGconn *, const char *job, const char *code,
	    int64_t seq, const char *claim_id, const char *source,
	    enum openimis_push_state, int http_status, const char *response,
	    char *errbuf, size_t errlen);
/* Counts of accepted and refused rows of job. */
int	openimis_store_push_counts(PGconn *, const char *job,
	    int64_t *accepted, int64_t *refused, char *errbuf, size_t errlen);
/* Runs fn on every finished row of job in seq order; fn returns 0 or -1
 * to stop.  Strings borrowed for the call. */
typedef int (*openimis_push_row_fn)(void *arg, enum openimis_push_state,
	    const char *code, const char *claim_id, const char *source,
	    int http_status, const char *response);
int	openimis_store_push_each(PGconn *, const char *job,
	    openimis_push_row_fn fn, void *arg, char *errbuf, size_t errlen);

#endif
