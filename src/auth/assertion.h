/*
 * assertion.h — the checks on a token request and its client assertion
 * that need neither HTTP nor the database (AUTH-T-03..05, AUTH-V-01,
 * AUTH-V-03, AUTH-E-01/02).  The caller still verifies the signature
 * (jose_assertion_verify with the key jose_jwks_select picks), looks the
 * client up and records the jti (AUTH-V-02).
 *
 * Every check returns a reason; assertion_reason_error maps it to the
 * RFC 6749 error to send.  Failures of the assertion itself are all
 * invalid_client (AUTH-E-01; RFC 7523 §3.2 — invalid_grant is for
 * assertions used as grants, which we do not accept).  Nothing allocates;
 * returned strings are borrowed from the form or the JSON passed in.
 */
#ifndef AUTH_ASSERTION_H
#define AUTH_ASSERTION_H

#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "auth/oauth.h"
#include "lib/form.h"
#include "lib/jose.h"

#define ASSERTION_TYPE	"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define ASSERTION_MAX_AHEAD	300	/* exp at most now + 300 s */
#define ASSERTION_SKEW		10	/* clock skew tolerated, seconds */
#define ASSERTION_JTI_MAX	256	/* bytes */
#define ASSERTION_ISS_MAX	256	/* bytes; client ids are shorter */

enum assertion_reason {
	ASSERTION_OK = 0,
	/* The request (invalid_request unless noted). */
	ASSERTION_PARAM_MISSING,	/* grant_type, assertion type or jwt */
	ASSERTION_PARAM_REPEATED,
	ASSERTION_GRANT_TYPE,		/* unsupported_grant_type */
	ASSERTION_ASSERTION_TYPE,	/* not jwt-bearer */
	ASSERTION_SCOPE_MISSING,	/* no scope parameter */
	ASSERTION_SCOPE_EMPTY,		/* invalid_scope */
	/* The assertion (all invalid_client). */
	ASSERTION_MALFORMED,		/* not a JWS, bad alg, ... */
	ASSERTION_TYP,			/* typ missing or not JWT */
	ASSERTION_NO_KID,
	ASSERTION_JKU,			/* jku not the registered URL */
	ASSERTION_CLAIM_MISSING,	/* iss, sub, aud, exp or jti */
	ASSERTION_CLAIM_TYPE,		/* a claim of the wrong JSON type */
	ASSERTION_ISS_SUB,		/* iss != sub */
	ASSERTION_CLIENT_ID,		/* client_id parameter != iss */
	ASSERTION_AUDIENCE,		/* aud is not the token URL */
	ASSERTION_EXPIRED,		/* exp <= now - skew */
	ASSERTION_EXP_TOO_FAR,		/* exp > now + 300 + skew */
	ASSERTION_NOT_YET_VALID,	/* nbf or iat after now + skew */
};

/* The checked claims, borrowed from the payload. */
struct assertion_claims {
	const char	*ac_iss;	/* == sub == the client id */
	const char	*ac_jti;
	int64_t		 ac_exp;
};

/* The parameters of a token request, borrowed from the form. */
struct assertion_request {
	const char	*ar_scope;
	const char	*ar_assertion;
	const char	*ar_client_id;	/* optional; NULL when absent */
};

/*
 * AUTH-T-03, AUTH-E-02: grant_type=client_credentials, client_assertion_type
 * jwt-bearer, client_assertion and scope present, none of the OAuth
 * parameters repeated; other parameters are ignored (RFC 6749 §3.2).
 */
enum assertion_reason assertion_check_request(const struct form *,
	    struct assertion_request *);
/* AUTH-T-04: typ "JWT", a kid, and a jku only when it equals
 * registered_jku (NULL: the client registered no URL, so no jku). */
enum assertion_reason assertion_check_header(const struct jose_jws *,
	    const char *registered_jku);
/*
 * AUTH-T-05, AUTH-V-01, AUTH-V-03: iss and sub equal non-empty strings
 * (and equal to client_id when it is not NULL); aud the audience, or an
 * array holding it; exp an integer in (now - skew, now + 300 + skew];
 * nbf and iat, if present, integers not after now + skew; jti a
 * non-empty string of at most ASSERTION_JTI_MAX bytes.
 */
enum assertion_reason assertion_check_claims(const cJSON *payload,
	    time_t now, const char *audience, const char *client_id,
	    struct assertion_claims *);
enum oauth_error assertion_reason_error(enum assertion_reason);
/* A short description for error_description; static, no token data. */
const char	*assertion_reason_text(enum assertion_reason);

#endif
