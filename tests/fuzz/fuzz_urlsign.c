/*
 * fuzz_urlsign.c — auth/urlsign: the input, split at the first NUL, is a
 * raw query string and a file path.  The parse never overflows; a query
 * that verifies must be complete; a query we sign ourselves for that
 * path verifies, and stops verifying when the path, exp or kid differ.
 * fuzz-sources: src/auth/urlsign.c
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/urlsign.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct auth_key	keys[2];
	struct urlsign_query	q, again;
	enum urlsign_state	st;
	enum urlsign_result	r;
	const uint8_t		*nul;
	char			rel[256], out[URLSIGN_QUERY_MAX], buf[4096];
	size_t			ql, rl;
	time_t			now = 1790000000;

	if (keys[0].ak_kid[0] == '\0') {
		memcpy(keys[0].ak_kid, "0123456789abcdef", 17);
		memset(keys[0].ak_secret, 7, sizeof(keys[0].ak_secret));
		memcpy(keys[1].ak_kid, "fedcba9876543210", 17);
		memset(keys[1].ak_secret, 9, sizeof(keys[1].ak_secret));
	}
	nul = memchr(data, '\0', size);
	ql = nul != NULL ? (size_t)(nul - data) : size;
	rl = nul != NULL ? size - ql - 1 : 0;
	if (rl >= sizeof(rel))
		rl = sizeof(rel) - 1;
	memcpy(rel, nul != NULL ? (const char *)nul + 1 : "", rl);
	rel[rl] = '\0';
	rl = strlen(rel);

	urlsign_query_init(&q);
	st = urlsign_query_parse((const char *)data, ql, &q);
	r = urlsign_verify(keys, 2, &q, rel, now);
	if (r == URLSIGN_OK)
		assert(st == URLSIGN_COMPLETE && q.uq_exp >= now);
	if (st != URLSIGN_COMPLETE)
		assert(r == URLSIGN_BAD);

	/* Our own signature round-trips, and binds path, exp and kid. */
	if (urlsign_sign(&keys[0], rel, now + 60, out, sizeof(out)) == 0) {
		urlsign_query_init(&again);
		assert(urlsign_query_parse(out, strlen(out), &again) ==
		    URLSIGN_COMPLETE);
		assert(urlsign_verify(keys, 2, &again, rel, now) ==
		    URLSIGN_OK);
		assert(urlsign_verify(keys, 2, &again, rel, now + 61) ==
		    URLSIGN_EXPIRED);
		assert(urlsign_verify(keys + 1, 1, &again, rel, now) ==
		    URLSIGN_UNKNOWN_KEY);
		again.uq_exp++;
		assert(urlsign_verify(keys, 2, &again, rel, now) ==
		    URLSIGN_BAD_SIGNATURE);
		again.uq_exp--;
		if (rl > 0 && rl + 1 < sizeof(rel)) {
			rel[rl] = 'x';
			rel[rl + 1] = '\0';
			assert(urlsign_verify(keys, 2, &again, rel, now) ==
			    URLSIGN_BAD_SIGNATURE);
		}
	}

	/* Redaction leaves no signature character after "sig=". */
	ql = ql < sizeof(buf) - 1 ? ql : sizeof(buf) - 1;
	memcpy(buf, data, ql);
	buf[ql] = '\0';
	urlsign_redact(buf);
	{
		const char *p = buf;

		while ((p = strstr(p, "sig=")) != NULL) {
			p += 4;
			assert(*p == '\0' || *p == '*' || *p == '&' ||
			    *p == ' ' || *p == '"' || *p == '\'' || *p == '\n');
		}
	}
	return 0;
}
