/*
 * jobq.c — the job queue: one parameterised statement per operation.
 *
 * DESIGN.  PostgreSQL is the queue.  A claim is a single UPDATE over a
 * sub-select with FOR UPDATE SKIP LOCKED, so concurrent workers never take
 * the same row and never wait for each other.  A claimed job carries a
 * lease; its worker renews it (heartbeat) and every later write checks
 * the lease (id, owner, attempts), which makes attempts a fencing token: a
 * worker that stalled past its lease and was replaced gets JOBQ_R_LOST
 * instead of overwriting its successor's work.  Expired leases are
 * rescued by the next claim (takeover, checkpoint kept) or by the
 * scheduler's jobq_reap; a job whose last attempt's lease expired fails
 * rather than running forever.
 *
 * Timestamps are returned as ISO 8601 UTC text and JSON columns as text,
 * so callers never depend on the session's DateStyle or TimeZone.
 *
 * The operator verbs, counts, output rows and expiry are in
 * jobq_ops.c; this file holds submission, claims, leases and reads.
 *
 * Invariants are assert()ed where they cost a comparison: a lease has an
 * id, an owner, an attempt >= 1 and a positive length; a claim returns a
 * running job leased to the claimer with attempts >= 1;
 * every verb returns a state its statement can produce.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/jobq.h"
#include "store/jobq_int.h"

/* Adds n (an SQL expression) lease rescues to the /metrics counter of
 * schemas/019_process_metrics.sql; writes nothing when n is 0. */
#define JOBQ_COUNT_RESCUES(n) \
	"UPDATE metric_counters SET value = value + " n " " \
	"WHERE name = 'lease_rescues' AND label = '' AND " n " > 0"

#define JOBQ_TS(c) \
	"to_char(" c " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The column list every read returns; jobq_row() follows this order. */
#define JOBQ_COLS \
	"j.id, j.kind, j.params::text, j.client, j.state, j.priority, " \
	"j.progress::text, j.checkpoint::text, j.attempts, j.max_attempts, " \
	"j.lease_owner, " JOBQ_TS("j.lease_expires") ", " \
	JOBQ_TS("j.heartbeat_at") ", " JOBQ_TS("j.run_after") ", " \
	JOBQ_TS("j.created") ", " JOBQ_TS("j.started") ", " \
	JOBQ_TS("j.finished") ", " JOBQ_TS("j.updated") ", " \
	JOBQ_TS("j.transaction_time") ", j.error, j.result::text, " \
	JOBQ_TS("j.files_removed") ", coalesce(j.pause_requested, false), " \
	"j.retry_of, " JOBQ_TS("j.not_before") ", " JOBQ_TS("j.fire_at") ", " \
	"(j.state = 'queued' AND j.not_before > now()), " JOBQ_ROWS("j")
#define JOBQ_NCOLS 28

/* The lease check of every write about a running job: $1 id, $2 owner,
 * $3 attempt. */
#define JOBQ_LEASE_WHERE \
	" WHERE id = $1 AND lease_owner = $2 AND attempts = $3::int" \
	" AND state IN ('running', 'cancelling')"

/* Whether a pause was requested, as the column named "pause". */
#define JOBQ_PAUSE "coalesce(pause_requested, false) AS pause"

/* Arbitrary constant: claims serialise on it while they count running
 * jobs against the limits (migrate.c 7431001, scheduler.c 7431002). */
#define JOBQ_CLAIM_LOCK_KEY "7431003"

/*
 * Per-kind limits of row j (jobs) from lim (limits, LEFT JOINed: a
 * missing row means no limits): the effective max attempts, and the
 * timeout in seconds (0: none).
 */
#define JOBQ_EFF_MAX(j) \
	"least(" j ".max_attempts, coalesce((lim.kind_max_attempts ->> " \
	j ".kind)::int, " j ".max_attempts))"
#define JOBQ_TIMEOUT(j) \
	"coalesce((lim.kind_timeout_s ->> " j ".kind)::int, 0)"

/* Lease length as an interval, from parameter $4. */
#define JOBQ_LEASE_UNTIL "now() + make_interval(secs => $4::int)"

static const char *jobq_state_names[JOBQ_NSTATES] = {
	"queued", "running", "paused", "cancelling", "cancelled", "failed",
	"completed",
};

static struct jobq_job *jobq_row(const PGresult *, int);
static void	 jobq_lease_params(const struct jobq_lease *, char *, size_t,
		    char *, size_t, const char **);
static int	 jobq_lease_result(PGresult *, PGconn *, char *, size_t);
static int	 jobq_json_field(struct buf *, const char *, const char *,
		    int);

const char *
jobq_state_name(enum jobq_state s)
{
	if ((int)s < 0 || s >= JOBQ_NSTATES)
		return "unknown";
	return jobq_state_names[s];
}

int
jobq_state_parse(const char *name, enum jobq_state *out)
{
	int	i;

	for (i = 0; i < JOBQ_NSTATES; i++) {
		if (strcmp(name, jobq_state_names[i]) == 0) {
			*out = (enum jobq_state)i;
			return 0;
		}
	}
	return -1;
}

int
jobq_state_is_final(enum jobq_state s)
{
	return s == JOBQ_CANCELLED || s == JOBQ_FAILED || s == JOBQ_COMPLETED;
}

/* Copies a field, or NULL for SQL NULL. */
char *
jobq_dup(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return xstrdup(PQgetvalue(res, row, col));
}

int
jobq_int(const PGresult *res, int row, int col)
{
	const char	*errstr;
	int64_t		 v;

	if (PQgetisnull(res, row, col) || str_to_i64(PQgetvalue(res, row,
	    col), -2147483647 - 1, 2147483647, &v, &errstr) == -1)
		return 0;
	return (int)v;
}

/* Builds a job from a row in JOBQ_COLS order.  Caller frees. */
static struct jobq_job *
jobq_row(const PGresult *res, int row)
{
	struct jobq_job	*j;
	enum jobq_state	 st = JOBQ_QUEUED;

	j = xcalloc(1, sizeof(*j));
	j->j_id = jobq_dup(res, row, 0);
	j->j_kind = jobq_dup(res, row, 1);
	j->j_params = jobq_dup(res, row, 2);
	j->j_client = jobq_dup(res, row, 3);
	/* The CHECK on jobs.state allows only the names we know. */
	if (jobq_state_parse(PQgetvalue(res, row, 4), &st) == -1)
		assert(!"jobs.state outside enum jobq_state");
	j->j_state = st;
	j->j_priority = jobq_int(res, row, 5);
	j->j_progress = jobq_dup(res, row, 6);
	j->j_checkpoint = jobq_dup(res, row, 7);
	j->j_attempts = jobq_int(res, row, 8);
	j->j_max_attempts = jobq_int(res, row, 9);
	j->j_lease_owner = jobq_dup(res, row, 10);
	j->j_lease_expires = jobq_dup(res, row, 11);
	j->j_heartbeat_at = jobq_dup(res, row, 12);
	j->j_run_after = jobq_dup(res, row, 13);
	j->j_created = jobq_dup(res, row, 14);
	j->j_started = jobq_dup(res, row, 15);
	j->j_finished = jobq_dup(res, row, 16);
	j->j_updated = jobq_dup(res, row, 17);
	j->j_transaction_time = jobq_dup(res, row, 18);
	j->j_error = jobq_dup(res, row, 19);
	j->j_result = jobq_dup(res, row, 20);
	j->j_files_removed = jobq_dup(res, row, 21);
	j->j_pause_requested = strcmp(PQgetvalue(res, row, 22), "t") == 0;
	j->j_retry_of = jobq_dup(res, row, 23);
	j->j_not_before = jobq_dup(res, row, 24);
	j->j_fire_at = jobq_dup(res, row, 25);
	j->j_scheduled = strcmp(PQgetvalue(res, row, 26), "t") == 0;
	j->j_rows = PQgetisnull(res, row, 27) ? -1 :
	    strtoll(PQgetvalue(res, row, 27), NULL, 10);
	if (PQnfields(res) > JOBQ_NCOLS)
		j->j_prev_owner = jobq_dup(res, row, JOBQ_NCOLS);
	if (j->j_params == NULL)
		j->j_params = xstrdup("{}");
	return j;
}

/* Every row of res as a NULL-terminated array of jobs; clears res. */
static void
jobq_rows(PGresult *res, struct jobq_job ***jobs, size_t *n)
{
	int	i;

	*jobs = xcalloc((size_t)PQntuples(res) + 1, sizeof(**jobs));
	for (i = 0; i < PQntuples(res); i++)
		(*jobs)[i] = jobq_row(res, i);
	*n = (size_t)PQntuples(res);
	PQclear(res);
}

void
jobq_job_free(struct jobq_job *j)
{
	if (j == NULL)
		return;
	free(j->j_id);
	free(j->j_kind);
	free(j->j_params);
	free(j->j_client);
	free(j->j_progress);
	free(j->j_checkpoint);
	free(j->j_lease_owner);
	free(j->j_lease_expires);
	free(j->j_heartbeat_at);
	free(j->j_run_after);
	free(j->j_created);
	free(j->j_started);
	free(j->j_finished);
	free(j->j_updated);
	free(j->j_transaction_time);
	free(j->j_error);
	free(j->j_result);
	free(j->j_files_removed);
	free(j->j_retry_of);
	free(j->j_not_before);
	free(j->j_fire_at);
	free(j->j_prev_owner);
	free(j);
}

void
jobq_jobs_free(struct jobq_job **jobs, size_t n)
{
	size_t	i;

	if (jobs == NULL)
		return;
	for (i = 0; i < n; i++)
		jobq_job_free(jobs[i]);
	free(jobs);
}

int
jobq_submit(PGconn *conn, const struct jobq_spec *spec, char *id,
    size_t idlen, char *errbuf, size_t errlen)
{
	const char	*params[7];
	char		 prio[16], maxa[16], fire[32];
	PGresult	*res;

	snprintf(prio, sizeof(prio), "%d", spec->s_priority);
	snprintf(maxa, sizeof(maxa), "%d", spec->s_max_attempts);
	snprintf(fire, sizeof(fire), "%lld", (long long)spec->s_fire_at);
	params[0] = spec->s_kind;
	params[1] = spec->s_params != NULL ? spec->s_params : "{}";
	params[2] = spec->s_client;
	params[3] = prio;
	params[4] = spec->s_max_attempts > 0 ? maxa : NULL;
	params[5] = spec->s_not_before;
	params[6] = spec->s_fire_at != 0 ? fire : NULL;
	res = db_query(conn, "INSERT INTO jobs (kind, params, client, "
	    "priority, max_attempts, not_before, fire_at) VALUES ($1, "
	    "$2::jsonb, $3, $4::int, "
	    "coalesce($5::int, (SELECT (kind_max_attempts ->> $1)::int "
	    "FROM limits), 5), $6::timestamptz, "
	    "to_timestamp($7::bigint)) RETURNING id", 7, params, errbuf,
	    errlen);
	if (res == NULL)
		return -1;
	str_lcpy(id, PQgetvalue(res, 0, 0), idlen);
	PQclear(res);
	return 0;
}

int
jobq_claim(PGconn *conn, const char *owner, const char *const *kinds,
    size_t nkinds, int lease_seconds, struct jobq_job **job,
    struct jobq_lease *lease, char *errbuf, size_t errlen)
{
	struct buf	 kindlist;
	const char	*params[3];
	char		 secs[16], ignore[256];
	PGresult	*res = NULL;
	size_t		 i;
	int		 rc = -1, began = 0;

	*job = NULL;
	buf_init(&kindlist, JOBQ_KIND_MAX * 256);
	for (i = 0; i < nkinds; i++) {
		if (strchr(kinds[i], ',') != NULL ||
		    buf_printf(&kindlist, "%s%s", i ? "," : "", kinds[i]) ==
		    -1) {
			snprintf(errbuf, errlen, "bad kind list");
			goto out;
		}
	}
	if (jobq_reap(conn, 0, NULL, NULL, errbuf, errlen) == -1)
		goto out;
	snprintf(secs, sizeof(secs), "%d", lease_seconds);
	params[0] = owner;
	params[1] = secs;
	params[2] = nkinds > 0 ? kindlist.b_data : NULL;
	/*
	 * The count of running jobs and the claim must be one decision:
	 * two workers counting at once would both see room for one more.
	 * So claims serialise on an advisory lock held to the end of their
	 * transaction, and the UPDATE, a statement of its own, gets a
	 * snapshot taken after the lock: it sees every earlier claim.  Only
	 * live leases count; a job whose lease expired is not running any
	 * more (taking it over adds one).
	 */
	if (db_exec(conn, "BEGIN", 0, NULL, errbuf, errlen) == -1)
		goto out;
	began = 1;
	if (db_exec(conn, "SELECT pg_advisory_xact_lock(" JOBQ_CLAIM_LOCK_KEY
	    ")", 0, NULL, errbuf, errlen) == -1)
		goto out;
	res = db_query(conn, "WITH live AS (SELECT kind, count(*) AS n "
	    "FROM jobs WHERE state IN ('running', 'cancelling') "
	    "AND lease_expires >= now() GROUP BY kind), "
	    "total AS (SELECT coalesce(sum(n), 0) AS n FROM live) "
	    "UPDATE jobs j SET state = 'running', "
	    "lease_owner = $1, "
	    "lease_expires = now() + make_interval(secs => $2::int), "
	    "attempts = j.attempts + 1, started = coalesce(j.started, now()), "
	    "claimed_at = now(), max_attempts = c.eff_max, "
	    "heartbeat_at = now(), updated = now() "
	    "FROM (SELECT q.id, q.lease_owner AS prev_owner, "
	    "q.state = 'running' AS rescued, "
	    JOBQ_EFF_MAX("q") " AS eff_max "
	    "FROM jobs q LEFT JOIN limits lim ON true "
	    "WHERE ((q.state = 'queued' AND q.run_after <= now() "
	    "AND (q.not_before IS NULL OR q.not_before <= now())) "
	    "OR (q.state = 'running' AND q.lease_expires < now() "
	    "AND q.attempts < " JOBQ_EFF_MAX("q") ")) "
	    "AND NOT coalesce(q.pause_requested, false) "
	    "AND ($3::text IS NULL OR q.kind = ANY (string_to_array($3, ','))) "
	    "AND (coalesce(lim.max_jobs_total, 0) = 0 "
	    "OR (SELECT n FROM total) < lim.max_jobs_total) "
	    "AND (NOT coalesce(lim.max_jobs_per_kind ? q.kind, false) "
	    "OR coalesce((SELECT n FROM live WHERE live.kind = q.kind), 0) < "
	    "(lim.max_jobs_per_kind ->> q.kind)::int) "
	    "ORDER BY q.priority DESC, q.created LIMIT 1 "
	    "FOR UPDATE OF q SKIP LOCKED) c "
	    "WHERE j.id = c.id RETURNING " JOBQ_COLS ", c.prev_owner, "
	    "c.rescued", 3, params, errbuf, errlen);
	if (res == NULL)
		goto out;
	/* A takeover of an expired lease is a rescue: counted for
	 * /metrics in the claim's own transaction (019_process_metrics). */
	if (PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, JOBQ_NCOLS + 1), "t") == 0 &&
	    db_exec(conn, JOBQ_COUNT_RESCUES("1"), 0, NULL, errbuf,
	    errlen) == -1)
		goto out;
	if (db_exec(conn, "COMMIT", 0, NULL, errbuf, errlen) == -1)
		goto out;
	began = 0;
	if (PQntuples(res) == 0) {
		rc = 0;
		goto out;
	}
	*job = jobq_row(res, 0);
	assert((*job)->j_state == JOBQ_RUNNING);
	assert((*job)->j_lease_owner != NULL &&
	    strcmp((*job)->j_lease_owner, owner) == 0);
	/* attempts may exceed max_attempts: a queued job is claimed even
	 * after an operator lowered its kind's kind_max_attempts. */
	assert((*job)->j_attempts >= 1);
	str_lcpy(lease->l_id, (*job)->j_id, sizeof(lease->l_id));
	str_lcpy(lease->l_owner, owner, sizeof(lease->l_owner));
	lease->l_attempt = (*job)->j_attempts;
	lease->l_seconds = lease_seconds;
	rc = 1;
 out:
	if (began)
		(void)db_exec(conn, "ROLLBACK", 0, NULL, ignore,
		    sizeof(ignore));
	PQclear(res);
	buf_free(&kindlist);
	return rc;
}

/* Fills params[0..3] (id, owner, attempt, lease seconds) from a lease. */
static void
jobq_lease_params(const struct jobq_lease *l, char *attempt, size_t alen,
    char *secs, size_t slen, const char **params)
{
	assert(l->l_id[0] != '\0' && l->l_owner[0] != '\0');
	assert(l->l_attempt >= 1 && l->l_seconds > 0);
	snprintf(attempt, alen, "%d", l->l_attempt);
	snprintf(secs, slen, "%d", l->l_seconds);
	params[0] = l->l_id;
	params[1] = l->l_owner;
	params[2] = attempt;
	params[3] = secs;
}

/* Maps the result of a lease-checked "... RETURNING state[, ... AS
 * pause]" statement to JOBQ_R_OK, JOBQ_R_CANCEL, JOBQ_R_PAUSE,
 * JOBQ_R_LOST or -1, and clears it. */
static int
jobq_lease_result(PGresult *res, PGconn *conn, char *errbuf, size_t errlen)
{
	int	rc, col;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_errmsg(conn, errbuf, errlen);
		rc = -1;
	} else if (PQntuples(res) == 0)
		rc = JOBQ_R_LOST;
	else if (strcmp(PQgetvalue(res, 0, 0), "cancelling") == 0)
		rc = JOBQ_R_CANCEL;
	else if ((col = PQfnumber(res, "pause")) >= 0 &&
	    strcmp(PQgetvalue(res, 0, col), "t") == 0)
		rc = JOBQ_R_PAUSE;
	else
		rc = JOBQ_R_OK;
	PQclear(res);
	return rc;
}

int
jobq_heartbeat(PGconn *conn, const struct jobq_lease *l, char *errbuf,
    size_t errlen)
{
	const char	*params[4];
	char		 attempt[16], secs[16];

	jobq_lease_params(l, attempt, sizeof(attempt), secs, sizeof(secs),
	    params);
	return jobq_lease_result(PQexecParams(conn, "UPDATE jobs SET "
	    "lease_expires = " JOBQ_LEASE_UNTIL ", heartbeat_at = now()"
	    JOBQ_LEASE_WHERE " RETURNING state, " JOBQ_PAUSE, 4, NULL, params,
	    NULL, NULL, 0), conn, errbuf, errlen);
}

int
jobq_save(PGconn *conn, const struct jobq_lease *l, const char *progress,
    const char *checkpoint, char *errbuf, size_t errlen)
{
	const char	*params[6];
	char		 attempt[16], secs[16];

	jobq_lease_params(l, attempt, sizeof(attempt), secs, sizeof(secs),
	    params);
	params[4] = progress;
	params[5] = checkpoint;
	return jobq_lease_result(PQexecParams(conn, "UPDATE jobs SET "
	    "progress = coalesce($5::jsonb, progress), "
	    "checkpoint = coalesce($6::jsonb, checkpoint), "
	    "lease_expires = " JOBQ_LEASE_UNTIL ", heartbeat_at = now(), "
	    "updated = now()" JOBQ_LEASE_WHERE " RETURNING state, " JOBQ_PAUSE,
	    6, NULL,
	    params, NULL, NULL, 0), conn, errbuf, errlen);
}

int
jobq_progress(PGconn *conn, const struct jobq_lease *l, const char *progress,
    char *errbuf, size_t errlen)
{
	return jobq_save(conn, l, progress, NULL, errbuf, errlen);
}

int
jobq_checkpoint(PGconn *conn, const struct jobq_lease *l,
    const char *checkpoint, char *errbuf, size_t errlen)
{
	return jobq_save(conn, l, NULL, checkpoint, errbuf, errlen);
}

int
jobq_output_add(PGconn *conn, const struct jobq_lease *l,
    struct jobq_output *o, const char *checkpoint, char *errbuf,
    size_t errlen)
{
	const char	*params[12];
	char		 attempt[16], secs[16], count[32], bytes[32];
	const char	*errstr;
	int64_t		 seq;
	PGresult	*res;
	int		 rc;

	jobq_lease_params(l, attempt, sizeof(attempt), secs, sizeof(secs),
	    params);
	snprintf(count, sizeof(count), "%lld", (long long)o->o_count);
	snprintf(bytes, sizeof(bytes), "%lld", (long long)o->o_bytes);
	params[4] = checkpoint;
	params[5] = o->o_channel;
	params[6] = o->o_type;
	params[7] = o->o_file;
	params[8] = o->o_url;
	params[9] = count;
	params[10] = bytes;
	params[11] = o->o_checksum;
	res = PQexecParams(conn, "WITH own AS (UPDATE jobs SET "
	    "checkpoint = coalesce($5::jsonb, checkpoint), "
	    "lease_expires = " JOBQ_LEASE_UNTIL ", heartbeat_at = now(), "
	    "updated = now()" JOBQ_LEASE_WHERE " RETURNING id, state, "
	    JOBQ_PAUSE ") "
	    "INSERT INTO job_outputs (job_id, seq, channel, type, file, url, "
	    "count, bytes, checksum) SELECT own.id, coalesce((SELECT max(seq) "
	    "FROM job_outputs WHERE job_id = $1), 0) + 1, "
	    "coalesce($6, 'output'), $7, $8, $9, $10::bigint, $11::bigint, $12 "
	    "FROM own RETURNING (SELECT state FROM own), seq, "
	    "(SELECT pause FROM own) AS pause", 12, NULL, params,
	    NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    str_to_i64(PQgetvalue(res, 0, 1), 1, 2147483647, &seq,
	    &errstr) == 0)
		o->o_seq = (int)seq;
	rc = jobq_lease_result(res, conn, errbuf, errlen);
	return rc;
}

int
jobq_complete(PGconn *conn, const struct jobq_lease *l, const char *result,
    char *errbuf, size_t errlen)
{
	const char	*params[5];
	char		 attempt[16], secs[16];

	jobq_lease_params(l, attempt, sizeof(attempt), secs, sizeof(secs),
	    params);
	params[3] = result;
	/*
	 * A cancel (admin API, or the client's DELETE) that arrived after
	 * the kind's last heartbeat finds the job 'cancelling' here: it
	 * wins, the job ends cancelled and its outputs are dropped in the
	 * same statement, so no reader ever sees it completed.  The caller
	 * removes the files (JOBQ_R_CANCEL).  r locks the row first, as in
	 * jobq_fail, so the cancel is seen whenever it committed before.
	 */
	return jobq_lease_result(PQexecParams(conn, "WITH r AS (SELECT "
	    "state = 'cancelling' AS cancel FROM jobs" JOBQ_LEASE_WHERE
	    " FOR UPDATE), gone AS (DELETE FROM job_outputs WHERE "
	    "job_id = $1 AND (SELECT cancel FROM r)) UPDATE jobs SET "
	    "state = CASE WHEN r.cancel THEN 'cancelled' "
	    "ELSE 'completed' END, "
	    "result = CASE WHEN r.cancel THEN NULL ELSE $4::jsonb END, "
	    "error = NULL, files_removed = CASE WHEN r.cancel "
	    "THEN coalesce(files_removed, now()) ELSE files_removed END, "
	    "pause_requested = false, "
	    "finished = now(), updated = now(), lease_owner = NULL, "
	    "lease_expires = NULL FROM r" JOBQ_LEASE_WHERE " RETURNING CASE "
	    "WHEN r.cancel THEN 'cancelling' ELSE 'completed' END", 4,
	    NULL, params, NULL, NULL, 0), conn, errbuf, errlen);
}

int
jobq_fail(PGconn *conn, const struct jobq_lease *l, const char *error,
    int retryable, enum jobq_state *final_state, char *errbuf,
    size_t errlen)
{
	const char	*params[6];
	char		 attempt[16], secs[16], cap[16], msg[JOBQ_ERROR_MAX];
	PGresult	*res;
	enum jobq_state	 st = JOBQ_FAILED;
	int		 rc;

	jobq_lease_params(l, attempt, sizeof(attempt), secs, sizeof(secs),
	    params);
	str_lcpy(msg, error != NULL && *error != '\0' ? error :
	    "failed (no reason given)", sizeof(msg));
	snprintf(cap, sizeof(cap), "%d", JOBQ_BACKOFF_MAX);
	params[3] = retryable ? "t" : "f";
	params[4] = msg;
	params[5] = cap;
	/* retry: retryable, attempts left and no cancel requested; a
	 * retry with a pause requested parks the job paused instead. */
	res = PQexecParams(conn, "WITH r AS (SELECT $4::boolean "
	    "AND attempts < max_attempts AND state = 'running' AS retry, "
	    "state = 'cancelling' AS cancel, "
	    "coalesce(pause_requested, false) AS pause FROM jobs"
	    JOBQ_LEASE_WHERE " FOR UPDATE) UPDATE jobs SET "
	    "state = CASE WHEN r.retry AND r.pause THEN 'paused' "
	    "WHEN r.retry THEN 'queued' WHEN r.cancel "
	    "THEN 'cancelled' ELSE 'failed' END, "
	    "pause_requested = false, "
	    "run_after = CASE WHEN r.retry THEN now() + "
	    "least(power(2, greatest(attempts - 1, 0)), $6::int) * "
	    "interval '1 second' ELSE run_after END, "
	    "finished = CASE WHEN r.retry THEN NULL ELSE now() END, "
	    "error = $5, updated = now(), lease_owner = NULL, "
	    "lease_expires = NULL FROM r" JOBQ_LEASE_WHERE
	    " RETURNING state", 6, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		(void)jobq_state_parse(PQgetvalue(res, 0, 0), &st);
	assert(st == JOBQ_QUEUED || st == JOBQ_PAUSED ||
	    st == JOBQ_CANCELLED || st == JOBQ_FAILED);
	rc = jobq_lease_result(res, conn, errbuf, errlen);
	if (final_state != NULL)
		*final_state = st;
	return rc == JOBQ_R_CANCEL ? JOBQ_R_OK : rc;
}

int
jobq_release(PGconn *conn, const struct jobq_lease *l, char *errbuf,
    size_t errlen)
{
	const char	*params[4];
	char		 attempt[16], secs[16];
	int		 rc;

	jobq_lease_params(l, attempt, sizeof(attempt), secs, sizeof(secs),
	    params);
	rc = jobq_lease_result(PQexecParams(conn, "UPDATE jobs SET "
	    "state = CASE WHEN state = 'cancelling' THEN 'cancelled' "
	    "WHEN coalesce(pause_requested, false) THEN 'paused' "
	    "ELSE 'queued' END, "
	    "finished = CASE WHEN state = 'cancelling' THEN now() END, "
	    "attempts = CASE WHEN state = 'cancelling' THEN attempts "
	    "ELSE greatest(attempts - 1, 0) END, pause_requested = false, "
	    "run_after = now(), updated = now(), lease_owner = NULL, "
	    "lease_expires = NULL" JOBQ_LEASE_WHERE " RETURNING 'released'",
	    3, NULL, params, NULL, NULL, 0), conn, errbuf, errlen);
	return rc;
}

int
jobq_paused(PGconn *conn, const struct jobq_lease *l, char *errbuf,
    size_t errlen)
{
	const char	*params[4];
	char		 attempt[16], secs[16];
	PGresult	*res;

	jobq_lease_params(l, attempt, sizeof(attempt), secs, sizeof(secs),
	    params);
	/*
	 * Like a release, but parked: only a resume (paused -> queued)
	 * makes it claimable again.  A cancel that came meanwhile wins.  A
	 * pause that was withdrawn (resume of a running job clears
	 * pause_requested) between the heartbeat that saw it and this
	 * statement leaves the job running and ours, lease renewed and the
	 * attempt unchanged (it stays the fencing token): JOBQ_R_RUNNING.
	 * UPDATE expressions see the old row; RETURNING sees the new one.
	 */
	res = PQexecParams(conn, "UPDATE jobs SET "
	    "state = CASE WHEN state = 'cancelling' THEN 'cancelled' "
	    "WHEN pause_requested THEN 'paused' ELSE state END, "
	    "finished = CASE WHEN state = 'cancelling' THEN now() END, "
	    "attempts = CASE WHEN state = 'running' AND pause_requested "
	    "THEN greatest(attempts - 1, 0) ELSE attempts END, "
	    "pause_requested = false, updated = now(), "
	    "lease_owner = CASE WHEN state = 'running' AND NOT "
	    "pause_requested THEN lease_owner END, "
	    "lease_expires = CASE WHEN state = 'running' AND NOT "
	    "pause_requested THEN " JOBQ_LEASE_UNTIL " END, "
	    "heartbeat_at = now()" JOBQ_LEASE_WHERE " RETURNING state",
	    4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "running") == 0) {
		PQclear(res);
		return JOBQ_R_RUNNING;
	}
	return jobq_lease_result(res, conn, errbuf, errlen);
}

int
jobq_cancelled(PGconn *conn, const struct jobq_lease *l, char *errbuf,
    size_t errlen)
{
	const char	*params[4];
	char		 attempt[16], secs[16];
	int		 rc;

	jobq_lease_params(l, attempt, sizeof(attempt), secs, sizeof(secs),
	    params);
	rc = jobq_lease_result(PQexecParams(conn, "UPDATE jobs SET "
	    "state = 'cancelled', finished = now(), updated = now(), "
	    "lease_owner = NULL, lease_expires = NULL" JOBQ_LEASE_WHERE
	    " RETURNING 'cancelled'", 3, NULL, params, NULL, NULL, 0), conn,
	    errbuf, errlen);
	return rc;
}

int
jobq_reap(PGconn *conn, int requeue, int *nfailed, int *nrequeued,
    char *errbuf, size_t errlen)
{
	const char	*params[1];
	PGresult	*res;
	int		 i, nf = 0, nq = 0;

	params[0] = requeue ? "t" : "f";
	/*
	 * d: what to settle, and how.  A dead worker's job ends cancelled
	 * (cancel requested), failed (its attempt outran the kind's
	 * timeout, or it was the last attempt), paused (pause requested),
	 * or, with requeue, queued again.  Queued jobs with a pause
	 * requested are parked too, so that no claim starts them.
	 */
	res = db_query(conn, "WITH d AS (SELECT j.id, "
	    "j.state <> 'queued' AS rescued, CASE "
	    "WHEN j.state = 'cancelling' THEN 'cancelled' "
	    "WHEN j.state = 'queued' THEN 'paused' "
	    "WHEN " JOBQ_TIMEOUT("j") " > 0 AND j.claimed_at + "
	    "make_interval(secs => " JOBQ_TIMEOUT("j") ") < now() "
	    "THEN 'timeout' "
	    "WHEN j.attempts >= " JOBQ_EFF_MAX("j") " THEN 'failed' "
	    "WHEN coalesce(j.pause_requested, false) THEN 'paused' "
	    "ELSE 'queued' END AS next, " JOBQ_TIMEOUT("j") " AS tmo "
	    "FROM jobs j LEFT JOIN limits lim ON true "
	    "WHERE (j.state = 'queued' AND coalesce(j.pause_requested, false)) "
	    "OR (j.state IN ('running', 'cancelling') "
	    "AND j.lease_expires < now() AND (j.state = 'cancelling' "
	    "OR $1::boolean OR coalesce(j.pause_requested, false) "
	    "OR j.attempts >= " JOBQ_EFF_MAX("j") " OR ("
	    JOBQ_TIMEOUT("j") " > 0 AND j.claimed_at + "
	    "make_interval(secs => " JOBQ_TIMEOUT("j") ") < now()))) "
	    "FOR UPDATE OF j SKIP LOCKED), "
	    "u AS (UPDATE jobs j SET "
	    "state = CASE WHEN d.next = 'timeout' THEN 'failed' "
	    "ELSE d.next END, "
	    "error = CASE WHEN d.next = 'timeout' THEN 'timed out: the ' || "
	    "j.kind || ' attempt ran longer than its limit of ' || d.tmo || "
	    "' s (limits.kind_timeout_s)' "
	    "WHEN d.next = 'failed' THEN "
	    "'worker lost ' || j.attempts || ' times' ELSE j.error END, "
	    "finished = CASE WHEN d.next IN ('cancelled', 'failed', "
	    "'timeout') THEN now() END, pause_requested = false, "
	    "run_after = now(), updated = now(), lease_owner = NULL, "
	    "lease_expires = NULL FROM d WHERE j.id = d.id "
	    "RETURNING j.state, d.rescued), "
	    /* Expired leases taken back, counted for /metrics in the same
	     * statement (019_process_metrics.sql). */
	    "c AS (" JOBQ_COUNT_RESCUES("(SELECT count(*) FROM u "
	    "WHERE u.rescued)") " RETURNING 1) SELECT state FROM u", 1, params,
	    errbuf, errlen);
	if (res == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 0), "queued") == 0)
			nq++;
		else
			nf++;
	}
	PQclear(res);
	if (nfailed != NULL)
		*nfailed = nf;
	if (nrequeued != NULL)
		*nrequeued = nq;
	return 0;
}

int
jobq_get(PGconn *conn, const char *id, struct jobq_job **job, char *errbuf,
    size_t errlen)
{
	const char	*params[1];
	PGresult	*res;
	int		 rc = 0;

	*job = NULL;
	params[0] = id;
	res = db_query(conn, "SELECT " JOBQ_COLS " FROM jobs j WHERE j.id = $1",
	    1, params, errbuf, errlen);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		*job = jobq_row(res, 0);
		rc = 1;
	}
	PQclear(res);
	return rc;
}

int
jobq_list(PGconn *conn, const struct jobq_filter *f, struct jobq_job ***jobs,
    size_t *n, char *errbuf, size_t errlen)
{
	const char	*params[7];
	char		 limit[16], sched[4];
	PGresult	*res;
	int		 lim;

	*jobs = NULL;
	*n = 0;
	lim = f->f_limit;
	if (lim <= 0)
		lim = 100;
	if (lim > JOBQ_LIST_MAX)
		lim = JOBQ_LIST_MAX;
	snprintf(limit, sizeof(limit), "%d", lim);
	params[0] = f->f_kind;
	params[1] = f->f_state >= 0 && f->f_state < JOBQ_NSTATES ?
	    jobq_state_names[f->f_state] : NULL;
	params[2] = f->f_client;
	params[3] = limit;
	params[4] = f->f_before;
	params[5] = f->f_since;
	snprintf(sched, sizeof(sched), "%d", f->f_sched);
	params[6] = sched;
	/* Newest first; before = the last id of the previous page, so a
	 * page never repeats or skips a job that was there before it. */
	res = db_query(conn, "SELECT " JOBQ_COLS " FROM jobs j "
	    "WHERE ($1::text IS NULL OR j.kind = $1) "
	    "AND ($2::text IS NULL OR j.state = $2) "
	    "AND ($3::text IS NULL OR j.client = $3) "
	    "AND ($5::text IS NULL OR (j.created, j.id) < "
	    "(SELECT b.created, b.id FROM jobs b WHERE b.id = $5)) "
	    "AND ($6::timestamptz IS NULL OR j.updated >= $6::timestamptz) "
	    "AND ($7::int = 0 OR (j.state = 'queued' AND "
	    "coalesce(j.not_before > now(), false)) = ($7::int = 1)) "
	    "ORDER BY j.created DESC, j.id DESC LIMIT $4::int", 7, params,
	    errbuf, errlen);
	if (res == NULL)
		return -1;
	jobq_rows(res, jobs, n);
	return 0;
}

int
jobq_completed_since(PGconn *conn, const char *client, const char *since,
    int limit, struct jobq_job ***jobs, size_t *n, char *errbuf,
    size_t errlen)
{
	const char	*params[3];
	char		 lim[16];
	PGresult	*res;

	*jobs = NULL;
	*n = 0;
	snprintf(lim, sizeof(lim), "%d", limit > 0 && limit <= JOBQ_LIST_MAX ?
	    limit : JOBQ_LIST_MAX);
	params[0] = client;
	params[1] = since;
	params[2] = lim;
	/* Oldest first, so that a caller that gets limit jobs asks again
	 * from the last one's finish.  Compared in milliseconds, the
	 * resolution j_finished is written in: a cursor taken from it then
	 * neither repeats the last job nor skips one finished later in the
	 * same millisecond (the caller cuts on a millisecond boundary). */
	res = db_query(conn, "SELECT " JOBQ_COLS " FROM jobs j "
	    "WHERE j.client = $1 AND j.state = 'completed' "
	    "AND j.files_removed IS NULL "
	    "AND ($2::timestamptz IS NULL OR "
	    "date_trunc('milliseconds', j.finished) > "
	    "date_trunc('milliseconds', $2::timestamptz)) "
	    "ORDER BY j.finished, j.id LIMIT $3::int", 3, params, errbuf,
	    errlen);
	if (res == NULL)
		return -1;
	jobq_rows(res, jobs, n);
	return 0;
}

int
jobq_outputs_json(PGconn *conn, const char *id, struct buf *b, char *errbuf,
    size_t errlen)
{
	const char	*params[1];
	PGresult	*res;
	int		 rc = 0;

	params[0] = id;
	res = db_query(conn, "SELECT coalesce(jsonb_agg(jsonb_build_object("
	    "'seq', seq, 'channel', channel, 'type', type, 'file', file, "
	    "'url', url, 'count', count, 'bytes', bytes, "
	    "'checksum', checksum, 'created', " JOBQ_TS("created")
	    ") ORDER BY seq), '[]')::text FROM job_outputs WHERE job_id = $1",
	    1, params, errbuf, errlen);
	if (res == NULL)
		return -1;
	if (buf_puts(b, PQgetvalue(res, 0, 0)) == -1) {
		snprintf(errbuf, errlen, "output list too large");
		rc = -1;
	}
	PQclear(res);
	return rc;
}

int
jobq_counts(PGconn *conn, int64_t counts[JOBQ_NSTATES], char *errbuf,
    size_t errlen)
{
	PGresult	*res;
	enum jobq_state	 st = JOBQ_NSTATES;
	const char	*errstr;
	int64_t		 v;
	int		 i;

	for (i = 0; i < JOBQ_NSTATES; i++)
		counts[i] = 0;
	res = db_query(conn, "SELECT state, count(*) FROM jobs GROUP BY state",
	    0, NULL, errbuf, errlen);
	if (res == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++)
		if (jobq_state_parse(PQgetvalue(res, i, 0), &st) == 0 &&
		    str_to_i64(PQgetvalue(res, i, 1), 0, INT64_MAX, &v,
		    &errstr) == 0)
			counts[st] = v;
	PQclear(res);
	return 0;
}

/* Appends ,"name":value; value is a JSON text if raw, a string otherwise,
 * null if NULL. */
static int
jobq_json_field(struct buf *b, const char *name, const char *value, int raw)
{
	if (buf_printf(b, ",\"%s\":", name) == -1)
		return -1;
	if (value == NULL)
		return buf_puts(b, "null");
	if (raw)
		return buf_puts(b, value);
	if (buf_putc(b, '"') == -1 ||
	    buf_json_escape(b, value, strlen(value)) == -1)
		return -1;
	return buf_putc(b, '"');
}

int
jobq_job_json(const struct jobq_job *j, struct buf *b)
{
	if (buf_puts(b, "{\"id\":\"") == -1 ||
	    buf_json_escape(b, j->j_id, strlen(j->j_id)) == -1 ||
	    buf_putc(b, '"') == -1 ||
	    jobq_json_field(b, "kind", j->j_kind, 0) == -1 ||
	    jobq_json_field(b, "state", j->j_scheduled ? "scheduled" :
	    jobq_state_name(j->j_state), 0) == -1 ||
	    jobq_json_field(b, "params", j->j_params, 1) == -1 ||
	    jobq_json_field(b, "client", j->j_client, 0) == -1 ||
	    buf_printf(b, ",\"priority\":%d,\"attempts\":%d,"
	    "\"max_attempts\":%d", j->j_priority, j->j_attempts,
	    j->j_max_attempts) == -1 ||
	    jobq_json_field(b, "progress", j->j_progress, 1) == -1 ||
	    jobq_json_field(b, "checkpoint", j->j_checkpoint, 1) == -1 ||
	    jobq_json_field(b, "lease_owner", j->j_lease_owner, 0) == -1 ||
	    jobq_json_field(b, "lease_expires", j->j_lease_expires, 0) == -1 ||
	    jobq_json_field(b, "heartbeat_at", j->j_heartbeat_at, 0) == -1 ||
	    jobq_json_field(b, "run_after", j->j_run_after, 0) == -1 ||
	    jobq_json_field(b, "not_before", j->j_not_before, 0) == -1 ||
	    jobq_json_field(b, "created", j->j_created, 0) == -1 ||
	    jobq_json_field(b, "started", j->j_started, 0) == -1 ||
	    jobq_json_field(b, "finished", j->j_finished, 0) == -1 ||
	    jobq_json_field(b, "updated", j->j_updated, 0) == -1 ||
	    jobq_json_field(b, "transaction_time", j->j_transaction_time, 0) ==
	    -1 ||
	    jobq_json_field(b, "error", j->j_error, 0) == -1 ||
	    jobq_json_field(b, "result", j->j_result, 1) == -1)
		return -1;
	return buf_putc(b, '}');
}
