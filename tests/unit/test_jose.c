/*
 * test_jose.c — lib/jose: client assertions (AUTH-R-03, AUTH-R-04,
 * AUTH-T-04, AUTH-V-01, AUTH-V-04, AUTH-E-01), JWKS caps (AUTH-R-02,
 * issue 13's "JWKS answer of 20 MB"), and the server's own tokens
 * (AUTH-A-04, AUTH-BE-01).  Keys are generated here with OpenSSL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "check.h"
#include "lib/b64url.h"
#include "lib/buf.h"
#include "lib/jose.h"
#include "lib/xmalloc.h"

static EVP_PKEY	*rsa2048, *rsa3072, *rsa1024, *ec384, *ec256;
static const time_t now = 1767225600;	/* 2026-01-01 */

/* b64(header).b64(payload).b64(sig); caller frees. */
static char *
raw_jws(const char *header, const char *payload, const void *sig,
    size_t siglen)
{
	struct buf	b;
	char		tmp[JOSE_MAX_COMPACT];

	buf_init(&b, 1 << 20);
	b64url_encode(header, strlen(header), tmp, sizeof(tmp), NULL);
	buf_puts(&b, tmp);
	buf_putc(&b, '.');
	b64url_encode(payload, strlen(payload), tmp, sizeof(tmp), NULL);
	buf_puts(&b, tmp);
	buf_putc(&b, '.');
	b64url_encode(sig, siglen, tmp, sizeof(tmp), NULL);
	buf_puts(&b, tmp);
	return buf_steal(&b, NULL);
}

static cJSON *
claims_new(void)
{
	cJSON	*c = cJSON_CreateObject();

	cJSON_AddStringToObject(c, "iss", "demo");
	cJSON_AddStringToObject(c, "sub", "demo");
	cJSON_AddStringToObject(c, "aud", "https://bulkhead.test/auth/token");
	cJSON_AddNumberToObject(c, "exp", (double)now + 240);
	cJSON_AddStringToObject(c, "jti", "j-1");
	return c;
}

/* Signs claims with key, parses and verifies against the public half
 * obtained through a JWK round trip: 0 if all of that succeeds. */
static int
round_trip(EVP_PKEY *key, const char *kid)
{
	cJSON		*claims = claims_new(), *jwk;
	struct jose_jws	 jws;
	EVP_PKEY	*pub = NULL;
	enum jose_kty	 kty;
	char		*tok, err[128];
	int		 rc = -1;

	tok = jose_sign(key, kid, NULL, claims, err, sizeof(err));
	jwk = jose_jwk_from_pkey(key, kid, JOSE_ALG_UNKNOWN);
	if (tok == NULL || jwk == NULL ||
	    jose_jwk_to_pkey(jwk, &pub, &kty, err, sizeof(err)) == -1 ||
	    jose_jws_parse(tok, strlen(tok), &jws, err, sizeof(err)) == -1)
		goto out;
	if (jose_assertion_verify(&jws, pub, err, sizeof(err)) == 0 &&
	    strcmp(jws.jw_kid, kid) == 0 && strcmp(jws.jw_typ, "JWT") == 0 &&
	    strcmp(cJSON_GetObjectItem(jws.jw_payload, "jti")->valuestring,
	    "j-1") == 0)
		rc = 0;
	jose_jws_free(&jws);
 out:
	EVP_PKEY_free(pub);
	cJSON_Delete(jwk);
	cJSON_Delete(claims);
	free(tok);
	return rc;
}

/* Parses tok and verifies it with key; 0 if valid. */
static int
verify(const char *tok, EVP_PKEY *key)
{
	struct jose_jws	jws;
	char		err[128];
	int		rc;

	if (jose_jws_parse(tok, strlen(tok), &jws, err, sizeof(err)) == -1)
		return -2;
	rc = jose_assertion_verify(&jws, key, err, sizeof(err));
	jose_jws_free(&jws);
	return rc;
}

static void
test_round_trips(void)
{
	/* AUTH-R-04: RS384 and ES384, RSA 2048 and 3072, P-384. */
	CHECK(round_trip(rsa2048, "rsa-1") == 0);
	CHECK(round_trip(rsa3072, "rsa-3k") == 0);
	CHECK(round_trip(ec384, "ec-1") == 0);
	/* Below the minimum: RSA-1024 signs nothing and loads as no JWK. */
	CHECK(round_trip(rsa1024, "small") == -1);
	CHECK(round_trip(ec256, "p256") == -1);
}

static void
test_tampering(void)
{
	cJSON		*claims = claims_new();
	char		*tok, *bad, *d1, *d2, err[128];
	struct jose_jws	 jws;
	unsigned char	 sig[JOSE_MAX_SIG];
	size_t		 siglen;

	/* AUTH-V-01: the signature covers header and payload. */
	tok = jose_sign(rsa2048, "rsa-1", NULL, claims, err, sizeof(err));
	CHECK(tok != NULL && verify(tok, rsa2048) == 0);
	CHECK(verify(tok, rsa3072) == -1);	/* key not the signer's */
	d1 = strchr(tok, '.');
	d2 = strchr(d1 + 1, '.');
	/* Payload swapped for another (sub changed), signature kept. */
	bad = raw_jws("{\"alg\":\"RS384\",\"typ\":\"JWT\",\"kid\":\"rsa-1\"}",
	    "{\"iss\":\"demo\",\"sub\":\"admin\"}", "x", 1);
	{
		char	*b2 = strrchr(bad, '.'), *mix;

		*b2 = '\0';
		mix = xasprintf("%s%s", bad, d2);
		CHECK(verify(mix, rsa2048) == -1);
		free(mix);
	}
	free(bad);
	/* One signature byte flipped. */
	bad = xstrdup(tok);
	bad[d2 - tok + 1] = bad[d2 - tok + 1] == 'A' ? 'B' : 'A';
	CHECK(verify(bad, rsa2048) == -1);
	free(bad);
	/* One payload character changed. */
	bad = xstrdup(tok);
	bad[d1 - tok + 2] = bad[d1 - tok + 2] == 'A' ? 'B' : 'A';
	CHECK(verify(bad, rsa2048) != 0);
	free(bad);
	/* Signature stripped. */
	bad = xstrndup(tok, (size_t)(d2 - tok + 1));
	CHECK(verify(bad, rsa2048) == -2);
	free(bad);
	free(tok);

	/* ES384: JWS R||S must be exactly 96 bytes (AUTH-R-04). */
	tok = jose_sign(ec384, "ec-1", NULL, claims, err, sizeof(err));
	CHECK(tok != NULL && verify(tok, ec384) == 0);
	CHECK(jose_jws_parse(tok, strlen(tok), &jws, err, sizeof(err)) == 0);
	CHECK(jws.jw_siglen == JOSE_ES384_SIG_LEN);
	memcpy(sig, jws.jw_sig, jws.jw_siglen);
	siglen = jws.jw_siglen;
	d1 = strrchr(tok, '.');
	*d1 = '\0';
	{
		char	 txt[2048], *t;

		/* 95 and 97 bytes: wrong length. */
		b64url_encode(sig, siglen - 1, txt, sizeof(txt), NULL);
		t = xasprintf("%s.%s", tok, txt);
		CHECK(verify(t, ec384) == -1);
		free(t);
		sig[siglen] = 0;
		b64url_encode(sig, siglen + 1, txt, sizeof(txt), NULL);
		t = xasprintf("%s.%s", tok, txt);
		CHECK(verify(t, ec384) == -1);
		free(t);
		/* 96 zero bytes: r = s = 0. */
		memset(sig, 0, siglen);
		b64url_encode(sig, siglen, txt, sizeof(txt), NULL);
		t = xasprintf("%s.%s", tok, txt);
		CHECK(verify(t, ec384) == -1);
		free(t);
	}
	jose_jws_free(&jws);
	free(tok);
	cJSON_Delete(claims);
}

struct keyring {
	const char	*kid[2];
	unsigned char	 key[2][32];
};

static int
lookup(void *arg, const char *kid, unsigned char *key, size_t keysz,
    size_t *keylen)
{
	struct keyring	*r = arg;
	int		 i;

	for (i = 0; i < 2; i++)
		if (r->kid[i] != NULL && strcmp(r->kid[i], kid) == 0 &&
		    keysz >= 32) {
			memcpy(key, r->key[i], 32);
			*keylen = 32;
			return 0;
		}
	return -1;
}

static void
test_alg_policy(void)
{
	cJSON		*claims = claims_new(), *h;
	char		*tok, *raw, *pem, err[128];
	const char	*payload = "{\"iss\":\"demo\"}";
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	size_t		 maclen, pemlen;
	struct jose_jws	 jws;
	BIO		*bio;
	BUF_MEM		*mem;
	struct keyring	 server = { { "k2026a", NULL }, { { 0 } } };

	/* AUTH-V-04 step 3: kty must fit alg. RS384 header, EC key. */
	h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "alg", "RS384");	/* extra ignored */
	tok = jose_sign(ec384, "ec-1", h, claims, err, sizeof(err));
	CHECK(tok != NULL && verify(tok, ec384) == 0);	/* alg from key */
	CHECK(verify(tok, rsa2048) == -1);		/* ES384 + RSA key */
	free(tok);
	cJSON_Delete(h);
	tok = jose_sign(rsa2048, "rsa-1", NULL, claims, err, sizeof(err));
	CHECK(verify(tok, ec384) == -1);		/* RS384 + EC key */
	free(tok);

	/* "alg":"none", missing alg, algs we do not accept. */
	raw = raw_jws("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, "", 0);
	CHECK(jose_jws_parse(raw, strlen(raw), &jws, err, sizeof(err)) == -1);
	free(raw);
	raw = raw_jws("{\"alg\":\"none\"}", payload, "x", 1);
	CHECK(verify(raw, rsa2048) == -2);
	free(raw);
	raw = raw_jws("{\"alg\":\"None\"}", payload, "x", 1);
	CHECK(verify(raw, rsa2048) == -2);
	free(raw);
	raw = raw_jws("{\"typ\":\"JWT\"}", payload, "x", 1);
	CHECK(verify(raw, rsa2048) == -2);
	free(raw);
	raw = raw_jws("{\"alg\":\"RS256\"}", payload, "x", 1);
	CHECK(verify(raw, rsa2048) == -2);
	free(raw);
	raw = raw_jws("{\"alg\":384}", payload, "x", 1);
	CHECK(verify(raw, rsa2048) == -2);
	free(raw);
	/* Two alg members: refused, whichever a parser would pick. */
	raw = raw_jws("{\"alg\":\"RS384\",\"alg\":\"none\"}", payload, "x", 1);
	CHECK(verify(raw, rsa2048) == -2);
	free(raw);
	raw = raw_jws("{\"alg\":\"RS384\",\"crit\":[\"b64\"]}", payload,
	    "x", 1);
	CHECK(verify(raw, rsa2048) == -2);
	free(raw);

	/*
	 * The alg-confusion attack: HS256 with the client's RSA public key
	 * (PEM text) as the HMAC secret.  A verifier that let the token
	 * choose the algorithm would accept it; jose_assertion_verify only
	 * knows RS384/ES384, and jose_token_verify only server secrets.
	 */
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(bio, rsa2048);
	BIO_get_mem_ptr(bio, &mem);
	pem = xstrndup(mem->data, mem->length);
	pemlen = strlen(pem);
	BIO_free(bio);
	{
		const char	*hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\","
		    "\"kid\":\"rsa-1\"}";
		char		 hb[256], pb[1024], *input;
		cJSON		*out = NULL;

		b64url_encode(hdr, strlen(hdr), hb, sizeof(hb), NULL);
		b64url_encode(payload, strlen(payload), pb, sizeof(pb), NULL);
		input = xasprintf("%s.%s", hb, pb);
		EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, pem, pemlen,
		    (unsigned char *)input, strlen(input), mac, sizeof(mac),
		    &maclen);
		free(input);
		raw = raw_jws(hdr, payload, mac, maclen);
		CHECK(jose_jws_parse(raw, strlen(raw), &jws, err,
		    sizeof(err)) == 0 && jws.jw_alg == JOSE_ALG_HS256);
		CHECK(jose_assertion_verify(&jws, rsa2048, err,
		    sizeof(err)) == -1);
		jose_jws_free(&jws);
		/* A lookup that (wrongly) hands out the PEM as a secret is
		 * still refused: server secrets are 32..64 bytes. */
		/* The server's verifier knows no kid "rsa-1": a client's
		 * key is never a server secret. */
		CHECK(jose_token_verify(raw, strlen(raw), lookup, &server,
		    now, &out, err, sizeof(err)) == JOSE_TOKEN_UNKNOWN_KEY &&
		    out == NULL);
		free(raw);
	}
	free(pem);
	cJSON_Delete(claims);
}

/* Appends one JWK (as text) to a JWKS being built. */
static void
jwks_add(struct buf *b, cJSON *jwk)
{
	char	*s = cJSON_PrintUnformatted(jwk);

	if (b->b_len > 9)
		buf_putc(b, ',');
	buf_puts(b, s);
	cJSON_free(s);
	cJSON_Delete(jwk);
}

static void
test_jwks(void)
{
	struct buf		 b;
	struct jose_jwks	 set;
	const struct jose_jwk	*k;
	cJSON			*j;
	EVP_PKEY		*pk;
	enum jose_kty		 kty;
	char			 err[128], *s;
	size_t			 i;

	buf_init(&b, 1 << 20);
	buf_puts(&b, "{\"keys\":[");
	jwks_add(&b, jose_jwk_from_pkey(rsa2048, "rsa-1", JOSE_ALG_RS384));
	jwks_add(&b, jose_jwk_from_pkey(ec384, "ec-1", JOSE_ALG_ES384));
	jwks_add(&b, jose_jwk_from_pkey(rsa3072, "both", JOSE_ALG_UNKNOWN));
	jwks_add(&b, jose_jwk_from_pkey(ec384, "both", JOSE_ALG_UNKNOWN));
	jwks_add(&b, jose_jwk_from_pkey(rsa2048, "dup", JOSE_ALG_UNKNOWN));
	jwks_add(&b, jose_jwk_from_pkey(rsa3072, "dup", JOSE_ALG_UNKNOWN));
	/* Skipped: use enc, kty oct, RSA-1024, P-256, RS256-only, no kid,
	 * off-curve point, private members. */
	j = jose_jwk_from_pkey(rsa2048, "enc", JOSE_ALG_UNKNOWN);
	cJSON_ReplaceItemInObject(j, "use", cJSON_CreateString("enc"));
	jwks_add(&b, j);
	buf_puts(&b, ",{\"kty\":\"oct\",\"kid\":\"o\",\"k\":\"AAAA\"}");
	jwks_add(&b, jose_jwk_from_pkey(rsa1024, "small", JOSE_ALG_UNKNOWN));
	jwks_add(&b, jose_jwk_from_pkey(rsa1024, "small", JOSE_ALG_UNKNOWN));
	j = jose_jwk_from_pkey(rsa2048, "rs256", JOSE_ALG_UNKNOWN);
	cJSON_AddStringToObject(j, "alg", "RS256");
	jwks_add(&b, j);
	j = jose_jwk_from_pkey(ec384, "nokid", JOSE_ALG_UNKNOWN);
	cJSON_DeleteItemFromObject(j, "kid");
	jwks_add(&b, j);
	j = jose_jwk_from_pkey(ec384, "offcurve", JOSE_ALG_UNKNOWN);
	s = xstrdup(cJSON_GetObjectItem(j, "y")->valuestring);
	s[10] = s[10] == 'A' ? 'B' : 'A';
	cJSON_ReplaceItemInObject(j, "y", cJSON_CreateString(s));
	free(s);
	jwks_add(&b, j);
	j = jose_jwk_from_pkey(ec384, "priv", JOSE_ALG_UNKNOWN);
	cJSON_AddStringToObject(j, "d", "AAAA");
	jwks_add(&b, j);
	buf_puts(&b, "]}");
	CHECK(jose_jwks_parse(b.b_data, b.b_len, &set, err, sizeof(err)) == 0);
	CHECK(set.jw_nkeys == 6);
	CHECK(set.jw_skipped == 8);
	/* AUTH-V-04 step 3: kid and kty/alg select exactly one key. */
	k = jose_jwks_select(&set, "rsa-1", JOSE_ALG_RS384, err, sizeof(err));
	CHECK(k != NULL && k->jk_kty == JOSE_KTY_RSA);
	k = jose_jwks_select(&set, "ec-1", JOSE_ALG_ES384, err, sizeof(err));
	CHECK(k != NULL && k->jk_kty == JOSE_KTY_EC);
	CHECK(jose_jwks_select(&set, "rsa-1", JOSE_ALG_ES384, err,
	    sizeof(err)) == NULL);
	CHECK(jose_jwks_select(&set, "ec-1", JOSE_ALG_RS384, err,
	    sizeof(err)) == NULL);
	k = jose_jwks_select(&set, "both", JOSE_ALG_ES384, err, sizeof(err));
	CHECK(k != NULL && k->jk_kty == JOSE_KTY_EC);
	k = jose_jwks_select(&set, "both", JOSE_ALG_RS384, err, sizeof(err));
	CHECK(k != NULL && k->jk_kty == JOSE_KTY_RSA);
	/* Unknown kid, ambiguous kid, skipped keys, HS256, no kid. */
	CHECK(jose_jwks_select(&set, "nope", JOSE_ALG_RS384, err,
	    sizeof(err)) == NULL);
	CHECK(jose_jwks_select(&set, "dup", JOSE_ALG_RS384, err,
	    sizeof(err)) == NULL && strstr(err, "ambiguous") != NULL);
	CHECK(jose_jwks_select(&set, "enc", JOSE_ALG_RS384, err,
	    sizeof(err)) == NULL);
	CHECK(jose_jwks_select(&set, "small", JOSE_ALG_RS384, err,
	    sizeof(err)) == NULL);
	CHECK(jose_jwks_select(&set, "rs256", JOSE_ALG_RS384, err,
	    sizeof(err)) == NULL);
	CHECK(jose_jwks_select(&set, "offcurve", JOSE_ALG_ES384, err,
	    sizeof(err)) == NULL);
	CHECK(jose_jwks_select(&set, "rsa-1", JOSE_ALG_HS256, err,
	    sizeof(err)) == NULL);
	CHECK(jose_jwks_select(&set, NULL, JOSE_ALG_RS384, err,
	    sizeof(err)) == NULL);
	/* A signature by a key not in the JWKS does not verify with the
	 * key selected by its kid. */
	{
		cJSON	*c = claims_new();
		char	*tok = jose_sign(rsa3072, "rsa-1", NULL, c, err,
			    sizeof(err));

		k = jose_jwks_select(&set, "rsa-1", JOSE_ALG_RS384, err,
		    sizeof(err));
		CHECK(k != NULL && verify(tok, k->jk_pkey) == -1);
		free(tok);
		cJSON_Delete(c);
	}
	jose_jwks_free(&set);
	jose_jwks_free(&set);	/* no-op */

	/* Not a JWKS. */
	CHECK(jose_jwks_parse("[]", 2, &set, err, sizeof(err)) == -1);
	CHECK(jose_jwks_parse("{\"keys\":{}}", 11, &set, err,
	    sizeof(err)) == -1);
	CHECK(jose_jwks_parse("{\"keys\":[]}", 11, &set, err,
	    sizeof(err)) == 0 && set.jw_nkeys == 0);
	jose_jwks_free(&set);

	/* 10,000 keys: refused by the key cap, whatever the bytes. */
	buf_reset(&b);
	buf_puts(&b, "{\"keys\":[");
	for (i = 0; i < 10000; i++)
		buf_puts(&b, i ? ",{}" : "{}");
	buf_puts(&b, "]}");
	CHECK(b.b_len <= JOSE_JWKS_MAX_BYTES);
	CHECK(jose_jwks_parse(b.b_data, b.b_len, &set, err, sizeof(err)) ==
	    -1 && strstr(err, "keys") != NULL);
	buf_free(&b);
	/* 20 MB: refused by the byte cap before any parsing. */
	s = xmalloc(20 * 1024 * 1024);
	memset(s, ' ', 20 * 1024 * 1024);
	memcpy(s, "{\"keys\":[", 9);
	CHECK(jose_jwks_parse(s, 20 * 1024 * 1024, &set, err,
	    sizeof(err)) == -1 && strstr(err, "bytes") != NULL);
	free(s);

	/* Bare JWKs: bad members. */
	j = cJSON_Parse("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\","
	    "\"y\":\"AA\"}");
	CHECK(jose_jwk_to_pkey(j, &pk, &kty, err, sizeof(err)) == -1);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}");
	CHECK(jose_jwk_to_pkey(j, &pk, &kty, err, sizeof(err)) == -1);
	cJSON_Delete(j);
	j = jose_jwk_from_pkey(rsa2048, "e1", JOSE_ALG_UNKNOWN);
	cJSON_ReplaceItemInObject(j, "e", cJSON_CreateString("AQ"));
	CHECK(jose_jwk_to_pkey(j, &pk, &kty, err, sizeof(err)) == -1);
	cJSON_Delete(j);
}

static void
test_server_tokens(void)
{
	struct keyring	 ring = { { "k2026a", "k2026b" }, { { 0 } } };
	struct keyring	 other = { { "k2026a", NULL }, { { 0 } } };
	cJSON		*c, *out;
	char		*tok, *bad, *rs, err[128];
	size_t		 n;

	memset(ring.key[0], 0x11, 32);
	memset(ring.key[1], 0x22, 32);
	memset(other.key[0], 0x33, 32);
	c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "sub", "demo");
	cJSON_AddStringToObject(c, "scope", "system/*.read");
	cJSON_AddNumberToObject(c, "iat", (double)now);
	cJSON_AddNumberToObject(c, "exp", (double)now + 300);
	/* Short secrets refused. */
	CHECK(jose_token_mint("k", ring.key[0], 16, c, err, sizeof(err)) ==
	    NULL);
	tok = jose_token_mint("k2026b", ring.key[1], 32, c, err, sizeof(err));
	CHECK(tok != NULL);
	n = strlen(tok);
	/* AUTH-BE-01: valid, within its lifetime. */
	CHECK(jose_token_verify(tok, n, lookup, &ring, now + 10, &out, err,
	    sizeof(err)) == JOSE_TOKEN_OK && out != NULL);
	CHECK(strcmp(cJSON_GetObjectItem(out, "scope")->valuestring,
	    "system/*.read") == 0);
	cJSON_Delete(out);
	/* Expired, and not yet issued. */
	CHECK(jose_token_verify(tok, n, lookup, &ring, now + 300, &out, err,
	    sizeof(err)) == JOSE_TOKEN_EXPIRED && out == NULL);
	CHECK(jose_token_verify(tok, n, lookup, &ring, now - 120, &out, err,
	    sizeof(err)) == JOSE_TOKEN_EXPIRED);
	/* Another server's key under the same kid, and a rotated-out kid. */
	CHECK(jose_token_verify(tok, n, lookup, &other, now, &out, err,
	    sizeof(err)) == JOSE_TOKEN_UNKNOWN_KEY);
	other.kid[0] = "k2026b";
	CHECK(jose_token_verify(tok, n, lookup, &other, now, &out, err,
	    sizeof(err)) == JOSE_TOKEN_BAD_SIGNATURE);
	/* Tampered payload and signature. */
	bad = xstrdup(tok);
	bad[strchr(bad, '.') - bad + 3] ^= 1;
	CHECK(jose_token_verify(bad, n, lookup, &ring, now, &out, err,
	    sizeof(err)) != JOSE_TOKEN_OK);
	free(bad);
	bad = xstrdup(tok);
	bad[strrchr(bad, '.') - bad + 1] ^= 1;
	CHECK(jose_token_verify(bad, n, lookup, &ring, now, &out, err,
	    sizeof(err)) != JOSE_TOKEN_OK);
	free(bad);
	/* Garbage and a token of another alg. */
	CHECK(jose_token_verify("Bearer", 6, lookup, &ring, now, &out, err,
	    sizeof(err)) == JOSE_TOKEN_MALFORMED);
	rs = jose_sign(rsa2048, "k2026a", NULL, c, err, sizeof(err));
	CHECK(jose_token_verify(rs, strlen(rs), lookup, &ring, now, &out, err,
	    sizeof(err)) == JOSE_TOKEN_MALFORMED);
	free(rs);
	/* Missing exp. */
	cJSON_DeleteItemFromObject(c, "exp");
	free(tok);
	tok = jose_token_mint("k2026a", ring.key[0], 32, c, err, sizeof(err));
	CHECK(jose_token_verify(tok, strlen(tok), lookup, &ring, now, &out,
	    err, sizeof(err)) == JOSE_TOKEN_EXPIRED);
	free(tok);
	cJSON_Delete(c);
	CHECK(strcmp(jose_token_result_name(JOSE_TOKEN_EXPIRED),
	    "expired") == 0);
}

/* PEM private keys, as "bulkhead clients token NAME" reads them. */
static void
test_pem(void)
{
	BIO		*bio;
	BUF_MEM		*mem;
	EVP_PKEY	*k;
	char		 err[128], pass[] = "secret";

	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, ec384, NULL, NULL, 0, NULL, NULL);
	BIO_get_mem_ptr(bio, &mem);
	k = jose_pkey_from_pem(mem->data, mem->length, 1, err, sizeof(err));
	CHECK(k != NULL && EVP_PKEY_eq(k, ec384) == 1);
	CHECK(k != NULL && round_trip(k, "pem") == 0);
	EVP_PKEY_free(k);
	/* Not PEM at all. */
	CHECK(jose_pkey_from_pem("junk", 4, 1, err, sizeof(err)) == NULL);
	BIO_free(bio);
	/* Encrypted: refused, never prompted for. */
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PKCS8PrivateKey(bio, rsa2048, EVP_aes_128_cbc(), NULL,
	    0, NULL, pass);
	BIO_get_mem_ptr(bio, &mem);
	CHECK(jose_pkey_from_pem(mem->data, mem->length, 1, err,
	    sizeof(err)) == NULL);
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(bio, rsa2048);
	BIO_get_mem_ptr(bio, &mem);
	k = jose_pkey_from_pem(mem->data, mem->length, 0, err, sizeof(err));
	CHECK(k != NULL && EVP_PKEY_eq(k, rsa2048) == 1);
	EVP_PKEY_free(k);
	BIO_free(bio);
}

static void
test_parse_caps(void)
{
	struct jose_jws	 jws;
	char		 err[128], *big;

	CHECK(jose_jws_parse("a.b", 3, &jws, err, sizeof(err)) == -1);
	CHECK(jose_jws_parse("a.b.c.d", 7, &jws, err, sizeof(err)) == -1);
	CHECK(jose_jws_parse("", 0, &jws, err, sizeof(err)) == -1);
	CHECK(jose_jws_parse("..", 2, &jws, err, sizeof(err)) == -1);
	big = xmalloc(JOSE_MAX_COMPACT + 1);
	memset(big, 'A', JOSE_MAX_COMPACT + 1);
	big[10] = big[20] = '.';
	CHECK(jose_jws_parse(big, JOSE_MAX_COMPACT + 1, &jws, err,
	    sizeof(err)) == -1);
	CHECK(jose_jws_parse(big, JOSE_MAX_COMPACT, &jws, err,
	    sizeof(err)) == -1);	/* payload over JOSE_MAX_PAYLOAD */
	free(big);
	big = raw_jws("[\"alg\"]", "{}", "x", 1);
	CHECK(jose_jws_parse(big, strlen(big), &jws, err, sizeof(err)) == -1);
	free(big);
	big = raw_jws("{\"alg\":\"RS384\"}", "{} x", "x", 1);
	CHECK(jose_jws_parse(big, strlen(big), &jws, err, sizeof(err)) == -1);
	free(big);
	big = raw_jws("{\"alg\":\"RS384\",\"kid\":7}", "{}", "x", 1);
	CHECK(jose_jws_parse(big, strlen(big), &jws, err, sizeof(err)) == -1);
	free(big);
	big = raw_jws("{\"alg\":\"RS384\"}", "{}", "x", 1);
	CHECK(jose_jws_parse(big, strlen(big), &jws, err, sizeof(err)) == 0);
	CHECK(jws.jw_kid == NULL && jws.jw_alg == JOSE_ALG_RS384);
	jose_jws_free(&jws);
	free(big);
}

int
main(void)
{
	rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa3072 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ec384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	ec256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	CHECK(rsa2048 && rsa3072 && rsa1024 && ec384 && ec256);
	test_round_trips();
	test_tampering();
	test_alg_policy();
	test_jwks();
	test_server_tokens();
	test_parse_caps();
	test_pem();
	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(rsa3072);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(ec384);
	EVP_PKEY_free(ec256);
	return CHECK_DONE();
}
