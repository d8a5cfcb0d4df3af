/*
 * fuzz_jose.c — lib/jose and lib/b64url: the first byte picks the
 * parser.  Even: a compact JWS (jose_jws_parse; accepted ones must carry
 * a known alg, JSON objects and a signing input that is the prefix of the
 * token), then HS256 server-token verification with a fixed key (must
 * never say OK for a forged token).  Odd: a JWKS document (every
 * usable key must have a kid and an RSA or EC kty).  A b64url round trip
 * is checked on the way.
 * fuzz-sources:
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/b64url.h"
#include "lib/jose.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
fuzz_lookup(void *arg, const char *kid, unsigned char *key, size_t keysz,
    size_t *keylen)
{
	(void)arg;
	if (strcmp(kid, "k") != 0 || keysz < 32)
		return -1;
	memset(key, 0x5a, 32);
	*keylen = 32;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jose_jws		 jws;
	struct jose_jwks	 set;
	cJSON			*claims = NULL;
	char			 err[128], txt[4096 * 2];
	unsigned char		 back[4096];
	size_t			 n, m, i;

	if (size == 0)
		return 0;
	if (size - 1 <= 4096) {
		assert(b64url_encode(data + 1, size - 1, txt, sizeof(txt),
		    &n) == 0);
		assert(b64url_decode(txt, n, back, sizeof(back), &m) == 0);
		assert(m == size - 1 && memcmp(back, data + 1, m) == 0);
	}
	if (data[0] % 2 == 0) {
		if (jose_jws_parse((const char *)data + 1, size - 1, &jws,
		    err, sizeof(err)) == 0) {
			assert(jws.jw_alg != JOSE_ALG_UNKNOWN);
			assert(cJSON_IsObject(jws.jw_header));
			assert(cJSON_IsObject(jws.jw_payload));
			assert(jws.jw_inputlen < size - 1);
			assert(memcmp(jws.jw_input, data + 1,
			    jws.jw_inputlen) == 0);
			jose_jws_free(&jws);
		} else
			assert(err[0] != '\0' && jws.jw_header == NULL);
		/* Forging a MAC by chance is out of reach. */
		assert(jose_token_verify((const char *)data + 1, size - 1,
		    fuzz_lookup, NULL, 1767225600, &claims, err,
		    sizeof(err)) != JOSE_TOKEN_OK);
		assert(claims == NULL);
	} else {
		if (jose_jwks_parse((const char *)data + 1, size - 1, &set,
		    err, sizeof(err)) == 0) {
			for (i = 0; i < set.jw_nkeys; i++) {
				assert(set.jw_keys[i].jk_kid[0] != '\0');
				assert(set.jw_keys[i].jk_kty == JOSE_KTY_RSA ||
				    set.jw_keys[i].jk_kty == JOSE_KTY_EC);
				assert(set.jw_keys[i].jk_pkey != NULL);
			}
			(void)jose_jwks_select(&set, "k", JOSE_ALG_RS384, err,
			    sizeof(err));
			jose_jwks_free(&set);
		}
	}
	return 0;
}
