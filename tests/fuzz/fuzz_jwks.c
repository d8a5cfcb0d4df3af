/*
 * fuzz_jwks.c — lib/jose's JWKS side, the document a client registers or
 * serves at its JWKS URL (AUTH-R-03, AUTH-V-04): arbitrary bytes into
 * jose_jwks_parse.  Every usable key must have a kid and an RSA or EC
 * kty; jose_jwks_select for its kid and the alg of its kty must find a
 * key of that kty (or say the kid is ambiguous), never one of another
 * kty; and the key written back as a JWK (jose_jwk_from_pkey) must read
 * back (jose_jwk_to_pkey) as the same public key.  fuzz_jose covers the
 * JWS and token side.
 * fuzz-sources:
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/jose.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jose_jwks	 set;
	const struct jose_jwk	*k, *sel;
	enum jose_alg		 alg;
	enum jose_kty		 kty;
	EVP_PKEY		*back;
	cJSON			*jwk;
	char			 err[128];
	size_t			 i;

	if (jose_jwks_parse((const char *)data, size, &set, err,
	    sizeof(err)) == -1) {
		assert(err[0] != '\0' && set.jw_keys == NULL);
		return 0;
	}
	for (i = 0; i < set.jw_nkeys; i++) {
		k = &set.jw_keys[i];
		assert(k->jk_kid[0] != '\0' && k->jk_pkey != NULL);
		assert(k->jk_kty == JOSE_KTY_RSA || k->jk_kty == JOSE_KTY_EC);
		assert(k->jk_alg != JOSE_ALG_HS256);
		alg = k->jk_kty == JOSE_KTY_RSA ? JOSE_ALG_RS384 :
		    JOSE_ALG_ES384;
		sel = jose_jwks_select(&set, k->jk_kid, alg, err, sizeof(err));
		assert(sel == NULL || sel->jk_kty == k->jk_kty);
		assert(sel != NULL || err[0] != '\0');
		/* The other kty's alg never selects this key. */
		sel = jose_jwks_select(&set, k->jk_kid, alg == JOSE_ALG_RS384 ?
		    JOSE_ALG_ES384 : JOSE_ALG_RS384, err, sizeof(err));
		assert(sel != k);
		assert(jose_jwks_select(&set, k->jk_kid, JOSE_ALG_HS256, err,
		    sizeof(err)) == NULL);
		jwk = jose_jwk_from_pkey(k->jk_pkey, k->jk_kid, alg);
		assert(jwk != NULL);
		back = NULL;
		assert(jose_jwk_to_pkey(jwk, &back, &kty, err,
		    sizeof(err)) == 0);
		assert(kty == k->jk_kty);
		assert(EVP_PKEY_eq(back, k->jk_pkey) == 1);
		EVP_PKEY_free(back);
		cJSON_Delete(jwk);
	}
	jose_jwks_free(&set);
	return 0;
}
