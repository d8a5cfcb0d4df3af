/*
 * auth_store.c — the statements on the authorization tables (see
 * auth_store.h and schemas/013_auth.sql).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/auth_store.h"
#include "store/db.h"

/* Arbitrary constant: serialises key rotation across API nodes. */
#define AUTH_STORE_KEY_LOCK	"7431013"

#define AUTH_STORE_TS(c) \
	"to_char(" c " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static int	auth_store_hex(const char *, unsigned char *, size_t);
static void	auth_store_key_row(PGresult *, int, struct auth_key *);

int
auth_store_name_ok(const char *name)
{
	size_t	i, n = strlen(name);

	if (n == 0 || n > AUTH_STORE_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (i > 0 && (c == '.' || c == '_' || c == '-'))
			continue;
		return 0;
	}
	return 1;
}

int
auth_store_client_get(PGconn *conn, const char *name, struct auth_client *c,
    char *err, size_t errlen)
{
	const char	*params[1] = { name };
	PGresult	*res;

	memset(c, 0, sizeof(*c));
	if (!auth_store_name_ok(name))
		return 0;
	if ((res = db_query(conn, "SELECT jwks_url, jwks, scope, disabled "
	    "FROM auth_clients WHERE name = $1", 1, params, err,
	    errlen)) == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	str_lcpy(c->ac_name, name, sizeof(c->ac_name));
	if (!PQgetisnull(res, 0, 0))
		c->ac_jwks_url = xstrdup(PQgetvalue(res, 0, 0));
	if (!PQgetisnull(res, 0, 1))
		c->ac_jwks = xstrdup(PQgetvalue(res, 0, 1));
	c->ac_scope = xstrdup(PQgetvalue(res, 0, 2));
	c->ac_disabled = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	PQclear(res);
	return 1;
}

void
auth_store_client_free(struct auth_client *c)
{
	if (c == NULL)
		return;
	free(c->ac_jwks_url);
	free(c->ac_jwks);
	free(c->ac_scope);
	memset(c, 0, sizeof(*c));
}

int
auth_store_client_put(PGconn *conn, const char *name, const char *jwks_url,
    const char *jwks, const char *scope, int *created, char *err,
    size_t errlen)
{
	const char	*params[4] = { name, jwks_url, jwks, scope };
	PGresult	*res;

	/* xmax = 0 tells an inserted row from an updated one. */
	if ((res = db_query(conn, "INSERT INTO auth_clients (name, jwks_url, "
	    "jwks, scope) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO "
	    "UPDATE SET jwks_url = EXCLUDED.jwks_url, jwks = EXCLUDED.jwks, "
	    "scope = EXCLUDED.scope, updated = now() "
	    "RETURNING (xmax = 0)", 4, params, err, errlen)) == NULL)
		return -1;
	*created = PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	/* A new URL (or none) makes the cached keys meaningless. */
	return db_exec(conn, "DELETE FROM auth_jwks_cache WHERE client = $1 "
	    "AND url IS DISTINCT FROM (SELECT jwks_url FROM auth_clients "
	    "WHERE name = $1)", 1, params, err, errlen);
}

int
auth_store_client_disable(PGconn *conn, const char *name, int disabled,
    char *err, size_t errlen)
{
	const char	*params[2] = { name, disabled ? "true" : "false" };
	PGresult	*res;
	int		 n;

	if (!auth_store_name_ok(name))
		return 0;
	if ((res = db_query(conn, "UPDATE auth_clients SET disabled = $2, "
	    "updated = now() WHERE name = $1 RETURNING 1", 2, params, err,
	    errlen)) == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n > 0;
}

int
auth_store_client_delete(PGconn *conn, const char *name, char *err,
    size_t errlen)
{
	const char	*params[1] = { name };
	PGresult	*res;
	int		 n;

	if (!auth_store_name_ok(name))
		return 0;
	if ((res = db_query(conn, "DELETE FROM auth_clients WHERE name = $1 "
	    "RETURNING 1", 1, params, err, errlen)) == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	if (n > 0 && db_exec(conn, "DELETE FROM auth_jti WHERE client = $1",
	    1, params, err, errlen) == -1)
		return -1;
	return n > 0;
}

int
auth_store_clients_json(PGconn *conn, const char *name, struct buf *out,
    char *err, size_t errlen)
{
	const char	*params[1] = { name };
	PGresult	*res;
	int		 rc = -1;

#define AUTH_STORE_CLIENT_JSON \
	"json_build_object('name', name, 'jwks_url', jwks_url, " \
	"'jwks', jwks::json, 'scope', scope, 'disabled', disabled, " \
	"'created', " AUTH_STORE_TS("created") ", " \
	"'updated', " AUTH_STORE_TS("updated") ")"
	if (name != NULL && !auth_store_name_ok(name))
		return 0;
	if (name != NULL)
		res = db_query(conn, "SELECT " AUTH_STORE_CLIENT_JSON "::text "
		    "FROM auth_clients WHERE name = $1", 1, params, err,
		    errlen);
	else
		res = db_query(conn, "SELECT json_build_object('clients', "
		    "coalesce(json_agg(" AUTH_STORE_CLIENT_JSON " ORDER BY "
		    "name), '[]'))::text FROM auth_clients", 0, NULL, err,
		    errlen);
#undef AUTH_STORE_CLIENT_JSON
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		rc = 0;
		goto out;
	}
	if (buf_puts(out, PQgetvalue(res, 0, 0)) == -1) {
		snprintf(err, errlen, "clients: answer too large");
		goto out;
	}
	rc = 1;
 out:
	PQclear(res);
	return rc;
}

int
auth_store_jwks_get(PGconn *conn, const char *client, const char *url,
    struct auth_jwks_row *r, char *err, size_t errlen)
{
	const char	*params[2] = { client, url };
	PGresult	*res;

	memset(r, 0, sizeof(*r));
	if ((res = db_query(conn, "SELECT body, coalesce(expires > now(), "
	    "false) FROM auth_jwks_cache WHERE client = $1 AND url = $2", 2,
	    params, err, errlen)) == NULL)
		return -1;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		r->jr_body = xstrdup(PQgetvalue(res, 0, 0));
		r->jr_fresh = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	}
	PQclear(res);
	return 0;
}

void
auth_store_jwks_row_free(struct auth_jwks_row *r)
{
	if (r == NULL)
		return;
	free(r->jr_body);
	memset(r, 0, sizeof(*r));
}

int
auth_store_jwks_claim(PGconn *conn, const char *client, const char *url,
    int min_interval, char *err, size_t errlen)
{
	char		 iv[32];
	const char	*params[3] = { client, url, iv };
	PGresult	*res;
	int		 n;

	snprintf(iv, sizeof(iv), "%d", min_interval);
	/* The row exists once a fetch was tried; the WHERE of the update
	 * is the rate limit, checked and recorded in one statement. */
	if ((res = db_query(conn, "INSERT INTO auth_jwks_cache (client, url) "
	    "VALUES ($1, $2) ON CONFLICT (client) DO UPDATE SET "
	    "attempted = now(), url = EXCLUDED.url, body = CASE WHEN "
	    "auth_jwks_cache.url = EXCLUDED.url THEN auth_jwks_cache.body "
	    "END WHERE auth_jwks_cache.attempted < now() - $3 * "
	    "interval '1 second' OR auth_jwks_cache.url <> EXCLUDED.url "
	    "RETURNING 1", 3, params, err, errlen)) == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n > 0;
}

int
auth_store_jwks_put(PGconn *conn, const char *client, const char *url,
    const char *body, int max_age, char *err, size_t errlen)
{
	char		 age[32];
	const char	*params[4] = { client, url, body, age };

	snprintf(age, sizeof(age), "%d", max_age);
	return db_exec(conn, "UPDATE auth_jwks_cache SET body = $3, fetched = "
	    "now(), expires = now() + $4 * interval '1 second' WHERE "
	    "client = $1 AND url = $2", 4, params, err, errlen);
}

int
auth_store_jti_record(PGconn *conn, const char *client, const char *jti,
    int64_t exp, char *err, size_t errlen)
{
	char		 e[32];
	const char	*params[3] = { client, jti, e };
	PGresult	*res;
	int		 n;

	snprintf(e, sizeof(e), "%lld", (long long)exp);
	if ((res = db_query(conn, "INSERT INTO auth_jti (client, jti, "
	    "expires) VALUES ($1, $2, to_timestamp($3)) ON CONFLICT (client, "
	    "jti) DO UPDATE SET expires = EXCLUDED.expires WHERE "
	    "auth_jti.expires < now() RETURNING 1", 3, params, err,
	    errlen)) == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n > 0;
}

/* Decodes 2 * n hex digits; 0 or -1. */
static int
auth_store_hex(const char *s, unsigned char *out, size_t n)
{
	size_t	i;
	int	hi, lo;

	if (strlen(s) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		hi = OPENSSL_hexchar2int((unsigned char)s[2 * i]);
		lo = OPENSSL_hexchar2int((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* Row i of (kid, hex secret, created epoch, retired epoch or NULL). */
static void
auth_store_key_row(PGresult *res, int i, struct auth_key *k)
{
	memset(k, 0, sizeof(*k));
	str_lcpy(k->ak_kid, PQgetvalue(res, i, 0), sizeof(k->ak_kid));
	(void)auth_store_hex(PQgetvalue(res, i, 1), k->ak_secret,
	    sizeof(k->ak_secret));
	k->ak_created = strtoll(PQgetvalue(res, i, 2), NULL, 10);
	if (!PQgetisnull(res, i, 3))
		k->ak_retired = strtoll(PQgetvalue(res, i, 3), NULL, 10);
}

#define AUTH_STORE_KEY_COLS \
	"kid, encode(secret, 'hex'), extract(epoch FROM created)::bigint, " \
	"extract(epoch FROM retired)::bigint"

int
auth_store_key_current(PGconn *conn, int rotate_s, struct auth_key *k,
    char *err, size_t errlen)
{
	unsigned char	 rnd[AUTH_STORE_SECRET_LEN + 8];
	char		 iv[32], kid[17], secret[2 * AUTH_STORE_SECRET_LEN + 1];
	char		 e2[256];
	const char	*params[2] = { iv, NULL };
	const char	*ins[2] = { kid, secret };
	PGresult	*res = NULL;
	size_t		 i;
	int		 rc = -1, intx = 0;

	snprintf(iv, sizeof(iv), "%d", rotate_s);
	for (;;) {
		res = db_query(conn, "SELECT " AUTH_STORE_KEY_COLS " FROM "
		    "auth_keys WHERE retired IS NULL AND created > now() - "
		    "$1 * interval '1 second' ORDER BY created DESC LIMIT 1",
		    1, params, err, errlen);
		if (res == NULL)
			goto out;
		if (PQntuples(res) == 1) {
			auth_store_key_row(res, 0, k);
			rc = 0;
			goto out;
		}
		PQclear(res);
		res = NULL;
		if (intx)
			break;
		/* None: make one, under a lock, then look again. */
		if (db_exec(conn, "BEGIN", 0, NULL, err, errlen) == -1)
			goto out;
		intx = 1;
		if (db_exec(conn, "SELECT pg_advisory_xact_lock("
		    AUTH_STORE_KEY_LOCK ")", 0, NULL, err, errlen) == -1)
			goto out;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		snprintf(err, errlen, "RAND_bytes failed");
		goto out;
	}
	for (i = 0; i < 8; i++)
		snprintf(kid + 2 * i, 3, "%02x", rnd[i]);
	for (i = 0; i < AUTH_STORE_SECRET_LEN; i++)
		snprintf(secret + 2 * i, 3, "%02x", rnd[8 + i]);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	if (db_exec(conn, "UPDATE auth_keys SET retired = now() WHERE "
	    "retired IS NULL", 0, NULL, err, errlen) == -1)
		goto out;
	res = db_query(conn, "INSERT INTO auth_keys (kid, secret) VALUES "
	    "($1, decode($2, 'hex')) RETURNING " AUTH_STORE_KEY_COLS, 2, ins,
	    err, errlen);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (res == NULL || PQntuples(res) != 1)
		goto out;
	auth_store_key_row(res, 0, k);
	if (db_exec(conn, "COMMIT", 0, NULL, err, errlen) == -1)
		goto out;
	intx = 0;
	rc = 0;
 out:
	PQclear(res);
	if (intx)
		(void)db_exec(conn, intx && rc == 0 ? "COMMIT" : "ROLLBACK", 0,
		    NULL, e2, sizeof(e2));
	return rc;
}

int
auth_store_keys_valid(PGconn *conn, int keep_s, struct auth_key *keys,
    size_t max, size_t *n, char *err, size_t errlen)
{
	char		 iv[32];
	const char	*params[1] = { iv };
	PGresult	*res;
	int		 i;

	*n = 0;
	snprintf(iv, sizeof(iv), "%d", keep_s);
	if ((res = db_query(conn, "SELECT " AUTH_STORE_KEY_COLS " FROM "
	    "auth_keys WHERE retired IS NULL OR retired > now() - $1 * "
	    "interval '1 second' ORDER BY created DESC", 1, params, err,
	    errlen)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(res) && *n < max; i++)
		auth_store_key_row(res, i, &keys[(*n)++]);
	PQclear(res);
	return 0;
}

int
auth_store_prune(PGconn *conn, int keep_s, long *n, char *err, size_t errlen)
{
	char		 iv[32];
	const char	*params[1] = { iv };
	PGresult	*res;

	*n = 0;
	snprintf(iv, sizeof(iv), "%d", keep_s);
	if ((res = db_query(conn, "WITH j AS (DELETE FROM auth_jti WHERE "
	    "expires < now() RETURNING 1), k AS (DELETE FROM auth_keys WHERE "
	    "retired < now() - $1 * interval '1 second' RETURNING 1) "
	    "SELECT (SELECT count(*) FROM j) + (SELECT count(*) FROM k)", 1,
	    params, err, errlen)) == NULL)
		return -1;
	*n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}
