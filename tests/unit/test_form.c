/*
 * test_form.c — lib/form: the token request body (AUTH-T-03), repeated
 * parameters (AUTH-E-02 invalid_request) and the size caps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lib/form.h"
#include "lib/xmalloc.h"

static int
parse(const char *s, struct form *f)
{
	char	err[128];

	return form_parse(s, strlen(s), f, err, sizeof(err));
}

static void
test_basic(void)
{
	struct form	 f;
	const char	*v;

	/* AUTH-T-03: the four parameters of a backend token request. */
	CHECK(parse("grant_type=client_credentials&scope=system%2F*.read+"
	    "system%2FClaim.rs&client_assertion_type=urn%3Aietf%3Aparams%3A"
	    "oauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion="
	    "a.b.c", &f) == 0);
	CHECK(f.f_npairs == 4 && !f.f_repeated);
	CHECK(form_get(&f, "scope", &v) == 1 &&
	    strcmp(v, "system/*.read system/Claim.rs") == 0);
	CHECK(form_get(&f, "client_assertion_type", &v) == 1 && strcmp(v,
	    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") == 0);
	CHECK(form_get(&f, "client_assertion", &v) == 1 &&
	    strcmp(v, "a.b.c") == 0);
	CHECK(form_get(&f, "nothere", &v) == 0 && v == NULL);
	form_free(&f);
	form_free(&f);	/* no-op on a freed form */

	/* Empty segments skipped, a bare name has an empty value, names
	 * are decoded too, '=' may appear in a value. */
	CHECK(parse("&&a&b=&c%3D=x=y&", &f) == 0);
	CHECK(f.f_npairs == 3);
	CHECK(form_get(&f, "a", &v) == 1 && strcmp(v, "") == 0);
	CHECK(form_get(&f, "b", &v) == 1 && strcmp(v, "") == 0);
	CHECK(form_get(&f, "c=", &v) == 1 && strcmp(v, "x=y") == 0);
	form_free(&f);
	CHECK(parse("", &f) == 0 && f.f_npairs == 0);
	form_free(&f);
	CHECK(parse("x=%e2%82%AC", &f) == 0);
	CHECK(form_get(&f, "x", &v) == 1 && strcmp(v, "\xe2\x82\xac") == 0);
	form_free(&f);
}

static void
test_strict(void)
{
	struct form	 f;
	const char	*v;

	/* AUTH-E-02: a repeated parameter is invalid_request. */
	CHECK(parse("scope=a&grant_type=x&scope=b", &f) == 0);
	CHECK(f.f_repeated);
	CHECK(form_get(&f, "scope", &v) == -1 && strcmp(v, "a") == 0);
	CHECK(form_get(&f, "grant_type", &v) == 1);
	form_free(&f);
	/* Bad escapes and decoded NULs are refused. */
	CHECK(parse("a=%", &f) == -1);
	CHECK(parse("a=%4", &f) == -1);
	CHECK(parse("a=%zz", &f) == -1);
	CHECK(parse("a=%4g", &f) == -1);
	CHECK(parse("%=1", &f) == -1);
	CHECK(parse("a=%00", &f) == -1);
	CHECK(form_parse("a=b\0c", 5, &f, NULL, 0) == -1);
	CHECK(f.f_buf == NULL);	/* freed on failure */
}

static void
test_caps(void)
{
	struct form	 f;
	char		*big;
	size_t		 i, n;

	/* Body over FORM_MAX_BODY (AUTH issue 13: form over the cap). */
	big = xmalloc(FORM_MAX_BODY + 2);
	memset(big, 'a', FORM_MAX_BODY + 1);
	big[0] = 'x';
	big[1] = '=';
	big[FORM_MAX_BODY + 1] = '\0';
	CHECK(form_parse(big, FORM_MAX_BODY + 1, &f, NULL, 0) == -1);
	CHECK(form_parse(big, FORM_MAX_BODY, &f, NULL, 0) == 0);
	form_free(&f);
	/* More than FORM_MAX_PAIRS pairs. */
	for (i = 0, n = 0; i <= FORM_MAX_PAIRS; i++)
		n += (size_t)snprintf(big + n, 16, "k%zu=v&", i);
	CHECK(form_parse(big, n, &f, NULL, 0) == -1);
	CHECK(form_parse(big, n - 7, &f, NULL, 0) == 0);	/* 32 pairs */
	CHECK(f.f_npairs == FORM_MAX_PAIRS);
	form_free(&f);
	free(big);
}

int
main(void)
{
	test_basic();
	test_strict();
	test_caps();
	return CHECK_DONE();
}
