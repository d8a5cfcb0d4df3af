/*
 * fuzz_assertion.c — a token request body as POST /auth/token reads it
 * before any key or database is involved: lib/form, then auth/assertion's
 * request checks, jose_jws_parse of the client_assertion, and the header
 * and claim checks (AUTH-T-03..05, AUTH-V-01, AUTH-V-03) against a fixed
 * clock, audience and registered jku.  Every reason maps to an RFC 6749
 * error and a description; an accepted assertion has iss (= sub, = a
 * client_id sent), a jti within its cap and an exp in the window.
 * fuzz-sources: src/auth/assertion.c src/auth/oauth.c
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/assertion.h"
#include "auth/oauth.h"

#define FUZZ_NOW	1767225600	/* 2026-01-01 */
#define FUZZ_AUD	"https://bulkhead.example/auth/token"
#define FUZZ_JKU	"https://client.example/jwks.json"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_reason(enum assertion_reason r)
{
	enum oauth_error	e = assertion_reason_error(r);

	assert(assertion_reason_text(r) != NULL);
	assert(oauth_error_name(e) != NULL);
	assert((r == ASSERTION_OK) == (e == OAUTH_OK));
	assert(e == OAUTH_OK || oauth_error_status(e) == 400 ||
	    oauth_error_status(e) == 401);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct assertion_request ar;
	struct assertion_claims	 ac;
	enum assertion_reason	 r;
	struct jose_jws		 jws;
	struct form		 f;
	char			 err[128];

	memset(&jws, 0, sizeof(jws));
	if (form_parse((const char *)data, size, &f, err, sizeof(err)) == -1)
		return 0;
	r = assertion_check_request(&f, &ar);
	fuzz_reason(r);
	if (r != ASSERTION_OK)
		goto out;
	assert(ar.ar_scope != NULL && ar.ar_assertion != NULL);
	if (jose_jws_parse(ar.ar_assertion, strlen(ar.ar_assertion), &jws,
	    err, sizeof(err)) == -1)
		goto out;
	/* With the registered URL, and as a client registered inline. */
	fuzz_reason(assertion_check_header(&jws, NULL));
	r = assertion_check_header(&jws, FUZZ_JKU);
	fuzz_reason(r);
	if (r != ASSERTION_OK)
		goto out;
	assert(jws.jw_kid != NULL);
	assert(jws.jw_jku == NULL || strcmp(jws.jw_jku, FUZZ_JKU) == 0);
	r = assertion_check_claims(jws.jw_payload, FUZZ_NOW, FUZZ_AUD,
	    ar.ar_client_id, &ac);
	fuzz_reason(r);
	if (r != ASSERTION_OK)
		goto out;
	assert(ac.ac_iss != NULL && ac.ac_iss[0] != '\0');
	assert(ar.ar_client_id == NULL ||
	    strcmp(ar.ar_client_id, ac.ac_iss) == 0);
	assert(ac.ac_jti != NULL && ac.ac_jti[0] != '\0' &&
	    strlen(ac.ac_jti) <= ASSERTION_JTI_MAX);
	assert(ac.ac_exp > FUZZ_NOW - ASSERTION_SKEW &&
	    ac.ac_exp <= FUZZ_NOW + ASSERTION_MAX_AHEAD + ASSERTION_SKEW);
 out:
	jose_jws_free(&jws);
	form_free(&f);
	return 0;
}
