/*
 * test_schedule_pg.c — jobs/schedule.c against a real PostgreSQL: spec
 * validation, put/replace, pause/resume, run-now, JSON rendering, and
 * schedule_fire_due with an explicit "now" (due, misfire run-once and
 * skip, refused jobs, broken zones, the leader-lock fence).
 *
 * The database part runs only when BULKHEAD_TEST_PG holds a libpq
 * conninfo (scripts/pg.sh start prints one); otherwise it reports itself
 * skipped.  It creates a scratch database, migrates it and drops it at
 * the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include "libpq-fe.h"

#include "check.h"
#include "pgcheck.h"
#include "jobs/cron.h"
#include "store/jobq.h"
#include "jobs/schedule.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/migrate.h"

static PGconn	*conn;

static char	*sql1(const char *, const char *);
static int	 count_jobs(const char *);
static void	 set_next(const char *, time_t);
static time_t	 at(const char *);
static void	 test_check(void);
static void	 test_put(void);
static void	 test_run_now(void);
static void	 test_fire(void);
static void	 test_fence(void);

static char *
sql1(const char *sql, const char *p)
{
	return pgcheck_sql1(conn, sql, p);
}

static int
count_jobs(const char *name)
{
	char	client[128], *v;
	int	n;

	snprintf(client, sizeof(client), "schedule:%s", name);
	v = sql1("SELECT count(*) FROM jobs WHERE client = $1", client);
	n = v != NULL ? (int)strtol(v, NULL, 10) : -1;
	free(v);
	return n;
}

static void
set_next(const char *name, time_t t)
{
	const char	*params[2];
	char		 ts[32], err[512];

	snprintf(ts, sizeof(ts), "%lld", (long long)t);
	params[0] = name;
	params[1] = ts;
	if (db_exec(conn, "UPDATE schedules SET next_fire = "
	    "to_timestamp($2::bigint) WHERE name = $1", 2, params, err,
	    sizeof(err)) == -1)
		fprintf(stderr, "  set_next: %s\n", err);
}

static time_t
at(const char *s)
{
	time_t	t = 0;

	(void)cron_time_parse(s, &t);
	return t;
}

static void
test_check(void)
{
	struct schedule_spec	sp;
	char			err[512];

	memset(&sp, 0, sizeof(sp));
	sp.sp_name = "nightly";
	sp.sp_cron = "0 2 * * *";
	sp.sp_job_kind = "noop";
	CHECK(schedule_spec_check(&sp, err, sizeof(err)) == 0);
	sp.sp_name = "-bad";
	CHECK(schedule_spec_check(&sp, err, sizeof(err)) ==
	    SCHEDULE_R_INVALID && strstr(err, "name:") != NULL);
	sp.sp_name = "a/b";
	CHECK(schedule_spec_check(&sp, err, sizeof(err)) ==
	    SCHEDULE_R_INVALID);
	sp.sp_name = "x.y_z-1";
	sp.sp_cron = "60 * * * *";
	CHECK(schedule_spec_check(&sp, err, sizeof(err)) ==
	    SCHEDULE_R_INVALID &&
	    strcmp(err, "cron: minute: 60 is out of range 0-59") == 0);
	sp.sp_cron = "0 0 30 2 *";
	CHECK(schedule_spec_check(&sp, err, sizeof(err)) ==
	    SCHEDULE_R_INVALID && strstr(err, "never fires") != NULL);
	sp.sp_cron = "0 2 * * *";
	sp.sp_timezone = "Europe/Nowhere";
	CHECK(schedule_spec_check(&sp, err, sizeof(err)) ==
	    SCHEDULE_R_INVALID && strstr(err, "timezone: unknown time zone")
	    != NULL);
	sp.sp_timezone = "Africa/Dar_es_Salaam";
	sp.sp_misfire = "always";
	CHECK(schedule_spec_check(&sp, err, sizeof(err)) ==
	    SCHEDULE_R_INVALID && strstr(err, "misfire:") != NULL);
	sp.sp_misfire = "skip";
	sp.sp_job_kind = "frobnicate";
	CHECK(schedule_spec_check(&sp, err, sizeof(err)) ==
	    SCHEDULE_R_INVALID && strstr(err, "job: unknown job kind") !=
	    NULL);
	sp.sp_job_kind = "noop";
	sp.sp_job_params = "[1]";
	CHECK(schedule_spec_check(&sp, err, sizeof(err)) ==
	    SCHEDULE_R_INVALID && strstr(err, "job:") != NULL);
	sp.sp_job_params = "{\"steps\": 2}";
	sp.sp_source = "file";
	CHECK(schedule_spec_check(&sp, err, sizeof(err)) ==
	    SCHEDULE_R_INVALID && strstr(err, "source:") != NULL);
	sp.sp_source = "config";
	CHECK(schedule_spec_check(&sp, err, sizeof(err)) == 0);
}

static void
test_put(void)
{
	struct schedule_spec	 sp;
	struct schedule		*s = NULL, **list = NULL;
	struct buf		 b;
	cJSON			*j, *o;
	char			 err[512], want[CRON_TIME_MAX];
	size_t			 n = 0;
	int			 created = -1;
	time_t			 t;
	struct cron		 c;

	memset(&sp, 0, sizeof(sp));
	sp.sp_name = "nightly";
	sp.sp_cron = "30 2 * * *";
	sp.sp_timezone = "Europe/Berlin";
	sp.sp_enabled = 1;
	sp.sp_job_kind = "noop";
	sp.sp_job_params = "{\"steps\": 1}";
	CHECK(schedule_put(conn, &sp, &created, err, sizeof(err)) == 0);
	CHECK(created == 1);
	CHECK(schedule_get(conn, "nightly", &s, err, sizeof(err)) == 0);
	CHECK(s != NULL && s->sc_enabled && s->sc_next_fire != NULL &&
	    s->sc_last_fire == NULL && strcmp(s->sc_misfire, "run-once") == 0 &&
	    strcmp(s->sc_source, "api") == 0);
	CHECK(cron_parse("30 2 * * *", &c, err, sizeof(err)) == 0);
	CHECK(cron_next(&c, "Europe/Berlin", schedule_now(), &t, err,
	    sizeof(err)) == 0);
	cron_time_format(t, want, sizeof(want));
	CHECK(s != NULL && s->sc_next_fire != NULL &&
	    strcmp(s->sc_next_fire, want) == 0);
	schedule_free(s);
	s = NULL;

	/* The same definition again keeps a pending next_fire ... */
	set_next("nightly", at("2020-01-01T00:00:00Z"));
	CHECK(schedule_put(conn, &sp, &created, err, sizeof(err)) == 0);
	CHECK(created == 0);
	CHECK(schedule_get(conn, "nightly", &s, err, sizeof(err)) == 0);
	CHECK(s != NULL && strcmp(s->sc_next_fire,
	    "2020-01-01T00:00:00Z") == 0);
	schedule_free(s);
	s = NULL;
	/* ... a new cron recomputes it. */
	sp.sp_cron = "30 3 * * *";
	CHECK(schedule_put(conn, &sp, &created, err, sizeof(err)) == 0);
	CHECK(schedule_get(conn, "nightly", &s, err, sizeof(err)) == 0);
	CHECK(s != NULL && strcmp(s->sc_next_fire,
	    "2020-01-01T00:00:00Z") != 0 && strcmp(s->sc_cron,
	    "30 3 * * *") == 0);
	schedule_free(s);
	s = NULL;
	sp.sp_cron = "bad";
	CHECK(schedule_put(conn, &sp, &created, err, sizeof(err)) ==
	    SCHEDULE_R_INVALID);

	/* Pause and resume. */
	CHECK(schedule_set_enabled(conn, "nightly", 0, err, sizeof(err)) == 0);
	CHECK(schedule_get(conn, "nightly", &s, err, sizeof(err)) == 0);
	CHECK(s != NULL && !s->sc_enabled && s->sc_next_fire == NULL);
	schedule_free(s);
	s = NULL;
	CHECK(schedule_set_enabled(conn, "nightly", 0, err, sizeof(err)) == 0);
	CHECK(schedule_set_enabled(conn, "nightly", 1, err, sizeof(err)) == 0);
	CHECK(schedule_get(conn, "nightly", &s, err, sizeof(err)) == 0);
	CHECK(s != NULL && s->sc_enabled && s->sc_next_fire != NULL);
	schedule_free(s);
	s = NULL;
	set_next("nightly", at("2020-01-01T00:00:00Z"));
	CHECK(schedule_set_enabled(conn, "nightly", 1, err, sizeof(err)) == 0);
	CHECK(schedule_get(conn, "nightly", &s, err, sizeof(err)) == 0);
	CHECK(s != NULL && strcmp(s->sc_next_fire,
	    "2020-01-01T00:00:00Z") == 0);	/* running: unchanged */
	schedule_free(s);
	s = NULL;
	CHECK(schedule_set_enabled(conn, "nope", 1, err, sizeof(err)) ==
	    SCHEDULE_R_NOTFOUND);
	CHECK(schedule_set_enabled(conn, "nope", 0, err, sizeof(err)) ==
	    SCHEDULE_R_NOTFOUND);

	/* A paused schedule is created without next_fire. */
	sp.sp_name = "paused";
	sp.sp_cron = "@hourly";
	sp.sp_timezone = NULL;
	sp.sp_enabled = 0;
	sp.sp_misfire = "skip";
	sp.sp_source = "config";
	CHECK(schedule_put(conn, &sp, &created, err, sizeof(err)) == 0);
	CHECK(created == 1);

	/* List and JSON. */
	CHECK(schedule_list(conn, &list, &n, err, sizeof(err)) == 0);
	CHECK(n == 2 && strcmp(list[0]->sc_name, "nightly") == 0 &&
	    strcmp(list[1]->sc_name, "paused") == 0);
	buf_init(&b, 1 << 20);
	CHECK(schedule_list_json(list, n, &b) == 0);
	j = cJSON_Parse(b.b_data);
	CHECK(cJSON_IsArray(j) && cJSON_GetArraySize(j) == 2);
	o = cJSON_GetArrayItem(j, 1);
	CHECK(cJSON_IsString(cJSON_GetObjectItem(o, "name")) &&
	    strcmp(cJSON_GetObjectItem(o, "name")->valuestring, "paused") == 0);
	CHECK(strcmp(cJSON_GetObjectItem(o, "timezone")->valuestring, "UTC") ==
	    0);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(o, "enabled")));
	CHECK(strcmp(cJSON_GetObjectItem(o, "misfire")->valuestring, "skip") ==
	    0);
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "next_fire")));
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "last_fire")));
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "last_job")));
	CHECK(strcmp(cJSON_GetObjectItem(o, "source")->valuestring,
	    "config") == 0);
	o = cJSON_GetObjectItem(o, "job");
	CHECK(strcmp(cJSON_GetObjectItem(o, "kind")->valuestring, "noop") == 0);
	CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "params"),
	    "steps") != NULL);
	o = cJSON_GetArrayItem(j, 0);
	CHECK(cJSON_IsString(cJSON_GetObjectItem(o, "next_fire")) &&
	    strlen(cJSON_GetObjectItem(o, "next_fire")->valuestring) == 20);
	cJSON_Delete(j);
	buf_free(&b);
	schedule_list_free(list, n);

	CHECK(schedule_get(conn, "nope", &s, err, sizeof(err)) ==
	    SCHEDULE_R_NOTFOUND && s == NULL);
	CHECK(schedule_delete(conn, "paused", err, sizeof(err)) == 0);
	CHECK(schedule_delete(conn, "paused", err, sizeof(err)) ==
	    SCHEDULE_R_NOTFOUND);
}

static void
test_run_now(void)
{
	struct schedule	*s = NULL;
	char		 id[JOBQ_ID_MAX], err[512], *v;

	set_next("nightly", at("2030-01-01T00:00:00Z"));
	CHECK(schedule_set_enabled(conn, "nightly", 0, err, sizeof(err)) == 0);
	set_next("nightly", at("2030-01-01T00:00:00Z"));
	CHECK(schedule_run_now(conn, "nightly", id, sizeof(id), err,
	    sizeof(err)) == 0);
	CHECK(strlen(id) == 32);
	CHECK(count_jobs("nightly") == 1);
	v = sql1("SELECT kind || ' ' || params::text FROM jobs WHERE id = $1",
	    id);
	CHECK(v != NULL && strcmp(v, "noop {\"steps\": 1}") == 0);
	free(v);
	CHECK(schedule_get(conn, "nightly", &s, err, sizeof(err)) == 0);
	CHECK(s != NULL && strcmp(s->sc_last_job, id) == 0 &&
	    strcmp(s->sc_next_fire, "2030-01-01T00:00:00Z") == 0 &&
	    s->sc_last_fire == NULL);
	schedule_free(s);
	CHECK(schedule_run_now(conn, "nope", id, sizeof(id), err,
	    sizeof(err)) == SCHEDULE_R_NOTFOUND);
	CHECK(schedule_set_enabled(conn, "nightly", 1, err, sizeof(err)) == 0);
	CHECK(schedule_delete(conn, "nightly", err, sizeof(err)) == 0);
}

static void
test_fire(void)
{
	struct schedule_spec	 sp;
	struct schedule		*s = NULL;
	char			 err[512];
	int			 nf = -1, ns = -1;
	time_t			 t0 = at("2026-05-01T10:00:00Z");

	memset(&sp, 0, sizeof(sp));
	sp.sp_cron = "* * * * *";
	sp.sp_enabled = 1;
	sp.sp_job_kind = "noop";
	sp.sp_name = "due";
	CHECK(schedule_put(conn, &sp, NULL, err, sizeof(err)) == 0);
	sp.sp_name = "catchup";
	CHECK(schedule_put(conn, &sp, NULL, err, sizeof(err)) == 0);
	sp.sp_name = "skipper";
	sp.sp_misfire = "skip";
	CHECK(schedule_put(conn, &sp, NULL, err, sizeof(err)) == 0);
	sp.sp_name = "future";
	CHECK(schedule_put(conn, &sp, NULL, err, sizeof(err)) == 0);
	sp.sp_name = "refused";
	CHECK(schedule_put(conn, &sp, NULL, err, sizeof(err)) == 0);
	sp.sp_name = "badzone";
	CHECK(schedule_put(conn, &sp, NULL, err, sizeof(err)) == 0);
	set_next("due", t0);
	set_next("catchup", t0 - 180);
	set_next("skipper", t0 - 180);
	set_next("future", t0 + 60);
	set_next("refused", t0);
	set_next("badzone", t0);
	CHECK(db_exec(conn, "UPDATE schedules SET job_kind = 'gone' "
	    "WHERE name = 'refused'", 0, NULL, err, sizeof(err)) == 0);
	CHECK(db_exec(conn, "UPDATE schedules SET timezone = 'Nowhere/Zone' "
	    "WHERE name = 'badzone'", 0, NULL, err, sizeof(err)) == 0);

	CHECK(schedule_fire_due(conn, t0 + 5, 0, &nf, &ns, err,
	    sizeof(err)) == 0);
	CHECK(nf == 2 && ns == 3);
	CHECK(count_jobs("due") == 1 && count_jobs("catchup") == 1 &&
	    count_jobs("skipper") == 0 && count_jobs("future") == 0 &&
	    count_jobs("refused") == 0 && count_jobs("badzone") == 0);
	CHECK(schedule_get(conn, "due", &s, err, sizeof(err)) == 0);
	CHECK(s != NULL && strcmp(s->sc_last_fire, "2026-05-01T10:00:00Z") ==
	    0 && strcmp(s->sc_next_fire, "2026-05-01T10:01:00Z") == 0 &&
	    s->sc_last_job != NULL);
	schedule_free(s);
	CHECK(schedule_get(conn, "catchup", &s, err, sizeof(err)) == 0);
	CHECK(s != NULL && strcmp(s->sc_last_fire, "2026-05-01T10:00:05Z") ==
	    0 && strcmp(s->sc_next_fire, "2026-05-01T10:01:00Z") == 0);
	schedule_free(s);
	CHECK(schedule_get(conn, "skipper", &s, err, sizeof(err)) == 0);
	CHECK(s != NULL && s->sc_last_fire == NULL && s->sc_last_job == NULL &&
	    strcmp(s->sc_next_fire, "2026-05-01T10:01:00Z") == 0);
	schedule_free(s);
	CHECK(schedule_get(conn, "refused", &s, err, sizeof(err)) == 0);
	CHECK(s != NULL && s->sc_last_error != NULL &&
	    strstr(s->sc_last_error, "unknown job kind") != NULL &&
	    strcmp(s->sc_next_fire, "2026-05-01T10:01:00Z") == 0);
	schedule_free(s);
	CHECK(schedule_get(conn, "badzone", &s, err, sizeof(err)) == 0);
	CHECK(s != NULL && s->sc_last_error != NULL &&
	    strstr(s->sc_last_error, "unknown time zone") != NULL &&
	    s->sc_next_fire == NULL);
	schedule_free(s);
	s = NULL;

	/* Nothing is due twice. */
	CHECK(schedule_fire_due(conn, t0 + 30, 0, &nf, &ns, err,
	    sizeof(err)) == 0);
	CHECK(nf == 0 && ns == 0);
	/* The next minute: every enabled one with a next_fire fires. */
	CHECK(schedule_fire_due(conn, t0 + 60, 0, &nf, &ns, err,
	    sizeof(err)) == 0);
	CHECK(nf == 4 && ns == 1);	/* refused is refused again */
	CHECK(count_jobs("due") == 2 && count_jobs("skipper") == 1 &&
	    count_jobs("future") == 1);
	CHECK(db_exec(conn, "DELETE FROM schedules", 0, NULL, err,
	    sizeof(err)) == 0);
}

static void
test_fence(void)
{
	struct schedule_spec	sp;
	char			err[512];
	int			nf = -1;
	time_t			t0 = at("2026-05-01T10:00:00Z");
	const int64_t		big = ((int64_t)3 << 32) | 7;

	memset(&sp, 0, sizeof(sp));
	sp.sp_name = "fenced";
	sp.sp_cron = "* * * * *";
	sp.sp_enabled = 1;
	sp.sp_job_kind = "noop";
	CHECK(schedule_put(conn, &sp, NULL, err, sizeof(err)) == 0);
	set_next("fenced", t0);
	CHECK(schedule_fire_due(conn, t0, 7431999, &nf, NULL, err,
	    sizeof(err)) == SCHEDULE_R_FENCED);
	CHECK(count_jobs("fenced") == 0);
	CHECK(schedule_fire_due(conn, t0, big, &nf, NULL, err,
	    sizeof(err)) == SCHEDULE_R_FENCED);
	CHECK(db_exec(conn, "SELECT pg_advisory_lock(7431999)", 0, NULL, err,
	    sizeof(err)) == 0);
	CHECK(schedule_fire_due(conn, t0, big, &nf, NULL, err,
	    sizeof(err)) == SCHEDULE_R_FENCED);
	CHECK(count_jobs("fenced") == 0);
	CHECK(schedule_fire_due(conn, t0, 7431999, &nf, NULL, err,
	    sizeof(err)) == 0 && nf == 1);
	CHECK(count_jobs("fenced") == 1);
	set_next("fenced", t0);
	CHECK(db_exec(conn, "SELECT pg_advisory_lock(12884901895)", 0, NULL,
	    err, sizeof(err)) == 0);	/* (3 << 32) | 7 */
	CHECK(schedule_fire_due(conn, t0, big, &nf, NULL, err,
	    sizeof(err)) == 0 && nf == 1);
	CHECK(count_jobs("fenced") == 2);
	CHECK(db_exec(conn, "SELECT pg_advisory_unlock_all()", 0, NULL, err,
	    sizeof(err)) == 0);
}

int
main(void)
{
	const char		*admin = getenv("BULKHEAD_TEST_PG");
	struct pgcheck_scratch	 sc = { NULL, "" };
	char			 err[512];

	log_init("test", LOG_LEVEL_ERROR);
	test_check();			/* no database needed */
	if (admin == NULL || admin[0] == '\0') {
		printf("skipped the database part: BULKHEAD_TEST_PG not set\n");
		return CHECK_DONE();
	}
	if ((conn = pgcheck_scratch_open(&sc, admin, "bh_unit_sched")) == NULL ||
	    /* The tests count schedules: drop the built-in ones. */
	    db_exec(conn, "DELETE FROM schedules WHERE source = 'builtin'", 0,
	    NULL, err, sizeof(err)) == -1) {
		if (conn != NULL)
			fprintf(stderr, "scratch database: %s\n", err);
		CHECK(0);
	} else {
		test_put();
		test_run_now();
		test_fire();
		test_fence();
	}
	pgcheck_scratch_close(&sc, conn);
	return CHECK_DONE();
}
