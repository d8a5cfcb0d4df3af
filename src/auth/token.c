/*
 * token.c — minting and verifying the server's access tokens (token.h).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "auth/token.h"
#include "lib/jose.h"
#include "lib/str.h"

static int	token_lookup(void *, const char *, unsigned char *, size_t,
		    size_t *);
static int	token_aud_is(const cJSON *, const char *);

int
token_url(const char *base_url, char *out, size_t outlen)
{
	const char	*p, *end;
	size_t		 n = strlen(base_url);

	if ((p = strstr(base_url, "://")) == NULL)
		return -1;
	p += 3;
	if (n >= 5 && strcmp(base_url + n - 5, "/fhir") == 0 &&
	    strchr(p, '/') != NULL && strchr(p, '/') < base_url + n - 5 + 1)
		end = base_url + n - 5;
	else if ((end = strchr(p, '/')) == NULL)
		end = base_url + n;
	if ((size_t)snprintf(out, outlen, "%.*s/auth/token",
	    (int)(end - base_url), base_url) >= outlen)
		return -1;
	return 0;
}

int
token_mint(const struct auth_key *key, const char *base_url,
    const char *client, const char *scope, time_t now, int lifetime,
    char **out, char *err, size_t errlen)
{
	unsigned char	 rnd[16];
	char		 iss[TOKEN_URL_MAX], jti[33];
	cJSON		*c;
	size_t		 i;

	*out = NULL;
	if (token_url(base_url, iss, sizeof(iss)) == -1) {
		snprintf(err, errlen, "base_url too long");
		return -1;
	}
	if (lifetime <= 0 || lifetime > TOKEN_LIFETIME)
		lifetime = TOKEN_LIFETIME;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		snprintf(err, errlen, "RAND_bytes failed");
		return -1;
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(jti + 2 * i, 3, "%02x", rnd[i]);
	c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "iss", iss);
	cJSON_AddStringToObject(c, "sub", client);
	cJSON_AddStringToObject(c, "aud", base_url);
	cJSON_AddStringToObject(c, "scope", scope);
	cJSON_AddNumberToObject(c, "iat", (double)now);
	cJSON_AddNumberToObject(c, "exp", (double)(now + lifetime));
	cJSON_AddStringToObject(c, "jti", jti);
	*out = jose_token_mint(key->ak_kid, key->ak_secret,
	    sizeof(key->ak_secret), c, err, errlen);
	cJSON_Delete(c);
	return *out != NULL ? 0 : -1;
}

/* jose_key_lookup over a keyring. */
static int
token_lookup(void *arg, const char *kid, unsigned char *key, size_t keysz,
    size_t *keylen)
{
	const struct token_keyring	*ring = arg;
	size_t				 i;

	for (i = 0; i < ring->tk_n; i++) {
		if (strcmp(ring->tk_keys[i].ak_kid, kid) != 0)
			continue;
		if (keysz < sizeof(ring->tk_keys[i].ak_secret))
			return -1;
		memcpy(key, ring->tk_keys[i].ak_secret,
		    sizeof(ring->tk_keys[i].ak_secret));
		*keylen = sizeof(ring->tk_keys[i].ak_secret);
		return 0;
	}
	return -1;
}

/* aud is want, or an array holding it. */
static int
token_aud_is(const cJSON *aud, const char *want)
{
	const cJSON	*a;

	if (cJSON_IsString(aud))
		return strcmp(aud->valuestring, want) == 0;
	cJSON_ArrayForEach(a, aud)
		if (cJSON_IsString(a) && strcmp(a->valuestring, want) == 0)
			return 1;
	return 0;
}

enum token_result
token_verify(const char *tok, size_t len, const struct token_keyring *ring,
    const char *base_url, time_t now, struct token_principal *p, char *err,
    size_t errlen)
{
	cJSON			*claims = NULL;
	const cJSON		*iss, *sub, *scope, *exp;
	char			 want_iss[TOKEN_URL_MAX], e[128];
	enum token_result	 r = TOKEN_MALFORMED;
	union {
		const struct token_keyring	*c;
		void				*v;
	}			 arg;

	memset(p, 0, sizeof(*p));
	if (len == 0 || len > TOKEN_MAX_LEN) {
		snprintf(err, errlen, "token empty or too long");
		return TOKEN_MALFORMED;
	}
	arg.c = ring;	/* the callback only reads it */
	switch (jose_token_verify(tok, len, token_lookup, arg.v, now,
	    &claims, err, errlen)) {
	case JOSE_TOKEN_OK:
		break;
	case JOSE_TOKEN_UNKNOWN_KEY:
		return TOKEN_UNKNOWN_KEY;
	case JOSE_TOKEN_BAD_SIGNATURE:
		return TOKEN_BAD_SIGNATURE;
	case JOSE_TOKEN_EXPIRED:
		return TOKEN_EXPIRED;
	default:
		return TOKEN_MALFORMED;
	}
	iss = cJSON_GetObjectItemCaseSensitive(claims, "iss");
	sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");
	scope = cJSON_GetObjectItemCaseSensitive(claims, "scope");
	exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
	if (token_url(base_url, want_iss, sizeof(want_iss)) == -1 ||
	    !cJSON_IsString(iss) || strcmp(iss->valuestring, want_iss) != 0 ||
	    !token_aud_is(cJSON_GetObjectItemCaseSensitive(claims, "aud"),
	    base_url)) {
		snprintf(err, errlen, "token issued for another server");
		r = TOKEN_WRONG_AUDIENCE;
		goto out;
	}
	if (!cJSON_IsString(sub) || !auth_store_name_ok(sub->valuestring) ||
	    !cJSON_IsString(scope) || !cJSON_IsNumber(exp)) {
		snprintf(err, errlen, "token claims incomplete");
		goto out;
	}
	if (scope_parse(scope->valuestring, SCOPE_PARSE_CONSTRAINED,
	    &p->tp_scope, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "token scope: %s", e);
		goto out;
	}
	str_lcpy(p->tp_client, sub->valuestring, sizeof(p->tp_client));
	p->tp_exp = (time_t)exp->valuedouble;
	r = TOKEN_OK;
 out:
	cJSON_Delete(claims);
	if (r != TOKEN_OK)
		memset(p, 0, sizeof(*p));
	return r;
}
