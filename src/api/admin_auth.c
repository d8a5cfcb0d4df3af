/*
 * admin_auth.c — the admin API's authentication and the request context
 * of every admin handler (see admin_auth.h).
 *
 * The token check compares SHA-256 digests of the configured and the
 * presented token with CRYPTO_memcmp: constant time whatever their
 * lengths and contents.  The audit actor is a hash of the token, never
 * the token.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api/admin_auth.h"
#include "core/cfg.h"
#include "http/http_db.h"
#include "http/http_route.h"
#include "lib/log.h"
#include "lib/str.h"

#define ADMIN_REALM		"Bearer realm=\"bulkhead-admin\""

static int	 admin_auth_unauthorized(struct http_req *, const char *,
		    const char *);

/* 401 with a challenge; error is the RFC 6750 error code, or NULL. */
static int
admin_auth_unauthorized(struct http_req *req, const char *error,
    const char *msg)
{
	char	challenge[128];

	if (error != NULL)
		snprintf(challenge, sizeof(challenge), "%s, error=\"%s\"",
		    ADMIN_REALM, error);
	else
		str_lcpy(challenge, ADMIN_REALM, sizeof(challenge));
	(void)http_resp_header(req, "WWW-Authenticate", challenge);
	(void)http_reply_outcome(req, 401, "security", "%s", msg);
	return -1;
}

/*
 * Authenticates the request and, with need_db, gets the thread's
 * connection.  0, or -1 after answering (401, 503).  The token check
 * compares SHA-256 digests with CRYPTO_memcmp: constant time whatever
 * the lengths and contents.
 */
int
admin_auth_open(struct http_req *req, struct admin_ctx *ax, int need_db)
{
	const struct cfg	*cfg = http_req_cfg(req);
	const char		*auth, *tok;
	unsigned char		 want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];
	unsigned int		 wlen = 0, glen = 0;
	char			 addr[AUDIT_ADDR_MAX];
	size_t			 len;

	memset(ax, 0, sizeof(*ax));
	ax->ax_req = req;
	ax->ax_cfg = cfg;
	if (cfg->admin_token == NULL || cfg->admin_token[0] == '\0')
		return admin_auth_unauthorized(req, NULL, "the admin API is "
		    "disabled: no admin token is configured; set admin_token "
		    "(BULKHEAD_ADMIN_TOKEN) and send it as "
		    "\"Authorization: Bearer <token>\"");
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
	if (EVP_Digest(cfg->admin_token, strlen(cfg->admin_token), want,
	    &wlen, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(tok, len, got, &glen, EVP_sha256(), NULL) != 1 ||
	    wlen != glen) {
		(void)http_reply_internal(req, "SHA-256 unavailable");
		return -1;
	}
	if (CRYPTO_memcmp(want, got, wlen) != 0)
		return admin_auth_unauthorized(req, "invalid_token",
		    "invalid admin token");
	(void)http_req_client_addr(req, addr, sizeof(addr));
	audit_actor_init(&ax->ax_who, tok, len, addr, http_req_id(req));
	return need_db ? admin_auth_connect(ax) : 0;
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
