/*
 * jose.c — JWS/JWK on OpenSSL 3 EVP and cJSON; see jose.h for the
 * promises (caps, pinned algorithms, key checks).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "lib/b64url.h"
#include "lib/buf.h"
#include "lib/jose.h"
#include "lib/xmalloc.h"

#define JOSE_MAX_MEMBERS	128	/* top-level members of a part */
#define JOSE_EC_COORD		48	/* P-384 coordinate bytes */
#define JOSE_IAT_SKEW		60	/* seconds a token's iat may lead */

static void	 jose_err(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static cJSON	*jose_json_decode(const char *, size_t, size_t, const char *,
		    char *, size_t);
static int	 jose_header_str(const cJSON *, const char *, const char **,
		    char *, size_t);
static int	 jose_b64_member(const cJSON *, const char *, unsigned char *,
		    size_t, size_t *);
static int	 jose_rsa_ok(EVP_PKEY *, char *, size_t);
static int	 jose_ec_ok(EVP_PKEY *, char *, size_t);
static int	 jose_digest_verify(EVP_PKEY *, const struct jose_jws *,
		    const unsigned char *, size_t);
static int	 jose_es384_to_der(const unsigned char *, unsigned char **,
		    size_t *);
static int	 jose_der_to_es384(const unsigned char *, size_t,
		    unsigned char *);
static char	*jose_compact(const cJSON *, const cJSON *, EVP_PKEY *,
		    const unsigned char *, size_t, char *, size_t);
static int	 jose_put_bn(cJSON *, const char *, const BIGNUM *, int);
static int	 jose_no_pass(char *, int, int, void *);

static void
jose_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

enum jose_alg
jose_alg_from_name(const char *s)
{
	if (s == NULL)
		return JOSE_ALG_UNKNOWN;
	if (strcmp(s, "RS384") == 0)
		return JOSE_ALG_RS384;
	if (strcmp(s, "ES384") == 0)
		return JOSE_ALG_ES384;
	if (strcmp(s, "HS256") == 0)
		return JOSE_ALG_HS256;
	return JOSE_ALG_UNKNOWN;
}

const char *
jose_alg_name(enum jose_alg a)
{
	switch (a) {
	case JOSE_ALG_RS384:
		return "RS384";
	case JOSE_ALG_ES384:
		return "ES384";
	case JOSE_ALG_HS256:
		return "HS256";
	default:
		return "?";
	}
}

/*
 * Decodes one base64url part (at most max bytes) to a JSON object with
 * unique top-level member names and no NUL bytes.  Caller frees.
 */
static cJSON *
jose_json_decode(const char *s, size_t n, size_t max, const char *what,
    char *err, size_t errlen)
{
	char		*raw = NULL;
	size_t		 rawlen, count = 0;
	cJSON		*json = NULL, *a, *b;
	const char	*end = NULL;

	if (b64url_decoded_max(n) > max) {
		jose_err(err, errlen, "%s too large", what);
		goto out;
	}
	raw = xmalloc(b64url_decoded_max(n) + 1);
	if (b64url_decode(s, n, raw, b64url_decoded_max(n), &rawlen) == -1) {
		jose_err(err, errlen, "%s: bad base64url", what);
		goto out;
	}
	raw[rawlen] = '\0';
	if (memchr(raw, '\0', rawlen) != NULL) {
		jose_err(err, errlen, "%s: NUL byte", what);
		goto out;
	}
	json = cJSON_ParseWithLengthOpts(raw, rawlen + 1, &end, 1);
	if (json == NULL || !cJSON_IsObject(json)) {
		jose_err(err, errlen, "%s is not a JSON object", what);
		goto out_bad;
	}
	/* Two "alg" members would let two parsers disagree: refuse. */
	for (a = json->child; a != NULL; a = a->next) {
		if (++count > JOSE_MAX_MEMBERS) {
			jose_err(err, errlen, "%s: too many members", what);
			goto out_bad;
		}
		for (b = a->next; b != NULL; b = b->next)
			if (strcmp(a->string, b->string) == 0) {
				jose_err(err, errlen, "%s: duplicate member",
				    what);
				goto out_bad;
			}
	}
	goto out;
 out_bad:
	cJSON_Delete(json);
	json = NULL;
 out:
	free(raw);
	return json;
}

/* Optional string member: 0 (absent leaves *out NULL) or -1 if not a
 * string, empty, or longer than JOSE_MAX_HEADER. */
static int
jose_header_str(const cJSON *obj, const char *name, const char **out,
    char *err, size_t errlen)
{
	const cJSON	*v;

	*out = NULL;
	if ((v = cJSON_GetObjectItemCaseSensitive(obj, name)) == NULL)
		return 0;
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
		jose_err(err, errlen, "header \"%s\" is not a string", name);
		return -1;
	}
	*out = v->valuestring;
	return 0;
}

int
jose_jws_parse(const char *compact, size_t len, struct jose_jws *jws,
    char *err, size_t errlen)
{
	const char	*d1, *d2, *alg = NULL;
	size_t		 hl, pl, sl;
	int		 rc = -1;

	memset(jws, 0, sizeof(*jws));
	if (len == 0 || len > JOSE_MAX_COMPACT) {
		jose_err(err, errlen, "token empty or too large");
		goto out;
	}
	if ((d1 = memchr(compact, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - compact))) ==
	    NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - compact)) !=
	    NULL) {
		jose_err(err, errlen, "not a compact JWS (three parts)");
		goto out;
	}
	hl = (size_t)(d1 - compact);
	pl = (size_t)(d2 - d1 - 1);
	sl = len - (size_t)(d2 + 1 - compact);
	if (hl == 0 || sl == 0) {
		jose_err(err, errlen, "empty header or signature");
		goto out;
	}
	if ((jws->jw_header = jose_json_decode(compact, hl, JOSE_MAX_HEADER,
	    "header", err, errlen)) == NULL)
		goto out;
	if (jose_header_str(jws->jw_header, "alg", &alg, err, errlen) == -1)
		goto out;
	if (alg == NULL) {
		jose_err(err, errlen, "header has no alg");
		goto out;
	}
	/* "none" and everything we do not implement end here. */
	if ((jws->jw_alg = jose_alg_from_name(alg)) == JOSE_ALG_UNKNOWN) {
		jose_err(err, errlen, "alg not accepted");
		goto out;
	}
	if (cJSON_GetObjectItemCaseSensitive(jws->jw_header, "crit") !=
	    NULL) {
		jose_err(err, errlen, "crit header not supported");
		goto out;
	}
	if (jose_header_str(jws->jw_header, "kid", &jws->jw_kid, err,
	    errlen) == -1 || jose_header_str(jws->jw_header, "typ",
	    &jws->jw_typ, err, errlen) == -1 ||
	    jose_header_str(jws->jw_header, "jku", &jws->jw_jku, err,
	    errlen) == -1)
		goto out;
	if (jws->jw_kid != NULL && strlen(jws->jw_kid) > JOSE_KID_MAX) {
		jose_err(err, errlen, "kid too long");
		goto out;
	}
	if ((jws->jw_payload = jose_json_decode(d1 + 1, pl, JOSE_MAX_PAYLOAD,
	    "payload", err, errlen)) == NULL)
		goto out;
	if (b64url_decoded_max(sl) > JOSE_MAX_SIG) {
		jose_err(err, errlen, "signature too large");
		goto out;
	}
	jws->jw_sig = xmalloc(b64url_decoded_max(sl) + 1);
	if (b64url_decode(d2 + 1, sl, jws->jw_sig, b64url_decoded_max(sl),
	    &jws->jw_siglen) == -1) {
		jose_err(err, errlen, "signature: bad base64url");
		goto out;
	}
	jws->jw_inputlen = (size_t)(d2 - compact);
	jws->jw_input = xstrndup(compact, jws->jw_inputlen);
	rc = 0;
 out:
	if (rc == -1)
		jose_jws_free(jws);
	return rc;
}

void
jose_jws_free(struct jose_jws *jws)
{
	if (jws == NULL)
		return;
	cJSON_Delete(jws->jw_header);
	cJSON_Delete(jws->jw_payload);
	free(jws->jw_input);
	free(jws->jw_sig);
	memset(jws, 0, sizeof(*jws));
}

/* An RSA public key fit for RS384: the "RSA" type (not RSA-PSS) and
 * JOSE_RSA_MIN_BITS..MAX_BITS. */
static int
jose_rsa_ok(EVP_PKEY *key, char *err, size_t errlen)
{
	int	bits;

	if (!EVP_PKEY_is_a(key, "RSA")) {
		jose_err(err, errlen, "key is not RSA");
		return -1;
	}
	bits = EVP_PKEY_get_bits(key);
	if (bits < JOSE_RSA_MIN_BITS || bits > JOSE_RSA_MAX_BITS) {
		jose_err(err, errlen, "RSA key of %d bits refused", bits);
		return -1;
	}
	return 0;
}

/* An EC key on P-384. */
static int
jose_ec_ok(EVP_PKEY *key, char *err, size_t errlen)
{
	char	group[64];
	size_t	glen;

	if (!EVP_PKEY_is_a(key, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), &glen) || strcmp(group, "secp384r1") != 0) {
		jose_err(err, errlen, "key is not EC P-384");
		return -1;
	}
	return 0;
}

/* 1 if sig verifies over the JWS signing input with SHA-384. */
static int
jose_digest_verify(EVP_PKEY *key, const struct jose_jws *jws,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX	*md;
	int		 ok = 0;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return 0;
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, key) == 1 &&
	    EVP_DigestVerify(md, sig, siglen,
	    (const unsigned char *)jws->jw_input, jws->jw_inputlen) == 1)
		ok = 1;
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return ok;
}

/* JWS R||S (96 bytes) to a DER ECDSA-Sig-Value; caller frees *der with
 * OPENSSL_free. */
static int
jose_es384_to_der(const unsigned char *rs, unsigned char **der,
    size_t *derlen)
{
	ECDSA_SIG	*sig = NULL;
	BIGNUM		*r = NULL, *s = NULL;
	int		 n, rc = -1;

	*der = NULL;
	if ((sig = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(rs, JOSE_EC_COORD, NULL)) == NULL ||
	    (s = BN_bin2bn(rs + JOSE_EC_COORD, JOSE_EC_COORD, NULL)) == NULL)
		goto out;
	if (ECDSA_SIG_set0(sig, r, s) != 1)
		goto out;
	r = s = NULL;	/* owned by sig now */
	if ((n = i2d_ECDSA_SIG(sig, der)) <= 0)
		goto out;
	*derlen = (size_t)n;
	rc = 0;
 out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return rc;
}

/* DER ECDSA-Sig-Value to JWS R||S in rs[96]. */
static int
jose_der_to_es384(const unsigned char *der, size_t derlen, unsigned char *rs)
{
	ECDSA_SIG	*sig;
	const BIGNUM	*r, *s;
	int		 rc = -1;

	if ((sig = d2i_ECDSA_SIG(NULL, &der, (long)derlen)) == NULL)
		return -1;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, rs, JOSE_EC_COORD) == JOSE_EC_COORD &&
	    BN_bn2binpad(s, rs + JOSE_EC_COORD, JOSE_EC_COORD) ==
	    JOSE_EC_COORD)
		rc = 0;
	ECDSA_SIG_free(sig);
	return rc;
}

int
jose_assertion_verify(const struct jose_jws *jws, EVP_PKEY *key, char *err,
    size_t errlen)
{
	unsigned char	*der = NULL;
	size_t		 derlen = 0;
	int		 rc = -1;

	if (key == NULL) {
		jose_err(err, errlen, "no key");
		goto out;
	}
	switch (jws->jw_alg) {
	case JOSE_ALG_RS384:
		if (jose_rsa_ok(key, err, errlen) == -1)
			goto out;
		if (!jose_digest_verify(key, jws, jws->jw_sig,
		    jws->jw_siglen)) {
			jose_err(err, errlen, "bad signature");
			goto out;
		}
		break;
	case JOSE_ALG_ES384:
		if (jose_ec_ok(key, err, errlen) == -1)
			goto out;
		if (jws->jw_siglen != JOSE_ES384_SIG_LEN) {
			jose_err(err, errlen, "ES384 signature of %zu bytes",
			    jws->jw_siglen);
			goto out;
		}
		if (jose_es384_to_der(jws->jw_sig, &der, &derlen) == -1 ||
		    !jose_digest_verify(key, jws, der, derlen)) {
			jose_err(err, errlen, "bad signature");
			goto out;
		}
		break;
	default:
		/* HS256 included: never with a client's key. */
		jose_err(err, errlen, "alg %s not accepted for assertions",
		    jose_alg_name(jws->jw_alg));
		goto out;
	}
	rc = 0;
 out:
	OPENSSL_free(der);
	return rc;
}

/* Decodes the base64url string member name into out[0..max); -1 if it is
 * missing, not a string, malformed or too long. */
static int
jose_b64_member(const cJSON *jwk, const char *name, unsigned char *out,
    size_t max, size_t *len)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(jwk, name);
	size_t		 n;

	if (!cJSON_IsString(v) || (n = strlen(v->valuestring)) == 0 ||
	    b64url_decoded_max(n) > max)
		return -1;
	return b64url_decode(v->valuestring, n, out, max, len);
}

int
jose_jwk_to_pkey(const cJSON *jwk, EVP_PKEY **out, enum jose_kty *kty,
    char *err, size_t errlen)
{
	static const char *const private_members[] = {
		"d", "p", "q", "dp", "dq", "qi", "oth", "k",
	};
	unsigned char	 nb[JOSE_RSA_MAX_BITS / 8], eb[8];
	unsigned char	 pt[1 + 2 * JOSE_EC_COORD];
	size_t		 nl, el, xl, yl, i;
	const cJSON	*v;
	OSSL_PARAM_BLD	*bld = NULL;
	OSSL_PARAM	*params = NULL;
	EVP_PKEY_CTX	*ctx = NULL, *chk = NULL;
	BIGNUM		*n = NULL, *e = NULL;
	EVP_PKEY	*key = NULL;
	int		 rc = -1;

	*out = NULL;
	*kty = JOSE_KTY_UNKNOWN;
	if (!cJSON_IsObject(jwk)) {
		jose_err(err, errlen, "JWK is not an object");
		goto out;
	}
	for (i = 0; i < sizeof(private_members) / sizeof(*private_members);
	    i++)
		if (cJSON_GetObjectItemCaseSensitive(jwk,
		    private_members[i]) != NULL) {
			jose_err(err, errlen, "JWK holds private members");
			goto out;
		}
	v = cJSON_GetObjectItemCaseSensitive(jwk, "kty");
	if (!cJSON_IsString(v)) {
		jose_err(err, errlen, "JWK has no kty");
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		goto out_ssl;
	if (strcmp(v->valuestring, "RSA") == 0) {
		*kty = JOSE_KTY_RSA;
		if (jose_b64_member(jwk, "n", nb, sizeof(nb), &nl) == -1 ||
		    jose_b64_member(jwk, "e", eb, sizeof(eb), &el) == -1) {
			jose_err(err, errlen, "RSA JWK: bad n or e");
			goto out;
		}
		if ((n = BN_bin2bn(nb, (int)nl, NULL)) == NULL ||
		    (e = BN_bin2bn(eb, (int)el, NULL)) == NULL)
			goto out_ssl;
		if (BN_num_bits(n) < JOSE_RSA_MIN_BITS ||
		    BN_num_bits(n) > JOSE_RSA_MAX_BITS || !BN_is_odd(n)) {
			jose_err(err, errlen, "RSA JWK: modulus of %d bits",
			    BN_num_bits(n));
			goto out;
		}
		if (!BN_is_odd(e) || BN_is_one(e) || BN_num_bits(e) > 33) {
			jose_err(err, errlen, "RSA JWK: bad exponent");
			goto out;
		}
		if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			goto out_ssl;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else if (strcmp(v->valuestring, "EC") == 0) {
		*kty = JOSE_KTY_EC;
		v = cJSON_GetObjectItemCaseSensitive(jwk, "crv");
		if (!cJSON_IsString(v) || strcmp(v->valuestring, "P-384")) {
			jose_err(err, errlen, "EC JWK: crv is not P-384");
			goto out;
		}
		pt[0] = 0x04;	/* uncompressed point */
		if (jose_b64_member(jwk, "x", pt + 1, JOSE_EC_COORD, &xl) ==
		    -1 || jose_b64_member(jwk, "y", pt + 1 + JOSE_EC_COORD,
		    JOSE_EC_COORD, &yl) == -1 || xl != JOSE_EC_COORD ||
		    yl != JOSE_EC_COORD) {
			jose_err(err, errlen, "EC JWK: bad x or y");
			goto out;
		}
		if (!OSSL_PARAM_BLD_push_utf8_string(bld,
		    OSSL_PKEY_PARAM_GROUP_NAME, "secp384r1", 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld,
		    OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt)))
			goto out_ssl;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	} else {
		jose_err(err, errlen, "JWK kty not supported");
		goto out;
	}
	if (ctx == NULL || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1) {
		jose_err(err, errlen, "JWK: key import failed");
		goto out;
	}
	if (EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		jose_err(err, errlen, "JWK: key refused");
		goto out;
	}
	if (*kty == JOSE_KTY_EC) {
		/* The point must lie on the curve (invalid-curve attacks). */
		if ((chk = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) ==
		    NULL || EVP_PKEY_public_check(chk) != 1) {
			jose_err(err, errlen, "EC JWK: point not on P-384");
			goto out;
		}
	}
	*out = key;
	key = NULL;
	rc = 0;
	goto out;
 out_ssl:
	jose_err(err, errlen, "JWK: OpenSSL error");
 out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return rc;
}

int
jose_jwks_parse(const char *doc, size_t len, struct jose_jwks *set,
    char *err, size_t errlen)
{
	cJSON		*root = NULL;
	const cJSON	*keys, *k, *v, *a;
	struct jose_jwk	*jk;
	enum jose_alg	 alg;
	EVP_PKEY	*pkey;
	enum jose_kty	 kty;
	size_t		 count = 0;
	char		 why[128];
	int		 rc = -1;

	memset(set, 0, sizeof(*set));
	if (len > JOSE_JWKS_MAX_BYTES) {
		jose_err(err, errlen, "JWKS larger than %d bytes",
		    JOSE_JWKS_MAX_BYTES);
		goto out;
	}
	if ((root = cJSON_ParseWithLength(doc, len)) == NULL ||
	    !cJSON_IsObject(root)) {
		jose_err(err, errlen, "JWKS is not a JSON object");
		goto out;
	}
	keys = cJSON_GetObjectItemCaseSensitive(root, "keys");
	if (!cJSON_IsArray(keys)) {
		jose_err(err, errlen, "JWKS has no keys array");
		goto out;
	}
	for (k = keys->child; k != NULL; k = k->next)
		if (++count > JOSE_JWKS_MAX_KEYS) {
			jose_err(err, errlen, "JWKS holds more than %d keys",
			    JOSE_JWKS_MAX_KEYS);
			goto out;
		}
	set->jw_keys = xcalloc(count == 0 ? 1 : count, sizeof(*set->jw_keys));
	for (k = keys->child; k != NULL; k = k->next) {
		v = cJSON_GetObjectItemCaseSensitive(k, "use");
		if (v != NULL && (!cJSON_IsString(v) ||
		    strcmp(v->valuestring, "sig") != 0)) {
			set->jw_skipped++;
			continue;
		}
		v = cJSON_GetObjectItemCaseSensitive(k, "kid");
		if (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
		    strlen(v->valuestring) > JOSE_KID_MAX) {
			set->jw_skipped++;
			continue;
		}
		/* A named alg we do not implement makes the key unusable. */
		a = cJSON_GetObjectItemCaseSensitive(k, "alg");
		alg = cJSON_IsString(a) ? jose_alg_from_name(a->valuestring) :
		    JOSE_ALG_UNKNOWN;
		if ((a != NULL && (alg == JOSE_ALG_UNKNOWN ||
		    alg == JOSE_ALG_HS256)) ||
		    jose_jwk_to_pkey(k, &pkey, &kty, why, sizeof(why)) == -1) {
			set->jw_skipped++;
			continue;
		}
		jk = &set->jw_keys[set->jw_nkeys++];
		memcpy(jk->jk_kid, v->valuestring, strlen(v->valuestring) + 1);
		jk->jk_kty = kty;
		jk->jk_alg = alg;
		jk->jk_pkey = pkey;
	}
	rc = 0;
 out:
	cJSON_Delete(root);
	if (rc == -1)
		jose_jwks_free(set);
	return rc;
}

void
jose_jwks_free(struct jose_jwks *set)
{
	size_t	i;

	if (set == NULL)
		return;
	for (i = 0; i < set->jw_nkeys; i++)
		EVP_PKEY_free(set->jw_keys[i].jk_pkey);
	free(set->jw_keys);
	memset(set, 0, sizeof(*set));
}

const struct jose_jwk *
jose_jwks_select(const struct jose_jwks *set, const char *kid,
    enum jose_alg alg, char *err, size_t errlen)
{
	const struct jose_jwk	*found = NULL, *k;
	enum jose_kty		 want;
	size_t			 i, n = 0;

	if (alg == JOSE_ALG_RS384)
		want = JOSE_KTY_RSA;
	else if (alg == JOSE_ALG_ES384)
		want = JOSE_KTY_EC;
	else {
		jose_err(err, errlen, "alg not accepted for client keys");
		return NULL;
	}
	if (kid == NULL) {
		jose_err(err, errlen, "no kid");
		return NULL;
	}
	for (i = 0; i < set->jw_nkeys; i++) {
		k = &set->jw_keys[i];
		if (strcmp(k->jk_kid, kid) != 0 || k->jk_kty != want ||
		    (k->jk_alg != JOSE_ALG_UNKNOWN && k->jk_alg != alg))
			continue;
		found = k;
		n++;
	}
	if (n == 1)
		return found;
	jose_err(err, errlen, n == 0 ? "no key for kid and alg" :
	    "kid is ambiguous");
	return NULL;
}

/* Sets name to the base64url of bn, left-padded to pad bytes (0: none). */
static int
jose_put_bn(cJSON *obj, const char *name, const BIGNUM *bn, int pad)
{
	unsigned char	 bin[JOSE_RSA_MAX_BITS / 8];
	char		 txt[JOSE_RSA_MAX_BITS / 6 + 8];
	int		 n;

	n = pad > 0 ? BN_bn2binpad(bn, bin, pad) : BN_num_bytes(bn);
	if (n <= 0 || (size_t)n > sizeof(bin))
		return -1;
	if (pad == 0)
		BN_bn2bin(bn, bin);
	if (b64url_encode(bin, (size_t)n, txt, sizeof(txt), NULL) == -1)
		return -1;
	return cJSON_AddStringToObject(obj, name, txt) == NULL ? -1 : 0;
}

cJSON *
jose_jwk_from_pkey(EVP_PKEY *key, const char *kid, enum jose_alg alg)
{
	cJSON	*jwk;
	BIGNUM	*a = NULL, *b = NULL;
	int	 ok = 0;

	jwk = cJSON_CreateObject();
	if (EVP_PKEY_is_a(key, "RSA")) {
		cJSON_AddStringToObject(jwk, "kty", "RSA");
		if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &a) &&
		    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &b) &&
		    jose_put_bn(jwk, "n", a, 0) == 0 &&
		    jose_put_bn(jwk, "e", b, 0) == 0)
			ok = 1;
	} else if (jose_ec_ok(key, NULL, 0) == 0) {
		cJSON_AddStringToObject(jwk, "kty", "EC");
		cJSON_AddStringToObject(jwk, "crv", "P-384");
		if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &a) &&
		    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &b) &&
		    jose_put_bn(jwk, "x", a, JOSE_EC_COORD) == 0 &&
		    jose_put_bn(jwk, "y", b, JOSE_EC_COORD) == 0)
			ok = 1;
	}
	if (ok) {
		if (kid != NULL)
			cJSON_AddStringToObject(jwk, "kid", kid);
		if (alg != JOSE_ALG_UNKNOWN)
			cJSON_AddStringToObject(jwk, "alg", jose_alg_name(alg));
		cJSON_AddStringToObject(jwk, "use", "sig");
	} else {
		cJSON_Delete(jwk);
		jwk = NULL;
	}
	BN_free(a);
	BN_free(b);
	ERR_clear_error();
	return jwk;
}

/* Encrypted keys are refused rather than prompted for on a terminal. */
static int
jose_no_pass(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return 0;
}

EVP_PKEY *
jose_pkey_from_pem(const char *pem, size_t len, int private, char *err,
    size_t errlen)
{
	BIO		*bio;
	EVP_PKEY	*key = NULL;

	if (len > JOSE_JWKS_MAX_BYTES || len > (size_t)INT32_MAX) {
		jose_err(err, errlen, "PEM too large");
		return NULL;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) != NULL)
		key = private ? PEM_read_bio_PrivateKey(bio, NULL,
		    jose_no_pass, NULL) : PEM_read_bio_PUBKEY(bio, NULL,
		    jose_no_pass, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (key == NULL)
		jose_err(err, errlen, "cannot read PEM key");
	return key;
}

/*
 * Serialises header.payload and signs it: with key (RS384/ES384 by the
 * header's alg) or with the HMAC secret mac[0..maclen).  Caller frees.
 */
static char *
jose_compact(const cJSON *header, const cJSON *claims, EVP_PKEY *key,
    const unsigned char *mac, size_t maclen, char *err, size_t errlen)
{
	struct buf	 out;
	char		*hj = NULL, *pj = NULL, *res = NULL;
	unsigned char	*sig = NULL, rs[JOSE_ES384_SIG_LEN];
	unsigned char	 hmac[EVP_MAX_MD_SIZE];
	const unsigned char *s;
	EVP_MD_CTX	*md = NULL;
	size_t		 hl, pl, siglen = 0, slen;
	enum jose_alg	 alg;

	buf_init(&out, JOSE_MAX_COMPACT);
	alg = jose_alg_from_name(cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(header, "alg")));
	if ((hj = cJSON_PrintUnformatted(header)) == NULL ||
	    (pj = cJSON_PrintUnformatted(claims)) == NULL) {
		jose_err(err, errlen, "cannot serialise JSON");
		goto out;
	}
	hl = strlen(hj);
	pl = strlen(pj);
	if (hl > JOSE_MAX_HEADER || pl > JOSE_MAX_PAYLOAD ||
	    buf_reserve(&out, b64url_encoded_len(hl) +
	    b64url_encoded_len(pl) + 2 + (JOSE_MAX_SIG / 3 + 1) * 4) == -1) {
		jose_err(err, errlen, "token too large");
		goto out;
	}
	b64url_encode(hj, hl, out.b_data, out.b_cap, &out.b_len);
	out.b_data[out.b_len++] = '.';
	b64url_encode(pj, pl, out.b_data + out.b_len, out.b_cap - out.b_len,
	    &slen);
	out.b_len += slen;
	if (alg == JOSE_ALG_HS256 && mac != NULL) {
		if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, mac, maclen,
		    (const unsigned char *)out.b_data, out.b_len, hmac,
		    sizeof(hmac), &siglen) == NULL)
			goto out_ssl;
		s = hmac;
	} else if ((alg == JOSE_ALG_RS384 && jose_rsa_ok(key, err, errlen) ==
	    0) || (alg == JOSE_ALG_ES384 && jose_ec_ok(key, err, errlen) ==
	    0)) {
		if ((md = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) !=
		    1 ||
		    EVP_DigestSign(md, NULL, &siglen,
		    (const unsigned char *)out.b_data, out.b_len) != 1)
			goto out_ssl;
		sig = xmalloc(siglen);
		if (EVP_DigestSign(md, sig, &siglen,
		    (const unsigned char *)out.b_data, out.b_len) != 1)
			goto out_ssl;
		s = sig;
		if (alg == JOSE_ALG_ES384) {
			if (jose_der_to_es384(sig, siglen, rs) == -1)
				goto out_ssl;
			s = rs;
			siglen = sizeof(rs);
		}
	} else {
		if (alg != JOSE_ALG_RS384 && alg != JOSE_ALG_ES384)
			jose_err(err, errlen, "cannot sign with this alg/key");
		goto out;
	}
	if (siglen > JOSE_MAX_SIG)
		goto out_ssl;
	out.b_data[out.b_len++] = '.';
	b64url_encode(s, siglen, out.b_data + out.b_len,
	    out.b_cap - out.b_len, &slen);
	out.b_len += slen;
	res = buf_steal(&out, NULL);
	goto out;
 out_ssl:
	jose_err(err, errlen, "signing failed");
 out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	OPENSSL_cleanse(hmac, sizeof(hmac));
	free(sig);
	cJSON_free(hj);
	cJSON_free(pj);
	buf_free(&out);
	return res;
}

char *
jose_sign(EVP_PKEY *key, const char *kid, const cJSON *extra_header,
    const cJSON *claims, char *err, size_t errlen)
{
	cJSON		*h;
	const cJSON	*m;
	char		*res;

	h = cJSON_CreateObject();
	if (key != NULL && EVP_PKEY_is_a(key, "RSA"))
		cJSON_AddStringToObject(h, "alg", "RS384");
	else if (key != NULL && jose_ec_ok(key, NULL, 0) == 0)
		cJSON_AddStringToObject(h, "alg", "ES384");
	else
		cJSON_AddStringToObject(h, "alg", "?");
	cJSON_AddStringToObject(h, "typ", "JWT");
	if (kid != NULL)
		cJSON_AddStringToObject(h, "kid", kid);
	if (extra_header != NULL)
		for (m = extra_header->child; m != NULL; m = m->next)
			if (m->string != NULL &&
			    !cJSON_HasObjectItem(h, m->string))
				cJSON_AddItemToObject(h, m->string,
				    cJSON_Duplicate(m, 1));
	res = jose_compact(h, claims, key, NULL, 0, err, errlen);
	cJSON_Delete(h);
	return res;
}

char *
jose_token_mint(const char *kid, const unsigned char *key, size_t keylen,
    const cJSON *claims, char *err, size_t errlen)
{
	cJSON	*h;
	char	*res;

	if (kid == NULL || kid[0] == '\0' || strlen(kid) > JOSE_KID_MAX ||
	    keylen < JOSE_HS256_KEY_MIN || keylen > JOSE_HS256_KEY_MAX) {
		jose_err(err, errlen, "bad server key or kid");
		return NULL;
	}
	h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "alg", "HS256");
	cJSON_AddStringToObject(h, "typ", "JWT");
	cJSON_AddStringToObject(h, "kid", kid);
	res = jose_compact(h, claims, NULL, key, keylen, err, errlen);
	cJSON_Delete(h);
	return res;
}

enum jose_token_result
jose_token_verify(const char *compact, size_t len, jose_key_lookup lookup,
    void *arg, time_t now, cJSON **claims, char *err, size_t errlen)
{
	struct jose_jws		 jws;
	unsigned char		 key[JOSE_HS256_KEY_MAX];
	unsigned char		 mac[EVP_MAX_MD_SIZE];
	size_t			 keylen = 0, maclen = 0;
	const cJSON		*exp, *iat;
	enum jose_token_result	 res = JOSE_TOKEN_MALFORMED;

	*claims = NULL;
	if (jose_jws_parse(compact, len, &jws, err, errlen) == -1)
		goto out;
	/* Pinned: a token claiming RS384/ES384 is not one of ours. */
	if (jws.jw_alg != JOSE_ALG_HS256 || jws.jw_kid == NULL) {
		jose_err(err, errlen, "not a server token");
		goto out;
	}
	if (lookup(arg, jws.jw_kid, key, sizeof(key), &keylen) == -1 ||
	    keylen < JOSE_HS256_KEY_MIN || keylen > sizeof(key)) {
		jose_err(err, errlen, "unknown token key");
		res = JOSE_TOKEN_UNKNOWN_KEY;
		goto out;
	}
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen,
	    (const unsigned char *)jws.jw_input, jws.jw_inputlen, mac,
	    sizeof(mac), &maclen) == NULL || maclen != jws.jw_siglen ||
	    CRYPTO_memcmp(mac, jws.jw_sig, maclen) != 0) {
		ERR_clear_error();
		jose_err(err, errlen, "bad token signature");
		res = JOSE_TOKEN_BAD_SIGNATURE;
		goto out;
	}
	exp = cJSON_GetObjectItemCaseSensitive(jws.jw_payload, "exp");
	iat = cJSON_GetObjectItemCaseSensitive(jws.jw_payload, "iat");
	if (!cJSON_IsNumber(exp) || exp->valuedouble <= (double)now ||
	    (iat != NULL && (!cJSON_IsNumber(iat) ||
	    iat->valuedouble > (double)now + JOSE_IAT_SKEW))) {
		jose_err(err, errlen, "token expired or not yet valid");
		res = JOSE_TOKEN_EXPIRED;
		goto out;
	}
	*claims = jws.jw_payload;
	jws.jw_payload = NULL;
	res = JOSE_TOKEN_OK;
 out:
	OPENSSL_cleanse(key, sizeof(key));
	jose_jws_free(&jws);
	return res;
}

const char *
jose_token_result_name(enum jose_token_result r)
{
	switch (r) {
	case JOSE_TOKEN_OK:
		return "ok";
	case JOSE_TOKEN_MALFORMED:
		return "malformed";
	case JOSE_TOKEN_UNKNOWN_KEY:
		return "unknown key";
	case JOSE_TOKEN_BAD_SIGNATURE:
		return "bad signature";
	case JOSE_TOKEN_EXPIRED:
		return "expired";
	}
	return "?";
}
