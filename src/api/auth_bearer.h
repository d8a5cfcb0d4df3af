/*
 * auth_bearer.h — the resource-server side of SMART Backend Services
 * (AUTH-BE-01, AUTH-BE-08): what a bulk endpoint calls first.
 *
 *	struct token_principal p;
 *
 *	if (auth_bearer_check(req, cfg, &p) == -1)
 *		return;			(answered: 401)
 *	if (!scope_can_read(&p.tp_scope, type))
 *		return (void)auth_bearer_forbidden(req, "...");
 *
 * auth_bearer_check parses "Authorization: Bearer <token>" and verifies
 * the token (auth/token.h: HS256 with a server key, exp, iss, aud =
 * base_url) WITHOUT a database query on the hot path: the keys are cached
 * in the process, reloaded from auth_keys at most every
 * AUTH_BEARER_REFRESH_S seconds, or at once (at most once a second) when
 * a token names a kid the cache does not know.  The last tokens verified
 * are remembered until their exp or the next key reload, whichever comes
 * first, so a poller's repeated token is not verified again.
 *   auth = none: 0, p->tp_auth_off = 1, p->tp_client "", p->tp_scope
 *                every type, all permissions (everything allowed); no header read.
 *   valid:       0, p filled (client, granted scopes, exp).
 *   otherwise:   -1 after answering 401 (reason phrase "Unauthorized"),
 *                WWW-Authenticate: Bearer realm="bulkhead" — with
 *                error="invalid_token" and error_description when a token
 *                was sent, without an error code when none was (RFC 6750
 *                §3.1) — and an OperationOutcome (code "login").  503 if
 *                the keys cannot be loaded at all.
 * auth_bearer_forbidden answers 403, WWW-Authenticate: Bearer
 *   realm="bulkhead", error="insufficient_scope", and an OperationOutcome
 *   (code "forbidden") with the message; returns -1.
 * Nothing here logs a token.  libmicrohttpd threads; thread-safe.
 */
#ifndef API_AUTH_BEARER_H
#define API_AUTH_BEARER_H

#include "auth/token.h"

#define AUTH_BEARER_REFRESH_S	30	/* key cache reload period */
#define AUTH_BEARER_REALM	"Bearer realm=\"bulkhead\""

struct cfg;
struct http_req;

int	auth_bearer_check(struct http_req *, const struct cfg *,
	    struct token_principal *);
int	auth_bearer_forbidden(struct http_req *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
