/*
 * token.h — the server's access tokens (AUTH-A-01..04) and the URLs they
 * name: minting for the token endpoint, verification for the bulk
 * endpoints, and the principal a valid token yields.
 *
 * URLs (decided here, named by the discovery document):
 *   token URL  = the server root + "/auth/token", where the root is
 *                base_url without its final "/fhir" segment (so a proxy
 *                prefix is kept), or base_url's origin when base_url does
 *                not end in "/fhir".  Client assertions must carry it as
 *                "aud" exactly (AUTH-T-05).
 *   issuer     = the token URL ("iss" of access tokens).
 *   audience   = base_url ("aud" of access tokens).
 *
 * Access tokens are HS256 JWTs (lib/jose.h) with kid = the server key
 * (store/auth_store.h), claims iss, sub (client), aud, scope (granted,
 * space-separated), iat, exp (iat + lifetime, at most 300 s) and a random
 * jti.  Verification needs only the keys, never the database: the caller
 * keeps a token_keyring filled from auth_store_keys_valid.
 *
 * Errors: 0 / -1 with a reason in err[errlen] that never holds token or
 * key material.
 */
#ifndef AUTH_TOKEN_H
#define AUTH_TOKEN_H

#include <stddef.h>
#include <time.h>

#include "auth/scope.h"
#include "store/auth_store.h"

#define TOKEN_URL_MAX		2048
#define TOKEN_LIFETIME		300	/* seconds (AUTH-A-02) */
#define TOKEN_KEY_ROTATE_S	(24 * 3600)	/* a new signing key daily */
/* A retired key verifies for this long: every token it signed expires
 * first (lifetime plus the clock skew jose tolerates). */
#define TOKEN_KEY_KEEP_S	(TOKEN_LIFETIME + 120)
#define TOKEN_MAX_LEN		8192	/* a bearer token we accept, bytes */

/* Who a valid access token speaks for. */
struct token_principal {
	char		 tp_client[AUTH_STORE_NAME_MAX + 1];
	struct scope_set tp_scope;	/* granted */
	time_t		 tp_exp;
	int		 tp_auth_off;	/* auth = none: no token, all allowed */
};

/* The keys a verifier knows (a copy; plain data). */
struct token_keyring {
	struct auth_key	tk_keys[AUTH_STORE_KEYS_MAX];
	size_t		tk_n;
};

/* The token URL for base_url (see above) into out.  0, or -1 if it does
 * not fit. */
int	 token_url(const char *base_url, char *out, size_t outlen);

/* Mints an access token for client with the granted scope string, signed
 * with key, valid from now for lifetime seconds.  *out is the compact
 * JWT (caller frees with free()). */
int	 token_mint(const struct auth_key *key, const char *base_url,
	    const char *client, const char *scope, time_t now, int lifetime,
	    char **out, char *err, size_t errlen);

enum token_result {
	TOKEN_OK = 0,
	TOKEN_MALFORMED,	/* not one of ours, or claims missing */
	TOKEN_UNKNOWN_KEY,	/* kid not in the keyring */
	TOKEN_BAD_SIGNATURE,
	TOKEN_EXPIRED,
	TOKEN_WRONG_AUDIENCE,	/* iss or aud of another server */
};

/* Verifies tok[0..len) against ring: signature, exp, iss and aud of this
 * base_url, sub a client name, scope parseable; fills *p on TOKEN_OK. */
enum token_result token_verify(const char *tok, size_t len,
	    const struct token_keyring *ring, const char *base_url,
	    time_t now, struct token_principal *p, char *err, size_t errlen);

#endif
