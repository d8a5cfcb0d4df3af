/*
 * clients_cli.c — 'bulkhead clients' (clients_cli.h).
 *
 *   add NAME (--jwks-url URL | --jwks-file FILE) --scope "..." [--allow-write]
 *   list | show NAME | disable NAME | enable NAME | delete NAME   [--json]
 *   jwks --key PEMFILE [--kid K]          the public JWKS of a key
 *   token NAME --key PEMFILE [--kid K] [--aud URL] [--curl [--scope S]]
 *       a client assertion (iss = sub = NAME, aud = the token URL of
 *       base_url or --aud, exp now + 240 s, random jti), signed RS384 or
 *       ES384 by the key's type; kid defaults to NAME.  With --curl, a
 *       whole curl command that posts it to the token URL for scope S
 *       (default: read on every type): the line a newcomer runs.
 * Key files are read whole, at most CCLI_PEM_MAX bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "auth/token.h"
#include "cli/admin_client.h"
#include "cli/cli_cmd.h"
#include "cli/clients_cli.h"
#include "core/cfg.h"
#include "lib/buf.h"
#include "lib/jose.h"
#include "lib/xmalloc.h"

#define CCLI_MAX_POS	2
#define CCLI_PROG_MAX	64
#define CCLI_PEM_MAX	(64 * 1024)
#define CCLI_AHEAD	240	/* assertion lifetime, seconds (< 300) */

static struct admin_opt ccli_opts[] = {
	{ "json", 1, NULL },
	{ "api", 0, NULL },
	{ "jwks-url", 0, NULL },
	{ "jwks-file", 0, NULL },
	{ "scope", 0, NULL },
	{ "allow-write", 1, NULL },
	{ "key", 0, NULL },
	{ "kid", 0, NULL },
	{ "aud", 0, NULL },
	{ "curl", 1, NULL },
};
#define CCLI_NOPTS (sizeof(ccli_opts) / sizeof(ccli_opts[0]))

struct ccli_cmd {
	struct cli_cmd_row	 c_row;
	int			 c_local;	/* needs no API */
	int			(*c_run)(struct cfg *, struct admin_client *,
				    const char *, const char **, int);
};

static const char *ccli_opt(const char *);
static void	 ccli_usage(FILE *);
static int	 ccli_path(struct buf *, const char *, const char *);
static int	 ccli_print(struct admin_client *, const struct buf *);
static char	*ccli_read(const char *, size_t, size_t *);
static EVP_PKEY	*ccli_key(const char *, int);
static int	 ccli_list(struct cfg *, struct admin_client *, const char *,
		    const char **, int);
static int	 ccli_show(struct cfg *, struct admin_client *, const char *,
		    const char **, int);
static int	 ccli_add(struct cfg *, struct admin_client *, const char *,
		    const char **, int);
static int	 ccli_action(struct cfg *, struct admin_client *,
		    const char *, const char **, int);
static int	 ccli_jwks(struct cfg *, struct admin_client *, const char *,
		    const char **, int);
static int	 ccli_token(struct cfg *, struct admin_client *, const char *,
		    const char **, int);

static const struct ccli_cmd ccli_cmds[] = {
	{ { "list", "json,api", 0, 0, NULL }, 0, ccli_list },
	{ { "show", "json,api", 1, 1, "client NAME" }, 0, ccli_show },
	{ { "add", "json,api,jwks-url,jwks-file,scope,allow-write", 1, 1,
	    "client NAME" }, 0, ccli_add },
	{ { "disable", "json,api", 1, 1, "client NAME" }, 0, ccli_action },
	{ { "enable", "json,api", 1, 1, "client NAME" }, 0, ccli_action },
	{ { "delete", "api", 1, 1, "client NAME" }, 0, ccli_action },
	{ { "jwks", "key,kid", 0, 0, NULL }, 1, ccli_jwks },
	{ { "token", "key,kid,aud,curl,scope", 1, 1, "client NAME" }, 1,
	    ccli_token },
};

static void
ccli_usage(FILE *fp)
{
	fprintf(fp, "usage: bulkhead clients list [--json]\n"
	    "       bulkhead clients show NAME [--json]\n"
	    "       bulkhead clients add NAME (--jwks-url URL | --jwks-file "
	    "FILE) --scope SCOPES\n"
	    "              [--allow-write] [--json]\n"
	    "       bulkhead clients disable|enable NAME [--json]\n"
	    "       bulkhead clients delete NAME\n"
	    "       bulkhead clients jwks --key PEMFILE [--kid KID]\n"
	    "       bulkhead clients token NAME --key PEMFILE [--kid KID] "
	    "[--aud TOKEN_URL]\n"
	    "              [--curl [--scope SCOPES]]\n"
	    "\nSMART Backend Services clients.  SCOPES are system scopes, "
	    "e.g. \"system/*.read\";\nwrite scopes (for $import) need "
	    "--allow-write.  'jwks' prints the public JWK Set\nof a PEM key "
	    "(to register with --jwks-file); 'token' prints a signed client\n"
	    "assertion for the token endpoint (kid defaults to NAME); with "
	    "--curl, a\ncurl command that posts it and prints the access "
	    "token's JSON.  Through "
	    "the admin API:\n--api URL or BULKHEAD_API_URL, token "
	    "BULKHEAD_ADMIN_TOKEN.\n");
}

static const char *
ccli_opt(const char *name)
{
	return admin_client_opt(ccli_opts, CCLI_NOPTS, name);
}

int
clients_cli_main(struct cfg *cfg, int argc, char **argv)
{
	const struct cli_cmd_table	 t = { "clients", ccli_cmds,
					    sizeof(ccli_cmds) /
					    sizeof(ccli_cmds[0]),
					    sizeof(ccli_cmds[0]), "list",
					    ccli_usage, ccli_opts,
					    CCLI_NOPTS };
	const struct ccli_cmd		*c;
	struct admin_client		 ac;
	const char			*pos[CCLI_MAX_POS];
	char				 prog[CCLI_PROG_MAX];
	int				 npos, rc;

	if ((c = cli_cmd_parse(&t, argc, argv, pos, &npos, prog,
	    sizeof(prog), &rc)) == NULL)
		return rc;
	if (c->c_local) {
		memset(&ac, 0, sizeof(ac));
		snprintf(ac.ac_prog, sizeof(ac.ac_prog), "%s", prog);
		return c->c_run(cfg, &ac, c->c_row.cr_name, pos, npos);
	}
	if ((rc = admin_client_open(&ac, cfg, ccli_opt("api"), prog)) != 0)
		return rc;
	rc = c->c_run(cfg, &ac, c->c_row.cr_name, pos, npos);
	admin_client_close(&ac);
	return rc;
}

/* "/admin/api/clients/<name>[/<action>]" into b.  0 or -1. */
static int
ccli_path(struct buf *b, const char *name, const char *action)
{
	if (buf_puts(b, "/admin/api/clients/") == -1 ||
	    admin_client_escape(b, name) == -1)
		return -1;
	if (action != NULL && buf_printf(b, "/%s", action) == -1)
		return -1;
	return 0;
}

/* Prints one client answer; 0 or 1. */
static int
ccli_print(struct admin_client *ac, const struct buf *body)
{
	static const char *const f[] = { "name", "jwks_url", "scope",
	    "created", "updated" };
	cJSON	*j;
	size_t	 i;

	if (ccli_opt("json") != NULL) {
		printf("%s\n", body->b_data);
		return 0;
	}
	if ((j = admin_client_json(ac, body)) == NULL)
		return 1;
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		printf("%-9s %s\n", f[i], admin_client_str(j, f[i]) != NULL ?
		    admin_client_str(j, f[i]) : (i == 1 ? "- (inline JWKS)" :
		    "-"));
	printf("%-9s %s\n", "disabled", cJSON_IsTrue(
	    cJSON_GetObjectItemCaseSensitive(j, "disabled")) ? "yes" : "no");
	cJSON_Delete(j);
	return 0;
}

static int
ccli_list(struct cfg *cfg, struct admin_client *ac, const char *sub,
    const char **pos, int npos)
{
	static const char *const head[] = { "NAME", "DISABLED", "KEYS",
	    "SCOPE" };
	struct admin_table	 t;
	struct buf		 body;
	const cJSON		*c;
	cJSON			*j = NULL;
	const char		*row[4];
	long			 st;
	int			 rc = 1;

	(void)cfg;
	(void)sub;
	(void)pos;
	(void)npos;
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	admin_table_init(&t, 4, head);
	if ((st = admin_client_call(ac, "GET", "/admin/api/clients", NULL,
	    &body)) == -1)
		goto out;
	if (st != 200) {
		rc = admin_client_error(ac, st, &body);
		goto out;
	}
	if (ccli_opt("json") != NULL) {
		printf("%s\n", body.b_data);
		rc = 0;
		goto out;
	}
	if ((j = admin_client_json(ac, &body)) == NULL)
		goto out;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "clients")) {
		row[0] = admin_client_str(c, "name");
		row[1] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c,
		    "disabled")) ? "yes" : "no";
		row[2] = admin_client_str(c, "jwks_url") != NULL ?
		    admin_client_str(c, "jwks_url") : "inline";
		row[3] = admin_client_str(c, "scope");
		admin_table_add(&t, row);
	}
	admin_table_print(&t, stdout);
	rc = 0;
 out:
	cJSON_Delete(j);
	admin_table_free(&t);
	buf_free(&body);
	return rc;
}

static int
ccli_show(struct cfg *cfg, struct admin_client *ac, const char *sub,
    const char **pos, int npos)
{
	struct buf	path, body;
	long		st;
	int		rc = 2;

	(void)cfg;
	(void)sub;
	(void)npos;
	buf_init(&path, ADMIN_CLIENT_URL_MAX);
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	if (ccli_path(&path, pos[0], NULL) == -1) {
		fprintf(stderr, "%s: name too long\n", ac->ac_prog);
		goto out;
	}
	rc = 1;
	if ((st = admin_client_call(ac, "GET", path.b_data, NULL,
	    &body)) == -1)
		goto out;
	rc = st == 200 ? ccli_print(ac, &body) :
	    admin_client_error(ac, st, &body);
 out:
	buf_free(&path);
	buf_free(&body);
	return rc;
}

/* Reads a whole file of at most max bytes; NULL after printing why. */
static char *
ccli_read(const char *path, size_t max, size_t *len)
{
	FILE	*fp;
	char	*data;
	size_t	 n;

	if ((fp = fopen(path, "rb")) == NULL) {
		perror(path);
		return NULL;
	}
	data = xmalloc(max + 1);
	n = fread(data, 1, max + 1, fp);
	if (ferror(fp) || n > max) {
		fprintf(stderr, "%s: unreadable or over %zu bytes\n", path,
		    max);
		free(data);
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	data[n] = '\0';
	*len = n;
	return data;
}

static int
ccli_add(struct cfg *cfg, struct admin_client *ac, const char *sub,
    const char **pos, int npos)
{
	struct buf	 path, body;
	cJSON		*req = cJSON_CreateObject(), *jwks = NULL;
	char		*text = NULL, *file = NULL;
	size_t		 len;
	long		 st;
	int		 rc = 2;

	(void)cfg;
	(void)sub;
	(void)npos;
	buf_init(&path, ADMIN_CLIENT_URL_MAX);
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	if ((ccli_opt("jwks-url") == NULL) == (ccli_opt("jwks-file") ==
	    NULL) || ccli_opt("scope") == NULL) {
		fprintf(stderr, "%s: give --scope and one of --jwks-url, "
		    "--jwks-file\n", ac->ac_prog);
		goto out;
	}
	if (ccli_opt("jwks-file") != NULL) {
		if ((file = ccli_read(ccli_opt("jwks-file"), 256 * 1024,
		    &len)) == NULL)
			goto out;
		if ((jwks = cJSON_Parse(file)) == NULL || !cJSON_IsObject(jwks)) {
			fprintf(stderr, "%s: %s is not a JSON object (a JWK "
			    "Set)\n", ac->ac_prog, ccli_opt("jwks-file"));
			goto out;
		}
		cJSON_AddItemToObject(req, "jwks", jwks);
		jwks = NULL;
	} else
		cJSON_AddStringToObject(req, "jwks_url", ccli_opt("jwks-url"));
	cJSON_AddStringToObject(req, "scope", ccli_opt("scope"));
	cJSON_AddBoolToObject(req, "allow_write",
	    ccli_opt("allow-write") != NULL);
	if (ccli_path(&path, pos[0], NULL) == -1) {
		fprintf(stderr, "%s: name too long\n", ac->ac_prog);
		goto out;
	}
	text = cJSON_PrintUnformatted(req);
	rc = 1;
	if ((st = admin_client_call(ac, "PUT", path.b_data, text,
	    &body)) == -1)
		goto out;
	if (st != 200 && st != 201) {
		rc = admin_client_error(ac, st, &body);
		goto out;
	}
	if (ccli_opt("json") != NULL)
		printf("%s\n", body.b_data);
	else
		printf("client %s %s\n", pos[0], st == 201 ? "registered" :
		    "replaced");
	rc = 0;
 out:
	cJSON_Delete(jwks);
	cJSON_Delete(req);
	cJSON_free(text);
	free(file);
	buf_free(&path);
	buf_free(&body);
	return rc;
}

/* disable, enable, delete. */
static int
ccli_action(struct cfg *cfg, struct admin_client *ac, const char *sub,
    const char **pos, int npos)
{
	struct buf	path, body;
	int		del = strcmp(sub, "delete") == 0;
	long		st;
	int		rc = 2;

	(void)cfg;
	(void)npos;
	buf_init(&path, ADMIN_CLIENT_URL_MAX);
	buf_init(&body, ADMIN_CLIENT_BODY_MAX);
	if (ccli_path(&path, pos[0], del ? NULL : sub) == -1) {
		fprintf(stderr, "%s: name too long\n", ac->ac_prog);
		goto out;
	}
	rc = 1;
	if ((st = admin_client_call(ac, del ? "DELETE" : "POST", path.b_data,
	    NULL, &body)) == -1)
		goto out;
	if (st != (del ? 204 : 200)) {
		rc = admin_client_error(ac, st, &body);
		goto out;
	}
	if (ccli_opt("json") != NULL && !del)
		printf("%s\n", body.b_data);
	else
		printf("client %s %s\n", pos[0], del ? "deleted" :
		    strcmp(sub, "disable") == 0 ? "disabled" : "enabled");
	rc = 0;
 out:
	buf_free(&path);
	buf_free(&body);
	return rc;
}

/* The key of --key; NULL after printing why. */
static EVP_PKEY *
ccli_key(const char *prog, int private)
{
	EVP_PKEY	*k;
	char		*pem, err[256];
	size_t		 len;

	if (ccli_opt("key") == NULL) {
		fprintf(stderr, "%s: --key PEMFILE is required\n", prog);
		return NULL;
	}
	if ((pem = ccli_read(ccli_opt("key"), CCLI_PEM_MAX, &len)) == NULL)
		return NULL;
	k = jose_pkey_from_pem(pem, len, private, err, sizeof(err));
	OPENSSL_cleanse(pem, len);
	free(pem);
	if (k == NULL)
		fprintf(stderr, "%s: %s: %s\n", prog, ccli_opt("key"), err);
	return k;
}

static int
ccli_jwks(struct cfg *cfg, struct admin_client *ac, const char *sub,
    const char **pos, int npos)
{
	EVP_PKEY	*k;
	cJSON		*set, *jwk;
	char		*text;
	const char	*kid = ccli_opt("kid");

	(void)cfg;
	(void)sub;
	(void)pos;
	(void)npos;
	if ((k = ccli_key(ac->ac_prog, 0)) == NULL)
		return 2;
	jwk = jose_jwk_from_pkey(k, kid != NULL ? kid : "key-1",
	    EVP_PKEY_base_id(k) == EVP_PKEY_RSA ? JOSE_ALG_RS384 :
	    JOSE_ALG_ES384);
	EVP_PKEY_free(k);
	if (jwk == NULL) {
		fprintf(stderr, "%s: only RSA and EC P-384 keys\n",
		    ac->ac_prog);
		return 2;
	}
	set = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(set, "keys"), jwk);
	text = cJSON_PrintUnformatted(set);
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(set);
	return 0;
}

static int
ccli_token(struct cfg *cfg, struct admin_client *ac, const char *sub,
    const char **pos, int npos)
{
	EVP_PKEY	*k;
	cJSON		*claims;
	unsigned char	 rnd[16];
	char		 aud[TOKEN_URL_MAX], jti[33], err[256], *jws = NULL;
	const char	*scope = ccli_opt("scope") != NULL ? ccli_opt("scope") :
			    "system/*.read";
	time_t		 now = time(NULL);
	size_t		 i;
	int		 rc = 2;

	(void)sub;
	(void)npos;
	if (ccli_opt("aud") != NULL)
		snprintf(aud, sizeof(aud), "%s", ccli_opt("aud"));
	else if (token_url(cfg->base_url, aud, sizeof(aud)) == -1) {
		fprintf(stderr, "%s: base_url too long\n", ac->ac_prog);
		return 2;
	}
	/* The curl line single-quotes the URL and the scope. */
	if (strchr(aud, '\'') != NULL || strchr(scope, '\'') != NULL) {
		fprintf(stderr, "%s: a quote in the token URL or --scope\n",
		    ac->ac_prog);
		return 2;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		fprintf(stderr, "%s: no random bytes\n", ac->ac_prog);
		return 1;
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(jti + 2 * i, 3, "%02x", rnd[i]);
	if ((k = ccli_key(ac->ac_prog, 1)) == NULL)
		return 2;
	claims = cJSON_CreateObject();
	cJSON_AddStringToObject(claims, "iss", pos[0]);
	cJSON_AddStringToObject(claims, "sub", pos[0]);
	cJSON_AddStringToObject(claims, "aud", aud);
	cJSON_AddNumberToObject(claims, "exp", (double)(now + CCLI_AHEAD));
	cJSON_AddNumberToObject(claims, "iat", (double)now);
	cJSON_AddStringToObject(claims, "jti", jti);
	jws = jose_sign(k, ccli_opt("kid") != NULL ? ccli_opt("kid") : pos[0],
	    NULL, claims, err, sizeof(err));
	if (jws == NULL)
		fprintf(stderr, "%s: %s\n", ac->ac_prog, err);
	else if (ccli_opt("curl") != NULL) {
		/* jws is base64url and dots: nothing to quote. */
		printf("curl -s '%s' -d grant_type=client_credentials "
		    "-d client_assertion_type=urn:ietf:params:oauth:"
		    "client-assertion-type:jwt-bearer -d client_assertion=%s "
		    "--data-urlencode 'scope=%s'\n", aud, jws, scope);
		rc = 0;
	} else {
		printf("%s\n", jws);
		rc = 0;
	}
	free(jws);
	cJSON_Delete(claims);
	EVP_PKEY_free(k);
	return rc;
}
