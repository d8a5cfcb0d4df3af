/*
 * oauth.c — RFC 6749 error names and statuses; see oauth.h.
 */
#include "auth/oauth.h"

const char *
oauth_error_name(enum oauth_error e)
{
	switch (e) {
	case OAUTH_OK:
		return "";
	case OAUTH_INVALID_REQUEST:
		return "invalid_request";
	case OAUTH_INVALID_CLIENT:
		return "invalid_client";
	case OAUTH_INVALID_GRANT:
		return "invalid_grant";
	case OAUTH_UNAUTHORIZED_CLIENT:
		return "unauthorized_client";
	case OAUTH_UNSUPPORTED_GRANT_TYPE:
		return "unsupported_grant_type";
	case OAUTH_INVALID_SCOPE:
		return "invalid_scope";
	}
	return "invalid_request";
}

int
oauth_error_status(enum oauth_error e)
{
	if (e == OAUTH_OK)
		return 200;
	return e == OAUTH_INVALID_CLIENT ? 401 : 400;
}
