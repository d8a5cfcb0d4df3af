/*
 * jwks.c — fetching and caching clients' JWKS (see jwks.h).  The fetch is
 * a blocking libcurl easy transfer on the caller's thread, bounded by
 * JWKS_TIMEOUT; it runs only on a cache miss, rate-limited per client.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "auth/jwks.h"
#include "bulk/fetch_policy.h"
#include "core/version.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"

/* The state of one fetch, shared with curl's callbacks. */
struct jwks_xfer {
	const char	*jx_host;
	const char	*jx_allow;
	struct buf	*jx_body;
	char		 jx_cc[256];	/* Cache-Control, joined */
	char		 jx_blocked[256];
	int		 jx_toobig;
};

static int	jwks_private(const char *);
static int	jwks_addr_refused(struct jwks_xfer *, const char *);
static size_t	jwks_on_body(char *, size_t, size_t, void *);
static size_t	jwks_on_header(char *, size_t, size_t, void *);
static curl_socket_t jwks_on_socket(void *, curlsocktype,
		    struct curl_sockaddr *);
static int	jwks_on_prereq(void *, char *, char *, int, int);
static int	jwks_max_age(const char *);
static enum jwks_result jwks_pick(const char *, size_t, const char *,
		    const struct jose_jws *, EVP_PKEY **, char *, size_t);

/* 1 if the address literal is in a private or shared range. */
static int
jwks_private(const char *ip)
{
	unsigned char	a[16];
	const unsigned char *v4 = NULL;
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };

	if (inet_pton(AF_INET, ip, a) == 1)
		v4 = a;
	else if (inet_pton(AF_INET6, ip, a) == 1) {
		if (memcmp(a, mapped, sizeof(mapped)) == 0)
			v4 = a + 12;
		else
			return (a[0] & 0xfe) == 0xfc;	/* fc00::/7 */
	} else
		return 1;
	return v4[0] == 10 || (v4[0] == 172 && (v4[1] & 0xf0) == 16) ||
	    (v4[0] == 192 && v4[1] == 168) ||
	    (v4[0] == 100 && (v4[1] & 0xc0) == 64);
}

/* 1 (with the reason in jx_blocked) if connecting to ip is refused. */
static int
jwks_addr_refused(struct jwks_xfer *x, const char *ip)
{
	enum fetch_policy_ipclass	cls = fetch_policy_ip_class(ip);
	int				allowed;

	allowed = fetch_policy_host_allowed(x->jx_allow, x->jx_host);
	if (cls == FETCH_POLICY_IP_METADATA || cls == FETCH_POLICY_IP_INVALID ||
	    (!allowed && (cls != FETCH_POLICY_IP_OTHER || jwks_private(ip)))) {
		snprintf(x->jx_blocked, sizeof(x->jx_blocked), "host %.100s "
		    "resolves to %s address %s: refused (SSRF protection)",
		    x->jx_host, cls == FETCH_POLICY_IP_OTHER ? "private" :
		    fetch_policy_ip_class_name(cls), ip);
		return 1;
	}
	return 0;
}

static size_t
jwks_on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct jwks_xfer	*x = arg;

	if (buf_append(x->jx_body, ptr, size * nmemb) == -1) {
		x->jx_toobig = 1;
		return 0;	/* aborts the transfer */
	}
	return size * nmemb;
}

static size_t
jwks_on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct jwks_xfer	*x = arg;
	size_t			 n = size * nmemb, have;
	char			 line[256];

	if (n < 14 || strncasecmp(ptr, "cache-control:", 14) != 0)
		return n;
	snprintf(line, sizeof(line), "%.*s", (int)(n - 14), ptr + 14);
	have = strlen(x->jx_cc);
	snprintf(x->jx_cc + have, sizeof(x->jx_cc) - have, "%s%s",
	    have > 0 ? "," : "", str_trim(line));
	return n;
}

static curl_socket_t
jwks_on_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct jwks_xfer	*x = arg;
	char			 ip[INET6_ADDRSTRLEN];
	int			 fd;

	if (purpose != CURLSOCKTYPE_IPCXN ||
	    fetch_policy_addr_text(sa->family, &sa->addr, sa->addrlen, ip,
	    sizeof(ip)) == -1) {
		snprintf(x->jx_blocked, sizeof(x->jx_blocked), "refused a "
		    "non-IP connection");
		return CURL_SOCKET_BAD;
	}
	if (jwks_addr_refused(x, ip))
		return CURL_SOCKET_BAD;
	fd = socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
	return fd == -1 ? CURL_SOCKET_BAD : fd;
}

static int
jwks_on_prereq(void *arg, char *ip, char *local_ip, int port, int local_port)
{
	(void)local_ip;
	(void)port;
	(void)local_port;
	return jwks_addr_refused(arg, ip) ? CURL_PREREQFUNC_ABORT :
	    CURL_PREREQFUNC_OK;
}

/* The lifetime Cache-Control cc gives, in seconds (see jwks.h). */
static int
jwks_max_age(const char *cc)
{
	const char	*p;
	long		 v;

	if (*cc == '\0')
		return JWKS_DEFAULT_AGE;
	if (strcasestr(cc, "no-store") != NULL ||
	    strcasestr(cc, "no-cache") != NULL)
		return 0;
	if ((p = strcasestr(cc, "max-age=")) == NULL)
		return 0;
	p += 8;
	if (*p == '"')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	v = strtol(p, NULL, 10);
	return v < 0 ? 0 : v > JWKS_MAX_AGE ? JWKS_MAX_AGE : (int)v;
}

int
jwks_url_ok(const char *url, const char *allow, char *why, size_t whylen)
{
	CURLU	*u;
	char	*scheme = NULL, *host = NULL;
	int	 ok = 0;

	if ((u = curl_url()) == NULL)
		return 0;
	if (strlen(url) > 2048 || curl_url_set(u, CURLUPART_URL, url, 0) !=
	    CURLUE_OK || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) !=
	    CURLUE_OK || curl_url_get(u, CURLUPART_HOST, &host, 0) !=
	    CURLUE_OK || *host == '\0') {
		snprintf(why, whylen, "not a valid absolute URL");
		goto out;
	}
	if (strcasecmp(scheme, "https") != 0 &&
	    (strcasecmp(scheme, "http") != 0 ||
	    !fetch_policy_host_allowed(allow, host))) {
		snprintf(why, whylen, "a JWKS URL must be https (http only "
		    "for hosts in auth_jwks_allow)");
		goto out;
	}
	ok = 1;
 out:
	curl_free(host);
	curl_free(scheme);
	curl_url_cleanup(u);
	return ok;
}

int
jwks_fetch(const char *url, const char *allow, struct buf *body,
    int *max_age, char *err, size_t errlen)
{
	struct jwks_xfer	 x;
	struct curl_slist	*hdrs = NULL;
	CURLU			*u = NULL;
	CURL			*c = NULL;
	CURLcode		 cc;
	char			*host = NULL, ua[64];
	long			 status = 0;
	int			 bad = 0, rc = -1;

	memset(&x, 0, sizeof(x));
	*max_age = 0;
	if (!jwks_url_ok(url, allow, err, errlen))
		return -1;
	if ((u = curl_url()) == NULL ||
	    curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    (c = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "JWKS URL: cannot set up the fetch");
		goto out;
	}
	x.jx_host = host;
	x.jx_allow = allow != NULL ? allow : "";
	x.jx_body = body;
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	snprintf(ua, sizeof(ua), "bulkhead/%s", BULKHEAD_VERSION);
	bad += curl_easy_setopt(c, CURLOPT_CURLU, u) != CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_USERAGENT, ua) != CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
	    (long)JWKS_CONNECT_TIMEOUT) != CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)JWKS_TIMEOUT) !=
	    CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)JOSE_JWKS_MAX_BYTES) != CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, jwks_on_body) !=
	    CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_WRITEDATA, &x) != CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, jwks_on_header) !=
	    CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_HEADERDATA, &x) != CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION,
	    jwks_on_socket) != CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &x) != CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, jwks_on_prereq) !=
	    CURLE_OK;
	bad += curl_easy_setopt(c, CURLOPT_PREREQDATA, &x) != CURLE_OK;
	if (bad || hdrs == NULL) {
		snprintf(err, errlen, "libcurl lacks a required option");
		goto out;
	}
	cc = curl_easy_perform(c);
	if (x.jx_blocked[0] != '\0') {
		snprintf(err, errlen, "JWKS fetch: %s", x.jx_blocked);
		goto out;
	}
	if (x.jx_toobig || cc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(err, errlen, "JWKS fetch from %.100s: answer over %d "
		    "bytes", host, JOSE_JWKS_MAX_BYTES);
		goto out;
	}
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "JWKS fetch from %.100s: %s", host,
		    curl_easy_strerror(cc));
		goto out;
	}
	(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		snprintf(err, errlen, "JWKS fetch from %.100s: HTTP %ld", host,
		    status);
		goto out;
	}
	*max_age = jwks_max_age(x.jx_cc);
	rc = 0;
 out:
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/* The key for jws in the JWKS doc; JWKS_NO_KEY with a reason. */
static enum jwks_result
jwks_pick(const char *doc, size_t len, const char *where,
    const struct jose_jws *jws, EVP_PKEY **key, char *err, size_t errlen)
{
	struct jose_jwks	 set;
	const struct jose_jwk	*k;
	char			 e[256];

	memset(&set, 0, sizeof(set));
	if (jose_jwks_parse(doc, len, &set, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "%s JWKS: %s", where, e);
		return JWKS_NO_KEY;
	}
	if ((k = jose_jwks_select(&set, jws->jw_kid, jws->jw_alg, e,
	    sizeof(e))) == NULL) {
		snprintf(err, errlen, "%s JWKS: %s", where, e);
		jose_jwks_free(&set);
		return JWKS_NO_KEY;
	}
	EVP_PKEY_up_ref(k->jk_pkey);
	*key = k->jk_pkey;
	jose_jwks_free(&set);
	return JWKS_OK;
}

enum jwks_result
jwks_resolve(PGconn *conn, const struct auth_client *c, const char *allow,
    const struct jose_jws *jws, EVP_PKEY **key, char *err, size_t errlen)
{
	struct auth_jwks_row	 row;
	struct buf		 body;
	enum jwks_result	 r = JWKS_NO_KEY;
	struct jose_jwks	 set;
	char			 e2[256];
	int			 age, claimed;

	*key = NULL;
	memset(&row, 0, sizeof(row));
	buf_init(&body, JOSE_JWKS_MAX_BYTES);
	if (c->ac_jwks != NULL)
		return jwks_pick(c->ac_jwks, strlen(c->ac_jwks), "registered",
		    jws, key, err, errlen);
	if (auth_store_jwks_get(conn, c->ac_name, c->ac_jwks_url, &row, err,
	    errlen) == -1) {
		r = JWKS_DB_ERROR;
		goto out;
	}
	if (row.jr_body != NULL && row.jr_fresh &&
	    (r = jwks_pick(row.jr_body, strlen(row.jr_body), "cached", jws,
	    key, err, errlen)) == JWKS_OK)
		goto out;
	/* Stale, missing, or no such kid: refetch, rate-limited. */
	if ((claimed = auth_store_jwks_claim(conn, c->ac_name, c->ac_jwks_url,
	    JWKS_REFETCH_S, err, errlen)) == -1) {
		r = JWKS_DB_ERROR;
		goto out;
	}
	if (!claimed) {
		if (row.jr_body == NULL || !row.jr_fresh)
			snprintf(err, errlen, "JWKS not available yet (fetched "
			    "at most every %d s); retry", JWKS_REFETCH_S);
		r = JWKS_NO_KEY;
		goto out;
	}
	if (jwks_fetch(c->ac_jwks_url, allow, &body, &age, err,
	    errlen) == -1) {
		log_warnx("client %s: %s", c->ac_name, err);
		r = JWKS_NO_KEY;
		goto out;
	}
	if (body.b_data == NULL || memchr(body.b_data, '\0',
	    body.b_len) != NULL) {
		snprintf(err, errlen, "fetched JWKS: empty or holds a NUL");
		r = JWKS_NO_KEY;
		goto out;
	}
	/* Cache what parses as a JWKS; a body the database will not take
	 * (bad UTF-8) is used once and not cached. */
	memset(&set, 0, sizeof(set));
	if (jose_jwks_parse(body.b_data, body.b_len, &set, e2,
	    sizeof(e2)) == 0 && auth_store_jwks_put(conn, c->ac_name,
	    c->ac_jwks_url, body.b_data, age, e2, sizeof(e2)) == -1)
		log_warnx("client %s: JWKS not cached: %s", c->ac_name, e2);
	jose_jwks_free(&set);
	r = jwks_pick(body.b_data, body.b_len, "fetched", jws, key, err,
	    errlen);
 out:
	auth_store_jwks_row_free(&row);
	buf_free(&body);
	return r;
}
