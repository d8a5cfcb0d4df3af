/*
 * jwks.h — a client's verification key (AUTH-V-04, AUTH-V-05): from its
 * inline JWKS, or from its JWKS URL through a cache in PostgreSQL.
 *
 * Fetching (jwks_fetch), the import fetcher's SSRF rules made stricter
 * for URLs that clients, not operators, control the content of:
 *   - https only, unless the URL's host is in auth_jwks_allow (then http
 *     is accepted too: laboratories, the tests' stand-in server);
 *   - no redirects, no proxies, GET with Accept: application/json;
 *   - the address curl connects to must not be loopback, link-local,
 *     unspecified, private (10/8, 172.16/12, 192.168/16, 100.64/10,
 *     fc00::/7) unless the host is in auth_jwks_allow, and never a cloud
 *     metadata address (fetch_policy_ip_class), allowed or not;
 *   - at most JOSE_JWKS_MAX_BYTES (256 KiB) of body (a larger
 *     Content-Length is refused before reading), JWKS_TIMEOUT seconds in
 *     all, status 200;
 *   - lifetime: Cache-Control max-age, clamped to JWKS_MAX_AGE; no-store
 *     or no-cache mean 0; no Cache-Control means JWKS_DEFAULT_AGE.
 *
 * Resolving (jwks_resolve): a fresh cached JWKS is used as is; a stale
 * or missing one, or one without the assertion's kid, is refetched at
 * most once per JWKS_REFETCH_S per client (auth_store_jwks_claim), so
 * made-up kids cannot make us hammer the client's server.
 *
 * Errors: reasons in err[errlen] name the URL's host at most, never a
 * key or token.
 */
#ifndef AUTH_JWKS_H
#define AUTH_JWKS_H

#include <stddef.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "lib/jose.h"
#include "store/auth_store.h"

struct buf;

#define JWKS_TIMEOUT		10	/* seconds, whole fetch */
#define JWKS_CONNECT_TIMEOUT	5
#define JWKS_MAX_AGE		86400
#define JWKS_DEFAULT_AGE	300
#define JWKS_REFETCH_S		5

/* 1 if url is an http(s) URL jwks_fetch could try under allow (scheme
 * and host checks only; addresses are checked when connecting).  With 0,
 * why says why. */
int	 jwks_url_ok(const char *url, const char *allow, char *why,
	    size_t whylen);

/* Fetches url into body (buf_init'ed by the caller with a limit of at
 * least JOSE_JWKS_MAX_BYTES) and its lifetime into *max_age.  0 or -1. */
int	 jwks_fetch(const char *url, const char *allow, struct buf *body,
	    int *max_age, char *err, size_t errlen);

enum jwks_result {
	JWKS_OK = 0,
	JWKS_NO_KEY,		/* no usable key: invalid_client */
	JWKS_DB_ERROR,		/* the database failed: 500 */
};

/* The key of client c that verifies jws (kid, kty fitting alg), fetched
 * or cached as described above; *key is the caller's (EVP_PKEY_free). */
enum jwks_result jwks_resolve(PGconn *, const struct auth_client *c,
	    const char *allow, const struct jose_jws *jws, EVP_PKEY **key,
	    char *err, size_t errlen);

#endif
