/*
 * admins.c — the admins table (see admins.h): principals, their roles
 * and the SHA-256 of their tokens.
 *
 * Hashes travel as hex text parameters decoded in SQL (decode is
 * immutable, so the UNIQUE index on token_hash still serves lookups).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "store/admins.h"
#include "lib/b64url.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"

#define ADMINS_TOKEN_PREFIX	"bha_"	/* findable by secret scanners */
#define ADMINS_TOKEN_BYTES	32
#define ADMINS_HEX_MAX		(ADMINS_HASH_LEN * 2 + 1)

#define ADMINS_TIME(col) \
	"coalesce(to_char(" col " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

#define ADMINS_SQL_ADD \
	"INSERT INTO admins (name, role, token_hash) " \
	"VALUES ($1, $2, decode($3, 'hex')) " \
	"ON CONFLICT (name) DO NOTHING RETURNING name"
#define ADMINS_SQL_ROTATE \
	"UPDATE admins SET token_hash = decode($2, 'hex'), rotated = now() " \
	"WHERE name = $1 RETURNING name"
#define ADMINS_SQL_DISABLE \
	"UPDATE admins SET disabled = $2::boolean WHERE name = $1 " \
	"RETURNING name"
#define ADMINS_SQL_DELETE \
	"DELETE FROM admins WHERE name = $1 RETURNING name"
#define ADMINS_SQL_LIST \
	"SELECT name, role, disabled, " ADMINS_TIME("created") ", " \
	ADMINS_TIME("rotated") ", " ADMINS_TIME("last_used") " " \
	"FROM admins ORDER BY name"
/* The UPDATE runs whether or not the outer query reads it (a
 * data-modifying WITH always does); it touches the row only when
 * last_used is a minute old, so a busy principal costs one write a
 * minute, not one a request. */
#define ADMINS_SQL_LOOKUP \
	"WITH hit AS (SELECT name, role, disabled, last_used FROM admins " \
	"WHERE token_hash = decode($1, 'hex')), " \
	"touch AS (UPDATE admins a SET last_used = now() FROM hit " \
	"WHERE a.name = hit.name AND NOT hit.disabled AND " \
	"(hit.last_used IS NULL OR " \
	"hit.last_used < now() - interval '1 minute') RETURNING 1) " \
	"SELECT name, role, disabled FROM hit"

static const char *const admins_roles[] = {
	NULL, "viewer", "operator", "admin"
};

static void	 admins_hex(const unsigned char *, char *);
static int	 admins_token_new(char *, size_t, char *);
static int	 admins_one(PGconn *, const char *, int, const char *const *,
		    char *, size_t);

const char *
admins_role_name(enum admins_role r)
{
	if (r < ADMINS_VIEWER || r > ADMINS_ADMIN)
		return "none";
	return admins_roles[r];
}

int
admins_role_parse(const char *s, enum admins_role *role)
{
	int	i;

	for (i = ADMINS_VIEWER; i <= ADMINS_ADMIN; i++)
		if (s != NULL && strcmp(s, admins_roles[i]) == 0) {
			*role = (enum admins_role)i;
			return 0;
		}
	return -1;
}

/* Mirrors the CHECK of 014_admins.sql, so that the CLI can say why
 * before it connects. */
int
admins_name_check(const char *name, char *errbuf, size_t errlen)
{
	size_t	i, n = strlen(name);

	if (n == 0 || n >= ADMINS_NAME_MAX) {
		snprintf(errbuf, errlen, "a name has 1 to %d characters",
		    ADMINS_NAME_MAX - 1);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    (i > 0 && strchr("._@-", name[i]) != NULL))
			continue;
		snprintf(errbuf, errlen, "a name is letters, digits and "
		    "\"._@-\", starting with a letter or digit");
		return -1;
	}
	if (strcmp(name, ADMINS_CONFIG_NAME) == 0) {
		snprintf(errbuf, errlen, "the name \"%s\" is reserved for the "
		    "admin_token configuration key", ADMINS_CONFIG_NAME);
		return -1;
	}
	return 0;
}

int
admins_token_hash(const char *token, size_t len,
    unsigned char hash[ADMINS_HASH_LEN])
{
	unsigned int	mdlen = 0;

	if (EVP_Digest(token, len, hash, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != ADMINS_HASH_LEN)
		return -1;
	return 0;
}

static void
admins_hex(const unsigned char *hash, char *hex)
{
	size_t	i;

	for (i = 0; i < ADMINS_HASH_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", hash[i]);
}

/* A new token into tok and the hex of its hash into hex.  0 or -1. */
static int
admins_token_new(char *tok, size_t toksz, char *hex)
{
	unsigned char	raw[ADMINS_TOKEN_BYTES], hash[ADMINS_HASH_LEN];
	size_t		n = strlen(ADMINS_TOKEN_PREFIX), len;
	int		rc = -1;

	if (toksz < ADMINS_TOKEN_MAX || RAND_bytes(raw, sizeof(raw)) != 1)
		goto out;
	memcpy(tok, ADMINS_TOKEN_PREFIX, n);
	if (b64url_encode(raw, sizeof(raw), tok + n, toksz - n, &len) == -1 ||
	    admins_token_hash(tok, n + len, hash) == -1)
		goto out;
	admins_hex(hash, hex);
	rc = 0;
 out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

/* A statement that returns the changed row's name: 0 if it did, 1 if it
 * returned none, -1. */
static int
admins_one(PGconn *conn, const char *sql, int np, const char *const *p,
    char *errbuf, size_t errlen)
{
	PGresult	*res;
	int		 rc;

	if ((res = db_query(conn, sql, np, p, errbuf, errlen)) == NULL)
		return -1;
	rc = PQntuples(res) > 0 ? 0 : 1;
	PQclear(res);
	return rc;
}

int
admins_add(PGconn *conn, const char *name, enum admins_role role, char *tok,
    size_t toksz, char *errbuf, size_t errlen)
{
	char		 hex[ADMINS_HEX_MAX];
	const char	*p[3];
	int		 rc;

	if (admins_token_new(tok, toksz, hex) == -1) {
		snprintf(errbuf, errlen, "cannot make a token (RAND_bytes)");
		return -1;
	}
	p[0] = name;
	p[1] = admins_role_name(role);
	p[2] = hex;
	if ((rc = admins_one(conn, ADMINS_SQL_ADD, 3, p, errbuf,
	    errlen)) != 0)
		OPENSSL_cleanse(tok, toksz);
	return rc;
}

int
admins_rotate(PGconn *conn, const char *name, char *tok, size_t toksz,
    char *errbuf, size_t errlen)
{
	char		 hex[ADMINS_HEX_MAX];
	const char	*p[2];
	int		 rc;

	if (admins_token_new(tok, toksz, hex) == -1) {
		snprintf(errbuf, errlen, "cannot make a token (RAND_bytes)");
		return -1;
	}
	p[0] = name;
	p[1] = hex;
	if ((rc = admins_one(conn, ADMINS_SQL_ROTATE, 2, p, errbuf,
	    errlen)) != 0)
		OPENSSL_cleanse(tok, toksz);
	return rc;
}

int
admins_set_disabled(PGconn *conn, const char *name, int disabled,
    char *errbuf, size_t errlen)
{
	const char	*p[2];

	p[0] = name;
	p[1] = disabled ? "true" : "false";
	return admins_one(conn, ADMINS_SQL_DISABLE, 2, p, errbuf, errlen);
}

int
admins_delete(PGconn *conn, const char *name, char *errbuf, size_t errlen)
{
	const char	*p[1];

	p[0] = name;
	return admins_one(conn, ADMINS_SQL_DELETE, 1, p, errbuf, errlen);
}

int
admins_list(PGconn *conn, struct admins_row **rows, size_t *n, char *errbuf,
    size_t errlen)
{
	PGresult		*res;
	struct admins_row	*r;
	size_t			 i, nt;

	*rows = NULL;
	*n = 0;
	if ((res = db_query(conn, ADMINS_SQL_LIST, 0, NULL, errbuf,
	    errlen)) == NULL)
		return -1;
	nt = (size_t)PQntuples(res);
	r = xcalloc(nt > 0 ? nt : 1, sizeof(*r));
	for (i = 0; i < nt; i++) {
		str_lcpy(r[i].ar_name, PQgetvalue(res, (int)i, 0),
		    sizeof(r[i].ar_name));
		if (admins_role_parse(PQgetvalue(res, (int)i, 1),
		    &r[i].ar_role) == -1)
			r[i].ar_role = ADMINS_VIEWER;	/* the CHECK forbids */
		r[i].ar_disabled = PQgetvalue(res, (int)i, 2)[0] == 't';
		str_lcpy(r[i].ar_created, PQgetvalue(res, (int)i, 3),
		    sizeof(r[i].ar_created));
		str_lcpy(r[i].ar_rotated, PQgetvalue(res, (int)i, 4),
		    sizeof(r[i].ar_rotated));
		str_lcpy(r[i].ar_last_used, PQgetvalue(res, (int)i, 5),
		    sizeof(r[i].ar_last_used));
	}
	PQclear(res);
	*rows = r;
	*n = nt;
	return 0;
}

void
admins_rows_free(struct admins_row *rows)
{
	free(rows);
}

int
admins_lookup(PGconn *conn, const unsigned char hash[ADMINS_HASH_LEN],
    char *name, enum admins_role *role, int *disabled, char *errbuf,
    size_t errlen)
{
	PGresult	*res;
	char		 hex[ADMINS_HEX_MAX];
	const char	*p[1];
	int		 rc = 1;

	admins_hex(hash, hex);
	p[0] = hex;
	if ((res = db_query(conn, ADMINS_SQL_LOOKUP, 1, p, errbuf,
	    errlen)) == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		str_lcpy(name, PQgetvalue(res, 0, 0), ADMINS_NAME_MAX);
		if (admins_role_parse(PQgetvalue(res, 0, 1), role) == -1) {
			snprintf(errbuf, errlen, "principal %s has an unknown "
			    "role", name);
			rc = -1;
		} else {
			*disabled = PQgetvalue(res, 0, 2)[0] == 't';
			rc = 0;
		}
	}
	PQclear(res);
	return rc;
}
