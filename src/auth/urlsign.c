/*
 * urlsign.c — signing, parsing and verifying signed download URLs (see
 * urlsign.h).  Pure: no database, no allocation; the fuzz target
 * tests/fuzz/fuzz_urlsign.c drives the parser and the verifier.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "auth/urlsign.h"
#include "lib/b64url.h"
#include "lib/str.h"

#define URLSIGN_DERIVE	"bulkhead signed download URL key v1"
#define URLSIGN_PREFIX	"bulkhead-url-v1\n"
#define URLSIGN_MSG_MAX	1024
#define URLSIGN_KID_MIN	16

static int	urlsign_mac(const struct auth_key *, const char *kid,
		    int64_t exp, const char *rel, unsigned char out[32]);
static int	urlsign_kid_ok(const char *);

/* 1 if s is URLSIGN_KID_MIN..AUTH_STORE_KID_MAX lowercase hex digits. */
static int
urlsign_kid_ok(const char *s)
{
	size_t	n = strspn(s, "0123456789abcdef");

	return s[n] == '\0' && n >= URLSIGN_KID_MIN && n <= AUTH_STORE_KID_MAX;
}

/* The signature of (kid, exp, rel) under key's URL key.  0 or -1. */
static int
urlsign_mac(const struct auth_key *key, const char *kid, int64_t exp,
    const char *rel, unsigned char out[32])
{
	unsigned char	 ukey[32];
	char		 msg[URLSIGN_MSG_MAX];
	size_t		 len = 0;
	int		 n, rc = -1;

	n = snprintf(msg, sizeof(msg), URLSIGN_PREFIX "%s\n%lld\n%s", kid,
	    (long long)exp, rel);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -1;
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key->ak_secret,
	    sizeof(key->ak_secret), (const unsigned char *)URLSIGN_DERIVE,
	    sizeof(URLSIGN_DERIVE) - 1, ukey, sizeof(ukey), &len) == NULL ||
	    len != sizeof(ukey))
		goto out;
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, ukey, sizeof(ukey),
	    (const unsigned char *)msg, (size_t)n, out, 32, &len) == NULL ||
	    len != 32)
		goto out;
	rc = 0;
 out:
	if (rc == -1)
		ERR_clear_error();
	OPENSSL_cleanse(ukey, sizeof(ukey));
	return rc;
}

void
urlsign_query_init(struct urlsign_query *q)
{
	memset(q, 0, sizeof(*q));
}

int
urlsign_query_add(struct urlsign_query *q, const char *key,
    const char *value)
{
	const char	*errstr;
	unsigned char	 raw[40];
	size_t		 len;
	unsigned int	 bit;

	if (strcmp(key, "kid") == 0)
		bit = 1;
	else if (strcmp(key, "exp") == 0)
		bit = 2;
	else if (strcmp(key, "sig") == 0)
		bit = 4;
	else
		return 0;
	if (q->uq_seen & bit) {
		q->uq_bad = 1;		/* repeated: which one is meant? */
		return 1;
	}
	q->uq_seen |= bit;
	switch (bit) {
	case 1:
		if (!urlsign_kid_ok(value))
			q->uq_bad = 1;
		else
			str_lcpy(q->uq_kid, value, sizeof(q->uq_kid));
		break;
	case 2:
		if (value[0] < '0' || value[0] > '9' ||
		    str_to_i64(value, 1, INT64_MAX / 2, &q->uq_exp,
		    &errstr) == -1)
			q->uq_bad = 1;
		break;
	default:
		if (strlen(value) != URLSIGN_SIG_LEN ||
		    b64url_decode(value, URLSIGN_SIG_LEN, raw, sizeof(raw),
		    &len) == -1 || len != 32)
			q->uq_bad = 1;
		else
			str_lcpy(q->uq_sig, value, sizeof(q->uq_sig));
		break;
	}
	return 1;
}

enum urlsign_state
urlsign_query_state(const struct urlsign_query *q)
{
	if (q->uq_seen == 0)
		return URLSIGN_NONE;
	return q->uq_bad || q->uq_seen != 7 ? URLSIGN_MALFORMED :
	    URLSIGN_COMPLETE;
}

enum urlsign_state
urlsign_query_parse(const char *qs, size_t len, struct urlsign_query *q)
{
	char		 key[8], value[128];
	const char	*p = qs, *end = qs + len, *amp, *eq;
	size_t		 kl, vl;

	while (p < end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		kl = (size_t)(eq - p);
		vl = eq < amp ? (size_t)(amp - eq - 1) : 0;
		if (kl < sizeof(key) && memchr(p, '\0', kl) == NULL) {
			memcpy(key, p, kl);
			key[kl] = '\0';
			if (vl >= sizeof(value) || (vl > 0 &&
			    memchr(eq + 1, '\0', vl) != NULL)) {
				/* Ours and too long, or with a NUL: bad. */
				if (urlsign_query_add(q, key, "") == 1)
					q->uq_bad = 1;
			} else {
				if (vl > 0)
					memcpy(value, eq + 1, vl);
				value[vl] = '\0';
				(void)urlsign_query_add(q, key, value);
			}
		}
		p = amp + 1;
	}
	return urlsign_query_state(q);
}

int
urlsign_sign(const struct auth_key *key, const char *rel, int64_t exp,
    char *out, size_t outlen)
{
	unsigned char	 mac[32];
	char		 sig[URLSIGN_SIG_LEN + 1];
	size_t		 slen;
	int		 n;

	if (urlsign_mac(key, key->ak_kid, exp, rel, mac) == -1 ||
	    b64url_encode(mac, sizeof(mac), sig, sizeof(sig), &slen) == -1)
		return -1;
	OPENSSL_cleanse(mac, sizeof(mac));
	n = snprintf(out, outlen, "kid=%s&exp=%lld&sig=%s", key->ak_kid,
	    (long long)exp, sig);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

enum urlsign_result
urlsign_verify(const struct auth_key *keys, size_t n,
    const struct urlsign_query *q, const char *rel, time_t now)
{
	const struct auth_key	*k = NULL;
	unsigned char		 want[32], got[40];
	size_t			 i, len;
	enum urlsign_result	 r = URLSIGN_BAD;

	if (urlsign_query_state(q) != URLSIGN_COMPLETE)
		return URLSIGN_BAD;
	for (i = 0; i < n && k == NULL; i++)
		if (strcmp(keys[i].ak_kid, q->uq_kid) == 0)
			k = &keys[i];
	if (k == NULL)
		return URLSIGN_UNKNOWN_KEY;
	if (b64url_decode(q->uq_sig, strlen(q->uq_sig), got, sizeof(got),
	    &len) == -1 || len != sizeof(want) ||
	    urlsign_mac(k, q->uq_kid, q->uq_exp, rel, want) == -1)
		goto out;
	if (CRYPTO_memcmp(want, got, sizeof(want)) != 0) {
		r = URLSIGN_BAD_SIGNATURE;
		goto out;
	}
	/* Signed by us, yet beyond any lifetime we issue: refuse it. */
	if (q->uq_exp > (int64_t)now + URLSIGN_TTL_MAX + URLSIGN_SKEW_S)
		r = URLSIGN_BAD_SIGNATURE;
	else
		r = q->uq_exp < (int64_t)now ? URLSIGN_EXPIRED : URLSIGN_OK;
 out:
	OPENSSL_cleanse(want, sizeof(want));
	return r;
}

void
urlsign_redact(char *s)
{
	char	*p = s;

	while ((p = strstr(p, "sig=")) != NULL) {
		p += 4;
		while (*p != '\0' && *p != '&' && *p != ' ' && *p != '"' &&
		    *p != '\'' && *p != '\n')
			*p++ = '*';
	}
}
