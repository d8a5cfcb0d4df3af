/*
 * deliveries.c — the OpenHIM delivery store (see deliveries.h).  Claims
 * take one due row with FOR UPDATE SKIP LOCKED and push next_at past
 * DELIVERIES_LEASE_S in the same statement, so two workers never send
 * the same delivery at once and a worker killed mid-send leaves a row
 * that is retried after the hold: at most one extra send.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/deliveries.h"

_Static_assert(DELIVERIES_LEASE_S == 60, "the claim's interval literal");

static int	deliveries_text(PGconn *, const char *, int, const char **,
		    char **, char *, size_t);

int
deliveries_put_targets(PGconn *conn, const char *config, char *errbuf,
    size_t errlen)
{
	const char	*p[1] = { config };

	if (db_exec(conn, "BEGIN", 0, NULL, errbuf, errlen) == -1)
		return -1;
	if (db_exec(conn, "DELETE FROM openhim_targets", 0, NULL, errbuf,
	    errlen) == -1 ||
	    db_exec(conn, "INSERT INTO openhim_targets (name, url, username, "
	    "password, channel, max_inline) SELECT t.name, t.url, "
	    "t.username, t.password, t.channel, coalesce(t.\"maxInlineBytes\","
	    " 0) FROM jsonb_to_recordset(coalesce($1::jsonb->'targets', "
	    "'[]')) AS t(name text, url text, username text, password text, "
	    "channel text, \"maxInlineBytes\" bigint)", 1, p, errbuf,
	    errlen) == -1 ||
	    db_exec(conn, "COMMIT", 0, NULL, errbuf, errlen) == -1) {
		(void)db_exec(conn, "ROLLBACK", 0, NULL, NULL, 0);
		return -1;
	}
	return 0;
}

int
deliveries_enqueue(PGconn *conn, int max_attempts, int *n, char *errbuf,
    size_t errlen)
{
	PGresult	*res;
	char		 ma[16];
	const char	*p[1] = { ma };

	snprintf(ma, sizeof(ma), "%d", max_attempts);
	res = db_query(conn, "WITH ins AS (INSERT INTO openhim_deliveries "
	    "(job_id, n, target, max_attempts) SELECT j.id, d.ord, "
	    "coalesce(d.e->>'target', ''), $1::int FROM jobs j, "
	    "jsonb_array_elements(j.params->'deliver') WITH ORDINALITY "
	    "AS d(e, ord) WHERE j.state = 'completed' AND "
	    "jsonb_typeof(j.params->'deliver') = 'array' AND NOT EXISTS "
	    "(SELECT 1 FROM openhim_deliveries x WHERE x.job_id = j.id) "
	    "ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM ins",
	    1, p, errbuf, errlen);
	if (res == NULL)
		return -1;
	*n = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int
deliveries_claim(PGconn *conn, struct delivery *d, char *errbuf,
    size_t errlen)
{
	PGresult	*res;
	int		 rc = 0;

	res = db_query(conn, "UPDATE openhim_deliveries d SET attempts = "
	    "d.attempts + 1, next_at = now() + interval '60 s', "
	    "updated = now() FROM (SELECT "
	    "job_id, n FROM openhim_deliveries WHERE state = 'pending' AND "
	    "next_at <= now() ORDER BY next_at LIMIT 1 FOR UPDATE SKIP "
	    "LOCKED) c WHERE d.job_id = c.job_id AND d.n = c.n RETURNING "
	    "d.job_id, d.n, d.target, d.attempts, d.max_attempts", 0, NULL,
	    errbuf, errlen);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		memset(d, 0, sizeof(*d));
		str_lcpy(d->d_job, PQgetvalue(res, 0, 0), sizeof(d->d_job));
		d->d_n = (int)strtol(PQgetvalue(res, 0, 1), NULL, 10);
		str_lcpy(d->d_target, PQgetvalue(res, 0, 2),
		    sizeof(d->d_target));
		d->d_attempts = (int)strtol(PQgetvalue(res, 0, 3), NULL, 10);
		d->d_max_attempts = (int)strtol(PQgetvalue(res, 0, 4), NULL,
		    10);
		rc = 1;
	}
	PQclear(res);
	return rc;
}

int
deliveries_finish(PGconn *conn, const struct delivery *d, int ok,
    int permanent, long status, const char *response, char *errbuf,
    size_t errlen)
{
	char		 n[16], st[16], resp[DELIVERIES_RESPONSE_MAX + 1];
	const char	*state, *p[5];
	int		 backoff;

	if (ok)
		state = "delivered";
	else if (permanent)
		state = "failed";
	else if (d->d_attempts >= d->d_max_attempts)
		state = "giving-up";
	else
		state = "pending";
	/* 1 s after the first failure, doubling, at most 10 min. */
	backoff = d->d_attempts >= 10 ? DELIVERIES_BACKOFF_MAX :
	    1 << (d->d_attempts - 1);
	if (backoff > DELIVERIES_BACKOFF_MAX)
		backoff = DELIVERIES_BACKOFF_MAX;
	snprintf(n, sizeof(n), "%d", d->d_n);
	snprintf(st, sizeof(st), "%d", backoff);
	str_lcpy(resp, response != NULL ? response : "", sizeof(resp));
	p[0] = d->d_job;
	p[1] = n;
	p[2] = state;
	p[3] = st;
	p[4] = resp;
	if (status > 0) {
		char	ls[24];
		const char *q[6] = { p[0], p[1], p[2], p[3], p[4], ls };

		snprintf(ls, sizeof(ls), "%ld", status);
		return db_exec(conn, "UPDATE openhim_deliveries SET state = $3, "
		    "next_at = now() + $4::int * interval '1 s', last_status = "
		    "$6::int, last_response = $5, updated = now() WHERE job_id "
		    "= $1 AND n = $2::int", 6, q, errbuf, errlen);
	}
	return db_exec(conn, "UPDATE openhim_deliveries SET state = $3, "
	    "next_at = now() + $4::int * interval '1 s', last_status = NULL, "
	    "last_response = $5, updated = now() WHERE job_id = $1 AND n = "
	    "$2::int", 5, p, errbuf, errlen);
}

int
deliveries_retry(PGconn *conn, const char *job, int n, char *errbuf,
    size_t errlen)
{
	PGresult	*res;
	char		 ns[16];
	const char	*p[2] = { job, ns };
	int		 rc;

	snprintf(ns, sizeof(ns), "%d", n);
	res = db_query(conn, "UPDATE openhim_deliveries SET state = "
	    "'pending', attempts = 0, next_at = now(), updated = now() WHERE "
	    "job_id = $1 AND n = $2::int RETURNING 1", 2, p, errbuf, errlen);
	if (res == NULL)
		return -1;
	rc = PQntuples(res) == 1;
	PQclear(res);
	return rc;
}

/* The one text cell of a single-row query, copied. */
static int
deliveries_text(PGconn *conn, const char *sql, int np, const char **p,
    char **out, char *errbuf, size_t errlen)
{
	PGresult	*res;

	if ((res = db_query(conn, sql, np, p, errbuf, errlen)) == NULL)
		return -1;
	*out = xstrdup(PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ?
	    PQgetvalue(res, 0, 0) : "[]");
	PQclear(res);
	return 0;
}

int
deliveries_list_json(PGconn *conn, const char *job, char **json,
    char *errbuf, size_t errlen)
{
	const char	*p[1] = { job };

	return deliveries_text(conn, "SELECT coalesce(json_agg(json_build_"
	    "object('n', n, 'target', target, 'state', state, 'attempts', "
	    "attempts, 'maxAttempts', max_attempts, 'nextAt', CASE WHEN "
	    "state = 'pending' THEN next_at END, 'lastStatus', last_status, "
	    "'lastResponse', last_response, 'updated', updated) ORDER BY n), "
	    "'[]') FROM openhim_deliveries WHERE job_id = $1", 1, p, json,
	    errbuf, errlen);
}

int
deliveries_counts(PGconn *conn, struct deliveries_count **out, size_t *n,
    char *errbuf, size_t errlen)
{
	PGresult	*res;
	int		 i;

	*out = NULL;
	*n = 0;
	if ((res = db_query(conn, "SELECT target, state, count(*) FROM "
	    "openhim_deliveries GROUP BY 1, 2 ORDER BY 1, 2", 0, NULL, errbuf,
	    errlen)) == NULL)
		return -1;
	*out = xcalloc((size_t)PQntuples(res) + 1, sizeof(**out));
	for (i = 0; i < PQntuples(res); i++) {
		str_lcpy((*out)[i].dc_target, PQgetvalue(res, i, 0),
		    sizeof((*out)[i].dc_target));
		str_lcpy((*out)[i].dc_state, PQgetvalue(res, i, 1),
		    sizeof((*out)[i].dc_state));
		(*out)[i].dc_n = strtoll(PQgetvalue(res, i, 2), NULL, 10);
	}
	*n = (size_t)PQntuples(res);
	PQclear(res);
	return 0;
}

int
deliveries_poll_claim(PGconn *conn, const char *tid, const char *schedule,
    char *job, size_t joblen, char *errbuf, size_t errlen)
{
	PGresult	*res;
	const char	*p[2] = { tid, schedule };
	int		 rc;

	res = db_query(conn, "INSERT INTO openhim_polls (transaction_id, "
	    "schedule) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
	    2, p, errbuf, errlen);
	if (res == NULL)
		return -1;
	rc = PQntuples(res) == 1;
	PQclear(res);
	if (rc == 1)
		return 1;
	res = db_query(conn, "SELECT coalesce(job_id, '') FROM openhim_polls "
	    "WHERE transaction_id = $1", 1, p, errbuf, errlen);
	if (res == NULL)
		return -1;
	str_lcpy(job, PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "",
	    joblen);
	PQclear(res);
	return 0;
}

int
deliveries_poll_done(PGconn *conn, const char *tid, const char *job,
    char *errbuf, size_t errlen)
{
	const char	*p[2] = { tid, job };

	if (job == NULL)
		return db_exec(conn, "DELETE FROM openhim_polls WHERE "
		    "transaction_id = $1", 1, p, errbuf, errlen);
	return db_exec(conn, "UPDATE openhim_polls SET job_id = $2 WHERE "
	    "transaction_id = $1", 2, p, errbuf, errlen);
}
