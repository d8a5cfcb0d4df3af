/*
 * interactive.c — owner of the interactive_stats table
 * (schemas/018_interactive.sql); see interactive.h.  Each call is one
 * statement: the writer's upsert and the reader's aggregate go together,
 * so a publishing process costs one round trip a second.
 */
#include <stdio.h>
#include <stdlib.h>

#include "store/db.h"
#include "store/interactive.h"

#define IA_STR(x)	#x
#define IA_XSTR(x)	IA_STR(x)

static const char interactive_api_sql[] =
    "WITH up AS (INSERT INTO interactive_stats (proc, role, p99_ms, "
    "in_flight, requests, updated_at) VALUES ($1, 'api', $2, $3, $4, now()) "
    "ON CONFLICT (proc) DO UPDATE SET p99_ms = excluded.p99_ms, "
    "in_flight = excluded.in_flight, requests = excluded.requests, "
    "updated_at = excluded.updated_at RETURNING 1), "
    "gone AS (DELETE FROM interactive_stats WHERE updated_at < now() - "
    "interval '" IA_XSTR(INTERACTIVE_PRUNE_S) " s' RETURNING 1) "
    "SELECT count(*), coalesce(min(factor), 1) FROM interactive_stats "
    "WHERE role = 'job' AND updated_at > now() - interval '"
    IA_XSTR(INTERACTIVE_FRESH_S) " s'";

static const char interactive_job_sql[] =
    "WITH up AS (INSERT INTO interactive_stats (proc, role, factor, rate, "
    "updated_at) VALUES ($1, 'job', $2, $3, now()) "
    "ON CONFLICT (proc) DO UPDATE SET factor = excluded.factor, "
    "rate = excluded.rate, updated_at = excluded.updated_at RETURNING 1) "
    "SELECT count(*), coalesce(max(p99_ms), -1), "
    "coalesce(sum(in_flight), 0), coalesce(sum(requests), 0) "
    "FROM interactive_stats WHERE role = 'api' AND updated_at > now() - "
    "interval '" IA_XSTR(INTERACTIVE_FRESH_S) " s'";

int
interactive_publish_api(PGconn *conn, const char *proc, double p99_ms,
    int in_flight, int requests, struct interactive_jobs *out, char *errbuf,
    size_t errlen)
{
	const char	*p[4];
	char		 a[32], b[16], c[16];
	PGresult	*res;

	snprintf(a, sizeof(a), "%.3f", p99_ms);
	snprintf(b, sizeof(b), "%d", in_flight);
	snprintf(c, sizeof(c), "%d", requests);
	p[0] = proc;
	p[1] = a;
	p[2] = b;
	p[3] = c;
	if ((res = db_query(conn, interactive_api_sql, 4, p, errbuf,
	    errlen)) == NULL)
		return -1;
	out->ij_jobs = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	out->ij_factor_min = strtod(PQgetvalue(res, 0, 1), NULL);
	PQclear(res);
	return 0;
}

int
interactive_publish_job(PGconn *conn, const char *proc, double factor,
    double rate, struct interactive_api *out, char *errbuf, size_t errlen)
{
	const char	*p[3];
	char		 a[32], b[32];
	PGresult	*res;

	snprintf(a, sizeof(a), "%.4f", factor);
	snprintf(b, sizeof(b), "%.1f", rate);
	p[0] = proc;
	p[1] = a;
	p[2] = b;
	if ((res = db_query(conn, interactive_job_sql, 3, p, errbuf,
	    errlen)) == NULL)
		return -1;
	out->ia_procs = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	out->ia_p99_ms = strtod(PQgetvalue(res, 0, 1), NULL);
	out->ia_in_flight = (int)strtol(PQgetvalue(res, 0, 2), NULL, 10);
	out->ia_requests = (int)strtol(PQgetvalue(res, 0, 3), NULL, 10);
	PQclear(res);
	return 0;
}

int
interactive_forget(PGconn *conn, const char *proc, char *errbuf,
    size_t errlen)
{
	const char	*p[1];

	p[0] = proc;
	return db_exec(conn, "DELETE FROM interactive_stats WHERE proc = $1",
	    1, p, errbuf, errlen);
}
