/*
 * jobq_console.c — the queue as the operator's console and /metrics read
 * it (declared in jobq.h, THE CONSOLE'S READS): the jobs schedules fired
 * (the calendar's past), delayed one-off jobs (its future), the states
 * of a schedule's last jobs, counts by kind and state, and the worker
 * processes busy and idle (with store/procstats.h's processes table).
 *
 * Each is one read-only statement; none takes a lock a worker waits on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/jobq.h"
#include "store/jobq_int.h"

/* The state the admin API shows for row j. */
#define JOBQ_SHOWN(j) \
	"CASE WHEN " j ".state = 'queued' AND " j ".not_before > now() " \
	"THEN 'scheduled' ELSE " j ".state END"

static int64_t	 jobq_i64(const PGresult *, int, int);
static PGresult	*jobq_window(PGconn *, const char *, time_t, time_t, size_t,
		    char *, size_t);

static int64_t
jobq_i64(const PGresult *res, int row, int col)
{
	const char	*errstr;
	int64_t		 v = 0;

	if (!PQgetisnull(res, row, col))
		(void)str_to_i64(PQgetvalue(res, row, col), INT64_MIN,
		    INT64_MAX, &v, &errstr);
	return v;
}

/* Runs sql with $1, $2 = [from, to) as epoch seconds, $3 = max rows. */
static PGresult *
jobq_window(PGconn *conn, const char *sql, time_t from, time_t to,
    size_t max, char *errbuf, size_t errlen)
{
	const char	*params[3];
	char		 f[32], t[32], m[32];

	snprintf(f, sizeof(f), "%lld", (long long)from);
	snprintf(t, sizeof(t), "%lld", (long long)to);
	snprintf(m, sizeof(m), "%zu", max);
	params[0] = f;
	params[1] = t;
	params[2] = m;
	return db_query(conn, sql, 3, params, errbuf, errlen);
}

int
jobq_fires(PGconn *conn, time_t from, time_t to, size_t max,
    struct jobq_fire **out, size_t *n, char *errbuf, size_t errlen)
{
	PGresult	*res;
	int		 i;

	*out = NULL;
	*n = 0;
	/* Two jobs for one fire cannot happen (one transaction fires it);
	 * the newest wins if an operator ever made one by hand. */
	res = jobq_window(conn, "SELECT DISTINCT ON (j.client, j.fire_at) "
	    "substr(j.client, 10), extract(epoch FROM j.fire_at)::bigint, "
	    "j.id, " JOBQ_SHOWN("j") " FROM jobs j "
	    "WHERE j.fire_at >= to_timestamp($1::bigint) "
	    "AND j.fire_at < to_timestamp($2::bigint) "
	    "AND starts_with(j.client, 'schedule:') "
	    "ORDER BY j.client, j.fire_at, j.created DESC LIMIT $3::bigint",
	    from, to, max, errbuf, errlen);
	if (res == NULL)
		return -1;
	*out = xcalloc((size_t)PQntuples(res) + 1, sizeof(**out));
	for (i = 0; i < PQntuples(res); i++) {
		str_lcpy((*out)[i].f_schedule, PQgetvalue(res, i, 0),
		    sizeof((*out)[i].f_schedule));
		(*out)[i].f_at = (time_t)jobq_i64(res, i, 1);
		str_lcpy((*out)[i].f_id, PQgetvalue(res, i, 2),
		    sizeof((*out)[i].f_id));
		str_lcpy((*out)[i].f_state, PQgetvalue(res, i, 3),
		    sizeof((*out)[i].f_state));
	}
	*n = (size_t)PQntuples(res);
	PQclear(res);
	return 0;
}

int
jobq_delayed_list(PGconn *conn, time_t from, time_t to, size_t max,
    struct jobq_delayed **out, size_t *n, char *errbuf, size_t errlen)
{
	PGresult	*res;
	int		 i;

	*out = NULL;
	*n = 0;
	res = jobq_window(conn, "SELECT j.id, j.kind, "
	    "extract(epoch FROM j.not_before)::bigint, " JOBQ_SHOWN("j")
	    " FROM jobs j WHERE j.not_before >= to_timestamp($1::bigint) "
	    "AND j.not_before < to_timestamp($2::bigint) "
	    "ORDER BY j.not_before, j.id LIMIT $3::bigint", from, to, max,
	    errbuf, errlen);
	if (res == NULL)
		return -1;
	*out = xcalloc((size_t)PQntuples(res) + 1, sizeof(**out));
	for (i = 0; i < PQntuples(res); i++) {
		str_lcpy((*out)[i].d_id, PQgetvalue(res, i, 0),
		    sizeof((*out)[i].d_id));
		str_lcpy((*out)[i].d_kind, PQgetvalue(res, i, 1),
		    sizeof((*out)[i].d_kind));
		(*out)[i].d_not_before = (time_t)jobq_i64(res, i, 2);
		str_lcpy((*out)[i].d_state, PQgetvalue(res, i, 3),
		    sizeof((*out)[i].d_state));
	}
	*n = (size_t)PQntuples(res);
	PQclear(res);
	return 0;
}

int
jobq_states(PGconn *conn, const char *const *ids, size_t n,
    char (*states)[JOBQ_STATE_MAX], char *errbuf, size_t errlen)
{
	struct buf	 arr;
	const char	*params[1];
	PGresult	*res = NULL;
	size_t		 i, k;
	int		 r, rc = -1;

	for (i = 0; i < n; i++)
		states[i][0] = '\0';
	if (n == 0)
		return 0;
	/* A text[] literal; ids are checked to be plain before. */
	buf_init(&arr, n * (JOBQ_ID_MAX + 1) + 8);
	if (buf_putc(&arr, '{') == -1)
		goto out_long;
	for (i = 0, k = 0; i < n; i++) {
		if (ids[i] == NULL || ids[i][0] == '\0' ||
		    strspn(ids[i], "0123456789abcdefABCDEF") != strlen(ids[i]))
			continue;
		if (buf_printf(&arr, "%s%s", k++ ? "," : "", ids[i]) == -1)
			goto out_long;
	}
	if (buf_putc(&arr, '}') == -1)
		goto out_long;
	params[0] = arr.b_data;
	res = db_query(conn, "SELECT j.id, " JOBQ_SHOWN("j") " FROM jobs j "
	    "WHERE j.id = ANY ($1::text[])", 1, params, errbuf, errlen);
	if (res == NULL)
		goto out;
	for (r = 0; r < PQntuples(res); r++)
		for (i = 0; i < n; i++)
			if (ids[i] != NULL &&
			    strcmp(ids[i], PQgetvalue(res, r, 0)) == 0)
				str_lcpy(states[i], PQgetvalue(res, r, 1),
				    JOBQ_STATE_MAX);
	rc = 0;
	goto out;
 out_long:
	snprintf(errbuf, errlen, "job id list too long");
 out:
	PQclear(res);
	buf_free(&arr);
	return rc;
}

int
jobq_stats(PGconn *conn, struct jobq_stat **out, size_t *n, char *errbuf,
    size_t errlen)
{
	PGresult	*res;
	int		 i;

	*out = NULL;
	*n = 0;
	/* Rows by JOBQ_ROWS (the job JSON's "rows"); bytes are those of
	 * finished output files, whatever the kind. */
	res = db_query(conn, "SELECT j.kind, " JOBQ_SHOWN("j") ", count(*), "
	    "coalesce(sum(" JOBQ_ROWS("j") "), 0)::bigint, "
	    "coalesce(sum((SELECT sum(o.bytes) FROM job_outputs o "
	    "WHERE o.job_id = j.id AND o.channel = 'output')), 0)::bigint, "
	    "coalesce(extract(epoch FROM now() - min(j.created) FILTER ("
	    "WHERE j.state = 'queued' AND j.run_after <= now() AND "
	    "(j.not_before IS NULL OR j.not_before <= now()))), 0)::float8 "
	    "FROM jobs j GROUP BY 1, 2 ORDER BY 1, 2", 0, NULL, errbuf,
	    errlen);
	if (res == NULL)
		return -1;
	*out = xcalloc((size_t)PQntuples(res) + 1, sizeof(**out));
	for (i = 0; i < PQntuples(res); i++) {
		str_lcpy((*out)[i].st_kind, PQgetvalue(res, i, 0),
		    sizeof((*out)[i].st_kind));
		str_lcpy((*out)[i].st_state, PQgetvalue(res, i, 1),
		    sizeof((*out)[i].st_state));
		(*out)[i].st_jobs = jobq_i64(res, i, 2);
		(*out)[i].st_rows = jobq_i64(res, i, 3);
		(*out)[i].st_bytes = jobq_i64(res, i, 4);
		(*out)[i].st_oldest_s = strtod(PQgetvalue(res, i, 5), NULL);
	}
	*n = (size_t)PQntuples(res);
	PQclear(res);
	return 0;
}

int
jobq_workers(PGconn *conn, int fresh_s, int64_t *busy, int64_t *idle,
    char *errbuf, size_t errlen)
{
	const char	*params[1];
	char		 fs[16];
	PGresult	*res;

	*busy = *idle = 0;
	snprintf(fs, sizeof(fs), "%d", fresh_s);
	params[0] = fs;
	/* Busy: a live lease, whatever its row says (a busy worker stops
	 * refreshing it while the kind runs).  Idle: a fresh worker row
	 * (store/procstats.h) with no live lease. */
	res = db_query(conn, "WITH busy AS (SELECT DISTINCT lease_owner AS id "
	    "FROM jobs WHERE state IN ('running', 'cancelling') "
	    "AND lease_expires >= now()) "
	    "SELECT (SELECT count(*) FROM busy), "
	    "(SELECT count(*) FROM processes p WHERE p.role = 'worker' "
	    "AND p.seen > now() - make_interval(secs => $1::int) "
	    "AND p.id NOT IN (SELECT id FROM busy WHERE id IS NOT NULL))", 1,
	    params, errbuf, errlen);
	if (res == NULL)
		return -1;
	*busy = jobq_i64(res, 0, 0);
	*idle = jobq_i64(res, 0, 1);
	PQclear(res);
	return 0;
}
