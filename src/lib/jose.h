/*
 * jose.h — JSON Web Signature and JSON Web Key handling (RFC 7515, 7517,
 * 7518) for SMART Backend Services, on OpenSSL 3 EVP and cJSON.
 *
 * Promises:
 * - Parsing caps every size (JOSE_MAX_*), refuses "alg":"none" and any
 *   algorithm other than RS384, ES384 and HS256, and decodes header and
 *   payload to cJSON objects.
 * - Algorithms are pinned by the entry point, never by the token: client
 *   assertions verify only with jose_assertion_verify (RS384/ES384 with an
 *   RSA or P-384 key of the matching type), the server's own tokens only
 *   with jose_token_verify (HS256 with a server secret found by kid).  A
 *   token saying HS256 can therefore never be checked with a client's RSA
 *   public key used as an HMAC secret (the alg-confusion attack).
 * - RSA keys have at least JOSE_RSA_MIN_BITS bits; EC keys are P-384 and
 *   their point is checked to lie on the curve.
 * - MAC comparison is constant time (CRYPTO_memcmp).
 *
 * Errors: functions return 0 / -1 (or NULL) and write a reason into a
 * caller-supplied err[errlen]; the reason never contains key or token
 * material.  Allocation follows lib/xmalloc (fatal on OOM) except for the
 * input-sized decodes, which are bounded by the caps first.
 */
#ifndef LIB_JOSE_H
#define LIB_JOSE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#define JOSE_MAX_COMPACT	16384	/* whole compact JWS, bytes */
#define JOSE_MAX_HEADER		2048	/* decoded protected header */
#define JOSE_MAX_PAYLOAD	8192	/* decoded payload */
#define JOSE_MAX_SIG		1024	/* decoded signature (RSA-8192) */
#define JOSE_RSA_MIN_BITS	2048
#define JOSE_RSA_MAX_BITS	8192
#define JOSE_JWKS_MAX_BYTES	(256 * 1024)	/* a JWKS document */
#define JOSE_JWKS_MAX_KEYS	64		/* entries in "keys" */
#define JOSE_KID_MAX		256		/* kid length, bytes */
#define JOSE_HS256_KEY_MIN	32		/* server secret, bytes */
#define JOSE_HS256_KEY_MAX	64
#define JOSE_ES384_SIG_LEN	96		/* R || S, 48 bytes each */

enum jose_alg {
	JOSE_ALG_UNKNOWN = 0,
	JOSE_ALG_RS384,
	JOSE_ALG_ES384,
	JOSE_ALG_HS256,
};

enum jose_kty {
	JOSE_KTY_UNKNOWN = 0,
	JOSE_KTY_RSA,
	JOSE_KTY_EC,
};

/* A parsed compact JWS.  Free with jose_jws_free (no-op when zeroed). */
struct jose_jws {
	cJSON		*jw_header;	/* owned; a JSON object */
	cJSON		*jw_payload;	/* owned; a JSON object */
	enum jose_alg	 jw_alg;
	const char	*jw_kid;	/* borrowed from jw_header, or NULL */
	const char	*jw_typ;	/* borrowed from jw_header, or NULL */
	const char	*jw_jku;	/* borrowed from jw_header, or NULL */
	char		*jw_input;	/* owned: "b64(header).b64(payload)" */
	size_t		 jw_inputlen;
	unsigned char	*jw_sig;	/* owned: decoded signature */
	size_t		 jw_siglen;
};

/* One usable verification key of a JWKS. */
struct jose_jwk {
	char		 jk_kid[JOSE_KID_MAX + 1];
	enum jose_kty	 jk_kty;
	enum jose_alg	 jk_alg;	/* from "alg", or UNKNOWN if absent */
	EVP_PKEY	*jk_pkey;	/* owned */
};

/* The usable keys of a JWKS document; free with jose_jwks_free. */
struct jose_jwks {
	struct jose_jwk	*jw_keys;	/* owned array */
	size_t		 jw_nkeys;
	size_t		 jw_skipped;	/* entries ignored (kty, use, ...) */
};

/* "RS384" -> JOSE_ALG_RS384 ...; UNKNOWN for anything else ("none"). */
enum jose_alg	 jose_alg_from_name(const char *);
const char	*jose_alg_name(enum jose_alg);	/* static; "?" if unknown */

/*
 * Splits and decodes a compact JWS.  Refuses: more or fewer than three
 * parts, anything over the caps, bad base64url, a header or payload that
 * is not a JSON object, a missing or non-string alg, "none" and unknown
 * algorithms, a "crit" header (no extensions are understood), and a
 * non-string kid/typ/jku.  Does not verify the signature.
 */
int	 jose_jws_parse(const char *compact, size_t len, struct jose_jws *,
	    char *err, size_t errlen);
void	 jose_jws_free(struct jose_jws *);

/*
 * Client assertions: verifies jws with key, accepting only RS384 with an
 * RSA key and ES384 with a P-384 key (ES384 signature exactly 96 bytes).
 * HS256 and every other alg are refused here.  Returns 0 if valid.
 */
int	 jose_assertion_verify(const struct jose_jws *, EVP_PKEY *key,
	    char *err, size_t errlen);

/*
 * One JWK object to a public EVP_PKEY: RSA ("n", "e"; 2048..8192 bits,
 * odd e > 1) or EC ("crv":"P-384", "x", "y" of 48 bytes, on the curve).
 * Private members ("d", "p", ...) are refused.  *kty says which.
 * Caller frees the key with EVP_PKEY_free.
 */
int	 jose_jwk_to_pkey(const cJSON *jwk, EVP_PKEY **, enum jose_kty *,
	    char *err, size_t errlen);
/*
 * Parses a JWKS document ({"keys":[...]}) of at most JOSE_JWKS_MAX_BYTES
 * and JOSE_JWKS_MAX_KEYS entries; over either cap the whole document is
 * refused.  Entries with an unknown kty, a "use" other than "sig", no
 * kid, or that fail jose_jwk_to_pkey are skipped (counted in
 * jw_skipped).  A document with no usable key is not an error.
 */
int	 jose_jwks_parse(const char *doc, size_t len, struct jose_jwks *,
	    char *err, size_t errlen);
void	 jose_jwks_free(struct jose_jwks *);
/*
 * AUTH-V-04 step 3: the one key whose kid equals kid and whose kty (and
 * "alg", when the JWK names one) fits alg.  NULL with a reason if none or
 * more than one match.  The pointer is borrowed from the set.
 */
const struct jose_jwk *jose_jwks_select(const struct jose_jwks *,
	    const char *kid, enum jose_alg alg, char *err, size_t errlen);
/* Public JWK of an RSA or P-384 key as a cJSON object with kty, kid, alg,
 * use "sig" and the key members; caller frees with cJSON_Delete.  NULL if
 * the key is of another type. */
cJSON	*jose_jwk_from_pkey(EVP_PKEY *, const char *kid, enum jose_alg);

/* Reads a PEM private (or public) key; caller frees with EVP_PKEY_free. */
EVP_PKEY *jose_pkey_from_pem(const char *pem, size_t len, int private,
	    char *err, size_t errlen);
/*
 * Signs a client assertion: header gets "alg" (RS384 for an RSA key,
 * ES384 for a P-384 key), "typ":"JWT" and "kid" (when not NULL) added to
 * the members of extra_header (may be NULL; not modified).  Returns the
 * compact JWS; caller frees with free().  NULL on error.
 */
char	*jose_sign(EVP_PKEY *key, const char *kid, const cJSON *extra_header,
	    const cJSON *claims, char *err, size_t errlen);

/*
 * Server tokens (HS256).  The lookup callback fills key[0..*keylen) with
 * the secret named kid (keysz is JOSE_HS256_KEY_MAX) and returns 0, or -1
 * if there is no such key.
 */
typedef int (*jose_key_lookup)(void *arg, const char *kid,
	    unsigned char *key, size_t keysz, size_t *keylen);

/* Mints header {"alg":"HS256","typ":"JWT","kid":kid}.claims.MAC; the
 * key is JOSE_HS256_KEY_MIN..MAX bytes.  Caller frees with free(). */
char	*jose_token_mint(const char *kid, const unsigned char *key,
	    size_t keylen, const cJSON *claims, char *err, size_t errlen);

enum jose_token_result {
	JOSE_TOKEN_OK = 0,
	JOSE_TOKEN_MALFORMED,	/* not a JWS of ours: bad parts, alg, kid */
	JOSE_TOKEN_UNKNOWN_KEY,	/* kid not known (rotated out, other server) */
	JOSE_TOKEN_BAD_SIGNATURE,
	JOSE_TOKEN_EXPIRED,	/* "exp" missing, not a number, or <= now */
};

/*
 * Verifies a server token: alg must be HS256 (nothing else is tried),
 * kid present and known to lookup, MAC equal in constant time, "exp" an
 * integer > now and "iat", if present, not after now + 60 s.  On OK,
 * *claims (caller frees with cJSON_Delete) holds the payload.
 */
enum jose_token_result jose_token_verify(const char *compact, size_t len,
	    jose_key_lookup, void *arg, time_t now, cJSON **claims,
	    char *err, size_t errlen);
const char *jose_token_result_name(enum jose_token_result);

#endif
