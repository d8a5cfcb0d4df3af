/*
 * test_jobq_pg.c — two races of the job queue (issue 5, "Two known
 * races"), played step by step against a real PostgreSQL so that the
 * interleaving is the one the test names, every run:
 *
 *  (a) a cancel (admin API or the client's DELETE: state 'cancelling')
 *      that lands after the kind's last heartbeat, while the worker is
 *      finishing: jobq_complete must end the job cancelled with its
 *      outputs removed, never completed (issue 5: "cancel removes
 *      partial outputs and never leaves a job that looks complete");
 *  (b) a pause that the worker saw at a heartbeat and that was then
 *      withdrawn (resume of a running job) before the worker parked the
 *      job: jobq_paused must leave it running under the same lease.
 *
 * With a real worker the window of each race is the few microseconds
 * between two statements of the worker, which no end-to-end test can hit
 * on purpose without a hook in the worker; so the worker's side is
 * played here with the very calls the worker makes (claim, heartbeat,
 * output, complete, paused), and the operator's side with the verbs the
 * admin API calls (jobq_cancel, jobq_pause, jobq_resume).  What the
 * worker does with the answers (remove the files; run the kind again
 * from its checkpoint) is in worker.c's worker_settle and worker_run.
 *
 * Then the operator and reader verbs on their own (issue 12): pause,
 * resume and cancel with their side effects (state, finished,
 * files_removed, the files on disk), retry, count_active, the output
 * list and look-ups, expiry and pruning.
 *
 * Runs only when BULKHEAD_TEST_PG holds a libpq conninfo; it creates a
 * scratch database, migrates it and drops it at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libpq-fe.h"

#include "check.h"
#include "pgcheck.h"
#include "store/jobq.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/job_files.h"
#include "store/migrate.h"

static PGconn	*conn;

static const char *const noop_kind[] = { "noop" };

static char	 datadir[64];		/* scratch data_dir */

static char	*sql1(const char *, const char *);
static int	 sql_is(const char *, const char *, const char *);
static int	 exec1(const char *, const char *);
static int	 claim(const char *, struct jobq_lease *);
static int	 submit(const char *, const char *, char *);
static int	 admin_cancel(const char *);
static int	 admin_pause(const char *);
static int	 admin_resume(const char *);
static int	 make_files(const char *);
static int	 has_files(const char *);
static void	 test_not_before(void);
static void	 test_complete_after_cancel(void);
static void	 test_pause_withdrawn(void);
static void	 test_pause_resume(void);
static void	 test_cancel(void);
static void	 test_retry_count(void);
static void	 test_outputs(void);
static void	 test_expire_prune(void);

static char *
sql1(const char *sql, const char *p)
{
	return pgcheck_sql1(conn, sql, p);
}

/* True if sql1(sql, p) equals want (want NULL: is SQL NULL). */
static int
sql_is(const char *sql, const char *p, const char *want)
{
	char	*v = sql1(sql, p);
	int	 ok;

	ok = want == NULL ? v == NULL : v != NULL && strcmp(v, want) == 0;
	if (!ok)
		fprintf(stderr, "  %s -> %s, want %s\n", sql, v ? v : "NULL",
		    want ? want : "NULL");
	free(v);
	return ok;
}

/* Rows changed by sql (which RETURNs), or -1. */
static int
exec1(const char *sql, const char *p)
{
	const char	*params[1] = { p };
	char		 err[512];
	PGresult	*res;
	int		 n;

	if ((res = db_query(conn, sql, 1, params, err, sizeof(err))) == NULL) {
		fprintf(stderr, "  %s: %s\n", sql, err);
		return -1;
	}
	n = PQntuples(res);
	PQclear(res);
	return n;
}

/* The admin API's verbs, as the operator's side of the races.  1 if
 * applied, 0 if refused, -1. */
static int
admin_cancel(const char *id)
{
	char	err[512];

	return jobq_cancel(conn, datadir, id, JOBQ_CANCEL_OPERATOR, NULL, err,
	    sizeof(err));
}

static int
admin_pause(const char *id)
{
	char	err[512];

	return jobq_pause(conn, id, NULL, err, sizeof(err));
}

static int
admin_resume(const char *id)
{
	char	err[512];

	return jobq_resume(conn, id, NULL, err, sizeof(err));
}

/* Submits a job of kind for client (may be NULL); its id into id
 * (JOBQ_ID_MAX).  0 or -1. */
static int
submit(const char *kind, const char *client, char *id)
{
	struct jobq_spec	spec;
	char			err[512];

	memset(&spec, 0, sizeof(spec));
	spec.s_kind = kind;
	spec.s_client = client;
	if (jobq_submit(conn, &spec, id, JOBQ_ID_MAX, err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "  submit: %s\n", err);
		return -1;
	}
	return 0;
}

/* Creates datadir/jobs/<id>/Basic-0001.ndjson.  0 or -1. */
static int
make_files(const char *id)
{
	char	rel[256], path[1400];
	FILE	*fp;

	if (job_files_dir(id, rel, sizeof(rel)) == -1 ||
	    job_files_path(datadir, rel, path, sizeof(path)) == -1 ||
	    fs_mkdirs(path) == -1 ||
	    job_files_rel(id, "Basic-0001.ndjson", rel, sizeof(rel)) == -1 ||
	    job_files_path(datadir, rel, path, sizeof(path)) == -1 ||
	    (fp = fopen(path, "w")) == NULL)
		return -1;
	fputs("{}\n", fp);
	fclose(fp);
	return 0;
}

/* True if the job's directory exists. */
static int
has_files(const char *id)
{
	char		rel[256], path[1400];
	struct stat	st;

	return job_files_dir(id, rel, sizeof(rel)) == 0 &&
	    job_files_path(datadir, rel, path, sizeof(path)) == 0 &&
	    stat(path, &st) == 0;
}

/* Submits a noop job and claims it as worker "w1".  0 or -1. */
static int
claim(const char *params, struct jobq_lease *lease)
{
	struct jobq_spec	 spec;
	struct jobq_job		*job = NULL;
	char			 id[JOBQ_ID_MAX], err[512];
	int			 rc;

	memset(&spec, 0, sizeof(spec));
	spec.s_kind = "noop";
	spec.s_params = params;
	if (jobq_submit(conn, &spec, id, sizeof(id), err, sizeof(err)) == -1) {
		fprintf(stderr, "  submit: %s\n", err);
		return -1;
	}
	rc = jobq_claim(conn, "w1", noop_kind, 1, 30, &job, lease, err,
	    sizeof(err));
	if (rc != 1 || strcmp(job->j_id, id) != 0) {
		fprintf(stderr, "  claim: %d %s\n", rc, err);
		jobq_job_free(job);
		return -1;
	}
	jobq_job_free(job);
	return 0;
}

/* A delayed job: "scheduled", never claimed before not_before, then
 * claimed like any other; listed by the scheduled filter only. */
static void
test_not_before(void)
{
	struct jobq_spec	  spec;
	struct jobq_filter	  f;
	struct jobq_job		 *job = NULL, **list = NULL;
	struct jobq_lease	  l;
	PGresult		 *res;
	const char		 *params[1];
	char			  id[JOBQ_ID_MAX], err[512];
	size_t			  n = 0;

	memset(&spec, 0, sizeof(spec));
	spec.s_kind = "noop";
	spec.s_not_before = "2999-01-01T00:00:00+03:00";
	CHECK(jobq_submit(conn, &spec, id, sizeof(id), err, sizeof(err)) ==
	    0);
	CHECK(jobq_claim(conn, "w1", noop_kind, 1, 30, &job, &l, err,
	    sizeof(err)) == 0);
	CHECK(job == NULL);
	CHECK(jobq_get(conn, id, &job, err, sizeof(err)) == 1);
	CHECK(job != NULL && job->j_scheduled && job->j_state == JOBQ_QUEUED &&
	    job->j_not_before != NULL &&
	    strcmp(job->j_not_before, "2998-12-31T21:00:00.000Z") == 0);
	jobq_job_free(job);
	job = NULL;
	memset(&f, 0, sizeof(f));
	f.f_state = JOBQ_QUEUED;
	f.f_sched = 1;
	CHECK(jobq_list(conn, &f, &list, &n, err, sizeof(err)) == 0 &&
	    n == 1 && strcmp(list[0]->j_id, id) == 0);
	jobq_jobs_free(list, n);
	f.f_sched = 2;
	CHECK(jobq_list(conn, &f, &list, &n, err, sizeof(err)) == 0 &&
	    n == 0);
	jobq_jobs_free(list, n);
	/* Its time has come. */
	params[0] = id;
	res = PQexecParams(conn, "UPDATE jobs SET not_before = now() - "
	    "interval '1 second' WHERE id = $1", 1, NULL, params, NULL, NULL,
	    0);
	CHECK(PQresultStatus(res) == PGRES_COMMAND_OK);
	PQclear(res);
	CHECK(jobq_claim(conn, "w1", noop_kind, 1, 30, &job, &l, err,
	    sizeof(err)) == 1);
	CHECK(job != NULL && strcmp(job->j_id, id) == 0 && !job->j_scheduled);
	jobq_job_free(job);
	CHECK(jobq_complete(conn, &l, NULL, err, sizeof(err)) == JOBQ_R_OK);
}

static void
test_complete_after_cancel(void)
{
	struct jobq_lease	l;
	struct jobq_output	o;
	char			err[512];

	/* Control: no cancel, the job completes with its output. */
	CHECK(claim("{\"outputs\":1}", &l) == 0);
	memset(&o, 0, sizeof(o));
	o.o_type = "Basic";
	o.o_count = 1;
	CHECK(jobq_output_add(conn, &l, &o, "{\"step\":1}", err,
	    sizeof(err)) == JOBQ_R_OK);
	CHECK(jobq_complete(conn, &l, "{\"steps\":1}", err, sizeof(err)) ==
	    JOBQ_R_OK);
	CHECK(sql_is("SELECT state FROM jobs WHERE id = $1", l.l_id,
	    "completed"));
	CHECK(sql_is("SELECT count(*) FROM job_outputs WHERE job_id = $1",
	    l.l_id, "1"));
	CHECK(sql_is("SELECT files_removed FROM jobs WHERE id = $1", l.l_id,
	    NULL));

	/* The race: the worker recorded its last output (its last
	 * heartbeat), then the cancel arrives, then the worker finishes. */
	CHECK(claim("{\"outputs\":2}", &l) == 0);
	CHECK(jobq_output_add(conn, &l, &o, "{\"step\":1}", err,
	    sizeof(err)) == JOBQ_R_OK);
	CHECK(jobq_output_add(conn, &l, &o, "{\"step\":2}", err,
	    sizeof(err)) == JOBQ_R_OK);
	CHECK(admin_cancel(l.l_id) == 1);
	CHECK(sql_is("SELECT state FROM jobs WHERE id = $1", l.l_id,
	    "cancelling"));
	CHECK(jobq_complete(conn, &l, "{\"steps\":2}", err, sizeof(err)) ==
	    JOBQ_R_CANCEL);
	CHECK(sql_is("SELECT state FROM jobs WHERE id = $1", l.l_id,
	    "cancelled"));
	CHECK(sql_is("SELECT result::text FROM jobs WHERE id = $1", l.l_id,
	    NULL));
	CHECK(sql_is("SELECT count(*) FROM job_outputs WHERE job_id = $1",
	    l.l_id, "0"));
	CHECK(sql_is("SELECT files_removed IS NOT NULL AND finished IS NOT "
	    "NULL AND lease_owner IS NULL FROM jobs WHERE id = $1", l.l_id,
	    "t"));
	/* The lease is spent: nothing more from this worker lands. */
	CHECK(jobq_heartbeat(conn, &l, err, sizeof(err)) == JOBQ_R_LOST);
	CHECK(jobq_complete(conn, &l, NULL, err, sizeof(err)) ==
	    JOBQ_R_LOST);
}

static void
test_pause_withdrawn(void)
{
	struct jobq_lease	l;
	char			err[512];

	/* Control: a pause that stands parks the job, attempt not
	 * counted. */
	CHECK(claim("{\"steps\":5}", &l) == 0);
	CHECK(admin_pause(l.l_id) == 1);
	CHECK(jobq_heartbeat(conn, &l, err, sizeof(err)) == JOBQ_R_PAUSE);
	CHECK(jobq_paused(conn, &l, err, sizeof(err)) == JOBQ_R_OK);
	CHECK(sql_is("SELECT state || ' ' || attempts || ' ' || "
	    "coalesce(lease_owner, '-') || ' ' || pause_requested FROM jobs "
	    "WHERE id = $1", l.l_id, "paused 0 - false"));

	/* The race: the worker saw the pause at a heartbeat and stopped
	 * its kind; the operator resumed before the worker parked it. */
	CHECK(claim("{\"steps\":5}", &l) == 0);
	CHECK(jobq_save(conn, &l, NULL, "{\"step\":2}", err, sizeof(err)) ==
	    JOBQ_R_OK);
	CHECK(admin_pause(l.l_id) == 1);
	CHECK(jobq_heartbeat(conn, &l, err, sizeof(err)) == JOBQ_R_PAUSE);
	CHECK(admin_resume(l.l_id) == 1);
	CHECK(jobq_paused(conn, &l, err, sizeof(err)) == JOBQ_R_RUNNING);
	CHECK(sql_is("SELECT state || ' ' || attempts || ' ' || "
	    "coalesce(lease_owner, '-') || ' ' || pause_requested || ' ' || "
	    "(lease_expires > now()) || ' ' || (checkpoint->>'step') "
	    "FROM jobs WHERE id = $1", l.l_id, "running 1 w1 false true 2"));
	/* Same lease: the worker goes on and finishes it. */
	CHECK(jobq_heartbeat(conn, &l, err, sizeof(err)) == JOBQ_R_OK);
	CHECK(jobq_complete(conn, &l, "{}", err, sizeof(err)) == JOBQ_R_OK);
	CHECK(sql_is("SELECT state FROM jobs WHERE id = $1", l.l_id,
	    "completed"));

	/* A cancel that came with the withdrawn pause still wins. */
	CHECK(claim("{\"steps\":5}", &l) == 0);
	CHECK(admin_pause(l.l_id) == 1);
	CHECK(jobq_heartbeat(conn, &l, err, sizeof(err)) == JOBQ_R_PAUSE);
	CHECK(admin_cancel(l.l_id) == 1);
	CHECK(jobq_paused(conn, &l, err, sizeof(err)) == JOBQ_R_OK);
	CHECK(sql_is("SELECT state FROM jobs WHERE id = $1", l.l_id,
	    "cancelled"));
}

static void
test_pause_resume(void)
{
	struct jobq_lease	 l;
	struct jobq_job		*j = NULL;
	enum jobq_state		 st;
	char			 id[JOBQ_ID_MAX], err[512];

	/* queued -> paused -> queued; each refused when repeated. */
	CHECK(submit("noop", NULL, id) == 0);
	CHECK(jobq_pause(conn, id, &st, err, sizeof(err)) == 1 &&
	    st == JOBQ_PAUSED);
	CHECK(jobq_pause(conn, id, &st, err, sizeof(err)) == 0);
	CHECK(jobq_resume(conn, id, &st, err, sizeof(err)) == 1 &&
	    st == JOBQ_QUEUED);
	CHECK(jobq_resume(conn, id, &st, err, sizeof(err)) == 0);
	CHECK(sql_is("SELECT run_after <= now() FROM jobs WHERE id = $1", id,
	    "t"));
	CHECK(admin_cancel(id) == 1);

	/* running: a pause is a request the job shows until withdrawn. */
	CHECK(claim("{\"steps\":5}", &l) == 0);
	CHECK(jobq_pause(conn, l.l_id, &st, err, sizeof(err)) == 1 &&
	    st == JOBQ_RUNNING);
	CHECK(jobq_get(conn, l.l_id, &j, err, sizeof(err)) == 1 &&
	    j->j_pause_requested && j->j_state == JOBQ_RUNNING);
	jobq_job_free(j);
	j = NULL;
	CHECK(jobq_pause(conn, l.l_id, &st, err, sizeof(err)) == 0);
	CHECK(jobq_resume(conn, l.l_id, &st, err, sizeof(err)) == 1 &&
	    st == JOBQ_RUNNING);
	CHECK(jobq_get(conn, l.l_id, &j, err, sizeof(err)) == 1 &&
	    !j->j_pause_requested);
	jobq_job_free(j);
	CHECK(jobq_complete(conn, &l, "{}", err, sizeof(err)) == JOBQ_R_OK);
	/* Finished jobs refuse both. */
	CHECK(jobq_pause(conn, l.l_id, &st, err, sizeof(err)) == 0);
	CHECK(jobq_resume(conn, l.l_id, &st, err, sizeof(err)) == 0);
	CHECK(jobq_pause(conn, "no-such-job", &st, err, sizeof(err)) == 0);
}

static void
test_cancel(void)
{
	struct jobq_lease	l;
	enum jobq_state		st;
	char			id[JOBQ_ID_MAX], err[512];

	/* Operator, queued with files: cancelled at once, files gone. */
	CHECK(submit("noop", NULL, id) == 0);
	CHECK(make_files(id) == 0 && has_files(id));
	CHECK(jobq_cancel(conn, datadir, id, JOBQ_CANCEL_OPERATOR, &st, err,
	    sizeof(err)) == 1 && st == JOBQ_CANCELLED);
	CHECK(!has_files(id));
	CHECK(sql_is("SELECT (finished IS NOT NULL) || ' ' || "
	    "(files_removed IS NULL) || ' ' || pause_requested FROM jobs "
	    "WHERE id = $1", id, "true true false"));
	/* Again: refused. */
	CHECK(jobq_cancel(conn, datadir, id, JOBQ_CANCEL_OPERATOR, &st, err,
	    sizeof(err)) == 0);

	/* Operator, paused: cancelled. */
	CHECK(submit("noop", NULL, id) == 0);
	CHECK(admin_pause(id) == 1);
	CHECK(jobq_cancel(conn, datadir, id, JOBQ_CANCEL_OPERATOR, &st, err,
	    sizeof(err)) == 1 && st == JOBQ_CANCELLED);

	/* Operator, running with a pause requested: cancelling, the pause
	 * request dropped, the files left to the worker. */
	CHECK(claim("{\"steps\":5}", &l) == 0);
	CHECK(make_files(l.l_id) == 0);
	CHECK(admin_pause(l.l_id) == 1);
	CHECK(jobq_cancel(conn, datadir, l.l_id, JOBQ_CANCEL_OPERATOR, &st,
	    err, sizeof(err)) == 1 && st == JOBQ_CANCELLING);
	CHECK(has_files(l.l_id));
	CHECK(sql_is("SELECT (finished IS NULL) || ' ' || pause_requested "
	    "FROM jobs WHERE id = $1", l.l_id, "true false"));
	CHECK(jobq_heartbeat(conn, &l, err, sizeof(err)) == JOBQ_R_CANCEL);
	CHECK(jobq_cancelled(conn, &l, err, sizeof(err)) == JOBQ_R_OK);
	job_files_remove(datadir, l.l_id);

	/* Operator refuses a completed job; the client's DELETE takes its
	 * files and keeps its state. */
	CHECK(claim("{}", &l) == 0);
	CHECK(make_files(l.l_id) == 0);
	CHECK(jobq_complete(conn, &l, "{}", err, sizeof(err)) == JOBQ_R_OK);
	CHECK(jobq_cancel(conn, datadir, l.l_id, JOBQ_CANCEL_OPERATOR, &st,
	    err, sizeof(err)) == 0);
	CHECK(has_files(l.l_id));
	CHECK(jobq_cancel(conn, datadir, l.l_id, JOBQ_CANCEL_DELETE, &st, err,
	    sizeof(err)) == 1 && st == JOBQ_COMPLETED);
	CHECK(!has_files(l.l_id));
	CHECK(sql_is("SELECT state || ' ' || (files_removed IS NOT NULL) "
	    "FROM jobs WHERE id = $1", l.l_id, "completed true"));

	/* The client's DELETE of a queued job: cancelled, files_removed. */
	CHECK(submit("export", "c1", id) == 0);
	CHECK(jobq_cancel(conn, NULL, id, JOBQ_CANCEL_DELETE, &st, err,
	    sizeof(err)) == 1 && st == JOBQ_CANCELLED);
	CHECK(sql_is("SELECT state || ' ' || (files_removed IS NOT NULL) || "
	    "' ' || (finished IS NOT NULL) FROM jobs WHERE id = $1", id,
	    "cancelled true true"));
	/* ...and of a running one: cancelling, files left to the worker. */
	CHECK(claim("{\"steps\":5}", &l) == 0);
	CHECK(make_files(l.l_id) == 0);
	CHECK(jobq_cancel(conn, datadir, l.l_id, JOBQ_CANCEL_DELETE, &st, err,
	    sizeof(err)) == 1 && st == JOBQ_CANCELLING);
	CHECK(has_files(l.l_id));
	CHECK(jobq_complete(conn, &l, "{}", err, sizeof(err)) ==
	    JOBQ_R_CANCEL);
	job_files_remove(datadir, l.l_id);
	CHECK(jobq_cancel(conn, NULL, "no-such-job", JOBQ_CANCEL_DELETE, &st,
	    err, sizeof(err)) == 0);
}

static void
test_retry_count(void)
{
	char	a[JOBQ_ID_MAX], b[JOBQ_ID_MAX], newid[JOBQ_ID_MAX];
	char	err[512], tt[64];
	int64_t	n = -1, base = -1;

	CHECK(jobq_count_active(conn, "export", "c2", &n, err,
	    sizeof(err)) == 0 && n == 0);
	CHECK(jobq_count_active(conn, NULL, NULL, &base, err,
	    sizeof(err)) == 0 && base >= 0);
	CHECK(submit("export", "c2", a) == 0);
	CHECK(submit("export", "c2", b) == 0);
	CHECK(admin_pause(b) == 1);
	CHECK(jobq_count_active(conn, "export", "c2", &n, err,
	    sizeof(err)) == 0 && n == 2);
	CHECK(jobq_count_active(conn, "export", NULL, &n, err,
	    sizeof(err)) == 0 && n >= 2);
	CHECK(jobq_count_active(conn, "import", "c2", &n, err,
	    sizeof(err)) == 0 && n == 0);
	CHECK(jobq_count_active(conn, NULL, NULL, &n, err,
	    sizeof(err)) == 0 && n == base + 2);

	/* Retry: only failed or cancelled; a new job, retry_of the old. */
	CHECK(jobq_retry(conn, a, newid, sizeof(newid), err,
	    sizeof(err)) == 0);
	CHECK(admin_cancel(a) == 1);
	CHECK(jobq_count_active(conn, "export", "c2", &n, err,
	    sizeof(err)) == 0 && n == 1);
	CHECK(jobq_retry(conn, a, newid, sizeof(newid), err,
	    sizeof(err)) == 1 && strcmp(newid, a) != 0);
	CHECK(sql_is("SELECT state || ' ' || kind || ' ' || client FROM jobs "
	    "WHERE retry_of = $1", a, "queued export c2"));
	CHECK(sql_is("SELECT id FROM jobs WHERE retry_of = $1", a, newid));
	CHECK(admin_cancel(newid) == 1);
	CHECK(admin_cancel(b) == 1);

	/* last_success: none for this client yet. */
	CHECK(jobq_last_success(conn, "export", "c2", a, newid, sizeof(newid),
	    tt, sizeof(tt), err, sizeof(err)) == 0);
	CHECK(exec1("UPDATE jobs SET state = 'completed', finished = now(), "
	    "result = '{\"transactionTime\":\"2024-01-02T03:04:05Z\"}' "
	    "WHERE id = $1 RETURNING id", a) == 1);
	CHECK(jobq_last_success(conn, "export", "c2", b, newid, sizeof(newid),
	    tt, sizeof(tt), err, sizeof(err)) == 1 && strcmp(newid, a) == 0 &&
	    strcmp(tt, "2024-01-02T03:04:05Z") == 0);
	CHECK(jobq_last_success(conn, "export", "c2", a, newid, sizeof(newid),
	    tt, sizeof(tt), err, sizeof(err)) == 0);
}

static void
test_outputs(void)
{
	struct jobq_lease	 l;
	struct jobq_output	 o;
	struct jobq_outrow	*rows = NULL;
	char			 err[512], file[256], cs[80];
	int64_t			 bytes = 0;
	size_t			 n = 0;

	CHECK(claim("{\"outputs\":3}", &l) == 0);
	memset(&o, 0, sizeof(o));
	CHECK(job_files_rel(l.l_id, "Basic-0001.ndjson", file,
	    sizeof(file)) == 0);
	o.o_type = "Basic";
	o.o_file = file;
	o.o_count = 3;
	o.o_bytes = 42;
	o.o_checksum = "abc";
	CHECK(jobq_output_add(conn, &l, &o, NULL, err, sizeof(err)) ==
	    JOBQ_R_OK && o.o_seq == 1);
	memset(&o, 0, sizeof(o));
	o.o_channel = "error";
	o.o_type = "OperationOutcome";
	o.o_url = "http://example.invalid/in.ndjson";
	o.o_count = 1;
	CHECK(jobq_output_add(conn, &l, &o, NULL, err, sizeof(err)) ==
	    JOBQ_R_OK && o.o_seq == 2);

	CHECK(jobq_outputs_list(conn, l.l_id, NULL, &rows, &n, err,
	    sizeof(err)) == 0 && n == 2);
	if (n == 2) {
		CHECK(rows[0].r_seq == 1 && strcmp(rows[0].r_channel,
		    "output") == 0 && strcmp(rows[0].r_type, "Basic") == 0 &&
		    strcmp(rows[0].r_file, file) == 0 && rows[0].r_url ==
		    NULL && rows[0].r_count == 3 && rows[0].r_bytes == 42 &&
		    strcmp(rows[0].r_checksum, "abc") == 0);
		CHECK(rows[1].r_seq == 2 && strcmp(rows[1].r_channel,
		    "error") == 0 && rows[1].r_file == NULL &&
		    strcmp(rows[1].r_url, o.o_url) == 0 &&
		    rows[1].r_checksum == NULL);
	}
	jobq_outrows_free(rows, n);
	CHECK(jobq_outputs_list(conn, l.l_id, "error", &rows, &n, err,
	    sizeof(err)) == 0 && n == 1 && rows[0].r_seq == 2);
	jobq_outrows_free(rows, n);
	CHECK(jobq_outputs_list(conn, "no-such-job", NULL, &rows, &n, err,
	    sizeof(err)) == 0 && n == 0);
	jobq_outrows_free(rows, n);

	/* Found while running; servable only once completed. */
	CHECK(jobq_output_find(conn, l.l_id, file, 0, NULL, NULL, 0, err,
	    sizeof(err)) == 1);
	CHECK(jobq_output_find(conn, l.l_id, file, 1, &bytes, cs, sizeof(cs),
	    err, sizeof(err)) == 0);
	CHECK(jobq_output_find(conn, l.l_id, "jobs/x/other", 0, NULL, NULL, 0,
	    err, sizeof(err)) == 0);
	CHECK(jobq_complete(conn, &l, "{}", err, sizeof(err)) == JOBQ_R_OK);
	CHECK(jobq_output_find(conn, l.l_id, file, 1, &bytes, cs, sizeof(cs),
	    err, sizeof(err)) == 1 && bytes == 42 && strcmp(cs, "abc") == 0);
	/* Deleted by the client: no longer servable. */
	CHECK(jobq_cancel(conn, NULL, l.l_id, JOBQ_CANCEL_DELETE, NULL, err,
	    sizeof(err)) == 1);
	CHECK(jobq_output_find(conn, l.l_id, file, 1, &bytes, cs, sizeof(cs),
	    err, sizeof(err)) == 0);

	/* Forget: the rows of one input go. */
	CHECK(jobq_output_forget(conn, l.l_id, "http://example.invalid/"
	    "in.ndjson", err, sizeof(err)) == 0);
	CHECK(sql_is("SELECT count(*) FROM job_outputs WHERE job_id = $1",
	    l.l_id, "1"));
}

static void
test_expire_prune(void)
{
	char	a[JOBQ_ID_MAX], b[JOBQ_ID_MAX], err[512];
	int	n = -1, total = 0;

	CHECK(submit("export", "c3", a) == 0);
	CHECK(submit("noop", NULL, b) == 0);
	CHECK(admin_cancel(a) == 1 && admin_cancel(b) == 1);
	CHECK(make_files(a) == 0 && make_files(b) == 0);
	CHECK(exec1("UPDATE jobs SET finished = now() - interval '2 hours', "
	    "files_removed = NULL WHERE id = $1 RETURNING id", a) == 1);
	/* Retention 1 h: the export expires; noop jobs have no files. */
	do {
		CHECK(jobq_expire_files(conn, datadir, 3600, 1, &n, err,
		    sizeof(err)) == 0);
		total += n;
	} while (n > 0);
	CHECK(total == 1);
	CHECK(!has_files(a) && has_files(b));
	CHECK(sql_is("SELECT files_removed IS NOT NULL FROM jobs WHERE "
	    "id = $1", a, "t"));
	/* Pruning: only jobs finished over the days given. */
	CHECK(exec1("UPDATE jobs SET finished = now() - interval '40 days' "
	    "WHERE id = $1 RETURNING id", b) == 1);
	CHECK(jobq_prune(conn, datadir, 30, &n, err, sizeof(err)) == 0 &&
	    n == 1);
	CHECK(!has_files(b));
	CHECK(sql_is("SELECT count(*) FROM jobs WHERE id = $1", b, "0"));
	CHECK(sql_is("SELECT count(*) FROM jobs WHERE id = $1", a, "1"));
}

int
main(void)
{
	const char		*admin = getenv("BULKHEAD_TEST_PG");
	struct pgcheck_scratch	 sc = { NULL, "" };
	char			 path[128];

	log_init("test", LOG_LEVEL_ERROR);
	if (admin == NULL || admin[0] == '\0') {
		printf("skipped: BULKHEAD_TEST_PG not set\n");
		return CHECK_DONE();
	}
	if ((conn = pgcheck_scratch_open(&sc, admin, "bh_unit_jobq")) == NULL)
		CHECK(0);
	else {
		snprintf(datadir, sizeof(datadir), "/tmp/bh_unit_jobq.%ld",
		    (long)getpid());
		test_not_before();
		test_complete_after_cancel();
		test_pause_withdrawn();
		test_pause_resume();
		test_cancel();
		test_retry_count();
		test_outputs();
		test_expire_prune();
		snprintf(path, sizeof(path), "%s/jobs", datadir);
		(void)rmdir(path);
		(void)rmdir(datadir);
	}
	pgcheck_scratch_close(&sc, conn);
	return CHECK_DONE();
}
