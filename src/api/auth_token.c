/*
 * auth_token.c — POST /auth/token and the SMART discovery document (see
 * auth_token.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "api/auth_token.h"
#include "auth/assertion.h"
#include "auth/jwks.h"
#include "auth/oauth.h"
#include "auth/scope.h"
#include "auth/token.h"
#include "core/cfg.h"
#include "http/http_db.h"
#include "http/http_route.h"
#include "lib/form.h"
#include "lib/jose.h"
#include "lib/log.h"
#include "store/auth_store.h"

#define AUTH_TOKEN_FORM	"application/x-www-form-urlencoded"

/* What one token request carries through its checks. */
struct auth_token_ctx {
	struct http_req		*tc_req;
	const struct cfg	*tc_cfg;
	struct form		 tc_form;
	struct jose_jws		 tc_jws;
	struct auth_client	 tc_client;
	EVP_PKEY		*tc_key;
	char			*tc_token;
};

static int	 auth_token_off(struct http_req *);
static void	 auth_token_error(struct http_req *, enum oauth_error,
		    const char *, const char *);
static void	 auth_token_run(struct auth_token_ctx *);

/* auth = none: 404 with an OperationOutcome.  1 if answered. */
static int
auth_token_off(struct http_req *req)
{
	const struct cfg	*cfg = http_req_cfg(req);

	if (strcmp(cfg->auth, "smart") == 0)
		return 0;
	(void)http_reply_outcome(req, 404, "not-found", "SMART Backend "
	    "Services authorization is off on this server (auth = none)");
	return 1;
}

/*
 * An RFC 6749 §5.2 error; client (may be NULL) and why go to the log.
 * invalid_client to a client that tried Authorization header
 * authentication also carries a challenge in that header's scheme (§5.2).
 */
static void
auth_token_error(struct http_req *req, enum oauth_error e, const char *client,
    const char *why)
{
	const char	*authz = http_req_header(req, "Authorization");
	cJSON		*j = cJSON_CreateObject();
	char		 challenge[64];
	size_t		 n;

	if (e == OAUTH_INVALID_CLIENT && authz != NULL && (n = strspn(authz,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	    "-._~+")) > 0 && n <= 32) {
		snprintf(challenge, sizeof(challenge), "%.*s realm=\"bulkhead\"",
		    (int)n, authz);
		(void)http_resp_header(req, "WWW-Authenticate", challenge);
	}
	log_info("request %s: token refused: %s%s%s: %s", http_req_id(req),
	    oauth_error_name(e), client != NULL ? " for client " : "",
	    client != NULL ? client : "", why);
	cJSON_AddStringToObject(j, "error", oauth_error_name(e));
	cJSON_AddStringToObject(j, "error_description", why);
	(void)http_reply_json(req, (unsigned)oauth_error_status(e), j);
	cJSON_Delete(j);
}

void
auth_token_post(struct http_req *req)
{
	struct auth_token_ctx	tc;

	if (auth_token_off(req))
		return;
	(void)http_resp_header(req, "Cache-Control", "no-store");
	(void)http_resp_header(req, "Pragma", "no-cache");
	memset(&tc, 0, sizeof(tc));
	tc.tc_req = req;
	tc.tc_cfg = http_req_cfg(req);
	auth_token_run(&tc);
	form_free(&tc.tc_form);
	jose_jws_free(&tc.tc_jws);
	auth_store_client_free(&tc.tc_client);
	EVP_PKEY_free(tc.tc_key);
	free(tc.tc_token);
}

static void
auth_token_run(struct auth_token_ctx *tc)
{
	struct http_req			*req = tc->tc_req;
	struct assertion_request	 ar;
	struct assertion_claims		 ac;
	struct scope_set		 want, reg, granted;
	struct auth_key			 key;
	enum assertion_reason		 why;
	enum jwks_result		 jr;
	const cJSON			*iss;
	const char			*ct, *body, *name = NULL;
	PGconn				*conn;
	char				 err[512], aud[TOKEN_URL_MAX];
	char				 scope[SCOPE_MAX_LEN + 1];
	cJSON				*j;
	size_t				 len, n;
	time_t				 now = time(NULL);
	int				 rc;

	ct = http_req_header(req, "Content-Type");
	n = strlen(AUTH_TOKEN_FORM);
	if (ct == NULL || strncasecmp(ct, AUTH_TOKEN_FORM, n) != 0 ||
	    (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ')) {
		auth_token_error(req, OAUTH_INVALID_REQUEST, NULL, "the body "
		    "must be " AUTH_TOKEN_FORM);
		return;
	}
	body = http_req_body(req, &len);
	if (len > FORM_MAX_BODY) {
		auth_token_error(req, OAUTH_INVALID_REQUEST, NULL, "the body "
		    "is over 64 KiB");
		return;
	}
	if (form_parse(body, len, &tc->tc_form, err, sizeof(err)) == -1) {
		auth_token_error(req, OAUTH_INVALID_REQUEST, NULL, err);
		return;
	}
	if ((why = assertion_check_request(&tc->tc_form, &ar)) !=
	    ASSERTION_OK) {
		auth_token_error(req, assertion_reason_error(why), NULL,
		    assertion_reason_text(why));
		return;
	}
	if (scope_parse(ar.ar_scope, SCOPE_PARSE_CONSTRAINED, &want, err,
	    sizeof(err)) == -1) {
		auth_token_error(req, OAUTH_INVALID_SCOPE, NULL, err);
		return;
	}
	if (jose_jws_parse(ar.ar_assertion, strlen(ar.ar_assertion),
	    &tc->tc_jws, err, sizeof(err)) == -1) {
		auth_token_error(req, OAUTH_INVALID_CLIENT, NULL, err);
		return;
	}
	/* The client first: the header check needs its registered URL. */
	iss = cJSON_GetObjectItemCaseSensitive(tc->tc_jws.jw_payload, "iss");
	if (!cJSON_IsString(iss) || !auth_store_name_ok(iss->valuestring)) {
		auth_token_error(req, OAUTH_INVALID_CLIENT, NULL, "iss is not "
		    "a client id");
		return;
	}
	name = iss->valuestring;
	if ((conn = http_db_conn(err, sizeof(err))) == NULL) {
		log_warnx("request %s: database: %s", http_req_id(req), err);
		(void)http_reply_outcome(req, 503, "transient", "database "
		    "unavailable; retry later");
		return;
	}
	if ((rc = auth_store_client_get(conn, name, &tc->tc_client, err,
	    sizeof(err))) == -1)
		goto db_fail;
	if (rc == 0) {
		auth_token_error(req, OAUTH_INVALID_CLIENT, name, "unknown "
		    "client");
		return;
	}
	if (tc->tc_client.ac_disabled) {
		auth_token_error(req, OAUTH_INVALID_CLIENT, name, "client "
		    "disabled");
		return;
	}
	if ((why = assertion_check_header(&tc->tc_jws,
	    tc->tc_client.ac_jwks_url)) != ASSERTION_OK) {
		auth_token_error(req, assertion_reason_error(why), name,
		    assertion_reason_text(why));
		return;
	}
	if (token_url(tc->tc_cfg->base_url, aud, sizeof(aud)) == -1) {
		(void)http_reply_internal(req, "base_url too long");
		return;
	}
	if ((why = assertion_check_claims(tc->tc_jws.jw_payload, now, aud,
	    ar.ar_client_id, &ac)) != ASSERTION_OK) {
		auth_token_error(req, assertion_reason_error(why), name,
		    assertion_reason_text(why));
		return;
	}
	jr = jwks_resolve(conn, &tc->tc_client, tc->tc_cfg->auth_jwks_allow,
	    &tc->tc_jws, &tc->tc_key, err, sizeof(err));
	if (jr == JWKS_DB_ERROR)
		goto db_fail;
	if (jr != JWKS_OK) {
		auth_token_error(req, OAUTH_INVALID_CLIENT, name, err);
		return;
	}
	if (jose_assertion_verify(&tc->tc_jws, tc->tc_key, err,
	    sizeof(err)) == -1) {
		auth_token_error(req, OAUTH_INVALID_CLIENT, name, err);
		return;
	}
	/* Only a verified assertion spends its jti (AUTH-V-02). */
	if ((rc = auth_store_jti_record(conn, name, ac.ac_jti, ac.ac_exp,
	    err, sizeof(err))) == -1)
		goto db_fail;
	if (rc == 0) {
		auth_token_error(req, OAUTH_INVALID_CLIENT, name, "jti already "
		    "used (replayed assertion)");
		return;
	}
	if (scope_parse(tc->tc_client.ac_scope, 0, &reg, err,
	    sizeof(err)) == -1) {
		auth_token_error(req, OAUTH_INVALID_SCOPE, name, "the "
		    "client's registered scopes are not valid; ask the "
		    "operator to register it again");
		return;
	}
	if (scope_grant(&want, &reg, &granted, err, sizeof(err)) == -1) {
		auth_token_error(req, OAUTH_INVALID_SCOPE, name, err);
		return;
	}
	if (scope_format(&granted, scope, sizeof(scope)) == -1) {
		auth_token_error(req, OAUTH_INVALID_SCOPE, name, "granted "
		    "scope too long");
		return;
	}
	if (auth_store_key_current(conn, TOKEN_KEY_ROTATE_S, &key, err,
	    sizeof(err)) == -1)
		goto db_fail;
	rc = token_mint(&key, tc->tc_cfg->base_url, name, scope, now,
	    TOKEN_LIFETIME, &tc->tc_token, err, sizeof(err));
	OPENSSL_cleanse(&key, sizeof(key));
	if (rc == -1) {
		(void)http_reply_internal(req, "token: %s", err);
		return;
	}
	log_info("request %s: token issued to client %s, scope \"%s\"",
	    http_req_id(req), name, scope);
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "access_token", tc->tc_token);
	cJSON_AddStringToObject(j, "token_type", "bearer");
	cJSON_AddNumberToObject(j, "expires_in", TOKEN_LIFETIME);
	cJSON_AddStringToObject(j, "scope", scope);
	(void)http_reply_json(req, 200, j);
	cJSON_Delete(j);
	return;
 db_fail:
	http_db_discard();
	(void)http_reply_internal(req, "token endpoint: %s", err);
}

void
auth_token_discovery(struct http_req *req)
{
	static const char *const methods[] = { "private_key_jwt" };
	static const char *const algs[] = { "RS384", "ES384" };
	static const char *const grants[] = { "client_credentials" };
	static const char *const scopes[] = { "system/*.read", "system/*.rs",
	    "system/*.write", "system/*.cud" };
	static const char *const caps[] = { "client-confidential-asymmetric",
	    "permission-v1", "permission-v2" };
	static const char *const s256[] = { "S256" };
	static const char *const resp[] = { "token" };
	char	 url[TOKEN_URL_MAX], *text;
	cJSON	*j;

	if (auth_token_off(req))
		return;
	if (token_url(http_req_cfg(req)->base_url, url, sizeof(url)) == -1) {
		(void)http_reply_internal(req, "base_url too long");
		return;
	}
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "token_endpoint", url);
	cJSON_AddItemToObject(j, "token_endpoint_auth_methods_supported",
	    cJSON_CreateStringArray(methods, 1));
	cJSON_AddItemToObject(j,
	    "token_endpoint_auth_signing_alg_values_supported",
	    cJSON_CreateStringArray(algs, 2));
	cJSON_AddItemToObject(j, "grant_types_supported",
	    cJSON_CreateStringArray(grants, 1));
	cJSON_AddItemToObject(j, "scopes_supported",
	    cJSON_CreateStringArray(scopes, 4));
	cJSON_AddItemToObject(j, "response_types_supported",
	    cJSON_CreateStringArray(resp, 1));
	cJSON_AddItemToObject(j, "capabilities",
	    cJSON_CreateStringArray(caps, 3));
	/* Required by the page even for backend-only servers (AUTH-D-04). */
	cJSON_AddItemToObject(j, "code_challenge_methods_supported",
	    cJSON_CreateStringArray(s256, 1));
	/* application/json whatever the route's negotiation (AUTH-D-02). */
	if ((text = cJSON_PrintUnformatted(j)) == NULL)
		(void)http_reply_internal(req, "discovery: out of memory");
	else
		(void)http_reply_data(req, 200, "application/json", text,
		    strlen(text));
	cJSON_free(text);
	cJSON_Delete(j);
}
