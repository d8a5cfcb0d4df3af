/*
 * auth_store.h — the tables of SMART Backend Services authorization
 * (schemas/013_auth.sql): registered clients, their cached JWKS, the jti
 * replay table and the server's token-signing keys.  The only code that
 * touches them.
 *
 * Promises:
 * - Client changes are plain statements: the caller (the admin API) arms
 *   the audit triggers around them (store/audit.h, table "auth_clients").
 * - auth_store_jti_record is atomic across API nodes (AUTH-V-02): of two
 *   concurrent requests with the same (client, jti) exactly one wins; an
 *   expired row does not block.
 * - auth_store_key_current makes at most one new key per rotation period
 *   whatever the number of API nodes (an advisory lock serialises it).
 *
 * Errors: -1 with libpq's reason in err[errlen]; lookups return 1 found,
 * 0 not found.  Strings in the structs are owned by them (free functions
 * are no-ops on zeroed structs).
 */
#ifndef STORE_AUTH_STORE_H
#define STORE_AUTH_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

struct buf;

#define AUTH_STORE_NAME_MAX	64	/* client name, bytes */
#define AUTH_STORE_KID_MAX	64	/* server key id, hex digits */
#define AUTH_STORE_SECRET_LEN	32	/* server key, bytes */
#define AUTH_STORE_KEYS_MAX	16	/* keys valid at once, read at most */

struct auth_client {
	char	 ac_name[AUTH_STORE_NAME_MAX + 1];
	char	*ac_jwks_url;	/* owned, or NULL */
	char	*ac_jwks;	/* owned inline JWKS, or NULL */
	char	*ac_scope;	/* owned: the registered scopes */
	int	 ac_disabled;
};

/* A cached JWKS (auth_store_jwks_get). */
struct auth_jwks_row {
	char	*jr_body;	/* owned, or NULL: never fetched */
	int	 jr_fresh;	/* within its Cache-Control lifetime */
};

struct auth_key {
	char		ak_kid[AUTH_STORE_KID_MAX + 1];
	unsigned char	ak_secret[AUTH_STORE_SECRET_LEN];
	int64_t		ak_created;	/* epoch seconds */
	int64_t		ak_retired;	/* epoch seconds, 0 if current */
};

/* 1 if name is a valid client name (the CHECK of the table). */
int	 auth_store_name_ok(const char *name);

/* ---- clients ---- */

int	 auth_store_client_get(PGconn *, const char *name,
	    struct auth_client *, char *err, size_t errlen);
void	 auth_store_client_free(struct auth_client *);
/* Creates or replaces the client (exactly one of jwks_url and jwks not
 * NULL; disabled kept on replace).  *created says which.  A new key
 * source drops the cached JWKS.  0 or -1. */
int	 auth_store_client_put(PGconn *, const char *name,
	    const char *jwks_url, const char *jwks, const char *scope,
	    int *created, char *err, size_t errlen);
/* Sets disabled.  1, 0 if there is no such client, -1. */
int	 auth_store_client_disable(PGconn *, const char *name, int disabled,
	    char *err, size_t errlen);
/* 1 deleted, 0 no such client, -1. */
int	 auth_store_client_delete(PGconn *, const char *name,
	    char *err, size_t errlen);
/* Appends {"clients":[client...]} (name NULL) or one client object to
 * out: name, jwks_url, jwks (parsed, when inline), scope, disabled,
 * created, updated.  1, 0 (the named client does not exist), -1. */
int	 auth_store_clients_json(PGconn *, const char *name, struct buf *out,
	    char *err, size_t errlen);

/* ---- the JWKS cache of URL clients ---- */

/* The cached JWKS of client fetched from url (jr_body NULL if none).
 * 0 or -1. */
int	 auth_store_jwks_get(PGconn *, const char *client, const char *url,
	    struct auth_jwks_row *, char *err, size_t errlen);
void	 auth_store_jwks_row_free(struct auth_jwks_row *);
/* Claims the right to fetch: 1 if no fetch for client was attempted in
 * the last min_interval seconds (the attempt is recorded), else 0; -1. */
int	 auth_store_jwks_claim(PGconn *, const char *client, const char *url,
	    int min_interval, char *err, size_t errlen);
/* Stores a fetched body, valid for max_age seconds.  0 or -1. */
int	 auth_store_jwks_put(PGconn *, const char *client, const char *url,
	    const char *body, int max_age, char *err, size_t errlen);

/* ---- replay protection ---- */

/* Records (client, jti) until exp (epoch seconds).  1 recorded, 0 seen
 * before and not yet expired (a replay), -1. */
int	 auth_store_jti_record(PGconn *, const char *client, const char *jti,
	    int64_t exp, char *err, size_t errlen);

/* ---- the server's signing keys ---- */

/* The key that signs now: the newest one not retired and younger than
 * rotate_s seconds; otherwise a new random one is made and the older
 * ones retired.  0 or -1. */
int	 auth_store_key_current(PGconn *, int rotate_s, struct auth_key *,
	    char *err, size_t errlen);
/* The keys that verify: not retired, or retired less than keep_s seconds
 * ago (the longest token lifetime and some skew), newest first, at most
 * max into keys[].  0 or -1. */
int	 auth_store_keys_valid(PGconn *, int keep_s, struct auth_key *keys,
	    size_t max, size_t *n, char *err, size_t errlen);

/* House-keeping: deletes expired jti rows and keys retired more than
 * keep_s seconds ago; *n is the number of rows removed.  0 or -1. */
int	 auth_store_prune(PGconn *, int keep_s, long *n, char *err,
	    size_t errlen);

#endif
