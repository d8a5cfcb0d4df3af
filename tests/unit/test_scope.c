/*
 * test_scope.c — auth/scope (AUTH-SC-01..05, AUTH-V-06, AUTH-BE-02/05),
 * auth/assertion and auth/oauth (AUTH-T-03..05, AUTH-V-01/03,
 * AUTH-E-01..03).
 */
#include <string.h>

#include "auth/assertion.h"
#include "auth/oauth.h"
#include "auth/scope.h"
#include "check.h"

/* Grants req against reg; the formatted grant, or "ERR". */
static const char *
grant(const char *req, const char *reg)
{
	static char		out[SCOPE_MAX_LEN];
	struct scope_set	q, r, g;
	char			err[128];

	if (scope_parse(req, SCOPE_PARSE_CONSTRAINED, &q, err,
	    sizeof(err)) == -1 || scope_parse(reg, 0, &r, err,
	    sizeof(err)) == -1 || scope_grant(&q, &r, &g, err,
	    sizeof(err)) == -1 || scope_format(&g, out, sizeof(out)) == -1)
		return "ERR";
	return out;
}

static int
bad(const char *s)
{
	struct scope_set	set;
	char			err[128];

	return scope_parse(s, SCOPE_PARSE_CONSTRAINED, &set, err,
	    sizeof(err)) == -1 && err[0] != '\0';
}

static void
test_parse(void)
{
	struct scope_set	s;

	/* AUTH-SC-01 v1, AUTH-SC-02 v2. */
	CHECK(scope_parse("system/Patient.read system/*.write  system/Claim.*",
	    0, &s, NULL, 0) == 0 && s.ss_n == 3);
	CHECK(s.ss_items[0].si_perms == SCOPE_READ && !s.ss_items[0].si_v2);
	CHECK(s.ss_items[1].si_perms == SCOPE_WRITE &&
	    strcmp(s.ss_items[1].si_type, "*") == 0);
	CHECK(s.ss_items[2].si_perms == SCOPE_ALL);
	CHECK(scope_parse("system/Patient.rs system/*.cruds system/Claim.c",
	    0, &s, NULL, 0) == 0 && s.ss_n == 3);
	CHECK(s.ss_items[0].si_perms == SCOPE_READ && s.ss_items[0].si_v2);
	CHECK(s.ss_items[1].si_perms == SCOPE_ALL);
	CHECK(s.ss_items[2].si_perms == SCOPE_C);
	/* v2 constraint: accepted for requests only, and dropped. */
	CHECK(scope_parse("system/Claim.rs?status=active", 0, &s, NULL,
	    0) == -1);
	CHECK(scope_parse("system/Claim.rs?status=active",
	    SCOPE_PARSE_CONSTRAINED, &s, NULL, 0) == 0 &&
	    strcmp(s.ss_items[0].si_type, "Claim") == 0);
	/* invalid_scope: unknown actions, letters out of order or doubled
	 * (AUTH-SC-04), unknown types, non-system scopes, empty. */
	CHECK(bad("system/Patient.unknownAction"));
	CHECK(bad("system/Patient.xyz"));
	CHECK(bad("system/Patient.dus"));
	CHECK(bad("system/Patient.rrs"));
	CHECK(bad("system/Patient."));
	CHECK(bad("system/Patient"));
	CHECK(bad("system/Patient.read?x=1"));	/* v1 has no constraint */
	CHECK(bad("system/Claim.rs?"));
	CHECK(bad("system/Insuree.read"));
	CHECK(bad("system/patient.read"));
	CHECK(bad("system/.read"));
	CHECK(bad("launch"));
	CHECK(bad("fhirUser"));
	CHECK(bad("openid"));
	CHECK(bad("patient/*.read"));
	CHECK(bad("user/Patient.rs"));
	CHECK(bad("system/*.read launch"));
	CHECK(bad(""));
	CHECK(bad("   "));
	CHECK(bad("system/*.read\tsystem/Claim.rs"));
	CHECK(bad("system/\"*.read"));
}

static void
test_grant(void)
{
	/* AUTH-V-06: requested ∩ registered; read-only client. */
	CHECK(strcmp(grant("system/*.*", "system/*.read"),
	    "system/*.read") == 0);
	CHECK(strcmp(grant("system/*.cruds", "system/*.read"),
	    "system/*.rs") == 0);
	CHECK(strcmp(grant("system/*.read", "system/*.rs"),
	    "system/*.read") == 0);
	CHECK(strcmp(grant("system/Patient.rs", "system/*.read"),
	    "system/Patient.rs") == 0);
	/* Scope escalation: write asked by a read-only client. */
	CHECK(strcmp(grant("system/*.write", "system/*.read"), "ERR") == 0);
	CHECK(strcmp(grant("system/Patient.cud", "system/*.read"),
	    "ERR") == 0);
	CHECK(strcmp(grant("system/*.read system/*.write", "system/*.read"),
	    "system/*.read") == 0);
	/* Write only where registered (the $import client). */
	CHECK(strcmp(grant("system/*.write", "system/*.read "
	    "system/Claim.write"), "system/Claim.write") == 0);
	CHECK(strcmp(grant("system/*.*", "system/*.read system/Claim.write"),
	    "system/*.read system/Claim.write") == 0);
	CHECK(strcmp(grant("system/Claim.cu system/Patient.c",
	    "system/*.read system/Claim.write"), "system/Claim.cu") == 0);
	CHECK(strcmp(grant("system/Patient.write", "system/Claim.write"),
	    "ERR") == 0);
	/* "*" asked, types registered one by one (AUTH-SC-05). */
	CHECK(strcmp(grant("system/*.read", "system/Patient.read "
	    "system/Coverage.rs"),
	    "system/Patient.read system/Coverage.read") == 0);
	CHECK(strcmp(grant("system/Claim.read", "system/Patient.read"),
	    "ERR") == 0);
	/* Mixed v1 + v2: one grant per request, each in its own form
	 * (AUTH-SC-03). */
	CHECK(strcmp(grant("system/Patient.read system/Claim.rs",
	    "system/*.*"), "system/Patient.read system/Claim.rs") == 0);
	CHECK(strcmp(grant("system/Patient.read system/Patient.rs",
	    "system/*.read"), "system/Patient.read system/Patient.rs") == 0);
	/* Not expressible in v1: letters. */
	CHECK(strcmp(grant("system/*.read", "system/*.r"), "system/*.r") ==
	    0);
	/* Constraint dropped: the grant names the whole type. */
	CHECK(strcmp(grant("system/Claim.rs?status=active", "system/*.rs"),
	    "system/Claim.rs") == 0);
	/* Duplicates collapse. */
	CHECK(strcmp(grant("system/*.read system/*.read", "system/*.read"),
	    "system/*.read") == 0);
}

static void
test_checks(void)
{
	struct scope_set	 s;
	const char		*cand[] = { "Patient", "Claim", "Coverage",
				    "Group" };
	const char		*out[4];
	char			 small[8];

	/* AUTH-BE-02: per-type read and write. */
	CHECK(scope_parse("system/Patient.read system/Claim.rs "
	    "system/Coverage.r system/Group.cud", 0, &s, NULL, 0) == 0);
	CHECK(scope_can_read(&s, "Patient"));
	CHECK(scope_can_read(&s, "Claim"));
	CHECK(!scope_can_read(&s, "Coverage"));	/* r without s */
	CHECK(!scope_can_read(&s, "Observation"));
	CHECK(!scope_can_read(&s, "Group"));
	CHECK(scope_can_write(&s, "Group"));
	CHECK(!scope_can_write(&s, "Patient"));
	CHECK(!scope_can_read(&s, "NotAType"));
	CHECK(!scope_can_read(&s, NULL));
	/* AUTH-BE-05: no _type, only the types in scope. */
	CHECK(scope_readable_types(&s, cand, 4, out, 4) == 2 &&
	    strcmp(out[0], "Patient") == 0 && strcmp(out[1], "Claim") == 0);
	CHECK(scope_readable_types(&s, cand, 4, out, 1) == 1);
	CHECK(scope_parse("system/*.rs", 0, &s, NULL, 0) == 0);
	CHECK(scope_can_read(&s, "Observation"));
	CHECK(!scope_can_write(&s, "Observation"));
	CHECK(scope_readable_types(&s, cand, 4, out, 4) == 4);
	CHECK(scope_parse("system/*.write system/Claim.s", 0, &s, NULL,
	    0) == 0);
	CHECK(scope_can_write(&s, "Claim") && !scope_can_read(&s, "Claim"));
	CHECK(scope_format(&s, small, sizeof(small)) == -1);
}

static void
test_request(void)
{
	struct form		 f;
	struct assertion_request r;
	const char		*ok = "grant_type=client_credentials&"
	    "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3A"
	    "client-assertion-type%3Ajwt-bearer&client_assertion=a.b.c&"
	    "scope=system%2F*.read";
	char			 body[1024];

	/* AUTH-T-03 */
	CHECK(form_parse(ok, strlen(ok), &f, NULL, 0) == 0);
	CHECK(assertion_check_request(&f, &r) == ASSERTION_OK);
	CHECK(strcmp(r.ar_scope, "system/*.read") == 0 &&
	    strcmp(r.ar_assertion, "a.b.c") == 0 && r.ar_client_id == NULL);
	form_free(&f);
#define REQ(extra, want) do {						\
	snprintf(body, sizeof(body), "%s", extra);			\
	CHECK(form_parse(body, strlen(body), &f, NULL, 0) == 0);	\
	CHECK(assertion_check_request(&f, &r) == (want));		\
	form_free(&f);							\
} while (0)
	/* AUTH-E-02 */
	REQ("grant_type=client_credentials", ASSERTION_PARAM_MISSING);
	REQ("grant_type=password&client_assertion_type=x&client_assertion=a",
	    ASSERTION_GRANT_TYPE);
	REQ("grant_type=client_credentials&client_assertion_type=x&"
	    "client_assertion=a&scope=s", ASSERTION_ASSERTION_TYPE);
	REQ("grant_type=client_credentials&client_assertion_type=urn%3Aietf"
	    "%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&"
	    "client_assertion=a", ASSERTION_SCOPE_MISSING);
	REQ("grant_type=client_credentials&client_assertion_type=urn%3Aietf"
	    "%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&"
	    "client_assertion=a&scope=+", ASSERTION_SCOPE_EMPTY);
	REQ("grant_type=client_credentials&grant_type=client_credentials&"
	    "client_assertion_type=x&client_assertion=a",
	    ASSERTION_PARAM_REPEATED);
	REQ("grant_type=client_credentials&client_assertion_type=x&"
	    "client_assertion=", ASSERTION_PARAM_MISSING);
#undef REQ
	CHECK(assertion_reason_error(ASSERTION_PARAM_REPEATED) ==
	    OAUTH_INVALID_REQUEST);
	CHECK(assertion_reason_error(ASSERTION_GRANT_TYPE) ==
	    OAUTH_UNSUPPORTED_GRANT_TYPE);
	CHECK(assertion_reason_error(ASSERTION_SCOPE_EMPTY) ==
	    OAUTH_INVALID_SCOPE);
	CHECK(strcmp(oauth_error_name(OAUTH_UNSUPPORTED_GRANT_TYPE),
	    "unsupported_grant_type") == 0);
	CHECK(oauth_error_status(OAUTH_INVALID_CLIENT) == 401);
	CHECK(oauth_error_status(OAUTH_INVALID_SCOPE) == 400);
}

static void
test_claims(void)
{
	const char		*aud = "https://bulkhead.test/auth/token";
	const time_t		 now = 1767225600;
	struct assertion_claims	 c;
	struct jose_jws		 jws;
	cJSON			*p;

#define CLAIMS(json, cid, want) do {					\
	p = cJSON_Parse(json);						\
	CHECK(p != NULL);						\
	CHECK(assertion_check_claims(p, now, aud, cid, &c) == (want));	\
	cJSON_Delete(p);						\
} while (0)
#define GOOD_AUD "\"aud\":\"https://bulkhead.test/auth/token\""
	/* AUTH-T-05 / AUTH-V-01 */
	p = cJSON_Parse("{\"iss\":\"demo\",\"sub\":\"demo\"," GOOD_AUD
	    ",\"exp\":1767225840,\"jti\":\"j1\",\"iat\":1767225600}");
	CHECK(assertion_check_claims(p, now, aud, "demo", &c) ==
	    ASSERTION_OK && strcmp(c.ac_iss, "demo") == 0 &&
	    strcmp(c.ac_jti, "j1") == 0 && c.ac_exp == 1767225840);
	cJSON_Delete(p);
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\",\"aud\":[\"x\","
	    "\"https://bulkhead.test/auth/token\"],\"exp\":1767225900,"
	    "\"jti\":\"j1\"}", NULL, ASSERTION_OK);
	/* Wrong aud (not exact), iss != sub, client_id != iss. */
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\",\"aud\":"
	    "\"https://bulkhead.test/auth/token/\",\"exp\":1767225840,"
	    "\"jti\":\"j1\"}", NULL, ASSERTION_AUDIENCE);
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\",\"aud\":[],"
	    "\"exp\":1767225840,\"jti\":\"j1\"}", NULL, ASSERTION_AUDIENCE);
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"other\"," GOOD_AUD
	    ",\"exp\":1767225840,\"jti\":\"j1\"}", NULL, ASSERTION_ISS_SUB);
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\"," GOOD_AUD
	    ",\"exp\":1767225840,\"jti\":\"j1\"}", "other",
	    ASSERTION_CLIENT_ID);
	/* exp in the past; more than 5 minutes ahead (300 + 10 s skew). */
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\"," GOOD_AUD
	    ",\"exp\":1767225500,\"jti\":\"j1\"}", NULL, ASSERTION_EXPIRED);
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\"," GOOD_AUD
	    ",\"exp\":1767225911,\"jti\":\"j1\"}", NULL,
	    ASSERTION_EXP_TOO_FAR);
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\"," GOOD_AUD
	    ",\"exp\":1767225910,\"jti\":\"j1\"}", NULL, ASSERTION_OK);
	/* nbf / iat in the future. */
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\"," GOOD_AUD
	    ",\"exp\":1767225840,\"jti\":\"j1\",\"nbf\":1767225700}", NULL,
	    ASSERTION_NOT_YET_VALID);
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\"," GOOD_AUD
	    ",\"exp\":1767225840,\"jti\":\"j1\",\"iat\":1767225700}", NULL,
	    ASSERTION_NOT_YET_VALID);
	/* Missing and mistyped claims. */
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\"," GOOD_AUD
	    ",\"exp\":1767225840}", NULL, ASSERTION_CLAIM_MISSING);
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\"," GOOD_AUD
	    ",\"jti\":\"j1\"}", NULL, ASSERTION_CLAIM_MISSING);
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\"," GOOD_AUD
	    ",\"exp\":\"1767225840\",\"jti\":\"j1\"}", NULL,
	    ASSERTION_CLAIM_TYPE);
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\"," GOOD_AUD
	    ",\"exp\":1767225840.5,\"jti\":\"j1\"}", NULL,
	    ASSERTION_CLAIM_TYPE);
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\"," GOOD_AUD
	    ",\"exp\":1767225840,\"jti\":\"\"}", NULL, ASSERTION_CLAIM_TYPE);
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\"," GOOD_AUD
	    ",\"exp\":1e300,\"jti\":\"j1\"}", NULL, ASSERTION_CLAIM_TYPE);
	CLAIMS("{\"iss\":\"demo\",\"sub\":\"demo\"," GOOD_AUD
	    ",\"exp\":1767225840,\"jti\":\"j1\",\"nbf\":null}", NULL,
	    ASSERTION_CLAIM_TYPE);
#undef CLAIMS
	/* AUTH-E-01: every assertion failure is invalid_client. */
	CHECK(assertion_reason_error(ASSERTION_EXPIRED) ==
	    OAUTH_INVALID_CLIENT);
	CHECK(assertion_reason_error(ASSERTION_AUDIENCE) ==
	    OAUTH_INVALID_CLIENT);
	CHECK(assertion_reason_error(ASSERTION_JKU) == OAUTH_INVALID_CLIENT);
	CHECK(strstr(assertion_reason_text(ASSERTION_EXP_TOO_FAR),
	    "5 minutes") != NULL);

	/* AUTH-T-04: typ JWT, kid, jku only the registered URL. */
	memset(&jws, 0, sizeof(jws));
	jws.jw_alg = JOSE_ALG_RS384;
	CHECK(assertion_check_header(&jws, NULL) == ASSERTION_TYP);
	jws.jw_typ = "jwt";
	CHECK(assertion_check_header(&jws, NULL) == ASSERTION_NO_KID);
	jws.jw_kid = "k1";
	CHECK(assertion_check_header(&jws, NULL) == ASSERTION_OK);
	jws.jw_jku = "https://evil.test/jwks";
	CHECK(assertion_check_header(&jws, NULL) == ASSERTION_JKU);
	CHECK(assertion_check_header(&jws, "https://c.test/jwks") ==
	    ASSERTION_JKU);
	jws.jw_jku = "https://c.test/jwks";
	CHECK(assertion_check_header(&jws, "https://c.test/jwks") ==
	    ASSERTION_OK);
	jws.jw_typ = "at+jwt";
	CHECK(assertion_check_header(&jws, NULL) == ASSERTION_TYP);
}

int
main(void)
{
	test_parse();
	test_grant();
	test_checks();
	test_request();
	test_claims();
	return CHECK_DONE();
}
