/*
 * limits.h — the bulk-work limits, kept as data (schemas/006_limits.sql).
 *
 * One row in table `limits` holds what bounds background work: how many
 * jobs run at once (in total and per kind), rows and bytes per second per
 * job, batch sizes, the statement timeout and nice value of the workers'
 * bulk sessions, and per-kind timeouts and attempts.  Workers re-read it
 * every few seconds and on NOTIFY LIMITS_CHANNEL, so a change takes effect
 * without a restart; the admin API reads and writes it as JSON:
 *
 *	GET /admin/api/limits   -> limits_get_json
 *	PUT /admin/api/limits   -> limits_put_json (a partial object is fine:
 *	                           only the keys given change)
 *
 * The JSON object (every key optional on PUT; GET returns all of them;
 * a map given on PUT replaces the stored map):
 *
 *   max_jobs_total        int 0..1000: jobs running at once (0: no limit)
 *   max_jobs_per_kind     {kind: int 0..1000}: per kind (0: the kind does
 *                         not run; absent: only the total applies)
 *   rows_per_second       int >= 0: per job (0: unlimited)
 *   bytes_per_second      int >= 0: per job (0: unlimited)
 *   import_batch_lines    0 or int 100..10000000: lines per import
 *                         transaction (0: BULKHEAD_IMPORT_BATCH_LINES);
 *                         with rows_per_second set, at most 10 s of rows
 *   statement_timeout_ms  int 0..86400000: workers' bulk sessions (0: none;
 *                         not applied while a rate is set: a throttled
 *                         statement takes as long as the rate makes it)
 *   worker_nice           int 0..19: worker processes and, where
 *                         permitted, their database backends
 *   worker_idle           0 or 1: the same processes in the SCHED_IDLE
 *                         class (1, the default; see 009_worker_idle.sql)
 *   kind_timeout_s        {kind: int 0..604800}: an attempt running longer
 *                         fails for good (0 or absent: no timeout)
 *   kind_max_attempts     {kind: int 1..100}: attempts before a job of the
 *                         kind fails for good (caps the job's own)
 *
 * Kinds must be ones this binary knows (job_kinds.c).
 *
 * PUT validates everything first: a wrong type, a value out of range or an
 * unknown key is an error and nothing changes.
 *
 * Errors: -1 with the reason in a caller-supplied errbuf (bounded); for
 * limits_put_json the reason is meant for the client (HTTP 400) unless the
 * function returned -2 (the database failed: HTTP 500/503).
 * Ownership: struct limits is plain data, no heap; the caller owns it.
 */
#ifndef JOBS_LIMITS_H
#define JOBS_LIMITS_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

struct buf;

#define LIMITS_CHANNEL		"bulkhead_limits"	/* NOTIFY on change */
#define LIMITS_MAX_KINDS	32	/* kinds with per-kind entries */
#define LIMITS_KIND_MAX		64	/* longest kind name (JOBQ_KIND_MAX) */
#define LIMITS_JSON_MAX		16384	/* largest PUT body accepted */
#define LIMITS_RELOAD_S		5	/* workers re-read this often, s */

/* Per-kind limits; a field < 0 means "not set". */
struct limits_kind {
	char	lk_kind[LIMITS_KIND_MAX];
	int	lk_max_jobs;		/* -1: only max_jobs_total applies */
	int	lk_timeout_s;		/* -1 or 0: no timeout */
	int	lk_max_attempts;	/* -1: the job's own max_attempts */
};

struct limits {
	int			lim_max_jobs_total;	/* 0: unlimited */
	int64_t			lim_rows_per_second;	/* 0: unlimited */
	int64_t			lim_bytes_per_second;	/* 0: unlimited */
	int			lim_import_batch_lines;	/* 0: from cfg */
	int			lim_statement_timeout_ms; /* 0: none */
	int			lim_worker_nice;	/* 0..19 */
	int			lim_worker_idle;	/* 0 or 1 */
	size_t			lim_nkinds;
	struct limits_kind	lim_kinds[LIMITS_MAX_KINDS];
};

/* The built-in defaults (the same as the migration's row). */
void	 limits_defaults(struct limits *);
/* Reads the row into *l.  0, or -1 (errbuf) leaving *l unchanged. */
int	 limits_load(PGconn *, struct limits *l, char *errbuf, size_t errlen);
/* The entry for kind, or NULL.  Borrowed from l. */
const struct limits_kind *limits_kind(const struct limits *l,
	    const char *kind);
/* Appends the limits as one JSON object (the format above) to b.  0, or
 * -1 (errbuf): database error or b full. */
int	 limits_get_json(PGconn *, struct buf *b, char *errbuf,
	    size_t errlen);
/* Validates json and applies the keys it has, in one transaction, then
 * NOTIFYs LIMITS_CHANNEL.  0 on success; -1: json is invalid (the reason,
 * fit for a 400, in errbuf; nothing changed); -2: database error. */
int	 limits_put_json(PGconn *, const char *json, char *errbuf,
	    size_t errlen);
/* Writes *l as JSON to b (no database).  0, or -1 if b is full. */
int	 limits_to_json(const struct limits *l, struct buf *b);

#endif
