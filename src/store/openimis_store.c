/*
 * openimis_store.c — the openIMIS tables (see openimis_store.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "store/db.h"
#include "store/ndjson.h"
#include "store/openimis_store.h"

static const char *const os_states[] = {
	[OPENIMIS_PUSH_NONE] = "none",
	[OPENIMIS_PUSH_SENDING] = "sending",
	[OPENIMIS_PUSH_ACCEPTED] = "accepted",
	[OPENIMIS_PUSH_REFUSED] = "refused",
};

static enum openimis_push_state	os_state(const char *);
static int	os_array_add(struct buf *, const char *);

static enum openimis_push_state
os_state(const char *s)
{
	if (strcmp(s, "sending") == 0)
		return OPENIMIS_PUSH_SENDING;
	if (strcmp(s, "accepted") == 0)
		return OPENIMIS_PUSH_ACCEPTED;
	if (strcmp(s, "refused") == 0)
		return OPENIMIS_PUSH_REFUSED;
	return OPENIMIS_PUSH_NONE;
}

int
openimis_store_pull_get(PGconn *conn, const char *type,
    struct openimis_pull_state *st, char *errbuf, size_t errlen)
{
	const char	*p[1] = { type };
	PGresult	*res;

	memset(st, 0, sizeof(*st));
	if ((res = db_query(conn, "SELECT coalesce(extract(epoch FROM "
	    "high_water)::bigint, 0), coalesce(extract(epoch FROM "
	    "last_full)::bigint, 0) FROM openimis_pull WHERE type = $1", 1, p,
	    errbuf, errlen)) == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		st->ps_high_water = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		st->ps_last_full = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	}
	PQclear(res);
	return 0;
}

int
openimis_store_pull_done(PGconn *conn, const char *type, int64_t high_water,
    int full, int64_t total, char *errbuf, size_t errlen)
{
	char		 hw[32], tot[32];
	const char	*p[4] = { type, hw, full ? "t" : "f", tot };

	snprintf(hw, sizeof(hw), "%lld", (long long)high_water);
	snprintf(tot, sizeof(tot), "%lld", (long long)total);
	return db_exec(conn, "INSERT INTO openimis_pull AS o (type, "
	    "high_water, last_full, last_total) VALUES ($1, to_timestamp($2), "
	    "CASE WHEN $3::boolean THEN now() END, $4) ON CONFLICT (type) DO "
	    "UPDATE SET high_water = excluded.high_water, last_full = "
	    "coalesce(excluded.last_full, o.last_full), last_total = "
	    "excluded.last_total", 4, p, errbuf, errlen);
}

int
openimis_store_seen(PGconn *conn, const char *type, const char *const *ids,
    size_t n, const char *seen, char *errbuf, size_t errlen)
{
	struct buf	 arr;
	const char	*p[3];
	size_t		 i;
	int		 rc = -1;

	if (n == 0)
		return 0;
	buf_init(&arr, (size_t)1 << 30);
	(void)buf_putc(&arr, '{');
	for (i = 0; i < n; i++) {
		/* FHIR ids need no quoting; anything else is refused. */
		if (!ndjson_valid_id(ids[i], strlen(ids[i]))) {
			snprintf(errbuf, errlen, "bad id");
			goto out;
		}
		if ((i > 0 && buf_putc(&arr, ',') == -1) ||
		    buf_puts(&arr, ids[i]) == -1)
			goto out;
	}
	if (buf_putc(&arr, '}') == -1)
		goto out;
	p[0] = type;
	p[1] = arr.b_data;
	p[2] = seen;
	rc = db_exec(conn, "INSERT INTO openimis_pulled (type, id, seen) "
	    "SELECT $1, i, $3 FROM unnest($2::text[]) AS i ON CONFLICT (type, "
	    "id) DO UPDATE SET seen = excluded.seen", 3, p, errbuf, errlen);
 out:
	buf_free(&arr);
	return rc;
}

int
openimis_store_seen_count(PGconn *conn, const char *type, const char *seen,
    int64_t *n, char *errbuf, size_t errlen)
{
	const char	*p[2] = { type, seen };
	PGresult	*res;

	if ((res = db_query(conn, "SELECT count(*) FROM openimis_pulled "
	    "WHERE type = $1 AND seen = $2", 2, p, errbuf, errlen)) == NULL)
		return -1;
	*n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int
openimis_store_reconcile(PGconn *conn, const char *type, const char *seen,
    int64_t *n, char *errbuf, size_t errlen)
{
	const char	*p[2] = { type, seen };
	PGresult	*res = NULL;
	char		 rb[128];
	int		 rc = -1;

	if (db_exec(conn, "BEGIN", 0, NULL, errbuf, errlen) == -1)
		return -1;
	if ((res = db_query(conn, "WITH gone AS (DELETE FROM openimis_pulled "
	    "WHERE type = $1 AND seen < $2 RETURNING id), upd AS (UPDATE "
	    "resources r SET deleted = true, version = r.version + 1, "
	    "last_updated = now() FROM gone WHERE r.type = $1 AND r.id = "
	    "gone.id AND NOT r.deleted RETURNING 1) SELECT count(*) FROM upd",
	    2, p, errbuf, errlen)) == NULL)
		goto out;
	*n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (db_exec(conn, "COMMIT", 0, NULL, errbuf, errlen) == -1)
		goto out;
	rc = 0;
 out:
	PQclear(res);
	if (rc == -1)
		(void)db_exec(conn, "ROLLBACK", 0, NULL, rb, sizeof(rb));
	return rc;
}

int
openimis_store_push_get(PGconn *conn, const char *job, const char *code,
    enum openimis_push_state *st, char *errbuf, size_t errlen)
{
	const char	*p[2] = { job, code };
	PGresult	*res;

	if ((res = db_query(conn, "SELECT state FROM openimis_push WHERE "
	    "job = $1 AND code = $2", 2, p, errbuf, errlen)) == NULL)
		return -1;
	*st = PQntuples(res) == 1 ? os_state(PQgetvalue(res, 0, 0)) :
	    OPENIMIS_PUSH_NONE;
	PQclear(res);
	return 0;
}

/* Appends s (NULL: NULL) as an element of a text[] literal that a
 * holds from its '{' on. */
static int
os_array_add(struct buf *a, const char *s)
{
	int	rc = 0;

	if (a->b_len > 1)
		rc |= buf_putc(a, ',');
	if (s == NULL)
		return rc | buf_puts(a, "NULL");
	rc |= buf_putc(a, '"');
	for (; *s != '\0' && rc == 0; s++) {
		if (*s == '"' || *s == '\\')
			rc |= buf_putc(a, '\\');
		rc |= buf_putc(a, *s);
	}
	return rc | buf_putc(a, '"');
}

int
openimis_store_push_reserve(PGconn *conn, const char *job, size_t n,
    const char *const *codes, const int64_t *seqs, const char *const *ids,
    const char *const *sources, char *errbuf, size_t errlen)
{
	struct buf	 a[4];
	const char	*p[5];
	char		 sq[32], rb[128];
	size_t		 i;
	int		 k, rc = -1, txn = 0;

	if (n == 0)
		return 0;
	for (k = 0; k < 4; k++) {
		buf_init(&a[k], (size_t)1 << 26);
		(void)buf_putc(&a[k], '{');
	}
	for (i = 0; i < n; i++) {
		snprintf(sq, sizeof(sq), "%lld", (long long)seqs[i]);
		if (os_array_add(&a[0], codes[i]) == -1 ||
		    os_array_add(&a[1], sq) == -1 ||
		    os_array_add(&a[2], ids[i]) == -1 ||
		    os_array_add(&a[3], sources[i]) == -1) {
			snprintf(errbuf, errlen, "push batch too large");
			goto out;
		}
	}
	for (k = 0; k < 4; k++)
		if (buf_putc(&a[k], '}') == -1) {
			snprintf(errbuf, errlen, "push batch too large");
			goto out;
		}
	p[0] = job;
	for (k = 0; k < 4; k++)
		p[k + 1] = a[k].b_data;
	/* Durable whatever the server's default: these rows are what
	 * keeps a POST from happening twice. */
	if (db_exec(conn, "BEGIN", 0, NULL, errbuf, errlen) == -1)
		goto out;
	txn = 1;
	if (db_exec(conn, "SET LOCAL synchronous_commit TO on", 0, NULL,
	    errbuf, errlen) == -1 ||
	    db_exec(conn, "INSERT INTO openimis_push (job, code, seq, "
	    "claim_id, source, state) SELECT $1, c, s::bigint, i, src, "
	    "'sending' FROM unnest($2::text[], $3::text[], $4::text[], "
	    "$5::text[]) AS u(c, s, i, src) ON CONFLICT (job, code) DO UPDATE "
	    "SET state = excluded.state, http_status = NULL, response = NULL, "
	    "updated = now()", 5, p, errbuf, errlen) == -1 ||
	    db_exec(conn, "COMMIT", 0, NULL, errbuf, errlen) == -1)
		goto out;
	txn = 0;
	rc = 0;
 out:
	if (txn)
		(void)db_exec(conn, "ROLLBACK", 0, NULL, rb, sizeof(rb));
	for (k = 0; k < 4; k++)
		buf_free(&a[k]);
	return rc;
}

int
openimis_store_push_states(PGconn *conn, const char *job,
    const char *const *codes, size_t n, enum openimis_push_state *st,
    char *errbuf, size_t errlen)
{
	struct buf	 arr;
	const char	*p[2];
	PGresult	*res = NULL;
	size_t		 i, len;
	int		 j, rc = -1;

	for (i = 0; i < n; i++)
		st[i] = OPENIMIS_PUSH_NONE;
	if (n == 0)
		return 0;
	buf_init(&arr, (size_t)1 << 26);
	(void)buf_putc(&arr, '{');
	for (i = 0; i < n; i++) {
		/* Claim codes need no quoting in an array literal. */
		len = strlen(codes[i]);
		if (len == 0 || strspn(codes[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-._") != len) {
			snprintf(errbuf, errlen, "bad claim code");
			goto out;
		}
		if ((i > 0 && buf_putc(&arr, ',') == -1) ||
		    buf_puts(&arr, codes[i]) == -1)
			goto out;
	}
	if (buf_putc(&arr, '}') == -1)
		goto out;
	p[0] = job;
	p[1] = arr.b_data;
	if ((res = db_query(conn, "SELECT code, state FROM openimis_push "
	    "WHERE job = $1 AND code = ANY($2::text[])", 2, p, errbuf,
	    errlen)) == NULL)
		goto out;
	for (j = 0; j < PQntuples(res); j++)
		for (i = 0; i < n; i++)
			if (strcmp(codes[i], PQgetvalue(res, j, 0)) == 0)
				st[i] = os_state(PQgetvalue(res, j, 1));
	rc = 0;
 out:
	PQclear(res);
	buf_free(&arr);
	return rc;
}

int
openimis_store_push_set(PGconn *conn, const char *job, const char *code,
    int64_t seq, const char *claim_id, const char *source,
    enum openimis_push_state st, int http_status, const char *response,
    char *errbuf, size_t errlen)
{
	char		 sq[32], hs[16];
	const char	*p[8];

	snprintf(sq, sizeof(sq), "%lld", (long long)seq);
	snprintf(hs, sizeof(hs), "%d", http_status);
	p[0] = job;
	p[1] = code;
	p[2] = sq;
	p[3] = claim_id;
	p[4] = source;
	p[5] = os_states[st];
	p[6] = http_status > 0 ? hs : NULL;
	p[7] = response;
	/* 'sending' must be durable before the POST; the outcome need not:
	 * if a crash loses it, the row still says 'sending' and the claim is
	 * looked up in openIMIS again.  So the outcome's transaction (the
	 * statement alone) commits without waiting for the WAL flush. */
	if (st == OPENIMIS_PUSH_SENDING)
		return db_exec(conn, "INSERT INTO openimis_push (job, code, "
		    "seq, claim_id, source, state, http_status, response) "
		    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (job, "
		    "code) DO UPDATE SET state = excluded.state, http_status = "
		    "excluded.http_status, response = excluded.response, "
		    "updated = now()", 8, p, errbuf, errlen);
	return db_exec(conn, "WITH a AS (SELECT set_config("
	    "'synchronous_commit', 'off', true)) INSERT INTO openimis_push "
	    "(job, code, seq, claim_id, source, state, http_status, response) "
	    "SELECT $1, $2, $3::bigint, $4, $5, $6, $7::integer, $8 FROM a ON "
	    "CONFLICT (job, "
	    "code) DO UPDATE SET state = excluded.state, http_status = "
	    "excluded.http_status, response = excluded.response, updated = "
	    "now()", 8, p, errbuf, errlen);
}

int
openimis_store_push_counts(PGconn *conn, const char *job, int64_t *accepted,
    int64_t *refused, char *errbuf, size_t errlen)
{
	const char	*p[1] = { job };
	PGresult	*res;

	if ((res = db_query(conn, "SELECT count(*) FILTER (WHERE state = "
	    "'accepted'), count(*) FILTER (WHERE state = 'refused') FROM "
	    "openimis_push WHERE job = $1", 1, p, errbuf, errlen)) == NULL)
		return -1;
	*accepted = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*refused = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return 0;
}

int
openimis_store_push_each(PGconn *conn, const char *job,
    openimis_push_row_fn fn, void *arg, char *errbuf, size_t errlen)
{
	const char	*p[2] = { job, NULL };
	char		 after[32] = "-1";
	PGresult	*res;
	int		 i, n, rc = 0;

	/* Pages of 1000 by seq: memory stays flat on a big push. */
	do {
		p[1] = after;
		if ((res = db_query(conn, "SELECT state, code, claim_id, "
		    "source, coalesce(http_status, 0), coalesce(response, ''), "
		    "seq FROM openimis_push WHERE job = $1 AND seq > $2 AND "
		    "state <> 'sending' ORDER BY seq LIMIT 1000", 2, p, errbuf,
		    errlen)) == NULL)
			return -1;
		n = PQntuples(res);
		for (i = 0; i < n && rc == 0; i++)
			rc = fn(arg, os_state(PQgetvalue(res, i, 0)),
			    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
			    PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i,
			    3), (int)strtol(PQgetvalue(res, i, 4), NULL, 10),
			    PQgetvalue(res, i, 5));
		if (n > 0)
			snprintf(after, sizeof(after), "%s",
			    PQgetvalue(res, n - 1, 6));
		PQclear(res);
	} while (n == 1000 && rc == 0);
	return rc;
}
