/*
 * admin_auth.c — the admin API's authentication, its role check and the
 * request context of every admin handler (see admin_auth.h).
 *
 * A bearer token is hashed once (SHA-256).  The legacy admin_token, when
 * configured, is compared first, digest against digest with
 * CRYPTO_memcmp: constant time whatever the lengths and contents; it is
 * the principal "config" with role admin and costs no query.  Any other
 * token is looked up by its hash in the admins table (store/admins.h):
 * one indexed equality, which leaks nothing a timing attacker could use
 * (the hash of an unknown token tells nothing about a known one).  The
 * audit actor is a hash of the token and the principal's name, never the
 * token; log lines name the principal only.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "api/admin_auth.h"
#include "core/cfg.h"
#include "http/http_db.h"
#include "http/http_route.h"
#include "lib/log.h"
#include "lib/str.h"

#define ADMIN_REALM		"Bearer realm=\"bulkhead-admin\""

/* Paths whose writes an operator may make; every other write needs an
 * admin (ROLES in admin_auth.h). */
static const char *const admin_auth_operator_paths[] = {
	"/admin/api/jobs",
	"/admin/api/schedules",
};

static int	 admin_auth_unauthorized(struct http_req *, const char *,
		    const char *);
static enum admins_role admin_auth_default_role(struct http_req *);
static int	 admin_auth_principal(struct admin_ctx *,
		    const unsigned char *);

/*
 * 401 with a challenge; error is the RFC 6750 error code, or NULL.  When
 * no admin_token is configured the message says how to get a token.
 */
static int
admin_auth_unauthorized(struct http_req *req, const char *error,
    const char *msg)
{
	const struct cfg	*cfg = http_req_cfg(req);
	char			 challenge[128];

	if (error != NULL)
		snprintf(challenge, sizeof(challenge), "%s, error=\"%s\"",
		    ADMIN_REALM, error);
	else
		str_lcpy(challenge, ADMIN_REALM, sizeof(challenge));
	(void)http_resp_header(req, "WWW-Authenticate", challenge);
	if (cfg->admin_token == NULL || cfg->admin_token[0] == '\0')
		(void)http_reply_outcome(req, 401, "security", "%s (no "
		    "admin_token is configured: the admin API takes the token "
		    "of an admin principal, made with 'bulkhead admins add "
		    "NAME --role viewer|operator|admin', or set admin_token "
		    "(BULKHEAD_ADMIN_TOKEN), deprecated)", msg);
	else
		(void)http_reply_outcome(req, 401, "security", "%s", msg);
	return -1;
}

/* The role a route needs unless its handler asks for more. */
static enum admins_role
admin_auth_default_role(struct http_req *req)
{
	const char	*m = http_req_method(req), *path = http_req_path(req);
	size_t		 i, n;

	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
		return ADMINS_VIEWER;
	for (i = 0; i < sizeof(admin_auth_operator_paths) /
	    sizeof(admin_auth_operator_paths[0]); i++) {
		n = strlen(admin_auth_operator_paths[i]);
		if (strncmp(path, admin_auth_operator_paths[i], n) == 0 &&
		    (path[n] == '\0' || path[n] == '/'))
			return ADMINS_OPERATOR;
	}
	return ADMINS_ADMIN;
}

/*
 * Who the token with digest got is: the legacy admin_token, else a row
 * of the admins table.  Fills ax_role and the principal of ax_who.  0,
 * or -1 after answering (401, 500, 503).
 */
static int
admin_auth_principal(struct admin_ctx *ax, const unsigned char *got)
{
	const struct cfg	*cfg = ax->ax_cfg;
	unsigned char		 want[ADMINS_HASH_LEN];
	char			 name[ADMINS_NAME_MAX], err[ADMIN_ERR_MAX];
	enum admins_role	 role = ADMINS_VIEWER;
	int			 disabled = 0, r;

	if (cfg->admin_token != NULL && cfg->admin_token[0] != '\0') {
		if (admins_token_hash(cfg->admin_token,
		    strlen(cfg->admin_token), want) == -1) {
			(void)http_reply_internal(ax->ax_req,
			    "SHA-256 unavailable");
			return -1;
		}
		if (CRYPTO_memcmp(want, got, ADMINS_HASH_LEN) == 0) {
			ax->ax_role = ADMINS_ADMIN;
			audit_actor_principal(&ax->ax_who, ADMINS_CONFIG_NAME,
			    admins_role_name(ADMINS_ADMIN));
			return 0;
		}
	}
	if (admin_auth_connect(ax) == -1)
		return -1;
	r = admins_lookup(ax->ax_conn, got, name, &role, &disabled, err,
	    sizeof(err));
	if (r == -1) {
		admin_auth_db_fail(ax, "admin principal lookup", err);
		return -1;
	}
	if (r == 1)
		return admin_auth_unauthorized(ax->ax_req, "invalid_token",
		    "invalid admin token");
	if (disabled) {
		log_info("request %s: admin principal %s is disabled; refused",
		    http_req_id(ax->ax_req), name);
		return admin_auth_unauthorized(ax->ax_req, "invalid_token",
		    "this admin principal is disabled");
	}
	ax->ax_role = role;
	audit_actor_principal(&ax->ax_who, name, admins_role_name(role));
	return 0;
}

/*
 * Authenticates the request, checks the route's default role and, with
 * need_db, gets the thread's connection.  0, or -1 after answering (401,
 * 403, 500, 503).
 */
int
admin_auth_open(struct http_req *req, struct admin_ctx *ax, int need_db)
{
	const char		*auth, *tok;
	unsigned char		 got[ADMINS_HASH_LEN];
	char			 addr[AUDIT_ADDR_MAX];
	size_t			 len;

	memset(ax, 0, sizeof(*ax));
	ax->ax_req = req;
	ax->ax_cfg = http_req_cfg(req);
	auth = http_req_header(req, "Authorization");
	if (auth == NULL || strncasecmp(auth, "Bearer", 6) != 0 ||
	    (auth[6] != ' ' && auth[6] != '\t'))
		return admin_auth_unauthorized(req, NULL, "authentication "
		    "required: send \"Authorization: Bearer <admin token>\"");
	for (tok = auth + 7; *tok == ' ' || *tok == '\t'; tok++)
		;
	len = strlen(tok);
	while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
		len--;
	if (len == 0)
		return admin_auth_unauthorized(req, "invalid_request",
		    "authentication required: the bearer token is empty");
	if (admins_token_hash(tok, len, got) == -1) {
		(void)http_reply_internal(req, "SHA-256 unavailable");
		return -1;
	}
	(void)http_req_client_addr(req, addr, sizeof(addr));
	audit_actor_init(&ax->ax_who, tok, len, addr, http_req_id(req));
	if (admin_auth_principal(ax, got) == -1 ||
	    admin_auth_require(ax, admin_auth_default_role(req)) == -1)
		return -1;
	return need_db && ax->ax_conn == NULL ? admin_auth_connect(ax) : 0;
}

/* 0 if the principal has at least role, else 403 and -1. */
int
admin_auth_require(struct admin_ctx *ax, enum admins_role role)
{
	if (ax->ax_role >= role)
		return 0;
	log_info("request %s: admin principal %s (%s) refused: %s %s needs "
	    "the role %s", http_req_id(ax->ax_req), ax->ax_who.aa_principal,
	    admins_role_name(ax->ax_role), http_req_method(ax->ax_req),
	    http_req_path(ax->ax_req), admins_role_name(role));
	(void)http_reply_outcome(ax->ax_req, 403, "forbidden", "the admin "
	    "principal \"%s\" has the role %s; this needs the role %s",
	    ax->ax_who.aa_principal, admins_role_name(ax->ax_role),
	    admins_role_name(role));
	return -1;
}

/* Gets the thread's connection.  0, or -1 after answering 503. */
int
admin_auth_connect(struct admin_ctx *ax)
{
	char	err[ADMIN_ERR_MAX];

	if ((ax->ax_conn = http_db_conn(err, sizeof(err))) == NULL) {
		log_warnx("request %s: database: %s", http_req_id(ax->ax_req),
		    err);
		(void)http_reply_outcome(ax->ax_req, 503, "transient",
		    "database unavailable; retry later");
		return -1;
	}
	return 0;
}

/* A statement failed: the connection's state is unknown, drop it. */
void
admin_auth_db_fail(struct admin_ctx *ax, const char *what, const char *err)
{
	http_db_discard();
	ax->ax_conn = NULL;
	(void)http_reply_internal(ax->ax_req, "%s: %s", what, err);
}

/* Arms the audit triggers; on failure answers and returns -1. */
int
admin_auth_audit_begin(struct admin_ctx *ax, const char *action,
    const char *table, const char *target)
{
	char	err[ADMIN_ERR_MAX];

	if (audit_begin(ax->ax_conn, &ax->ax_who, action, table, target, err,
	    sizeof(err)) == -1) {
		admin_auth_db_fail(ax, "audit", err);
		return -1;
	}
	return 0;
}

/*
 * Disarms them.  A connection that cannot be disarmed is dropped (it
 * could record someone else's change) and replaced, so that the handler
 * can still answer; ax_conn is NULL if that fails too.
 */
void
admin_auth_audit_end(struct admin_ctx *ax)
{
	char	err[ADMIN_ERR_MAX];

	if (ax->ax_conn == NULL)
		return;
	if (audit_end(ax->ax_conn, err, sizeof(err)) == -1) {
		log_warnx("request %s: audit reset failed (%s); connection "
		    "dropped", http_req_id(ax->ax_req), err);
		http_db_discard();
		ax->ax_conn = http_db_conn(err, sizeof(err));
	}
}
