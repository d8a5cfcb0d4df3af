/*
 * export_cache.h — the API process's cache of status answers for bulk
 * jobs (GET /fhir/_jobs/{id}), so that polls do not touch PostgreSQL.
 *
 * An answer (struct export_snap) is what a poll sends: status, headers
 * and body, rendered once per load of the job row.  It is served while
 * it is younger than EXPORT_CACHE_TTL_MS, counted from before its load
 * began, or younger than EXPORT_CACHE_STALE_MS while a reload of it is
 * under way or the refresher is woken to make one: a poll does not wait
 * on a reload that a busy database or a busy CPU slows, if there is an
 * answer to give.  One refresher thread, with a connection of its own, reloads
 * the answers being polled every EXPORT_CACHE_FRESH_MS, so request
 * threads seldom load.  On a miss one request thread loads and the
 * others asking for the same job wait for it: a burst of polls costs one
 * query.  Several API processes on one database each keep their own
 * cache; every answer is at most the TTL (while reloading, the stale
 * bound) behind the job store.
 *
 * Answers are keyed by job id alone.  Whether a job is one that status
 * URLs serve (a bulk kind), the client it belongs to and the types a
 * poller's token must cover (AUTH-BE-06) are part of the cached answer,
 * so a poll checks them without a query.
 *
 * export_cache_invalidate drops an answer at once (a DELETE or an admin
 * action in this process) and voids every load that began before it, so
 * a load racing the change cannot put the old answer back.
 *
 * Bounds: EXPORT_CACHE_MAX answers and EXPORT_CACHE_MAX_BYTES of bodies,
 * least recently polled evicted first; bodies over EXPORT_CACHE_MAX_BODY
 * are answered but not kept.
 *
 * Thread safety: every function may be called from any thread; one
 * mutex guards the table and is held only for lookups and swaps.
 */
#ifndef BULK_EXPORT_CACHE_H
#define BULK_EXPORT_CACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

struct cfg;

#define EXPORT_CACHE_TTL_MS	500	/* served older only while reloading */
#define EXPORT_CACHE_STALE_MS	2000	/* ... and never older than this */
#define EXPORT_CACHE_FRESH_MS	100	/* polled answers reloaded so often */
#define EXPORT_CACHE_HOT_MS	3000	/* "being polled": hit this recently */
#define EXPORT_CACHE_MAX	4096	/* answers kept */
#define EXPORT_CACHE_MAX_BYTES	(16 << 20)	/* body bytes kept */
#define EXPORT_CACHE_MAX_BODY	(256 << 10)	/* larger: not kept */
#define EXPORT_CACHE_TYPES	1024	/* sn_types, bytes with NUL */

/* One rendered answer.  Immutable once handed to export_cache_put;
 * reference counted so a request can send it outside the lock. */
struct export_snap {
	unsigned int	 sn_status;	/* HTTP status */
	const char	*sn_reason;	/* phrase for X-Export-Status; static */
	int		 sn_separate;	/* send as 200 + X-Export-Status */
	int		 sn_outcome;	/* an error OperationOutcome rendered
					   per request from sn_code/sn_text */
	const char	*sn_code;	/* issue code, static */
	const char	*sn_ctype;	/* body's content type, static */
	char		 sn_progress[100];	/* X-Progress, or "" */
	char		 sn_retry[16];		/* Retry-After, or "" */
	char		 sn_expires[64];	/* Expires, or "" */
	char		 sn_client[96];		/* the job's client, or "" */
	char		 sn_types[EXPORT_CACHE_TYPES];	/* the types a poll's
					   token must cover: "Patient,Claim",
					   "*" (every type) or "" (none) */
	int		 sn_write;	/* sn_types need write (import) */
	char		*sn_text;	/* diagnostics; owned */
	char		*sn_body;	/* owned, may be NULL */
	size_t		 sn_len;
	atomic_int	 sn_refs;
};

/* Who loads a missed answer, and whether its load still counts. */
struct export_cache_ticket {
	uint64_t	t_epoch;	/* invalidations seen at the lookup */
	uint64_t	t_load;		/* this load's number */
};

/*
 * Renders the answer for job id on conn: 0 and *out (one reference), or
 * -1 when the database failed (reason in errbuf).  Must not keep conn.
 */
typedef int	export_cache_load_fn(const struct cfg *, PGconn *conn,
		    const char *id, struct export_snap **out, char *errbuf,
		    size_t errlen);

/* A zeroed answer holding one reference.  Never NULL. */
struct export_snap *export_snap_new(void);
/* Drops one reference; frees on the last.  NULL is a no-op. */
void	 export_snap_unref(struct export_snap *);

/*
 * Main thread, before the HTTP daemon starts: enables the cache and
 * starts the refresher, which calls load on its own connection (load
 * NULL: no refresher; answers only expire, as unit tests want).  cfg is
 * borrowed until export_cache_stop.  Returns 0, or -1 (errbuf) and the
 * cache stays off: every poll then loads.
 */
int	 export_cache_start(const struct cfg *, export_cache_load_fn *load,
	    char *errbuf, size_t errlen);
/* Main thread, after the daemon stopped: stops the refresher, frees all. */
void	 export_cache_stop(void);

/*
 * A fresh answer for id (caller unrefs), or NULL: the caller now loads
 * it and must end with export_cache_put or export_cache_abandon with
 * *ticket.  May wait (bounded) while another thread loads the same id.
 */
struct export_snap *export_cache_get(const char *id,
	    struct export_cache_ticket *ticket);
/* Keeps snap (takes its own reference) unless the ticket was voided. */
void	 export_cache_put(const char *id,
	    const struct export_cache_ticket *, struct export_snap *snap);
/* Status polls answered from the cache (hits) and loaded (misses,
 * also every poll while the cache is off), since the process started;
 * for /metrics.  Any thread. */
void	 export_cache_stats(uint64_t *hits, uint64_t *misses);
/* The load failed: lets another thread try. */
void	 export_cache_abandon(const char *id,
	    const struct export_cache_ticket *);
/* Drops id's answer and voids loads in flight (see above). */
void	 export_cache_invalidate(const char *id);

#endif
