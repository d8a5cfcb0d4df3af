/*
 * jobq_ops.c — the queue's operator verbs, counts, output rows and expiry
 * (declared in jobq.h; jobq.c holds submission, claims, leases, reads).
 *
 * The operator verbs (pause, resume, cancel, retry) are conditional
 * statements whose WHERE clause is the state rule; they never take a
 * lease and never wait for a worker.  A cancel's side effects (the
 * state, finished, files_removed, the dropped pause request, and the
 * files) are written here once, for the admin API and the client's
 * DELETE alike.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/job_files.h"
#include "store/jobq.h"
#include "store/jobq_int.h"

static int	 jobq_verb(PGconn *, const char *, int, const char *const *,
		    enum jobq_state *, char *, size_t);
static void	 jobq_remove_files(const char *, const PGresult *);

/* ---- operator verbs ---------------------------------------------------- */

/*
 * Runs an operator verb's statement ($1 the job id, params[1..] the
 * rest), which RETURNs the state after.  1 and *state, 0 (no row), -1.
 */
static int
jobq_verb(PGconn *conn, const char *sql, int nparams,
    const char *const *params, enum jobq_state *state, char *errbuf,
    size_t errlen)
{
	PGresult	*res;
	enum jobq_state	 st = JOBQ_NSTATES;
	int		 rc = 0;

	res = db_query(conn, sql, nparams, params, errbuf, errlen);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		if (jobq_state_parse(PQgetvalue(res, 0, 0), &st) == -1)
			assert(!"jobs.state outside enum jobq_state");
		rc = 1;
	}
	PQclear(res);
	if (state != NULL)
		*state = st;
	return rc;
}

int
jobq_pause(PGconn *conn, const char *id, enum jobq_state *state,
    char *errbuf, size_t errlen)
{
	const char	*params[1] = { id };
	enum jobq_state	 st = JOBQ_NSTATES;
	int		 rc;

	rc = jobq_verb(conn, "UPDATE jobs SET "
	    "state = CASE WHEN state = 'queued' THEN 'paused' ELSE state END, "
	    "pause_requested = (state = 'running'), updated = now() "
	    "WHERE id = $1 AND (state = 'queued' OR "
	    "(state = 'running' AND NOT pause_requested)) RETURNING state",
	    1, params, &st, errbuf, errlen);
	assert(rc != 1 || st == JOBQ_PAUSED || st == JOBQ_RUNNING);
	if (state != NULL)
		*state = st;
	return rc;
}

int
jobq_resume(PGconn *conn, const char *id, enum jobq_state *state,
    char *errbuf, size_t errlen)
{
	const char	*params[1] = { id };
	enum jobq_state	 st = JOBQ_NSTATES;
	int		 rc;

	rc = jobq_verb(conn, "UPDATE jobs SET "
	    "state = CASE WHEN state = 'paused' THEN 'queued' ELSE state END, "
	    "run_after = CASE WHEN state = 'paused' THEN now() "
	    "ELSE run_after END, pause_requested = false, updated = now() "
	    "WHERE id = $1 AND (state = 'paused' OR "
	    "(state = 'running' AND pause_requested)) RETURNING state",
	    1, params, &st, errbuf, errlen);
	assert(rc != 1 || st == JOBQ_QUEUED || st == JOBQ_RUNNING);
	if (state != NULL)
		*state = st;
	return rc;
}

int
jobq_cancel(PGconn *conn, const char *data_dir, const char *id,
    enum jobq_cancel_how how, enum jobq_state *state, char *errbuf,
    size_t errlen)
{
	const char	*params[2];
	enum jobq_state	 st = JOBQ_NSTATES;
	int		 rc;

	params[0] = id;
	params[1] = how == JOBQ_CANCEL_DELETE ? "t" : "f";
	/*
	 * $2: the client's DELETE, which also takes a finished job's files
	 * (its state stays) and records files_removed, so that the status
	 * URL answers 404 from now on.  The state is decided on the row the
	 * UPDATE sees, not on any earlier read: a job that completed in
	 * between loses its files here; a running one its worker cleans.
	 */
	rc = jobq_verb(conn, "UPDATE jobs SET "
	    "state = CASE WHEN state IN ('queued', 'paused') THEN 'cancelled' "
	    "WHEN state = 'running' THEN 'cancelling' ELSE state END, "
	    "finished = CASE WHEN state IN ('queued', 'paused') THEN now() "
	    "ELSE finished END, "
	    "files_removed = CASE WHEN $2::boolean "
	    "THEN coalesce(files_removed, now()) ELSE files_removed END, "
	    "pause_requested = false, updated = now() "
	    "WHERE id = $1 AND ($2::boolean OR "
	    "state IN ('queued', 'paused', 'running')) RETURNING state",
	    2, params, &st, errbuf, errlen);
	assert(rc != 1 || how == JOBQ_CANCEL_DELETE || st == JOBQ_CANCELLED ||
	    st == JOBQ_CANCELLING);
	/* Committed: a cancelling job's worker removes its own files. */
	if (rc == 1 && st != JOBQ_CANCELLING && data_dir != NULL)
		job_files_remove(data_dir, id);
	if (state != NULL)
		*state = st;
	return rc;
}

int
jobq_retry(PGconn *conn, const char *id, char *newid, size_t newidlen,
    char *errbuf, size_t errlen)
{
	const char	*params[1] = { id };
	PGresult	*res;
	int		 rc = 0;

	res = db_query(conn, "INSERT INTO jobs (kind, params, client, "
	    "priority, max_attempts, retry_of) SELECT kind, params, client, "
	    "priority, max_attempts, id FROM jobs WHERE id = $1 AND "
	    "state IN ('failed', 'cancelled') RETURNING id", 1, params,
	    errbuf, errlen);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		str_lcpy(newid, PQgetvalue(res, 0, 0), newidlen);
		rc = 1;
	}
	PQclear(res);
	return rc;
}

/* ---- counts, outputs, expiry ------------------------------------------- */

int
jobq_count_active(PGconn *conn, const char *kind, const char *client,
    int64_t *n, char *errbuf, size_t errlen)
{
	const char	*params[2] = { kind, client };
	const char	*errstr;
	PGresult	*res;

	*n = 0;
	res = db_query(conn, "SELECT count(*) FROM jobs "
	    "WHERE ($1::text IS NULL OR kind = $1) "
	    "AND ($2::text IS NULL OR client = $2) "
	    "AND state IN ('queued', 'running', 'paused', 'cancelling')", 2,
	    params, errbuf, errlen);
	if (res == NULL)
		return -1;
	(void)str_to_i64(PQgetvalue(res, 0, 0), 0, INT64_MAX, n, &errstr);
	PQclear(res);
	return 0;
}

int
jobq_last_success(PGconn *conn, const char *kind, const char *client,
    const char *except_id, char *id, size_t idlen, char *tt, size_t ttlen,
    char *errbuf, size_t errlen)
{
	const char	*params[3] = { kind, client, except_id };
	PGresult	*res;
	int		 rc = 0;

	res = db_query(conn, "SELECT id, result->>'transactionTime' "
	    "FROM jobs WHERE kind = $1 AND client = $2 "
	    "AND state = 'completed' AND id <> $3 "
	    "AND result->>'transactionTime' IS NOT NULL "
	    "ORDER BY (result->>'transactionTime')::timestamptz DESC, "
	    "finished DESC LIMIT 1", 3, params, errbuf, errlen);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		str_lcpy(id, PQgetvalue(res, 0, 0), idlen);
		str_lcpy(tt, PQgetvalue(res, 0, 1), ttlen);
		rc = 1;
	}
	PQclear(res);
	return rc;
}

int
jobq_outputs_list(PGconn *conn, const char *id, const char *channel,
    struct jobq_outrow **rows, size_t *n, char *errbuf, size_t errlen)
{
	const char		*params[2] = { id, channel };
	struct jobq_outrow	*r;
	const char		*errstr;
	PGresult		*res;
	int64_t			 v;
	int			 i;

	*rows = NULL;
	*n = 0;
	res = db_query(conn, "SELECT seq, channel, type, file, url, count, "
	    "bytes, checksum FROM job_outputs WHERE job_id = $1 "
	    "AND ($2::text IS NULL OR channel = $2) ORDER BY seq", 2, params,
	    errbuf, errlen);
	if (res == NULL)
		return -1;
	*rows = xcalloc((size_t)PQntuples(res) + 1, sizeof(**rows));
	for (i = 0; i < PQntuples(res); i++) {
		r = &(*rows)[i];
		r->r_seq = jobq_int(res, i, 0);
		r->r_channel = jobq_dup(res, i, 1);
		r->r_type = jobq_dup(res, i, 2);
		r->r_file = jobq_dup(res, i, 3);
		r->r_url = jobq_dup(res, i, 4);
		if (str_to_i64(PQgetvalue(res, i, 5), 0, INT64_MAX, &v,
		    &errstr) == 0)
			r->r_count = v;
		if (str_to_i64(PQgetvalue(res, i, 6), 0, INT64_MAX, &v,
		    &errstr) == 0)
			r->r_bytes = v;
		r->r_checksum = jobq_dup(res, i, 7);
	}
	*n = (size_t)PQntuples(res);
	PQclear(res);
	return 0;
}

void
jobq_outrows_free(struct jobq_outrow *rows, size_t n)
{
	size_t	i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(rows[i].r_channel);
		free(rows[i].r_type);
		free(rows[i].r_file);
		free(rows[i].r_url);
		free(rows[i].r_checksum);
	}
	free(rows);
}

int
jobq_output_find(PGconn *conn, const char *id, const char *file,
    int servable, int64_t *bytes, char *checksum, size_t cslen,
    char *errbuf, size_t errlen)
{
	const char	*params[3];
	const char	*errstr;
	PGresult	*res;
	int		 rc = 0;

	params[0] = id;
	params[1] = file;
	params[2] = servable ? "t" : "f";
	res = db_query(conn, "SELECT o.bytes, o.checksum FROM job_outputs o "
	    "JOIN jobs j ON j.id = o.job_id WHERE o.job_id = $1 AND "
	    "o.file = $2 AND (NOT $3::boolean OR (j.state = 'completed' AND "
	    "j.files_removed IS NULL)) LIMIT 1", 3, params, errbuf, errlen);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		if (bytes != NULL)
			(void)str_to_i64(PQgetvalue(res, 0, 0), 0, INT64_MAX,
			    bytes, &errstr);
		if (checksum != NULL)
			str_lcpy(checksum, PQgetvalue(res, 0, 1), cslen);
		rc = 1;
	}
	PQclear(res);
	return rc;
}

int
jobq_output_forget(PGconn *conn, const char *id, const char *url,
    char *errbuf, size_t errlen)
{
	const char	*params[2] = { id, url };

	return db_exec(conn, "DELETE FROM job_outputs WHERE job_id = $1 AND "
	    "url = $2", 2, params, errbuf, errlen);
}

/* Removes the files of every job whose id is column 0 of res. */
static void
jobq_remove_files(const char *data_dir, const PGresult *res)
{
	int	i;

	for (i = 0; i < PQntuples(res); i++)
		job_files_remove(data_dir, PQgetvalue(res, i, 0));
}

int
jobq_expire_files(PGconn *conn, const char *data_dir, int retention_s,
    int batch, int *n, char *errbuf, size_t errlen)
{
	const char	*params[2];
	char		 secs[16], lim[16];
	PGresult	*res;

	*n = 0;
	snprintf(secs, sizeof(secs), "%d", retention_s);
	snprintf(lim, sizeof(lim), "%d", batch);
	params[0] = secs;
	params[1] = lim;
	/* files_removed first, so the status never lists a file that is
	 * about to vanish. */
	res = db_query(conn, "UPDATE jobs SET files_removed = now() "
	    "WHERE id IN (SELECT id FROM jobs WHERE files_removed IS "
	    "NULL AND state IN ('completed', 'failed', 'cancelled') AND "
	    "finished < now() - make_interval(secs => $1::int) AND "
	    "kind IN ('export', 'import', 'renewal-export') LIMIT $2::int) "
	    "RETURNING id", 2, params, errbuf, errlen);
	if (res == NULL)
		return -1;
	jobq_remove_files(data_dir, res);
	*n = PQntuples(res);
	PQclear(res);
	return 0;
}

int
jobq_prune(PGconn *conn, const char *data_dir, int days, int *n,
    char *errbuf, size_t errlen)
{
	const char	*params[1];
	char		 d[16];
	PGresult	*res;

	*n = 0;
	snprintf(d, sizeof(d), "%d", days);
	params[0] = d;
	res = db_query(conn, "DELETE FROM jobs WHERE state IN "
	    "('completed', 'failed', 'cancelled') AND finished < now() - "
	    "make_interval(days => $1::int) RETURNING id", 1, params, errbuf,
	    errlen);
	if (res == NULL)
		return -1;
	jobq_remove_files(data_dir, res);
	*n = PQntuples(res);
	PQclear(res);
	return 0;
}
