/*
 * openimis_client.c — the paced openIMIS FHIR R4 client (see
 * openimis_client.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "core/cfg.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "openimis/openimis_client.h"

#define OI_TOKEN_MAX	8192
#define OI_BODY_MAX	(64 << 20)	/* one page or one answer */
#define OI_FACTOR_MAX	64.0
#define OI_LAT_SLOW	3.0		/* x the fastest recent latency */

struct openimis_client {
	CURL		*oc_curl;
	char		*oc_url;
	char		*oc_user;
	char		*oc_pass;
	int		 oc_basic;
	double		 oc_rps;
	int		 oc_timeout_s;
	int		 oc_retry_s;
	openimis_sleep_fn oc_sleep;
	void		*oc_sleep_arg;
	char		 oc_token[OI_TOKEN_MAX];
	int64_t		 oc_token_exp;		/* epoch; 0: none */
	int64_t		 oc_token_renew;	/* epoch to renew at */
	double		 oc_next;		/* clock_mono the next may start */
	double		 oc_fast;		/* fastest recent latency */
	double		 oc_factor;		/* back-off multiplier */
	struct openimis_stats oc_stats;
	/* filled by the header callback, per transfer */
	int		 oc_refused;		/* last login: 4xx */
	int		 oc_retry_after;
	int64_t		 oc_date;
};

static pthread_once_t	oi_once = PTHREAD_ONCE_INIT;

static void	oi_curl_init(void);
static size_t	oi_write(char *, size_t, size_t, void *);
static size_t	oi_header(char *, size_t, size_t, void *);
static int	oi_wait(struct openimis_client *, double, char *, size_t);
static int	oi_perform(struct openimis_client *, const char *, const char *,
		    size_t, int, struct buf *, long *, char *, size_t);
static int	oi_request(struct openimis_client *, const char *, const char *,
		    size_t, struct buf *, long *, int64_t *, char *, size_t);
static void	oi_slower(struct openimis_client *, double);

static void
oi_curl_init(void)
{
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t
oi_write(char *p, size_t sz, size_t n, void *arg)
{
	struct buf	*b = arg;

	if (buf_append(b, p, sz * n) == -1)
		return 0;	/* too big: curl fails the transfer */
	return sz * n;
}

static size_t
oi_header(char *p, size_t sz, size_t n, void *arg)
{
	struct openimis_client	*c = arg;
	size_t			 len = sz * n;
	char			 v[128];
	size_t			 vl;
	time_t			 t;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		vl = len - 12 < sizeof(v) - 1 ? len - 12 : sizeof(v) - 1;
		memcpy(v, p + 12, vl);
		v[vl] = '\0';
		c->oc_retry_after = (int)strtol(str_trim(v), NULL, 10);
	} else if (len > 5 && strncasecmp(p, "Date:", 5) == 0) {
		vl = len - 5 < sizeof(v) - 1 ? len - 5 : sizeof(v) - 1;
		memcpy(v, p + 5, vl);
		v[vl] = '\0';
		if ((t = curl_getdate(str_trim(v), NULL)) > 0)
			c->oc_date = (int64_t)t;
	}
	return len;
}

void
openimis_client_opts(const struct cfg *cfg, struct openimis_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->oo_url = cfg->openimis_url;
	o->oo_username = cfg->openimis_username;
	o->oo_password = cfg->openimis_password;
	o->oo_basic = strcmp(cfg->openimis_auth, "basic") == 0;
	o->oo_rps = cfg->openimis_rps;
}

struct openimis_client *
openimis_client_new(const struct openimis_opts *o, char *errbuf,
    size_t errlen)
{
	struct openimis_client	*c;
	size_t			 n;

	if (o->oo_url == NULL || (strncmp(o->oo_url, "http://", 7) != 0 &&
	    strncmp(o->oo_url, "https://", 8) != 0)) {
		snprintf(errbuf, errlen, "openimis_url must be an http(s) URL");
		return NULL;
	}
	pthread_once(&oi_once, oi_curl_init);
	c = xcalloc(1, sizeof(*c));
	if ((c->oc_curl = curl_easy_init()) == NULL) {
		free(c);
		snprintf(errbuf, errlen, "curl_easy_init failed");
		return NULL;
	}
	c->oc_url = xstrdup(o->oo_url);
	n = strlen(c->oc_url);
	while (n > 0 && c->oc_url[n - 1] == '/')
		c->oc_url[--n] = '\0';
	c->oc_user = xstrdup(o->oo_username != NULL ? o->oo_username : "");
	c->oc_pass = xstrdup(o->oo_password != NULL ? o->oo_password : "");
	c->oc_basic = o->oo_basic;
	c->oc_rps = o->oo_rps > 0 ? o->oo_rps : 5;
	c->oc_timeout_s = o->oo_timeout_s > 0 ? o->oo_timeout_s : 60;
	c->oc_retry_s = o->oo_retry_s > 0 ? o->oo_retry_s : 300;
	c->oc_sleep = o->oo_sleep;
	c->oc_sleep_arg = o->oo_sleep_arg;
	c->oc_factor = 1.0;
	return c;
}

void
openimis_client_free(struct openimis_client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->oc_curl);
	free(c->oc_url);
	free(c->oc_user);
	if (c->oc_pass != NULL)
		explicit_bzero(c->oc_pass, strlen(c->oc_pass));
	free(c->oc_pass);
	explicit_bzero(c->oc_token, sizeof(c->oc_token));
	free(c);
}

void
openimis_client_stats(const struct openimis_client *c,
    struct openimis_stats *s)
{
	*s = c->oc_stats;
	s->os_factor = c->oc_factor;
}

void
openimis_client_set_sleep(struct openimis_client *c, openimis_sleep_fn fn,
    void *arg)
{
	c->oc_sleep = fn;
	c->oc_sleep_arg = arg;
}

/* Waits until s seconds from now, through the caller's sleep. */
static int
oi_wait(struct openimis_client *c, double s, char *errbuf, size_t errlen)
{
	struct timespec	ts;
	double		t0 = clock_mono();
	int		ms;

	while (s > 0) {
		ms = s > 1.0 ? 1000 : (int)(s * 1000) + 1;
		if (c->oc_sleep != NULL) {
			if (c->oc_sleep(c->oc_sleep_arg, ms) == -1) {
				snprintf(errbuf, errlen, "stopped");
				return OPENIMIS_STOP;
			}
		} else {
			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (long)(ms % 1000) * 1000000L;
			while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
				;
		}
		s -= ms / 1000.0;
	}
	c->oc_stats.os_wait_s += clock_mono() - t0;
	return 0;
}

/* Widens the gap between requests. */
static void
oi_slower(struct openimis_client *c, double by)
{
	c->oc_factor *= by;
	if (c->oc_factor > OI_FACTOR_MAX)
		c->oc_factor = OI_FACTOR_MAX;
}

/* One transfer, paced.  auth: 1 adds the Authorization header.  0 with
 * *status, or -1 (transport failure, reason in errbuf). */
static int
oi_perform(struct openimis_client *c, const char *url, const char *post,
    size_t postlen, int auth, struct buf *body, long *status, char *errbuf,
    size_t errlen)
{
	struct curl_slist	*h = NULL;
	char			 hdr[OI_TOKEN_MAX + 32];
	double			 gap, t0, lat, iv;
	CURLcode		 cc;
	int			 rc;

	/* Starts follow a schedule iv apart: a start that comes late
	 * (the sleep rounds up to whole milliseconds and wakes late on a
	 * busy machine) takes the time back from the next gap, so the rate
	 * is openimis_rps and not less; never more than one gap is taken
	 * back, so after a pause at most one request comes early: no
	 * second holds more than rps + 1. */
	iv = c->oc_factor / c->oc_rps;
	gap = c->oc_next - clock_mono();
	if (gap > 0 && (rc = oi_wait(c, gap, errbuf, errlen)) != 0)
		return rc;
	buf_reset(body);
	c->oc_retry_after = 0;
	c->oc_date = 0;
	curl_easy_reset(c->oc_curl);
	h = curl_slist_append(h, "Accept: application/fhir+json, "
	    "application/json");
	if (post != NULL)
		h = curl_slist_append(h, "Content-Type: application/json");
	if (auth && c->oc_basic) {
		(void)curl_easy_setopt(c->oc_curl, CURLOPT_HTTPAUTH,
		    (long)CURLAUTH_BASIC);
		(void)curl_easy_setopt(c->oc_curl, CURLOPT_USERNAME, c->oc_user);
		(void)curl_easy_setopt(c->oc_curl, CURLOPT_PASSWORD, c->oc_pass);
	} else if (auth) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s",
		    c->oc_token);
		h = curl_slist_append(h, hdr);
		explicit_bzero(hdr, sizeof(hdr));
	}
	(void)curl_easy_setopt(c->oc_curl, CURLOPT_URL, url);
	(void)curl_easy_setopt(c->oc_curl, CURLOPT_HTTPHEADER, h);
	(void)curl_easy_setopt(c->oc_curl, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(c->oc_curl, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(c->oc_curl, CURLOPT_NOPROXY, "*");
	(void)curl_easy_setopt(c->oc_curl, CURLOPT_TIMEOUT,
	    (long)c->oc_timeout_s);
	(void)curl_easy_setopt(c->oc_curl, CURLOPT_CONNECTTIMEOUT, 10L);
	(void)curl_easy_setopt(c->oc_curl, CURLOPT_ACCEPT_ENCODING, "");
	(void)curl_easy_setopt(c->oc_curl, CURLOPT_WRITEFUNCTION, oi_write);
	(void)curl_easy_setopt(c->oc_curl, CURLOPT_WRITEDATA, body);
	(void)curl_easy_setopt(c->oc_curl, CURLOPT_HEADERFUNCTION, oi_header);
	(void)curl_easy_setopt(c->oc_curl, CURLOPT_HEADERDATA, c);
	if (post != NULL) {
		(void)curl_easy_setopt(c->oc_curl, CURLOPT_POSTFIELDS, post);
		(void)curl_easy_setopt(c->oc_curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)postlen);
	}
	t0 = clock_mono();
	if (c->oc_next < t0 - iv)
		c->oc_next = t0 - iv;
	c->oc_next += iv;
	cc = curl_easy_perform(c->oc_curl);
	lat = clock_mono() - t0;
	curl_slist_free_all(h);
	c->oc_stats.os_latency_s += lat;
	if (cc != CURLE_OK) {
		snprintf(errbuf, errlen, "openIMIS: %s", curl_easy_strerror(cc));
		return -1;
	}
	(void)curl_easy_getinfo(c->oc_curl, CURLINFO_RESPONSE_CODE, status);
	c->oc_stats.os_requests++;
	/* The fastest recent latency drifts up slowly, so that a server
	 * that is slower for good becomes the new normal. */
	if (c->oc_fast == 0 || lat < c->oc_fast)
		c->oc_fast = lat;
	else
		c->oc_fast *= 1.01;
	if (*status == 429 || *status == 503)
		oi_slower(c, 2.0);
	else if (lat > OI_LAT_SLOW * c->oc_fast && lat > 0.05)
		oi_slower(c, 1.5);
	else if (c->oc_factor > 1.0) {
		c->oc_factor *= 0.9;
		if (c->oc_factor < 1.0)
			c->oc_factor = 1.0;
	}
	return 0;
}

int
openimis_client_login(struct openimis_client *c, char *errbuf, size_t errlen)
{
	struct buf	 req, body;
	cJSON		*j = NULL;
	const cJSON	*tok, *exp;
	char		 url[2048];
	long		 status = 0;
	int64_t		 now, life;
	int		 rc = -1;

	if (c->oc_basic)
		return 0;
	buf_init(&req, 1 << 16);
	buf_init(&body, 1 << 20);
	if (buf_puts(&req, "{\"username\":\"") == -1 ||
	    buf_json_escape(&req, c->oc_user, strlen(c->oc_user)) == -1 ||
	    buf_puts(&req, "\",\"password\":\"") == -1 ||
	    buf_json_escape(&req, c->oc_pass, strlen(c->oc_pass)) == -1 ||
	    buf_puts(&req, "\"}") == -1) {
		snprintf(errbuf, errlen, "openIMIS login: credentials too long");
		goto out;
	}
	snprintf(url, sizeof(url), "%s/login/", c->oc_url);
	if ((rc = oi_perform(c, url, req.b_data, req.b_len, 0, &body, &status,
	    errbuf, errlen)) != 0)
		goto out;
	rc = -1;
	c->oc_stats.os_logins++;
	c->oc_refused = status >= 400 && status < 500 && status != 429;
	if (status != 200) {
		snprintf(errbuf, errlen, "openIMIS login: HTTP %ld (check "
		    "openimis_username and openimis_password)", status);
		goto out;
	}
	j = cJSON_ParseWithLength(body.b_data, body.b_len);
	tok = cJSON_GetObjectItemCaseSensitive(j, "token");
	exp = cJSON_GetObjectItemCaseSensitive(j, "exp");
	if (!cJSON_IsString(tok) || strlen(tok->valuestring) == 0 ||
	    strlen(tok->valuestring) >= sizeof(c->oc_token) ||
	    strpbrk(tok->valuestring, "\r\n") != NULL) {
		snprintf(errbuf, errlen, "openIMIS login: no usable token in "
		    "the answer");
		goto out;
	}
	str_lcpy(c->oc_token, tok->valuestring, sizeof(c->oc_token));
	now = (int64_t)time(NULL);
	/* exp is the server's epoch; without it, assume the documented
	 * JWT_EXPIRATION_DELTA of a day. */
	c->oc_token_exp = cJSON_IsNumber(exp) ? (int64_t)exp->valuedouble :
	    now + 86400;
	life = c->oc_token_exp - now;
	c->oc_token_renew = life > 120 ? c->oc_token_exp - 60 :
	    now + (life > 0 ? life / 2 : 0);
	rc = 0;
 out:
	cJSON_Delete(j);
	if (req.b_data != NULL)
		explicit_bzero(req.b_data, req.b_len);
	buf_free(&req);
	buf_free(&body);
	return rc;
}

/* A request with login, pacing, back-off and retries. */
static int
oi_request(struct openimis_client *c, const char *path, const char *post,
    size_t postlen, struct buf *body, long *status, int64_t *date,
    char *errbuf, size_t errlen)
{
	char	url[4096];
	double	first_fail = 0, back;
	int	rc, relogged = 0;

	if ((size_t)snprintf(url, sizeof(url), "%s/%s", c->oc_url, path) >=
	    sizeof(url)) {
		snprintf(errbuf, errlen, "openIMIS: URL too long");
		return -1;
	}
	for (;;) {
		if (!c->oc_basic && (c->oc_token_exp == 0 ||
		    (int64_t)time(NULL) >= c->oc_token_renew)) {
			rc = openimis_client_login(c, errbuf, errlen);
			if (rc == OPENIMIS_STOP)
				return rc;
			if (rc == -1 && c->oc_refused)
				return -1;
			if (rc == -1)
				goto transient;
		}
		rc = oi_perform(c, url, post, postlen, 1, body, status, errbuf,
		    errlen);
		if (rc == OPENIMIS_STOP)
			return rc;
		if (rc == 0 && *status == 401 && !c->oc_basic && !relogged) {
			/* The token died early (a restart, a new key). */
			relogged = 1;
			c->oc_token_exp = 0;
			continue;
		}
		if (rc == 0 && *status != 429 && *status != 502 &&
		    *status != 503 && *status != 504) {
			if (date != NULL)
				*date = c->oc_date;
			return 0;
		}
		if (rc == 0)
			snprintf(errbuf, errlen, "openIMIS: HTTP %ld", *status);
 transient:
		if (first_fail == 0)
			first_fail = clock_mono();
		else if (clock_mono() - first_fail > c->oc_retry_s)
			return -1;
		c->oc_stats.os_retries++;
		if (rc == -1)
			oi_slower(c, 2.0);
		back = c->oc_factor / c->oc_rps;
		if (c->oc_retry_after > 0 && c->oc_retry_after > back)
			back = c->oc_retry_after > 60 ? 60 : c->oc_retry_after;
		if (back < 0.5 && rc == -1)
			back = 0.5;
		if ((rc = oi_wait(c, back, errbuf, errlen)) != 0)
			return rc;
	}
}

int
openimis_client_get(struct openimis_client *c, const char *path_query,
    struct buf *body, long *status, int64_t *date, char *errbuf,
    size_t errlen)
{
	return oi_request(c, path_query, NULL, 0, body, status, date, errbuf,
	    errlen);
}

int
openimis_client_post(struct openimis_client *c, const char *path,
    const char *json, size_t len, struct buf *body, long *status,
    char *errbuf, size_t errlen)
{
	return oi_request(c, path, json, len, body, status, NULL, errbuf,
	    errlen);
}
