/*
 * assertion.c — token request and client assertion checks without HTTP
 * or database; see assertion.h.
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "auth/assertion.h"

#define ASSERTION_NUM_MAX	9007199254740992.0	/* 2^53 */

static int	assertion_int(const cJSON *, int64_t *);
static int	assertion_str(const cJSON *, size_t);

/* 1 and *v if j is an integral JSON number within ±2^53. */
static int
assertion_int(const cJSON *j, int64_t *v)
{
	double	d;

	if (!cJSON_IsNumber(j))
		return 0;
	d = j->valuedouble;
	if (!isfinite(d) || d != floor(d) || fabs(d) > ASSERTION_NUM_MAX)
		return 0;
	*v = (int64_t)d;
	return 1;
}

/* 1 if j is a non-empty string of at most max bytes. */
static int
assertion_str(const cJSON *j, size_t max)
{
	return cJSON_IsString(j) && j->valuestring[0] != '\0' &&
	    strnlen(j->valuestring, max + 1) <= max;
}

enum assertion_reason
assertion_check_request(const struct form *f, struct assertion_request *r)
{
	const char	*gt, *at;
	int		 g, a, j, s, c;

	memset(r, 0, sizeof(*r));
	g = form_get(f, "grant_type", &gt);
	a = form_get(f, "client_assertion_type", &at);
	j = form_get(f, "client_assertion", &r->ar_assertion);
	s = form_get(f, "scope", &r->ar_scope);
	c = form_get(f, "client_id", &r->ar_client_id);
	if (g == -1 || a == -1 || j == -1 || s == -1 || c == -1)
		return ASSERTION_PARAM_REPEATED;
	if (g == 0 || a == 0 || j == 0 || r->ar_assertion[0] == '\0')
		return ASSERTION_PARAM_MISSING;
	if (strcmp(gt, "client_credentials") != 0)
		return ASSERTION_GRANT_TYPE;
	if (strcmp(at, ASSERTION_TYPE) != 0)
		return ASSERTION_ASSERTION_TYPE;
	if (s == 0)
		return ASSERTION_SCOPE_MISSING;
	if (r->ar_scope[strspn(r->ar_scope, " ")] == '\0')
		return ASSERTION_SCOPE_EMPTY;
	if (c == 0)
		r->ar_client_id = NULL;
	return ASSERTION_OK;
}

enum assertion_reason
assertion_check_header(const struct jose_jws *jws, const char *registered_jku)
{
	/* RFC 7515 §4.1.9 advises comparing typ case-insensitively. */
	if (jws->jw_typ == NULL || strcasecmp(jws->jw_typ, "JWT") != 0)
		return ASSERTION_TYP;
	if (jws->jw_kid == NULL)
		return ASSERTION_NO_KID;
	if (jws->jw_jku != NULL && (registered_jku == NULL ||
	    strcmp(jws->jw_jku, registered_jku) != 0))
		return ASSERTION_JKU;
	return ASSERTION_OK;
}

enum assertion_reason
assertion_check_claims(const cJSON *payload, time_t now,
    const char *audience, const char *client_id, struct assertion_claims *c)
{
	const cJSON	*iss, *sub, *aud, *exp, *nbf, *iat, *jti, *a;
	int64_t		 v, t = (int64_t)now;
	int		 hit = 0;

	memset(c, 0, sizeof(*c));
	iss = cJSON_GetObjectItemCaseSensitive(payload, "iss");
	sub = cJSON_GetObjectItemCaseSensitive(payload, "sub");
	aud = cJSON_GetObjectItemCaseSensitive(payload, "aud");
	exp = cJSON_GetObjectItemCaseSensitive(payload, "exp");
	jti = cJSON_GetObjectItemCaseSensitive(payload, "jti");
	nbf = cJSON_GetObjectItemCaseSensitive(payload, "nbf");
	iat = cJSON_GetObjectItemCaseSensitive(payload, "iat");
	if (iss == NULL || sub == NULL || aud == NULL || exp == NULL ||
	    jti == NULL)
		return ASSERTION_CLAIM_MISSING;
	if (!assertion_str(iss, ASSERTION_ISS_MAX) ||
	    !assertion_str(sub, ASSERTION_ISS_MAX) ||
	    !assertion_str(jti, ASSERTION_JTI_MAX) ||
	    !assertion_int(exp, &c->ac_exp) ||
	    (!cJSON_IsString(aud) && !cJSON_IsArray(aud)))
		return ASSERTION_CLAIM_TYPE;
	if (strcmp(iss->valuestring, sub->valuestring) != 0)
		return ASSERTION_ISS_SUB;
	if (client_id != NULL && strcmp(client_id, iss->valuestring) != 0)
		return ASSERTION_CLIENT_ID;
	if (cJSON_IsString(aud))
		hit = strcmp(aud->valuestring, audience) == 0;
	else
		cJSON_ArrayForEach(a, aud)
			if (cJSON_IsString(a) &&
			    strcmp(a->valuestring, audience) == 0)
				hit = 1;
	if (!hit)
		return ASSERTION_AUDIENCE;
	if (c->ac_exp <= t - ASSERTION_SKEW)
		return ASSERTION_EXPIRED;
	if (c->ac_exp > t + ASSERTION_MAX_AHEAD + ASSERTION_SKEW)
		return ASSERTION_EXP_TOO_FAR;
	if (nbf != NULL) {
		if (!assertion_int(nbf, &v))
			return ASSERTION_CLAIM_TYPE;
		if (v > t + ASSERTION_SKEW)
			return ASSERTION_NOT_YET_VALID;
	}
	if (iat != NULL) {
		if (!assertion_int(iat, &v))
			return ASSERTION_CLAIM_TYPE;
		if (v > t + ASSERTION_SKEW)
			return ASSERTION_NOT_YET_VALID;
	}
	c->ac_iss = iss->valuestring;
	c->ac_jti = jti->valuestring;
	return ASSERTION_OK;
}

enum oauth_error
assertion_reason_error(enum assertion_reason r)
{
	switch (r) {
	case ASSERTION_OK:
		return OAUTH_OK;
	case ASSERTION_PARAM_MISSING:
	case ASSERTION_PARAM_REPEATED:
	case ASSERTION_ASSERTION_TYPE:
	case ASSERTION_SCOPE_MISSING:
		return OAUTH_INVALID_REQUEST;
	case ASSERTION_GRANT_TYPE:
		return OAUTH_UNSUPPORTED_GRANT_TYPE;
	case ASSERTION_SCOPE_EMPTY:
		return OAUTH_INVALID_SCOPE;
	default:
		return OAUTH_INVALID_CLIENT;
	}
}

const char *
assertion_reason_text(enum assertion_reason r)
{
	switch (r) {
	case ASSERTION_OK:
		return "ok";
	case ASSERTION_PARAM_MISSING:
		return "grant_type, client_assertion_type and "
		    "client_assertion are required";
	case ASSERTION_PARAM_REPEATED:
		return "a parameter is repeated";
	case ASSERTION_GRANT_TYPE:
		return "grant_type must be client_credentials";
	case ASSERTION_ASSERTION_TYPE:
		return "client_assertion_type must be " ASSERTION_TYPE;
	case ASSERTION_SCOPE_MISSING:
		return "scope is required";
	case ASSERTION_SCOPE_EMPTY:
		return "scope is empty";
	case ASSERTION_MALFORMED:
		return "client_assertion is not a valid JWT";
	case ASSERTION_TYP:
		return "client_assertion typ must be JWT";
	case ASSERTION_NO_KID:
		return "client_assertion has no kid";
	case ASSERTION_JKU:
		return "jku is not the registered JWKS URL";
	case ASSERTION_CLAIM_MISSING:
		return "iss, sub, aud, exp and jti are required";
	case ASSERTION_CLAIM_TYPE:
		return "a claim has the wrong type";
	case ASSERTION_ISS_SUB:
		return "iss and sub differ";
	case ASSERTION_CLIENT_ID:
		return "client_id differs from iss";
	case ASSERTION_AUDIENCE:
		return "aud is not this token endpoint";
	case ASSERTION_EXPIRED:
		return "client_assertion expired";
	case ASSERTION_EXP_TOO_FAR:
		return "exp is more than 5 minutes ahead";
	case ASSERTION_NOT_YET_VALID:
		return "client_assertion is not yet valid";
	}
	return "invalid client_assertion";
}
