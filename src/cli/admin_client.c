/*
 * admin_client.c — HTTP client, options and tables for the admin
 * commands (admin_client.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admin_client.h"
#include "core/cfg.h"
#include "lib/buf.h"
#include "lib/httptext.h"
#include "lib/str.h"
#include "lib/xmalloc.h"

#define ADMIN_CLIENT_CONNECT_S	5	/* connect timeout, seconds */
#define ADMIN_CLIENT_AUTH_MAX	4096	/* the Authorization header */

static size_t	admin_client_write(char *, size_t, size_t, void *);
static int	admin_client_base(struct admin_client *, const struct cfg *,
		    const char *);

/* ---- options ----------------------------------------------------------- */

int
admin_client_args(const char *prog, int argc, char **argv,
    struct admin_opt *opts, size_t nopts, const char **pos, int maxpos,
    int *npos)
{
	const char	*name, *eq;
	size_t		 nlen, k;
	int		 i, dashdash = 0;

	*npos = 0;
	for (k = 0; k < nopts; k++)
		opts[k].ao_val = NULL;
	for (i = 0; i < argc; i++) {
		if (dashdash || strncmp(argv[i], "--", 2) != 0 ||
		    argv[i][2] == '\0') {
			if (!dashdash && strcmp(argv[i], "--") == 0) {
				dashdash = 1;
				continue;
			}
			if (*npos >= maxpos) {
				fprintf(stderr, "%s: unexpected argument "
				    "\"%s\"\n", prog, argv[i]);
				return -1;
			}
			pos[(*npos)++] = argv[i];
			continue;
		}
		name = argv[i] + 2;
		eq = strchr(name, '=');
		nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
		for (k = 0; k < nopts; k++)
			if (strlen(opts[k].ao_name) == nlen &&
			    strncmp(opts[k].ao_name, name, nlen) == 0)
				break;
		if (k == nopts || (opts[k].ao_flag && eq != NULL)) {
			fprintf(stderr, "%s: unknown option \"%s\"\n", prog,
			    argv[i]);
			return -1;
		}
		if (opts[k].ao_flag)
			opts[k].ao_val = "";
		else if (eq != NULL)
			opts[k].ao_val = eq + 1;
		else if (i + 1 < argc)
			opts[k].ao_val = argv[++i];
		else {
			fprintf(stderr, "%s: --%s needs a value\n", prog,
			    opts[k].ao_name);
			return -1;
		}
	}
	return 0;
}

const char *
admin_client_opt(const struct admin_opt *opts, size_t nopts, const char *name)
{
	size_t	k;

	for (k = 0; k < nopts; k++)
		if (strcmp(opts[k].ao_name, name) == 0)
			return opts[k].ao_val;
	return NULL;
}

/* ---- the client -------------------------------------------------------- */

/* The API base: api, BULKHEAD_API_URL, or http://<listen>.  0 or 2. */
static int
admin_client_base(struct admin_client *ac, const struct cfg *cfg,
    const char *api)
{
	const char	*host, *src = "--api";
	size_t		 n;
	int		 len;

	if (api == NULL && (api = getenv("BULKHEAD_API_URL")) != NULL &&
	    *api != '\0')
		src = "BULKHEAD_API_URL";
	else if (api == NULL || *api == '\0') {
		host = cfg->listen_host;
		if (host == NULL || *host == '\0' ||
		    strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
			host = "127.0.0.1";
		else if (strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0)
			host = "[::1]";
		len = snprintf(ac->ac_base, sizeof(ac->ac_base), "http://%s%s%s"
		    ":%d", strchr(host, ':') != NULL && host[0] != '[' ? "[" :
		    "", host, strchr(host, ':') != NULL && host[0] != '[' ?
		    "]" : "", cfg->listen_port);
		if (len < 0 || (size_t)len >= sizeof(ac->ac_base)) {
			fprintf(stderr, "%s: listen address too long\n",
			    ac->ac_prog);
			return 2;
		}
		return 0;
	}
	if (!str_has_prefix(api, "http://") && !str_has_prefix(api,
	    "https://")) {
		fprintf(stderr, "%s: %s: \"%s\" is not an http:// or https:// "
		    "URL\n", ac->ac_prog, src, api);
		return 2;
	}
	if (str_lcpy(ac->ac_base, api, sizeof(ac->ac_base)) >=
	    sizeof(ac->ac_base)) {
		fprintf(stderr, "%s: %s: URL too long\n", ac->ac_prog, src);
		return 2;
	}
	n = strlen(ac->ac_base);
	while (n > 0 && ac->ac_base[n - 1] == '/')
		ac->ac_base[--n] = '\0';
	/* Accept the admin API's own URL as well as the server's root. */
	if (n >= 10 && strcmp(ac->ac_base + n - 10, "/admin/api") == 0)
		ac->ac_base[n - 10] = '\0';
	return 0;
}

int
admin_client_open(struct admin_client *ac, const struct cfg *cfg,
    const char *api, const char *prog)
{
	char	auth[ADMIN_CLIENT_AUTH_MAX];
	int	rc, len;

	memset(ac, 0, sizeof(*ac));
	str_lcpy(ac->ac_prog, prog, sizeof(ac->ac_prog));
	if ((rc = admin_client_base(ac, cfg, api)) != 0)
		return rc;
	if (cfg->admin_token == NULL || cfg->admin_token[0] == '\0') {
		fprintf(stderr, "%s: no admin token: set BULKHEAD_ADMIN_TOKEN "
		    "(or admin_token in the config file)\n", ac->ac_prog);
		return 2;
	}
	len = snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
	    cfg->admin_token);
	if (len < 0 || (size_t)len >= sizeof(auth) ||
	    strpbrk(cfg->admin_token, "\r\n") != NULL) {
		fprintf(stderr, "%s: the admin token is too long or contains "
		    "a line break\n", ac->ac_prog);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (ac->ac_curl = curl_easy_init()) == NULL) {
		fprintf(stderr, "%s: cannot initialise libcurl\n",
		    ac->ac_prog);
		return 2;
	}
	ac->ac_headers = curl_slist_append(NULL, auth);
	ac->ac_headers = curl_slist_append(ac->ac_headers,
	    "Accept: application/json");
	explicit_bzero(auth, sizeof(auth));
	return 0;
}

void
admin_client_close(struct admin_client *ac)
{
	if (ac->ac_curl != NULL)
		curl_easy_cleanup(ac->ac_curl);
	curl_slist_free_all(ac->ac_headers);	/* the token goes with it */
	ac->ac_curl = NULL;
	ac->ac_headers = NULL;
}

static size_t
admin_client_write(char *data, size_t size, size_t n, void *arg)
{
	struct buf	*out = arg;

	if (buf_append(out, data, size * n) == -1)
		return 0;	/* over ADMIN_CLIENT_BODY_MAX: abort */
	return size * n;
}

long
admin_client_call(struct admin_client *ac, const char *method,
    const char *path, const char *body, struct buf *out)
{
	struct curl_slist	*hdrs = ac->ac_headers, *extra = NULL;
	char			 url[ADMIN_CLIENT_URL_MAX * 2];
	char			 cerr[CURL_ERROR_SIZE];
	CURLcode		 cc;
	long			 status = 0;
	int			 len;

	len = snprintf(url, sizeof(url), "%s%s", ac->ac_base, path);
	if (len < 0 || (size_t)len >= sizeof(url)) {
		fprintf(stderr, "%s: URL too long\n", ac->ac_prog);
		return -1;
	}
	if (body != NULL) {
		/* A private copy of the list: the shared one stays as is. */
		extra = curl_slist_append(NULL, "Content-Type: "
		    "application/json");
		extra->next = ac->ac_headers;
		hdrs = extra;
	}
	cerr[0] = '\0';
	curl_easy_reset(ac->ac_curl);
	curl_easy_setopt(ac->ac_curl, CURLOPT_URL, url);
	curl_easy_setopt(ac->ac_curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(ac->ac_curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(ac->ac_curl, CURLOPT_WRITEFUNCTION,
	    admin_client_write);
	curl_easy_setopt(ac->ac_curl, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(ac->ac_curl, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(ac->ac_curl, CURLOPT_CONNECTTIMEOUT,
	    (long)ADMIN_CLIENT_CONNECT_S);
	curl_easy_setopt(ac->ac_curl, CURLOPT_TIMEOUT,
	    (long)ADMIN_CLIENT_TIMEOUT);
	curl_easy_setopt(ac->ac_curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(ac->ac_curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(ac->ac_curl, CURLOPT_NOBODY, 1L);
	if (body != NULL) {
		curl_easy_setopt(ac->ac_curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(ac->ac_curl, CURLOPT_POSTFIELDSIZE,
		    (long)strlen(body));
	} else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		curl_easy_setopt(ac->ac_curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(ac->ac_curl, CURLOPT_POSTFIELDSIZE, 0L);
	}
	cc = curl_easy_perform(ac->ac_curl);
	if (extra != NULL) {
		extra->next = NULL;
		curl_slist_free_all(extra);
	}
	if (cc != CURLE_OK) {
		if (cc == CURLE_WRITE_ERROR)
			fprintf(stderr, "%s: the answer is larger than %zu "
			    "bytes\n", ac->ac_prog, ADMIN_CLIENT_BODY_MAX);
		else
			fprintf(stderr, "%s: cannot reach the admin API at %s: "
			    "%s\n", ac->ac_prog, ac->ac_base, cerr[0] != '\0' ?
			    cerr : curl_easy_strerror(cc));
		return -1;
	}
	curl_easy_getinfo(ac->ac_curl, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

int
admin_client_error(const struct admin_client *ac, long status,
    const struct buf *body)
{
	cJSON		*j = NULL;
	const cJSON	*issue;
	const char	*msg = NULL;

	if (body->b_len > 0)
		j = cJSON_ParseWithLength(body->b_data, body->b_len);
	/* OperationOutcome, or {"error": "..."} from a proxy or a newer
	 * server. */
	issue = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j,
	    "issue"), 0);
	if ((msg = admin_client_str(issue, "diagnostics")) == NULL)
		msg = admin_client_str(j, "error");
	if (msg != NULL)
		fprintf(stderr, "%s: %s\n", ac->ac_prog, msg);
	else
		fprintf(stderr, "%s: the admin API answered HTTP %ld\n",
		    ac->ac_prog, status);
	cJSON_Delete(j);
	return 1;
}

cJSON *
admin_client_json(const struct admin_client *ac, const struct buf *body)
{
	cJSON	*j = NULL;

	if (body->b_len > 0)
		j = cJSON_ParseWithLength(body->b_data, body->b_len);
	if (j == NULL)
		fprintf(stderr, "%s: the admin API's answer is not JSON\n",
		    ac->ac_prog);
	return j;
}

int
admin_client_escape(struct buf *b, const char *s)
{
	/* RFC 3986 unreserved characters stay. */
	return httptext_pct_encode(b, s, "-._~");
}

const char *
admin_client_str(const cJSON *o, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* ---- tables ------------------------------------------------------------ */

void
admin_table_init(struct admin_table *t, size_t ncols, const char *const *head)
{
	memset(t, 0, sizeof(*t));
	t->t_ncols = ncols;
	admin_table_add(t, head);
}

void
admin_table_add(struct admin_table *t, const char *const *cells)
{
	size_t	i;

	t->t_cells = xreallocarray(t->t_cells, (t->t_nrows + 1) * t->t_ncols,
	    sizeof(*t->t_cells));
	for (i = 0; i < t->t_ncols; i++)
		t->t_cells[t->t_nrows * t->t_ncols + i] = xstrdup(cells[i] !=
		    NULL ? cells[i] : "-");
	t->t_nrows++;
}

void
admin_table_print(const struct admin_table *t, FILE *fp)
{
	size_t	*w, r, c, n;

	w = xcalloc(t->t_ncols, sizeof(*w));
	for (r = 0; r < t->t_nrows; r++)
		for (c = 0; c < t->t_ncols; c++)
			if ((n = strlen(t->t_cells[r * t->t_ncols + c])) >
			    w[c])
				w[c] = n;
	for (r = 0; r < t->t_nrows; r++) {
		for (c = 0; c < t->t_ncols; c++) {
			if (c + 1 == t->t_ncols)
				fprintf(fp, "%s\n",
				    t->t_cells[r * t->t_ncols + c]);
			else
				fprintf(fp, "%-*s  ", (int)w[c],
				    t->t_cells[r * t->t_ncols + c]);
		}
	}
	free(w);
}

void
admin_table_free(struct admin_table *t)
{
	size_t	i;

	if (t->t_cells == NULL)
		return;
	for (i = 0; i < t->t_nrows * t->t_ncols; i++)
		free(t->t_cells[i]);
	free(t->t_cells);
	t->t_cells = NULL;
	t->t_nrows = 0;
}
