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
 * output, complete, paused), and the operator's side with the UPDATEs
 * of admin_api.c's cancel, pause and resume actions.  What the worker
 * does with the answers (remove the files; run the kind again from its
 * checkpoint) is in worker.c's worker_settle and worker_run.
 *
 * Runs only when BULKHEAD_TEST_PG holds a libpq conninfo; it creates a
 * scratch database, migrates it and drops it at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libpq-fe.h"

#include "check.h"
#include "pgcheck.h"
#include "store/jobq.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/migrate.h"

static PGconn	*conn;

static const char *const noop_kind[] = { "noop" };

/* admin_api.c's actions, as the operator's side of the races. */
#define ADMIN_CANCEL \
	"UPDATE jobs SET state = CASE WHEN state = 'running' " \
	"THEN 'cancelling' ELSE 'cancelled' END, pause_requested = false, " \
	"updated = now() WHERE id = $1 AND state IN ('queued', 'paused', " \
	"'running') RETURNING state"
#define ADMIN_PAUSE \
	"UPDATE jobs SET pause_requested = (state = 'running'), " \
	"updated = now() WHERE id = $1 AND state = 'running' AND NOT " \
	"pause_requested RETURNING state"
#define ADMIN_RESUME \
	"UPDATE jobs SET pause_requested = false, updated = now() " \
	"WHERE id = $1 AND state = 'running' AND pause_requested " \
	"RETURNING state"

static char	*sql1(const char *, const char *);
static int	 sql_is(const char *, const char *, const char *);
static int	 exec1(const char *, const char *);
static int	 claim(const char *, struct jobq_lease *);
static void	 test_complete_after_cancel(void);
static void	 test_pause_withdrawn(void);

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
	CHECK(exec1(ADMIN_CANCEL, l.l_id) == 1);
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
	CHECK(exec1(ADMIN_PAUSE, l.l_id) == 1);
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
	CHECK(exec1(ADMIN_PAUSE, l.l_id) == 1);
	CHECK(jobq_heartbeat(conn, &l, err, sizeof(err)) == JOBQ_R_PAUSE);
	CHECK(exec1(ADMIN_RESUME, l.l_id) == 1);
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
	CHECK(exec1(ADMIN_PAUSE, l.l_id) == 1);
	CHECK(jobq_heartbeat(conn, &l, err, sizeof(err)) == JOBQ_R_PAUSE);
	CHECK(exec1(ADMIN_CANCEL, l.l_id) == 1);
	CHECK(jobq_paused(conn, &l, err, sizeof(err)) == JOBQ_R_OK);
	CHECK(sql_is("SELECT state FROM jobs WHERE id = $1", l.l_id,
	    "cancelled"));
}

int
main(void)
{
	const char		*admin = getenv("BULKHEAD_TEST_PG");
	struct pgcheck_scratch	 sc = { NULL, "" };

	log_init("test", LOG_LEVEL_ERROR);
	if (admin == NULL || admin[0] == '\0') {
		printf("skipped: BULKHEAD_TEST_PG not set\n");
		return CHECK_DONE();
	}
	if ((conn = pgcheck_scratch_open(&sc, admin, "bh_unit_jobq")) == NULL)
		CHECK(0);
	else {
		test_complete_after_cancel();
		test_pause_withdrawn();
	}
	pgcheck_scratch_close(&sc, conn);
	return CHECK_DONE();
}
