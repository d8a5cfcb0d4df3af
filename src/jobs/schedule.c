/*
 * schedule.c — cron schedules in PostgreSQL: definitions for the admin
 * API and CLI, and the scheduler leader's "fire what is due".
 *
 * DESIGN.  next_fire is stored, computed here in C (cron.c) whenever a
 * schedule is created, resumed or fires, so the leader's per-second
 * probe is one indexed query.  Firing is one transaction per batch: the
 * due rows are locked (FOR UPDATE SKIP LOCKED), their jobs inserted with
 * jobq_submit and the rows moved on, then COMMIT.  A crash or a lost
 * connection before COMMIT fires nothing and the next leader fires the
 * same rows; after COMMIT the rows are no longer due.  So a fire is
 * neither lost nor doubled, whichever scheduler node runs it.  The
 * optional fence check (pg_locks, same transaction) stops a session that
 * no longer holds the leader lock — say, behind a transaction-pooling
 * proxy — from firing.
 *
 * Process-global state: only the test clock (BULKHEAD_CLOCK), read once
 * under pthread_once; everything else is per call.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs/cron.h"
#include "jobs/cron_text.h"
#include "jobs/job_kinds.h"
#include "store/jobq.h"
#include "jobs/schedule.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"

#define SCHEDULE_TS(c) \
	"to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The column list every read returns; schedule_row() follows it. */
#define SCHEDULE_COLS \
	"name, cron, timezone, enabled, misfire, job_kind, " \
	"job_params::text, " SCHEDULE_TS("last_fire") ", " \
	SCHEDULE_TS("next_fire") ", last_job, last_error, " \
	SCHEDULE_TS("created") ", " SCHEDULE_TS("updated") ", source"

#define SCHEDULE_ERR_MAX	512	/* last_error text stored */

/* What one fire did, logged after COMMIT. */
struct schedule_fired {
	char	fd_name[SCHEDULE_NAME_MAX + 1];
	char	fd_job[JOBQ_ID_MAX];		/* "" if none submitted */
	time_t	fd_fire;			/* the due instant */
	time_t	fd_next;			/* the new next_fire, or 0 */
	int	fd_missed;			/* more than one was due */
	char	fd_error[SCHEDULE_ERR_MAX];	/* "" unless it failed */
};

static pthread_once_t	schedule_clock_once = PTHREAD_ONCE_INIT;
static struct {
	int		state;		/* 0 real, 1 fake, -1 invalid value */
	time_t		base;		/* BULKHEAD_CLOCK */
	struct timespec	mono0;		/* when it was read */
	char		err[160];
} schedule_clock;

static int	 schedule_name_ok(const char *);
static char	*schedule_dup(const PGresult *, int, int);
static struct schedule *schedule_row(const PGresult *, int);
static void	 schedule_rollback(PGconn *);
static int	 schedule_json_str(struct buf *, const char *, const char *,
		    int);
static int	 schedule_fire_row(PGconn *, const PGresult *, int, time_t,
		    struct schedule_fired *, char *, size_t);
static int	 schedule_mark(PGconn *, const char *, time_t, const char *,
		    char *, size_t);
static void	 schedule_clock_setup(void);

static int
schedule_name_ok(const char *name)
{
	size_t	i, n;

	if (name == NULL || (n = strnlen(name, SCHEDULE_NAME_MAX + 1)) == 0 ||
	    n > SCHEDULE_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char	c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') ||
		    (i > 0 && (c == '.' || c == '_' || c == '-'))))
			return 0;
	}
	return 1;
}

int
schedule_spec_check(const struct schedule_spec *sp, char *errbuf,
    size_t errlen)
{
	struct cron	 c;
	char		 client[sizeof(SCHEDULE_CLIENT_PREFIX) +
			    SCHEDULE_NAME_MAX], err[384];
	const char	*tz, *misfire, *source;

	if (sp->sp_name == NULL || sp->sp_name[0] == '\0') {
		snprintf(errbuf, errlen, "name: required");
		return SCHEDULE_R_INVALID;
	}
	if (!schedule_name_ok(sp->sp_name)) {
		snprintf(errbuf, errlen, "name: must be 1-%d letters, digits, "
		    "'.', '_' or '-', starting with a letter or digit",
		    SCHEDULE_NAME_MAX);
		return SCHEDULE_R_INVALID;
	}
	if (sp->sp_cron == NULL) {
		snprintf(errbuf, errlen, "cron: required");
		return SCHEDULE_R_INVALID;
	}
	if (cron_parse(sp->sp_cron, &c, err, sizeof(err)) == -1) {
		snprintf(errbuf, errlen, "cron: %s", err);
		return SCHEDULE_R_INVALID;
	}
	tz = sp->sp_timezone != NULL ? sp->sp_timezone : SCHEDULE_DEFAULT_TZ;
	if (cron_tz_check(tz, err, sizeof(err)) == -1) {
		snprintf(errbuf, errlen, "timezone: %s", err);
		return SCHEDULE_R_INVALID;
	}
	misfire = sp->sp_misfire != NULL ? sp->sp_misfire :
	    SCHEDULE_DEFAULT_MISFIRE;
	if (strcmp(misfire, "run-once") != 0 && strcmp(misfire, "skip") != 0) {
		snprintf(errbuf, errlen, "misfire: must be \"run-once\" or "
		    "\"skip\"");
		return SCHEDULE_R_INVALID;
	}
	source = sp->sp_source != NULL ? sp->sp_source : "api";
	if (strcmp(source, "api") != 0 && strcmp(source, "config") != 0) {
		snprintf(errbuf, errlen, "source: must be \"api\" or "
		    "\"config\"");
		return SCHEDULE_R_INVALID;
	}
	if (sp->sp_job_kind == NULL || sp->sp_job_kind[0] == '\0') {
		snprintf(errbuf, errlen, "job: kind required");
		return SCHEDULE_R_INVALID;
	}
	snprintf(client, sizeof(client), "%s%s", SCHEDULE_CLIENT_PREFIX,
	    sp->sp_name);
	if (job_kind_check(sp->sp_job_kind, sp->sp_job_params, client, err,
	    sizeof(err)) == -1) {
		snprintf(errbuf, errlen, "job: %s", err);
		return SCHEDULE_R_INVALID;
	}
	return 0;
}

/* Column col of row, copied; NULL for SQL NULL. */
static char *
schedule_dup(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return xstrdup(PQgetvalue(res, row, col));
}

static struct schedule *
schedule_row(const PGresult *res, int row)
{
	struct schedule	*s = xcalloc(1, sizeof(*s));

	s->sc_name = schedule_dup(res, row, 0);
	s->sc_cron = schedule_dup(res, row, 1);
	s->sc_timezone = schedule_dup(res, row, 2);
	s->sc_enabled = strcmp(PQgetvalue(res, row, 3), "t") == 0;
	s->sc_misfire = schedule_dup(res, row, 4);
	s->sc_job_kind = schedule_dup(res, row, 5);
	s->sc_job_params = schedule_dup(res, row, 6);
	s->sc_last_fire = schedule_dup(res, row, 7);
	s->sc_next_fire = schedule_dup(res, row, 8);
	s->sc_last_job = schedule_dup(res, row, 9);
	s->sc_last_error = schedule_dup(res, row, 10);
	s->sc_created = schedule_dup(res, row, 11);
	s->sc_updated = schedule_dup(res, row, 12);
	s->sc_source = schedule_dup(res, row, 13);
	return s;
}

static void
schedule_rollback(PGconn *conn)
{
	char	err[256];

	(void)db_exec(conn, "ROLLBACK", 0, NULL, err, sizeof(err));
}

int
schedule_put(PGconn *conn, const struct schedule_spec *sp, int *created,
    char *errbuf, size_t errlen)
{
	struct cron	 c;
	const char	*params[9];
	char		 next[32], err[384];
	PGresult	*res;
	time_t		 t;
	int		 rc;

	if (created != NULL)
		*created = 0;
	if ((rc = schedule_spec_check(sp, errbuf, errlen)) != 0)
		return rc;
	params[7] = NULL;
	if (sp->sp_enabled) {
		(void)cron_parse(sp->sp_cron, &c, err, sizeof(err));
		if (cron_next(&c, sp->sp_timezone != NULL ? sp->sp_timezone :
		    SCHEDULE_DEFAULT_TZ, schedule_now(), &t, err,
		    sizeof(err)) == -1) {
			snprintf(errbuf, errlen, "cron: %s", err);
			return SCHEDULE_R_INVALID;
		}
		snprintf(next, sizeof(next), "%lld", (long long)t);
		params[7] = next;
	}
	params[0] = sp->sp_name;
	params[1] = sp->sp_cron;
	params[2] = sp->sp_timezone != NULL ? sp->sp_timezone :
	    SCHEDULE_DEFAULT_TZ;
	params[3] = sp->sp_enabled ? "true" : "false";
	params[4] = sp->sp_misfire != NULL ? sp->sp_misfire :
	    SCHEDULE_DEFAULT_MISFIRE;
	params[5] = sp->sp_job_kind;
	params[6] = sp->sp_job_params != NULL ? sp->sp_job_params : "{}";
	params[8] = sp->sp_source != NULL ? sp->sp_source : "api";
	res = db_query(conn, "INSERT INTO schedules (name, cron, timezone, "
	    "enabled, misfire, job_kind, job_params, next_fire, source) "
	    "VALUES ($1, $2, $3, $4::boolean, $5, $6, $7::jsonb, "
	    "to_timestamp($8::bigint), $9) "
	    "ON CONFLICT (name) DO UPDATE SET cron = EXCLUDED.cron, "
	    "timezone = EXCLUDED.timezone, enabled = EXCLUDED.enabled, "
	    "misfire = EXCLUDED.misfire, job_kind = EXCLUDED.job_kind, "
	    "job_params = EXCLUDED.job_params, source = EXCLUDED.source, "
	    "next_fire = CASE WHEN schedules.enabled AND EXCLUDED.enabled "
	    "AND schedules.cron = EXCLUDED.cron "
	    "AND schedules.timezone = EXCLUDED.timezone "
	    "AND schedules.next_fire IS NOT NULL "
	    "THEN schedules.next_fire ELSE EXCLUDED.next_fire END, "
	    "last_error = NULL, updated = now() "
	    "RETURNING (xmax = 0)", 9, params, errbuf, errlen);
	if (res == NULL)
		return -1;
	if (created != NULL)
		*created = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

int
schedule_delete(PGconn *conn, const char *name, char *errbuf, size_t errlen)
{
	const char	*params[1] = { name };
	PGresult	*res;
	int		 rc = 0;

	res = db_query(conn, "DELETE FROM schedules WHERE name = $1 "
	    "RETURNING name", 1, params, errbuf, errlen);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		snprintf(errbuf, errlen, "no schedule '%.64s'", name);
		rc = SCHEDULE_R_NOTFOUND;
	}
	PQclear(res);
	return rc;
}

int
schedule_get(PGconn *conn, const char *name, struct schedule **out,
    char *errbuf, size_t errlen)
{
	const char	*params[1] = { name };
	PGresult	*res;
	int		 rc = 0;

	*out = NULL;
	res = db_query(conn, "SELECT " SCHEDULE_COLS " FROM schedules "
	    "WHERE name = $1", 1, params, errbuf, errlen);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		*out = schedule_row(res, 0);
	else {
		snprintf(errbuf, errlen, "no schedule '%.64s'", name);
		rc = SCHEDULE_R_NOTFOUND;
	}
	PQclear(res);
	return rc;
}

int
schedule_list(PGconn *conn, struct schedule ***out, size_t *n, char *errbuf,
    size_t errlen)
{
	const char	*params[1];
	char		 limit[16];
	PGresult	*res;
	int		 i;

	*out = NULL;
	*n = 0;
	snprintf(limit, sizeof(limit), "%d", SCHEDULE_LIST_MAX);
	params[0] = limit;
	res = db_query(conn, "SELECT " SCHEDULE_COLS " FROM schedules "
	    "ORDER BY name LIMIT $1::int", 1, params, errbuf, errlen);
	if (res == NULL)
		return -1;
	*out = xcalloc((size_t)PQntuples(res) + 1, sizeof(**out));
	for (i = 0; i < PQntuples(res); i++)
		(*out)[i] = schedule_row(res, i);
	*n = (size_t)PQntuples(res);
	PQclear(res);
	return 0;
}

int
schedule_set_enabled(PGconn *conn, const char *name, int enabled,
    char *errbuf, size_t errlen)
{
	struct cron	 c;
	const char	*params[2];
	char		 next[32], err[384];
	PGresult	*res = NULL;
	time_t		 t;
	int		 rc = -1;

	params[0] = name;
	if (!enabled) {
		res = db_query(conn, "UPDATE schedules SET enabled = false, "
		    "next_fire = NULL, updated = CASE WHEN enabled THEN now() "
		    "ELSE updated END WHERE name = $1 RETURNING name", 1,
		    params, errbuf, errlen);
		if (res == NULL)
			return -1;
		rc = 0;
		if (PQntuples(res) == 0) {
			snprintf(errbuf, errlen, "no schedule '%.64s'", name);
			rc = SCHEDULE_R_NOTFOUND;
		}
		PQclear(res);
		return rc;
	}
	if (db_exec(conn, "BEGIN", 0, NULL, errbuf, errlen) == -1)
		return -1;
	res = db_query(conn, "SELECT cron, timezone, enabled FROM schedules "
	    "WHERE name = $1 FOR UPDATE", 1, params, errbuf, errlen);
	if (res == NULL)
		goto out_rollback;
	if (PQntuples(res) == 0) {
		snprintf(errbuf, errlen, "no schedule '%.64s'", name);
		rc = SCHEDULE_R_NOTFOUND;
		goto out_rollback;
	}
	if (strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
		rc = 0;			/* running already: keep next_fire */
		goto out_rollback;
	}
	if (cron_parse(PQgetvalue(res, 0, 0), &c, err, sizeof(err)) == -1 ||
	    cron_next(&c, PQgetvalue(res, 0, 1), schedule_now(), &t, err,
	    sizeof(err)) == -1) {
		snprintf(errbuf, errlen, "cannot resume: %s", err);
		rc = SCHEDULE_R_INVALID;
		goto out_rollback;
	}
	PQclear(res);
	res = NULL;
	snprintf(next, sizeof(next), "%lld", (long long)t);
	params[1] = next;
	if (db_exec(conn, "UPDATE schedules SET enabled = true, "
	    "next_fire = to_timestamp($2::bigint), last_error = NULL, "
	    "updated = now() WHERE name = $1", 2, params, errbuf,
	    errlen) == -1 ||
	    db_exec(conn, "COMMIT", 0, NULL, errbuf, errlen) == -1)
		goto out_rollback;
	return 0;
 out_rollback:
	PQclear(res);
	schedule_rollback(conn);
	return rc;
}

const char *
schedule_client_name(const char *client)
{
	size_t	n = sizeof(SCHEDULE_CLIENT_PREFIX) - 1;

	if (client == NULL || strncmp(client, SCHEDULE_CLIENT_PREFIX, n) != 0 ||
	    client[n] == '\0')
		return NULL;
	return client + n;
}

int
schedule_run_now(PGconn *conn, const char *name, char *job_id, size_t idlen,
    char *errbuf, size_t errlen)
{
	struct jobq_spec js;
	const char	*params[2];
	char		 client[sizeof(SCHEDULE_CLIENT_PREFIX) +
			    SCHEDULE_NAME_MAX], id[JOBQ_ID_MAX], err[384];
	PGresult	*res = NULL;
	int		 rc = -1;

	if (idlen > 0)
		job_id[0] = '\0';
	params[0] = name;
	if (db_exec(conn, "BEGIN", 0, NULL, errbuf, errlen) == -1)
		return -1;
	res = db_query(conn, "SELECT job_kind, job_params::text FROM schedules "
	    "WHERE name = $1 FOR UPDATE", 1, params, errbuf, errlen);
	if (res == NULL)
		goto out_rollback;
	if (PQntuples(res) == 0) {
		snprintf(errbuf, errlen, "no schedule '%.64s'", name);
		rc = SCHEDULE_R_NOTFOUND;
		goto out_rollback;
	}
	snprintf(client, sizeof(client), "%s%s", SCHEDULE_CLIENT_PREFIX, name);
	if (job_kind_check(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
	    client, err, sizeof(err)) == -1) {
		snprintf(errbuf, errlen, "job: %s", err);
		rc = SCHEDULE_R_INVALID;
		goto out_rollback;
	}
	memset(&js, 0, sizeof(js));
	js.s_kind = PQgetvalue(res, 0, 0);
	js.s_params = PQgetvalue(res, 0, 1);
	js.s_client = client;
	if (jobq_submit(conn, &js, id, sizeof(id), errbuf, errlen) == -1)
		goto out_rollback;
	params[1] = id;
	if (db_exec(conn, "UPDATE schedules SET last_job = $2, "
	    "updated = now() WHERE name = $1", 2, params, errbuf,
	    errlen) == -1 ||
	    db_exec(conn, "COMMIT", 0, NULL, errbuf, errlen) == -1)
		goto out_rollback;
	PQclear(res);
	str_lcpy(job_id, id, idlen);
	log_info("schedule %s: job %s submitted (run now)", name, id);
	return 0;
 out_rollback:
	PQclear(res);
	schedule_rollback(conn);
	return rc;
}

/* Moves a schedule on without a job: next_fire (0: NULL) and, if
 * error != NULL, last_error. */
static int
schedule_mark(PGconn *conn, const char *name, time_t next,
    const char *error, char *errbuf, size_t errlen)
{
	const char	*params[3];
	char		 nf[32];

	snprintf(nf, sizeof(nf), "%lld", (long long)next);
	params[0] = name;
	params[1] = next != 0 ? nf : NULL;
	params[2] = error;
	return db_exec(conn, "UPDATE schedules SET "
	    "next_fire = to_timestamp($2::bigint), "
	    "last_error = coalesce($3, last_error), updated = now() "
	    "WHERE name = $1", 3, params, errbuf, errlen);
}

/*
 * Fires row i of the due rows (name, cron, timezone, misfire, job_kind,
 * job_params, next_fire epoch).  Fills *fd.  0, or -1 for a database
 * error (the caller rolls back).
 */
static int
schedule_fire_row(PGconn *conn, const PGresult *res, int i, time_t now,
    struct schedule_fired *fd, char *errbuf, size_t errlen)
{
	struct cron	 c;
	struct jobq_spec js;
	const char	*name = PQgetvalue(res, i, 0);
	const char	*tz = PQgetvalue(res, i, 2);
	const char	*params[4];
	char		 client[sizeof(SCHEDULE_CLIENT_PREFIX) +
			    SCHEDULE_NAME_MAX], err[384], fire[32], nf[32];
	const char	*errstr;
	int64_t		 v;
	time_t		 after_first, next;

	memset(fd, 0, sizeof(*fd));
	str_lcpy(fd->fd_name, name, sizeof(fd->fd_name));
	if (str_to_i64(PQgetvalue(res, i, 6), 0, INT64_MAX, &v, &errstr) ==
	    -1)
		v = (int64_t)now;
	fd->fd_fire = (time_t)v;
	if (cron_parse(PQgetvalue(res, i, 1), &c, err, sizeof(err)) == -1 ||
	    cron_next(&c, tz, now, &next, err, sizeof(err)) == -1 ||
	    cron_next(&c, tz, fd->fd_fire, &after_first, err,
	    sizeof(err)) == -1) {
		/* Cannot compute a next fire: park it until it is put again. */
		snprintf(fd->fd_error, sizeof(fd->fd_error), "cannot fire: %s",
		    err);
		return schedule_mark(conn, name, 0, fd->fd_error, errbuf,
		    errlen);
	}
	fd->fd_next = next;
	fd->fd_missed = after_first <= now;
	if (fd->fd_missed && strcmp(PQgetvalue(res, i, 3), "skip") == 0)
		return schedule_mark(conn, name, next, NULL, errbuf, errlen);
	snprintf(client, sizeof(client), "%s%s", SCHEDULE_CLIENT_PREFIX, name);
	if (job_kind_check(PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
	    client, err, sizeof(err)) == -1) {
		snprintf(fd->fd_error, sizeof(fd->fd_error), "job refused: %s",
		    err);
		return schedule_mark(conn, name, next, fd->fd_error, errbuf,
		    errlen);
	}
	memset(&js, 0, sizeof(js));
	js.s_kind = PQgetvalue(res, i, 4);
	js.s_params = PQgetvalue(res, i, 5);
	js.s_client = client;
	js.s_fire_at = fd->fd_fire;	/* the calendar's match (jobs.fire_at) */
	if (jobq_submit(conn, &js, fd->fd_job, sizeof(fd->fd_job), errbuf,
	    errlen) == -1)
		return -1;
	/* last_fire: the instant the job stands for; a catch-up after
	 * several missed fires stands for all of them, at now. */
	snprintf(fire, sizeof(fire), "%lld",
	    (long long)(fd->fd_missed ? now : fd->fd_fire));
	snprintf(nf, sizeof(nf), "%lld", (long long)next);
	params[0] = name;
	params[1] = fire;
	params[2] = nf;
	params[3] = fd->fd_job;
	return db_exec(conn, "UPDATE schedules SET "
	    "last_fire = to_timestamp($2::bigint), "
	    "next_fire = to_timestamp($3::bigint), last_job = $4, "
	    "last_error = NULL, updated = now() WHERE name = $1", 4, params,
	    errbuf, errlen);
}

int
schedule_fire_due(PGconn *conn, time_t now, int64_t fence_key, int *nfired,
    int *nskipped, char *errbuf, size_t errlen)
{
	struct schedule_fired	*fired = NULL;
	const char		*params[2];
	char			 nowbuf[32], key[32], limit[16];
	char			 t1[CRON_TIME_MAX], t2[CRON_TIME_MAX];
	PGresult		*res = NULL;
	int			 i, n = 0, rc = -1, nf = 0, ns = 0;

	if (nfired != NULL)
		*nfired = 0;
	if (nskipped != NULL)
		*nskipped = 0;
	snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long)now);
	params[0] = nowbuf;
	/* Cheap probe first: the leader asks every second. */
	res = db_query(conn, "SELECT 1 FROM schedules WHERE enabled AND "
	    "next_fire <= to_timestamp($1::bigint) LIMIT 1", 1, params,
	    errbuf, errlen);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	res = NULL;
	if (n == 0)
		return 0;

	if (db_exec(conn, "BEGIN", 0, NULL, errbuf, errlen) == -1)
		return -1;
	if (fence_key != 0) {
		snprintf(key, sizeof(key), "%lld", (long long)fence_key);
		params[1] = key;
		res = db_query(conn, "SELECT 1 FROM pg_locks "
		    "WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
		    "AND granted AND objsubid = 1 "
		    "AND classid = (($1::bigint >> 32) & 4294967295)::oid "
		    "AND objid = ($1::bigint & 4294967295)::oid", 1,
		    params + 1, errbuf, errlen);
		if (res == NULL)
			goto out_rollback;
		if (PQntuples(res) == 0) {
			snprintf(errbuf, errlen, "this session does not hold "
			    "the leader lock %lld", (long long)fence_key);
			rc = SCHEDULE_R_FENCED;
			goto out_rollback;
		}
		PQclear(res);
		res = NULL;
	}
	snprintf(limit, sizeof(limit), "%d", SCHEDULE_FIRE_BATCH);
	params[1] = limit;
	res = db_query(conn, "SELECT name, cron, timezone, misfire, job_kind, "
	    "job_params::text, floor(extract(epoch FROM next_fire))::bigint "
	    "FROM schedules WHERE enabled "
	    "AND next_fire <= to_timestamp($1::bigint) "
	    "ORDER BY next_fire, name LIMIT $2::int "
	    "FOR UPDATE SKIP LOCKED", 2, params, errbuf, errlen);
	if (res == NULL)
		goto out_rollback;
	n = PQntuples(res);
	fired = xcalloc((size_t)n + 1, sizeof(*fired));
	for (i = 0; i < n; i++)
		if (schedule_fire_row(conn, res, i, now, &fired[i], errbuf,
		    errlen) == -1)
			goto out_rollback;
	if (db_exec(conn, "COMMIT", 0, NULL, errbuf, errlen) == -1)
		goto out_rollback;

	for (i = 0; i < n; i++) {
		cron_time_format(fired[i].fd_fire, t1, sizeof(t1));
		cron_time_format(fired[i].fd_next, t2, sizeof(t2));
		if (fired[i].fd_job[0] != '\0') {
			nf++;
			log_info("schedule %s: job %s submitted for %s%s; next "
			    "fire %s", fired[i].fd_name, fired[i].fd_job, t1,
			    fired[i].fd_missed ? " (fires were missed; "
			    "misfire run-once: one job for all)" : "", t2);
		} else if (fired[i].fd_error[0] != '\0') {
			ns++;
			log_warnx("schedule %s: %s", fired[i].fd_name,
			    fired[i].fd_error);
		} else {
			ns++;
			log_info("schedule %s: fires missed since %s skipped "
			    "(misfire skip); next fire %s", fired[i].fd_name,
			    t1, t2);
		}
	}
	if (nfired != NULL)
		*nfired = nf;
	if (nskipped != NULL)
		*nskipped = ns;
	PQclear(res);
	free(fired);
	return 0;
 out_rollback:
	PQclear(res);
	free(fired);
	schedule_rollback(conn);
	return rc;
}

/* Appends "key":"value" (or null), with a leading comma unless first. */
static int
schedule_json_str(struct buf *b, const char *key, const char *val,
    int first)
{
	if (buf_printf(b, "%s\"%s\":", first ? "" : ",", key) == -1)
		return -1;
	if (val == NULL)
		return buf_puts(b, "null");
	if (buf_putc(b, '"') == -1 ||
	    buf_json_escape(b, val, strlen(val)) == -1 ||
	    buf_putc(b, '"') == -1)
		return -1;
	return 0;
}

int
schedule_json(const struct schedule *s, struct buf *b)
{
	struct cron	c;
	char		text[CRON_TEXT_MAX], err[256];

	/* A stored cron always parses (schedule_put checked it); if it ever
	 * stops, the words say nothing rather than something wrong. */
	if (cron_parse(s->sc_cron, &c, err, sizeof(err)) == -1 ||
	    cron_text(&c, s->sc_timezone, text, sizeof(text)) == -1)
		text[0] = '\0';
	if (buf_putc(b, '{') == -1 ||
	    schedule_json_str(b, "name", s->sc_name, 1) == -1 ||
	    schedule_json_str(b, "cron", s->sc_cron, 0) == -1 ||
	    schedule_json_str(b, "timezone", s->sc_timezone, 0) == -1 ||
	    buf_printf(b, ",\"enabled\":%s", s->sc_enabled ? "true" :
	    "false") == -1 ||
	    schedule_json_str(b, "misfire", s->sc_misfire, 0) == -1 ||
	    buf_puts(b, ",\"job\":{") == -1 ||
	    schedule_json_str(b, "kind", s->sc_job_kind, 1) == -1 ||
	    buf_printf(b, ",\"params\":%s}", s->sc_job_params != NULL ?
	    s->sc_job_params : "{}") == -1 ||
	    schedule_json_str(b, "last_fire", s->sc_last_fire, 0) == -1 ||
	    schedule_json_str(b, "next_fire", s->sc_next_fire, 0) == -1 ||
	    schedule_json_str(b, "last_job", s->sc_last_job, 0) == -1 ||
	    schedule_json_str(b, "last_error", s->sc_last_error, 0) == -1 ||
	    schedule_json_str(b, "source", s->sc_source, 0) == -1 ||
	    schedule_json_str(b, "created", s->sc_created, 0) == -1 ||
	    schedule_json_str(b, "updated", s->sc_updated, 0) == -1 ||
	    schedule_json_str(b, "cron_text", text[0] != '\0' ? text : NULL,
	    0) == -1 ||
	    schedule_json_str(b, "last_result", s->sc_last_result, 0) == -1 ||
	    buf_putc(b, '}') == -1)
		return -1;
	return 0;
}

int
schedule_list_json(struct schedule *const *list, size_t n, struct buf *b)
{
	size_t	i;

	if (buf_putc(b, '[') == -1)
		return -1;
	for (i = 0; i < n; i++)
		if ((i > 0 && buf_putc(b, ',') == -1) ||
		    schedule_json(list[i], b) == -1)
			return -1;
	return buf_putc(b, ']');
}

void
schedule_free(struct schedule *s)
{
	if (s == NULL)
		return;
	free(s->sc_name);
	free(s->sc_cron);
	free(s->sc_timezone);
	free(s->sc_misfire);
	free(s->sc_job_kind);
	free(s->sc_job_params);
	free(s->sc_last_fire);
	free(s->sc_next_fire);
	free(s->sc_last_job);
	free(s->sc_last_error);
	free(s->sc_created);
	free(s->sc_updated);
	free(s->sc_source);
	free(s->sc_last_result);
	free(s);
}

void
schedule_list_free(struct schedule **list, size_t n)
{
	size_t	i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++)
		schedule_free(list[i]);
	free(list);
}

static void
schedule_clock_setup(void)
{
	const char	*v = getenv("BULKHEAD_CLOCK");

	if (v == NULL || v[0] == '\0')
		return;
	if (cron_time_parse(v, &schedule_clock.base) == -1) {
		snprintf(schedule_clock.err, sizeof(schedule_clock.err),
		    "BULKHEAD_CLOCK: not an RFC 3339 instant: '%.64s'", v);
		schedule_clock.state = -1;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &schedule_clock.mono0);
	schedule_clock.state = 1;
}

int
schedule_clock_init(int *fake, char *errbuf, size_t errlen)
{
	pthread_once(&schedule_clock_once, schedule_clock_setup);
	if (fake != NULL)
		*fake = schedule_clock.state == 1;
	if (schedule_clock.state == -1) {
		str_lcpy(errbuf, schedule_clock.err, errlen);
		return -1;
	}
	return 0;
}

time_t
schedule_now(void)
{
	struct timespec	ts;
	int64_t		ns;

	pthread_once(&schedule_clock_once, schedule_clock_setup);
	if (schedule_clock.state != 1)
		return time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = ((int64_t)ts.tv_sec - (int64_t)schedule_clock.mono0.tv_sec) *
	    1000000000 + (ts.tv_nsec - schedule_clock.mono0.tv_nsec);
	return schedule_clock.base + (time_t)(ns / 1000000000);
}
