/*
 * oauth.h — the RFC 6749 §5.2 error codes the token endpoint answers with
 * (AUTH-E-01..03), their names and HTTP statuses.
 */
#ifndef AUTH_OAUTH_H
#define AUTH_OAUTH_H

enum oauth_error {
	OAUTH_OK = 0,
	OAUTH_INVALID_REQUEST,
	OAUTH_INVALID_CLIENT,
	OAUTH_INVALID_GRANT,
	OAUTH_UNAUTHORIZED_CLIENT,
	OAUTH_UNSUPPORTED_GRANT_TYPE,
	OAUTH_INVALID_SCOPE,
};

/* "invalid_client", ...; static.  "" for OAUTH_OK. */
const char	*oauth_error_name(enum oauth_error);
/* AUTH-E-03 as SPEC.md recommends: 401 for invalid_client, 400 for the
 * rest, 200 for OAUTH_OK. */
int		 oauth_error_status(enum oauth_error);

#endif
