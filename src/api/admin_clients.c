/*
 * admin_clients.c — /admin/api/clients (see admin_clients.h).  Changes
 * run with the audit triggers armed (admin_auth.h).  libmicrohttpd
 * threads, the thread's connection.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/admin_auth.h"
#include "api/admin_clients.h"
#include "auth/jwks.h"
#include "auth/scope.h"
#include "core/cfg.h"
#include "http/http_route.h"
#include "lib/buf.h"
#include "lib/jose.h"
#include "lib/log.h"
#include "store/auth_store.h"

#define ADMIN_CLIENTS_MAX	(4 << 20)	/* GET answer */

static const char *admin_clients_name(struct admin_ctx *, const char *);
static void	 admin_clients_reply(struct admin_ctx *, const char *,
		    unsigned int);
static int	 admin_clients_check(struct admin_ctx *, const cJSON *,
		    const char **, char **);
static void	 admin_clients_flag(struct http_req *, int);

/* The name from the path or body; NULL after answering 400. */
static const char *
admin_clients_name(struct admin_ctx *ax, const char *name)
{
	if (name == NULL || !auth_store_name_ok(name)) {
		(void)http_reply_outcome(ax->ax_req, 400, "invalid", "a client "
		    "name is 1 to %d letters, digits, '.', '_' or '-', "
		    "starting with a letter or digit", AUTH_STORE_NAME_MAX);
		return NULL;
	}
	return name;
}

/* Answers status with the client (404 if it is gone). */
static void
admin_clients_reply(struct admin_ctx *ax, const char *name,
    unsigned int status)
{
	struct buf	b;
	char		err[ADMIN_ERR_MAX];
	int		rc;

	buf_init(&b, ADMIN_CLIENTS_MAX);
	rc = auth_store_clients_json(ax->ax_conn, name, &b, err, sizeof(err));
	if (rc == -1)
		admin_auth_db_fail(ax, "clients", err);
	else if (rc == 0)
		(void)http_reply_outcome(ax->ax_req, 404, "not-found", "no "
		    "client %s", name);
	else
		(void)http_reply_buf(ax->ax_req, status, "application/json",
		    &b);
	buf_free(&b);
}

void
admin_clients_list(struct http_req *req)
{
	struct admin_ctx	ax;
	struct buf		b;
	char			err[ADMIN_ERR_MAX];

	if (admin_auth_open(req, &ax, 1) == -1)
		return;
	buf_init(&b, ADMIN_CLIENTS_MAX);
	if (auth_store_clients_json(ax.ax_conn, NULL, &b, err,
	    sizeof(err)) == -1)
		admin_auth_db_fail(&ax, "clients", err);
	else
		(void)http_reply_buf(req, 200, "application/json", &b);
	buf_free(&b);
}

void
admin_clients_get(struct http_req *req)
{
	struct admin_ctx	 ax;
	const char		*name;

	if (admin_auth_open(req, &ax, 1) == -1 ||
	    (name = admin_clients_name(&ax, http_req_param(req,
	    "name"))) == NULL)
		return;
	admin_clients_reply(&ax, name, 200);
}

/*
 * Checks a PUT/POST body: *url or *jwks (printed, caller cJSON_frees)
 * set, scope valid and write only with allow_write.  0, or -1 after
 * answering 400.
 */
static int
admin_clients_check(struct admin_ctx *ax, const cJSON *body,
    const char **url, char **jwks)
{
	const cJSON		*u, *k, *s, *w;
	struct scope_set	 set;
	struct jose_jwks	 keys;
	char			 err[ADMIN_ERR_MAX];
	size_t			 i;
	int			 nkeys;

	*url = NULL;
	*jwks = NULL;
	u = cJSON_GetObjectItemCaseSensitive(body, "jwks_url");
	k = cJSON_GetObjectItemCaseSensitive(body, "jwks");
	s = cJSON_GetObjectItemCaseSensitive(body, "scope");
	w = cJSON_GetObjectItemCaseSensitive(body, "allow_write");
	if ((u != NULL && !cJSON_IsNull(u)) == (k != NULL && !cJSON_IsNull(k))) {
		(void)http_reply_outcome(ax->ax_req, 400, "invalid", "give "
		    "exactly one of \"jwks_url\" (preferred) and \"jwks\"");
		return -1;
	}
	if (!cJSON_IsString(s)) {
		(void)http_reply_outcome(ax->ax_req, 400, "invalid", "\"scope\" "
		    "is required: the system scopes the client may be granted");
		return -1;
	}
	if (w != NULL && !cJSON_IsBool(w)) {
		(void)http_reply_outcome(ax->ax_req, 400, "invalid",
		    "\"allow_write\" must be true or false");
		return -1;
	}
	if (scope_parse(s->valuestring, 0, &set, err, sizeof(err)) == -1) {
		(void)http_reply_outcome(ax->ax_req, 400, "invalid", "scope: "
		    "%s", err);
		return -1;
	}
	for (i = 0; i < set.ss_n; i++)
		if ((set.ss_items[i].si_perms & SCOPE_WRITE) != 0 &&
		    !cJSON_IsTrue(w)) {
			(void)http_reply_outcome(ax->ax_req, 400, "invalid",
			    "scope: %s/%s grants writing; register write "
			    "scopes (for $import) only with \"allow_write\": "
			    "true (--allow-write)", "system",
			    set.ss_items[i].si_type);
			return -1;
		}
	if (u != NULL && !cJSON_IsNull(u)) {
		if (!cJSON_IsString(u) || !jwks_url_ok(u->valuestring,
		    ax->ax_cfg->auth_jwks_allow, err, sizeof(err))) {
			(void)http_reply_outcome(ax->ax_req, 400, "invalid",
			    "jwks_url: %s", cJSON_IsString(u) ? err :
			    "must be a string");
			return -1;
		}
		*url = u->valuestring;
		return 0;
	}
	if (!cJSON_IsObject(k) || (*jwks = cJSON_PrintUnformatted(k)) == NULL) {
		(void)http_reply_outcome(ax->ax_req, 400, "invalid", "jwks must "
		    "be a JWK Set object {\"keys\":[...]}");
		return -1;
	}
	memset(&keys, 0, sizeof(keys));
	err[0] = '\0';
	if (jose_jwks_parse(*jwks, strlen(*jwks), &keys, err,
	    sizeof(err)) == -1 || keys.jw_nkeys == 0) {
		nkeys = (int)keys.jw_nkeys;
		jose_jwks_free(&keys);
		(void)http_reply_outcome(ax->ax_req, 400, "invalid", "jwks: %s",
		    nkeys == 0 && err[0] == '\0' ? "no usable public key "
		    "(RSA 2048+ or EC P-384, with kid)" : err);
		cJSON_free(*jwks);
		*jwks = NULL;
		return -1;
	}
	jose_jwks_free(&keys);
	return 0;
}

void
admin_clients_put(struct http_req *req)
{
	struct admin_ctx	 ax;
	const cJSON		*body, *n;
	const char		*name, *url, *scope;
	char			*jwks = NULL, err[ADMIN_ERR_MAX];
	int			 created = 0, rc;

	if (admin_auth_open(req, &ax, 1) == -1)
		return;
	body = http_req_body_json(req);
	if (!cJSON_IsObject(body)) {
		(void)http_reply_outcome(req, 400, "invalid", "the body must "
		    "be a JSON object: {\"jwks_url\" or \"jwks\", \"scope\"}");
		return;
	}
	name = http_req_param(req, "name");
	if (name == NULL) {
		n = cJSON_GetObjectItemCaseSensitive(body, "name");
		name = cJSON_IsString(n) ? n->valuestring : NULL;
	}
	if ((name = admin_clients_name(&ax, name)) == NULL ||
	    admin_clients_check(&ax, body, &url, &jwks) == -1)
		goto out;
	scope = cJSON_GetObjectItemCaseSensitive(body, "scope")->valuestring;
	if (admin_auth_audit_begin(&ax, "client.put", "auth_clients",
	    name) == -1)
		goto out;
	err[0] = '\0';
	rc = auth_store_client_put(ax.ax_conn, name, url, jwks, scope,
	    &created, err, sizeof(err));
	admin_auth_audit_end(&ax);
	if (rc == -1) {
		admin_auth_db_fail(&ax, "client put", err);
		goto out;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "client put: audit reset "
		    "failed");
		goto out;
	}
	log_info("client %s %s by %s (%s)", name, created ? "registered" :
	    "replaced", ax.ax_who.aa_actor, ax.ax_who.aa_addr);
	admin_clients_reply(&ax, name, created ? 201 : 200);
 out:
	cJSON_free(jwks);
}

/* disable / enable. */
static void
admin_clients_flag(struct http_req *req, int disabled)
{
	struct admin_ctx	 ax;
	const char		*name;
	char			 err[ADMIN_ERR_MAX];
	int			 rc;

	if (admin_auth_open(req, &ax, 1) == -1 ||
	    (name = admin_clients_name(&ax, http_req_param(req,
	    "name"))) == NULL)
		return;
	if (admin_auth_audit_begin(&ax, disabled ? "client.disable" :
	    "client.enable", "auth_clients", name) == -1)
		return;
	rc = auth_store_client_disable(ax.ax_conn, name, disabled, err,
	    sizeof(err));
	admin_auth_audit_end(&ax);
	if (rc == -1) {
		admin_auth_db_fail(&ax, "client disable", err);
		return;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "client: audit reset failed");
		return;
	}
	if (rc == 0) {
		(void)http_reply_outcome(req, 404, "not-found", "no client %s",
		    name);
		return;
	}
	log_info("client %s %s by %s", name, disabled ? "disabled" :
	    "enabled", ax.ax_who.aa_actor);
	admin_clients_reply(&ax, name, 200);
}

void
admin_clients_disable(struct http_req *req)
{
	admin_clients_flag(req, 1);
}

void
admin_clients_enable(struct http_req *req)
{
	admin_clients_flag(req, 0);
}

void
admin_clients_delete(struct http_req *req)
{
	struct admin_ctx	 ax;
	const char		*name;
	char			 err[ADMIN_ERR_MAX];
	int			 rc;

	if (admin_auth_open(req, &ax, 1) == -1 ||
	    (name = admin_clients_name(&ax, http_req_param(req,
	    "name"))) == NULL)
		return;
	if (admin_auth_audit_begin(&ax, "client.delete", "auth_clients",
	    name) == -1)
		return;
	rc = auth_store_client_delete(ax.ax_conn, name, err, sizeof(err));
	admin_auth_audit_end(&ax);
	if (rc == -1) {
		admin_auth_db_fail(&ax, "client delete", err);
		return;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "client: audit reset failed");
		return;
	}
	if (rc == 0) {
		(void)http_reply_outcome(req, 404, "not-found", "no client %s",
		    name);
		return;
	}
	log_info("client %s deleted by %s", name, ax.ax_who.aa_actor);
	(void)http_reply_data(req, 204, "application/json", "", 0);
}
