/*
 * jobq.h — the job queue in PostgreSQL (schemas/002_jobs.sql).
 *
 * Used by the API process (submit, get, list), the workers (claim,
 * heartbeat, save, output, complete, fail, release), the scheduler (reap,
 * counts) and the CLI.  Every function is one parameterised statement on
 * the given connection, so callers may use any connection that is not in
 * the middle of a transaction of their own.
 *
 * Leases: a claimed job belongs to its worker through a struct jobq_lease
 * (job id, owner, attempt number).  Every write about a running job checks
 * all three and returns JOBQ_R_LOST when they no longer match: another
 * worker has taken the job over, or it was finished; the caller must then
 * stop working on it without touching it again.
 *
 * Errors: -1 with the reason in errbuf (bounded, caller-supplied).
 * Ownership: struct jobq_job and arrays of them are allocated here and
 * freed by the caller with jobq_job_free / jobq_jobs_free.
 */
#ifndef JOBS_JOBQ_H
#define JOBS_JOBQ_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

struct buf;

#define JOBQ_CHANNEL	"bulkhead_jobs"	/* NOTIFY channel, payload = kind */
#define JOBQ_ID_MAX	64		/* ids are 32 hex digits */
#define JOBQ_OWNER_MAX	256		/* worker ids: "host:pid:nonce" */
#define JOBQ_KIND_MAX	64		/* longest kind name */
#define JOBQ_JSON_MAX	(1 << 20)	/* params, progress, result... */
#define JOBQ_ERROR_MAX	4096		/* error text stored per job */
#define JOBQ_LIST_MAX	10000		/* most rows jobq_list returns */
#define JOBQ_BACKOFF_MAX 600		/* retry backoff cap, seconds */

/* Results of the lease-checked writes, besides -1 (error). */
#define JOBQ_R_OK		0	/* done; the job is still ours */
#define JOBQ_R_LOST	1	/* not ours any more: stop */
#define JOBQ_R_CANCEL	2	/* ours, but cancel was requested: stop */
#define JOBQ_R_PAUSE	3	/* ours, but a pause was requested: stop */
#define JOBQ_R_RUNNING	4	/* jobq_paused: the pause was withdrawn;
				   still ours and running: go on */

enum jobq_state {
	JOBQ_QUEUED,
	JOBQ_RUNNING,
	JOBQ_PAUSED,
	JOBQ_CANCELLING,
	JOBQ_CANCELLED,
	JOBQ_FAILED,
	JOBQ_COMPLETED,
	JOBQ_NSTATES
};

/* A job row as text.  Timestamps are ISO 8601 UTC ("...Z"); JSON columns
 * are JSON text.  Any pointer but j_id, j_kind and j_params may be NULL
 * (SQL NULL). */
struct jobq_job {
	char		*j_id;
	char		*j_kind;
	char		*j_params;		/* JSON object */
	char		*j_client;		/* requesting client id */
	enum jobq_state	 j_state;
	int		 j_priority;		/* higher runs first */
	char		*j_progress;		/* JSON, per kind */
	char		*j_checkpoint;		/* JSON, per kind */
	int		 j_attempts;		/* claims so far */
	int		 j_max_attempts;
	char		*j_lease_owner;		/* worker id while running */
	char		*j_lease_expires;
	char		*j_heartbeat_at;
	char		*j_run_after;
	char		*j_created;
	char		*j_started;
	char		*j_finished;
	char		*j_updated;
	char		*j_transaction_time;
	char		*j_error;
	char		*j_result;		/* JSON, once completed */
	char		*j_files_removed;	/* when its files went, or NULL */
	char		*j_prev_owner;		/* claim: previous owner */
};

/* One file a job produced (job_outputs). */
struct jobq_output {
	int		 o_seq;			/* set by jobq_output_add */
	const char	*o_channel;		/* "output" (NULL) or "error" */
	const char	*o_type;		/* FHIR resource type */
	const char	*o_file;		/* under data_dir, or NULL */
	const char	*o_url;			/* or NULL */
	int64_t		 o_count;		/* lines */
	int64_t		 o_bytes;
	const char	*o_checksum;		/* sha256 hex, or NULL */
};

/* What a submit creates. */
struct jobq_spec {
	const char	*s_kind;
	const char	*s_params;		/* JSON object, NULL = {} */
	const char	*s_client;		/* may be NULL */
	int		 s_priority;
	int		 s_max_attempts;	/* 0: the kind's limit
						   (kind_max_attempts), else
						   the column default */
};

/* Identifies the holder of a running job; filled by jobq_claim. */
struct jobq_lease {
	char		 l_id[JOBQ_ID_MAX];
	char		 l_owner[JOBQ_OWNER_MAX];
	int		 l_attempt;		/* fencing: attempts at claim */
	int		 l_seconds;		/* lease length */
};

/* Filters for jobq_list; NULL/0 fields do not filter. */
struct jobq_filter {
	const char	*f_kind;
	int		 f_state;		/* enum jobq_state, or -1 */
	const char	*f_client;
	int		 f_limit;		/* 1..JOBQ_LIST_MAX, 0 = 100 */
};

const char	*jobq_state_name(enum jobq_state);
/* Returns 0 and sets *out, or -1 for an unknown name. */
int		 jobq_state_parse(const char *, enum jobq_state *out);
/* True for cancelled, failed and completed. */
int		 jobq_state_is_final(enum jobq_state);

/* Inserts a queued job and writes its id into id (JOBQ_ID_MAX bytes
 * suffice).  The NOTIFY trigger wakes idle workers. */
int	 jobq_submit(PGconn *, const struct jobq_spec *, char *id,
	    size_t idlen, char *errbuf, size_t errlen);

/*
 * Claims the best claimable job of one of the kinds (all kinds if
 * nkinds == 0): queued with run_after passed, or running with an expired
 * lease and attempts left (a takeover: the checkpoint is kept), and no
 * pause requested.  The limits row (schemas/006_limits.sql) is obeyed in
 * the same transaction: no claim while max_jobs_total jobs hold live
 * leases, none of a kind at its max_jobs_per_kind, and a kind's
 * kind_max_attempts caps the job's max_attempts.  Before that, jobq_reap
 * (without requeue) settles dead workers' jobs.  Returns 1 and sets *job
 * and *lease, 0 when nothing is claimable, -1 on error.  Caller frees
 * *job.  Uses a transaction: conn must not be in one.
 */
int	 jobq_claim(PGconn *, const char *owner, const char *const *kinds,
	    size_t nkinds, int lease_seconds, struct jobq_job **job,
	    struct jobq_lease *lease, char *errbuf, size_t errlen);

/* Extends the lease.  JOBQ_R_OK, JOBQ_R_CANCEL, JOBQ_R_PAUSE (the job's
 * pause_requested is set), JOBQ_R_LOST or -1. */
int	 jobq_heartbeat(PGconn *, const struct jobq_lease *, char *errbuf,
	    size_t errlen);
/* Stores progress and/or checkpoint (NULL: unchanged) and extends the
 * lease, in one statement.  Returns as jobq_heartbeat. */
int	 jobq_save(PGconn *, const struct jobq_lease *, const char *progress,
	    const char *checkpoint, char *errbuf, size_t errlen);
int	 jobq_progress(PGconn *, const struct jobq_lease *,
	    const char *progress, char *errbuf, size_t errlen);
int	 jobq_checkpoint(PGconn *, const struct jobq_lease *,
	    const char *checkpoint, char *errbuf, size_t errlen);
/* Records a finished output file and, in the same statement, the
 * checkpoint after it (NULL: unchanged); sets out->o_seq.  Returns as
 * jobq_heartbeat (no row is written unless the lease holds). */
int	 jobq_output_add(PGconn *, const struct jobq_lease *,
	    struct jobq_output *out, const char *checkpoint, char *errbuf,
	    size_t errlen);

/* Finishes the job: completed with result (JSON or NULL).  JOBQ_R_OK,
 * JOBQ_R_LOST or -1; or JOBQ_R_CANCEL when a cancel arrived after the
 * kind's last heartbeat (the job was 'cancelling'): the job is then
 * cancelled, never completed, its job_outputs rows are deleted and
 * files_removed set in the same statement, and the caller must remove
 * the files (job_export_remove_files). */
int	 jobq_complete(PGconn *, const struct jobq_lease *,
	    const char *result, char *errbuf, size_t errlen);
/*
 * Records a failure.  retryable and attempts left: back to queued with
 * run_after = now() + 2^(attempts-1) s (capped at JOBQ_BACKOFF_MAX), or
 * paused if a pause was requested; otherwise failed (cancelled if a
 * cancel was requested).  *final_state (may be NULL) says which.  JOBQ_R_OK,
 * JOBQ_R_LOST or -1.
 */
int	 jobq_fail(PGconn *, const struct jobq_lease *, const char *error,
	    int retryable, enum jobq_state *final_state, char *errbuf,
	    size_t errlen);
/* Gives a job back unfinished (shutdown): queued at once (paused if a
 * pause was requested), lease cleared, checkpoint kept, the attempt not
 * counted; a cancelling job becomes cancelled instead.  JOBQ_R_OK,
 * JOBQ_R_LOST or -1. */
int	 jobq_release(PGconn *, const struct jobq_lease *, char *errbuf,
	    size_t errlen);
/* Parks a job whose pause was requested: paused, lease cleared,
 * checkpoint kept, the attempt not counted, pause_requested cleared; a
 * resume (paused -> queued, by the admin API) continues from the
 * checkpoint.  A cancelling job becomes cancelled instead.  A pause
 * withdrawn since the heartbeat that reported it (pause_requested false
 * again) parks nothing: the job stays running under the same lease,
 * renewed, and JOBQ_R_RUNNING tells the caller to go on with it from its
 * checkpoint.  JOBQ_R_OK, JOBQ_R_RUNNING, JOBQ_R_LOST or -1. */
int	 jobq_paused(PGconn *, const struct jobq_lease *, char *errbuf,
	    size_t errlen);
/* Ends a job whose cancel was requested: cancelled. */
int	 jobq_cancelled(PGconn *, const struct jobq_lease *, char *errbuf,
	    size_t errlen);

/*
 * House-keeping for leases nobody renews: cancelling jobs become
 * cancelled; jobs whose attempt outran their kind's timeout fail ("timed
 * out: ..."), as do those whose lease expired on their last attempt
 * ("worker lost N times"); jobs with a pause requested become paused; and
 * with requeue the others go back to queued (checkpoint kept; the NOTIFY
 * wakes a worker).  Queued jobs with a pause requested become paused.
 * Idempotent; safe beside claims.  The counts (may be NULL) say how many
 * it re-queued and how many it settled otherwise.
 */
int	 jobq_reap(PGconn *, int requeue, int *nfailed, int *nrequeued,
	    char *errbuf, size_t errlen);

/* Reads one job.  1 and *job (caller frees), 0 if there is no such job,
 * -1 on error. */
int	 jobq_get(PGconn *, const char *id, struct jobq_job **job,
	    char *errbuf, size_t errlen);
/* Newest first.  Sets *jobs (caller frees with jobq_jobs_free) and *n. */
int	 jobq_list(PGconn *, const struct jobq_filter *,
	    struct jobq_job ***jobs, size_t *n, char *errbuf, size_t errlen);
/* Appends the job's outputs, in seq order, as a JSON array to b. */
int	 jobq_outputs_json(PGconn *, const char *id, struct buf *b,
	    char *errbuf, size_t errlen);
/* Number of jobs in each state. */
int	 jobq_counts(PGconn *, int64_t counts[JOBQ_NSTATES], char *errbuf,
	    size_t errlen);

/* Appends the job as one JSON object to b; -1 if b is full. */
int	 jobq_job_json(const struct jobq_job *, struct buf *b);
void	 jobq_job_free(struct jobq_job *);
void	 jobq_jobs_free(struct jobq_job **, size_t n);

#endif
