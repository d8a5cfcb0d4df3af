/*
 * jobq.h — the job queue in PostgreSQL (schemas/002_jobs.sql).
 *
 * The only code that reads or writes the jobs and job_outputs tables:
 * every other module goes through a verb here.  Used by the API process
 * (submit, get, list, the operator verbs pause, resume, cancel and
 * retry, counts of active jobs, output lists), the workers (claim,
 * heartbeat, save, output, complete, fail, release), the scheduler and
 * house-keeping (reap, counts, expiry, pruning) and the CLI.  Every
 * function but jobq_claim is one parameterised statement on the given
 * connection, so callers may use any connection that is not in the
 * middle of a transaction of their own, or run one inside theirs (the
 * audit triggers of store/audit.h, a kick-off's advisory lock).
 *
 * Leases: a claimed job belongs to its worker through a struct jobq_lease
 * (job id, owner, attempt number).  Every write about a running job checks
 * all three and returns JOBQ_R_LOST when they no longer match: another
 * worker has taken the job over, or it was finished; the caller must then
 * stop working on it without touching it again.
 *
 * Files: a job's output directory is job_files.h's; the verbs whose
 * effect ends a job's files (cancel, expiry, pruning) remove them
 * through job_files_remove after their statement committed.
 *
 * Errors: -1 with the reason in errbuf (bounded, caller-supplied).
 * Ownership: struct jobq_job and arrays of them are allocated here and
 * freed by the caller with jobq_job_free / jobq_jobs_free; output rows
 * with jobq_outrows_free.
 */
#ifndef STORE_JOBQ_H
#define STORE_JOBQ_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
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
	int		 j_pause_requested;	/* a pause awaits its worker */
	char		*j_retry_of;		/* the job this one retries */
	char		*j_not_before;		/* not claimed before, or NULL */
	char		*j_fire_at;		/* the schedule fire it stands
						   for, or NULL */
	int		 j_scheduled;		/* queued, not_before to come:
						   shown as "scheduled" */
	int64_t		 j_rows;		/* rows processed (import:
						   loaded; export: in output
						   files), -1: unknown */
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

/* A job_outputs row as read back (jobq_outputs_list).  Strings are
 * owned by the array (jobq_outrows_free); file, url and checksum may be
 * NULL. */
struct jobq_outrow {
	int		 r_seq;
	char		*r_channel;		/* "output", "deleted", "error" */
	char		*r_type;		/* FHIR resource type */
	char		*r_file;		/* relative to data_dir */
	char		*r_url;			/* e.g. an import's input */
	int64_t		 r_count;		/* lines */
	int64_t		 r_bytes;
	char		*r_checksum;		/* sha256 hex */
};

/* Who cancels (jobq_cancel). */
enum jobq_cancel_how {
	JOBQ_CANCEL_OPERATOR,	/* admin API: queued, paused or running */
	JOBQ_CANCEL_DELETE,	/* the client's DELETE of a bulk job: any
				   state; the files are gone for good */
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
	const char	*s_not_before;		/* RFC 3339 with offset: not
						   claimed before; NULL: now */
	time_t		 s_fire_at;		/* a schedule's fire instant
						   (jobs.fire_at), 0: none */
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
	const char	*f_before;		/* page cursor: only jobs older
						   than this job id */
	const char	*f_since;		/* timestamptz: only jobs
						   updated at or after it */
	int		 f_sched;		/* 0 any, 1 only queued with
						   not_before to come
						   ("scheduled"), 2 none of
						   those */
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
 * nkinds == 0): queued with run_after and not_before passed, or running
 * with an expired lease and attempts left (a takeover: the checkpoint is kept), and no
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
 * the files (job_files_remove). */
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
/* The completed jobs of client whose files are still there and that
 * finished after since (timestamptz text; NULL: any time), oldest
 * finish first, at most limit (1..JOBQ_LIST_MAX): the OpenHIM outputs
 * poll.  Sets *jobs (caller frees with jobq_jobs_free) and *n.  0, -1. */
int	 jobq_completed_since(PGconn *, const char *client, const char *since,
	    int limit, struct jobq_job ***jobs, size_t *n, char *errbuf,
	    size_t errlen);
/* Appends the job's outputs, in seq order, as a JSON array to b. */
int	 jobq_outputs_json(PGconn *, const char *id, struct buf *b,
	    char *errbuf, size_t errlen);
/* Number of jobs in each state. */
int	 jobq_counts(PGconn *, int64_t counts[JOBQ_NSTATES], char *errbuf,
	    size_t errlen);

/*
 * OPERATOR VERBS.  Each is one conditional statement whose WHERE clause
 * is the state rule (api/admin_api.h, JOB STATE RULES), so that a worker
 * changing the job at the same moment is never overruled: a pre-check by
 * the caller only makes its refusal precise.  1 when the rule allowed it
 * (*state, if not NULL, is the state after), 0 when it refused or there
 * is no such job (read the job to tell why), -1 on error.
 */
/* queued -> paused; running -> running with pause_requested. */
int	 jobq_pause(PGconn *, const char *id, enum jobq_state *state,
	    char *errbuf, size_t errlen);
/* paused -> queued (run_after now); running with a pause requested ->
 * the request withdrawn. */
int	 jobq_resume(PGconn *, const char *id, enum jobq_state *state,
	    char *errbuf, size_t errlen);
/*
 * The one cancel.  queued or paused -> cancelled at once; running ->
 * cancelling (its worker stops, removes its partial files and ends it
 * cancelled: jobq_cancelled, jobq_complete, jobq_fail); a pause request
 * is dropped.  JOBQ_CANCEL_OPERATOR refuses other states.
 * JOBQ_CANCEL_DELETE applies to a job in any state (a finished one keeps
 * its state) and sets files_removed, so its status and files are gone
 * for good.  Unless the job is now cancelling, its files under data_dir
 * (NULL: the caller's business) are removed after the statement.  The
 * caller drops what it caches about the job (export_cache_invalidate).
 */
int	 jobq_cancel(PGconn *, const char *data_dir, const char *id,
	    enum jobq_cancel_how how, enum jobq_state *state, char *errbuf,
	    size_t errlen);
/* failed or cancelled -> a new queued job with the same kind, params,
 * client, priority and max_attempts, retry_of = id; its id into newid
 * (JOBQ_ID_MAX bytes suffice).  1, 0 (refused), -1. */
int	 jobq_retry(PGconn *, const char *id, char *newid, size_t newidlen,
	    char *errbuf, size_t errlen);

/* Jobs not yet finished (queued, running, paused, cancelling) of kind and
 * client (NULL: any) into *n: the kick-offs' concurrency limits.  0, -1. */
int	 jobq_count_active(PGconn *, const char *kind, const char *client,
	    int64_t *n, char *errbuf, size_t errlen);
/* The newest completed job of kind and client other than except_id
 * whose result has a transactionTime: its id and that time (ISO text, as
 * stored) into id and tt.  1, 0 (none), -1.  Export's since=last-success. */
int	 jobq_last_success(PGconn *, const char *kind, const char *client,
	    const char *except_id, char *id, size_t idlen, char *tt,
	    size_t ttlen, char *errbuf, size_t errlen);

/* The job's outputs in seq order, only those of channel unless NULL: *rows
 * (caller frees with jobq_outrows_free) and *n.  0 or -1. */
int	 jobq_outputs_list(PGconn *, const char *id, const char *channel,
	    struct jobq_outrow **rows, size_t *n, char *errbuf,
	    size_t errlen);
void	 jobq_outrows_free(struct jobq_outrow *, size_t n);
/*
 * Whether a job_outputs row of job id names file (relative to data_dir).
 * With servable, only while the file may be downloaded: the job
 * completed and its files not removed; then *bytes and checksum (may be
 * NULL; "" for SQL NULL) are filled.  1, 0 (no), -1.
 */
int	 jobq_output_find(PGconn *, const char *id, const char *file,
	    int servable, int64_t *bytes, char *checksum, size_t cslen,
	    char *errbuf, size_t errlen);
/* Deletes the job's rows for input url: an import forgetting what an
 * interrupted attempt recorded for an input it redoes.  0 or -1. */
int	 jobq_output_forget(PGconn *, const char *id, const char *url,
	    char *errbuf, size_t errlen);

/*
 * Expiry: at most batch finished bulk jobs (export, import,
 * renewal-export) that finished over retention_s seconds ago and still
 * have their files get files_removed set, then their files under
 * data_dir are removed.  *n: how many (0: none left).  0 or -1.
 */
int	 jobq_expire_files(PGconn *, const char *data_dir, int retention_s,
	    int batch, int *n, char *errbuf, size_t errlen);
/* Pruning: deletes finished jobs older than days (their outputs go with
 * them) and removes their files under data_dir.  *n: how many.  0, -1. */
int	 jobq_prune(PGconn *, const char *data_dir, int days, int *n,
	    char *errbuf, size_t errlen);

/*
 * THE CONSOLE'S READS (jobq_console.c).  Instants are epoch seconds;
 * "state" is the state the admin API shows ("scheduled" for a queued
 * job whose not_before is to come).  Arrays are the caller's, freed
 * with free(); -1 on error.
 */
#define JOBQ_STATE_MAX	16	/* "cancelling" + NUL fits */
#define JOBQ_SCHED_MAX	72	/* a schedule name + NUL fits */

/* A job a schedule's fire submitted (jobs.fire_at). */
struct jobq_fire {
	char	f_schedule[JOBQ_SCHED_MAX];
	time_t	f_at;
	char	f_id[JOBQ_ID_MAX];
	char	f_state[JOBQ_STATE_MAX];
};
/* A delayed one-off job (jobs.not_before). */
struct jobq_delayed {
	char	d_id[JOBQ_ID_MAX];
	char	d_kind[JOBQ_KIND_MAX];
	time_t	d_not_before;
	char	d_state[JOBQ_STATE_MAX];
};
/* Jobs by kind and shown state, for /metrics. */
struct jobq_stat {
	char	 st_kind[JOBQ_KIND_MAX];
	char	 st_state[JOBQ_STATE_MAX];
	int64_t	 st_jobs;
	int64_t	 st_rows;		/* JOBQ_ROWS summed */
	int64_t	 st_bytes;		/* output file bytes summed */
	double	 st_oldest_s;		/* queued: age of the oldest that
					   may be claimed now, else 0 */
};

/* Scheduled jobs whose fire instant is in [from, to), by instant, at
 * most max.  0 or -1. */
int	 jobq_fires(PGconn *, time_t from, time_t to, size_t max,
	    struct jobq_fire **out, size_t *n, char *errbuf, size_t errlen);
/* Jobs with not_before in [from, to), by not_before, at most max. */
int	 jobq_delayed_list(PGconn *, time_t from, time_t to, size_t max,
	    struct jobq_delayed **out, size_t *n, char *errbuf,
	    size_t errlen);
/* The shown state of each job of ids (into states[i], JOBQ_STATE_MAX
 * bytes each; "" for a job that is gone).  0 or -1. */
int	 jobq_states(PGconn *, const char *const *ids, size_t n,
	    char (*states)[JOBQ_STATE_MAX], char *errbuf, size_t errlen);
/* Worker processes holding a live lease (*busy), and those whose
 * processes row (store/procstats.h) is under fresh_s seconds old and
 * that hold none (*idle).  0 or -1. */
int	 jobq_workers(PGconn *, int fresh_s, int64_t *busy, int64_t *idle,
	    char *errbuf, size_t errlen);
/* Every (kind, shown state) with its counts, in one statement. */
int	 jobq_stats(PGconn *, struct jobq_stat **out, size_t *n,
	    char *errbuf, size_t errlen);

/* Appends the job as one JSON object to b; -1 if b is full. */
int	 jobq_job_json(const struct jobq_job *, struct buf *b);
void	 jobq_job_free(struct jobq_job *);
void	 jobq_jobs_free(struct jobq_job **, size_t n);

#endif
