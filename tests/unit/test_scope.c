/*
 * test_scope.c — auth/scope (AUTH-SC-01..05, AUTH-V-06, AUTH-BE-02/05),
 * auth/assertion and auth/oauth (AUTH-T-03..05, AUTH-V-01/03,
 * AUTH-E-01..03).
 */
#include <stdio.h>
#include <stdlib.h>
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

/*
 * The whole token-endpoint check without HTTP or database, in the order
 * the server runs it: form, JWS, header, key (AUTH-V-04), signature,
 * claims, scope.  The replay check (AUTH-V-02) is the database's.
 */
static enum oauth_error
token_flow(const char *body, const char *jwks, const char *reg_scope,
    time_t now, char *granted, size_t gsz)
{
	const char		*aud = "https://bulkhead.test/auth/token";
	struct form		 f;
	struct assertion_request r;
	struct assertion_claims	 c;
	struct jose_jws		 jws;
	struct jose_jwks	 set;
	const struct jose_jwk	*k;
	struct scope_set	 q, reg, g;
	enum assertion_reason	 why;
	enum oauth_error	 e = OAUTH_INVALID_REQUEST;
	char			 err[128];

	memset(&jws, 0, sizeof(jws));
	memset(&set, 0, sizeof(set));
	if (form_parse(body, strlen(body), &f, err, sizeof(err)) == -1)
		return OAUTH_INVALID_REQUEST;
	if ((why = assertion_check_request(&f, &r)) != ASSERTION_OK) {
		e = assertion_reason_error(why);
		goto out;
	}
	e = OAUTH_INVALID_CLIENT;
	if (jose_jws_parse(r.ar_assertion, strlen(r.ar_assertion), &jws, err,
	    sizeof(err)) == -1 || assertion_check_header(&jws, NULL) !=
	    ASSERTION_OK || jose_jwks_parse(jwks, strlen(jwks), &set, err,
	    sizeof(err)) == -1 || (k = jose_jwks_select(&set, jws.jw_kid,
	    jws.jw_alg, err, sizeof(err))) == NULL ||
	    jose_assertion_verify(&jws, k->jk_pkey, err, sizeof(err)) == -1 ||
	    assertion_check_claims(jws.jw_payload, now, aud, r.ar_client_id,
	    &c) != ASSERTION_OK)
		goto out;
	e = OAUTH_INVALID_SCOPE;
	if (scope_parse(r.ar_scope, SCOPE_PARSE_CONSTRAINED, &q, err,
	    sizeof(err)) == -1 || scope_parse(reg_scope, 0, &reg, err,
	    sizeof(err)) == -1 || scope_grant(&q, &reg, &g, err,
	    sizeof(err)) == -1 || scope_format(&g, granted, gsz) == -1)
		goto out;
	e = OAUTH_OK;
 out:
	jose_jwks_free(&set);
	jose_jws_free(&jws);
	form_free(&f);
	return e;
}

static void
test_flow(void)
{
	const time_t	 now = 1767225600;
	EVP_PKEY	*key, *other;
	cJSON		*claims, *jwk, *doc;
	char		*tok, *jwks, body[8192], granted[256], err[128];
#define fmt "grant_type=client_credentials&"				\
	    "client_assertion_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3A"	\
	    "client-assertion-type%%3Ajwt-bearer&scope=%s&"		\
	    "client_assertion=%s"

	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	doc = cJSON_CreateObject();
	jwk = jose_jwk_from_pkey(key, "ec-1", JOSE_ALG_ES384);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(doc, "keys"), jwk);
	jwks = cJSON_PrintUnformatted(doc);
	claims = cJSON_CreateObject();
	cJSON_AddStringToObject(claims, "iss", "demo");
	cJSON_AddStringToObject(claims, "sub", "demo");
	cJSON_AddStringToObject(claims, "aud",
	    "https://bulkhead.test/auth/token");
	cJSON_AddNumberToObject(claims, "exp", (double)now + 300);
	cJSON_AddStringToObject(claims, "jti", "flow-1");

	tok = jose_sign(key, "ec-1", NULL, claims, err, sizeof(err));
	snprintf(body, sizeof(body), fmt, "system%2F*.*", tok);
	CHECK(token_flow(body, jwks, "system/*.read", now, granted,
	    sizeof(granted)) == OAUTH_OK);
	CHECK(strcmp(granted, "system/*.read") == 0);
	/* Scope escalation (issue 13): invalid_scope. */
	snprintf(body, sizeof(body), fmt, "system%2F*.write", tok);
	CHECK(token_flow(body, jwks, "system/*.read", now, granted,
	    sizeof(granted)) == OAUTH_INVALID_SCOPE);
	/* Expired by the time it arrives: invalid_client (AUTH-E-01). */
	snprintf(body, sizeof(body), fmt, "system%2F*.read", tok);
	CHECK(token_flow(body, jwks, "system/*.read", now + 400, granted,
	    sizeof(granted)) == OAUTH_INVALID_CLIENT);
	free(tok);
	/* Signed by a key not in the JWKS, under its kid. */
	tok = jose_sign(other, "ec-1", NULL, claims, err, sizeof(err));
	snprintf(body, sizeof(body), fmt, "system%2F*.read", tok);
	CHECK(token_flow(body, jwks, "system/*.read", now, granted,
	    sizeof(granted)) == OAUTH_INVALID_CLIENT);
	free(tok);
	/* Unknown kid. */
	tok = jose_sign(key, "ec-2", NULL, claims, err, sizeof(err));
	snprintf(body, sizeof(body), fmt, "system%2F*.read", tok);
	CHECK(token_flow(body, jwks, "system/*.read", now, granted,
	    sizeof(granted)) == OAUTH_INVALID_CLIENT);
	free(tok);
	/* Wrong grant type. */
	CHECK(token_flow("grant_type=password&client_assertion_type=x&"
	    "client_assertion=y", jwks, "system/*.read", now, granted,
	    sizeof(granted)) == OAUTH_UNSUPPORTED_GRANT_TYPE);
	cJSON_Delete(claims);
	cJSON_free(jwks);
	cJSON_Delete(doc);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
#undef fmt
}

int
main(void)
{
	test_parse();
	test_grant();
	test_checks();
	test_request();
	test_claims();
	test_flow();
	return CHECK_DONE();
}
