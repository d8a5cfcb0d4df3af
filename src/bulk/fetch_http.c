/*
 * fetch_http.c — the http(s) source of the import fetcher (bulk/fetch.h):
 * libcurl set-up, redirects, response checks, the SSRF address checks and
 * the fill loop that feeds fetch_read.
 *
 * DESIGN: the write callback pauses the transfer (CURL_WRITEFUNC_PAUSE)
 * when a chunk does not fit in f_raw, and the fill resumes it once f_raw
 * has been drained, so at most one buffer of body data is held.
 *
 * The response headers are judged once per hop, at the first body byte or
 * at the end of a body-less response (fetch_check_response): a 3xx with a
 * Location starts the next hop, anything but 200 fails, then ETag and
 * Content-Encoding are checked and the decoder chosen.
 *
 * Redirects are followed here, not by CURLOPT_FOLLOWLOCATION, so that each
 * target is checked (scheme, allowlist) before any connection is made for
 * it, and so that the host the address check is made for is always known.
 * Address checks (fetch_policy.h): CURLOPT_OPENSOCKETFUNCTION refuses to
 * create the socket for a refused address (curl then tries the host's
 * next address), so not even a SYN goes there; CURLOPT_PREREQFUNCTION
 * re-checks the connected address before every request, which also
 * covers reused connections.
 *
 * The stall timer is ours, not CURLOPT_LOW_SPEED_*: curl measures speed
 * over wall-clock time, including time the caller spends away processing
 * lines, and could fail a healthy transfer behind a slow consumer; we
 * count only time spent waiting inside fetch_read.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "bulk/fetch.h"
#include "bulk/fetch_decode.h"
#include "bulk/fetch_int.h"
#include "bulk/fetch_policy.h"
#include "core/version.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"

static void	fetch_touch(struct fetch *);
static void	fetch_url_show(CURLU *, char *, size_t);
static int	fetch_http_target(const char *, CURLU *, const char *,
		    char *, size_t);
static int	fetch_hop_start(struct fetch *, CURLU *, char *, size_t);
static int	fetch_next_hop(struct fetch *);
static int	fetch_hdr_copy(char *, const char *, size_t);
static int64_t	fetch_ms(const struct timespec *, const struct timespec *);
static void	fetch_etag_opaque(const char *, const char **, size_t *);
static int	fetch_check_response(struct fetch *);
static int	fetch_http_finish(struct fetch *);
static void	fetch_fail_curl(struct fetch *);
static size_t	fetch_on_body(char *, size_t, size_t, void *);
static size_t	fetch_on_header(char *, size_t, size_t, void *);
static curl_socket_t fetch_on_socket(void *, curlsocktype,
		    struct curl_sockaddr *);
static int	fetch_on_prereq(void *, char *, char *, int, int);

int
fetch_http_open(struct fetch *f, const struct fetch_opts *opts, CURLU *u,
    char *errbuf, size_t errlen)
{
	char	 ua[64];
	int	 bad = 0;

	f->f_kind = FETCH_HTTP;
	f->f_allow = xstrdup(opts->fo_allow != NULL ? opts->fo_allow : "");
	f->f_stall = opts->fo_stall_timeout;
	f->f_max_hops = opts->fo_max_redirects < 0 ? 0 :
	    opts->fo_max_redirects;
	if (fetch_http_target(f->f_allow, u, "", errbuf, errlen) == -1)
		return -1;

	if ((f->f_multi = curl_multi_init()) == NULL ||
	    (f->f_easy = curl_easy_init()) == NULL)
		log_fatalx("fetch: curl init: out of memory");
	/* We decode ourselves (window limit, raw byte counts), so curl
	 * must not: the header is set by hand, CURLOPT_ACCEPT_ENCODING
	 * is left unset and content decoding switched off. */
	f->f_hdrs = curl_slist_append(NULL, "Accept-Encoding: zstd, gzip");
	if (f->f_hdrs == NULL)
		log_fatalx("fetch: curl_slist_append: out of memory");
	snprintf(ua, sizeof(ua), "bulkhead/%s", BULKHEAD_VERSION);

	bad += curl_easy_setopt(f->f_easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_PROTOCOLS_STR,
	    "http,https") != CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_REDIR_PROTOCOLS_STR,
	    "http,https") != CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_FOLLOWLOCATION, 0L) !=
	    CURLE_OK;
	/* "" disables proxies, including http_proxy & co. */
	bad += curl_easy_setopt(f->f_easy, CURLOPT_PROXY, "") != CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_HTTPHEADER, f->f_hdrs) !=
	    CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_HTTP_CONTENT_DECODING,
	    0L) != CURLE_OK;
	/* One big body per transfer gains nothing from HTTP/2, and pausing
	 * an HTTP/2 stream has had buffering bugs in libcurl. */
	bad += curl_easy_setopt(f->f_easy, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_1_1) != CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_USERAGENT, ua) != CURLE_OK;
	if (opts->fo_connect_timeout > 0)
		bad += curl_easy_setopt(f->f_easy, CURLOPT_CONNECTTIMEOUT,
		    (long)opts->fo_connect_timeout) != CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_TCP_KEEPALIVE, 1L) !=
	    CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_ERRORBUFFER,
	    f->f_curlerr) != CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_WRITEFUNCTION,
	    fetch_on_body) != CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_WRITEDATA, f) != CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_HEADERFUNCTION,
	    fetch_on_header) != CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_HEADERDATA, f) != CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_OPENSOCKETFUNCTION,
	    fetch_on_socket) != CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_OPENSOCKETDATA, f) !=
	    CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_PREREQFUNCTION,
	    fetch_on_prereq) != CURLE_OK;
	bad += curl_easy_setopt(f->f_easy, CURLOPT_PREREQDATA, f) != CURLE_OK;
	if (bad) {
		snprintf(errbuf, errlen, "libcurl lacks a required option "
		    "(7.85 or later needed)");
		return -1;
	}
	return fetch_hop_start(f, u, errbuf, errlen);
}

/*
 * Checks that u is an http(s) URL whose host is allowed; messages start
 * with pre ("redirect to ... refused: " or "").  Returns 0 or -1 with
 * errbuf set.
 */
static int
fetch_http_target(const char *allow, CURLU *u, const char *pre,
    char *errbuf, size_t errlen)
{
	char		*scheme = NULL, *host = NULL;
	int		 rc = -1;

	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 &&
	    strcasecmp(scheme, "https") != 0)) {
		snprintf(errbuf, errlen, "%sunsupported URL scheme \"%.32s\" "
		    "(http and https only)", pre,
		    scheme != NULL ? scheme : "");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    *host == '\0') {
		snprintf(errbuf, errlen, "%sURL has no host", pre);
		goto out;
	}
	if (*allow == '\0') {
		snprintf(errbuf, errlen, "%shost %.200s is not allowed: "
		    "import_allow is empty", pre, host);
		goto out;
	}
	if (!fetch_policy_host_allowed(allow, host)) {
		snprintf(errbuf, errlen, "%shost %.200s is not in import_allow",
		    pre, host);
		goto out;
	}
	rc = 0;
 out:
	curl_free(host);
	curl_free(scheme);
	return rc;
}

/*
 * Points the easy handle at u (already checked by fetch_http_target),
 * resets the per-hop state and adds the handle to the multi handle.
 */
static int
fetch_hop_start(struct fetch *f, CURLU *u, char *errbuf, size_t errlen)
{
	char		*host = NULL, *port = NULL, *url = NULL;
	char		 shown[FETCH_ERR_MAX];
	CURLU		*cu;
	const char	*h;
	size_t		 hl;
	int		 rc = -1;

	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
		snprintf(errbuf, errlen, "bad URL");
		goto out;
	}
	fetch_policy_unbracket(host, strlen(host), &h, &hl);
	if (hl >= sizeof(f->f_host)) {
		snprintf(errbuf, errlen, "host name too long");
		goto out;
	}
	memcpy(f->f_host, h, hl);
	f->f_host[hl] = '\0';
	snprintf(f->f_where, sizeof(f->f_where), "%s:%s", host, port);

	free(f->f_url);
	f->f_url = xstrdup(url);
	f->f_checked = f->f_redirect = f->f_connected = 0;
	f->f_paused = f->f_xfer_done = 0;
	f->f_result = CURLE_OK;
	f->f_status[0] = f->f_ce[0] = f->f_got_etag[0] = '\0';
	f->f_ce_long = f->f_etag_seen = f->f_etag_long = 0;
	free(f->f_location);
	f->f_location = NULL;
	f->f_blocked[0] = f->f_curlerr[0] = '\0';
	f->f_raw_pos = f->f_raw_len = 0;
	fetch_touch(f);

	/* The parsed handle itself, so curl connects to exactly the host
	 * that was checked (no second parse of a string). */
	if ((cu = curl_url_dup(u)) == NULL)
		log_fatalx("fetch: curl_url_dup: out of memory");
	if (curl_easy_setopt(f->f_easy, CURLOPT_CURLU, cu) != CURLE_OK) {
		curl_url_cleanup(cu);
		snprintf(errbuf, errlen, "libcurl refused the URL");
		goto out;
	}
	curl_url_cleanup(f->f_cu);
	f->f_cu = cu;
	if (curl_multi_add_handle(f->f_multi, f->f_easy) != CURLM_OK) {
		snprintf(errbuf, errlen, "curl_multi_add_handle failed");
		goto out;
	}
	f->f_easy_added = 1;
	if (log_debug_enabled()) {
		fetch_url_show(u, shown, sizeof(shown));
		log_debug("fetch: GET %s (hop %d)", shown, f->f_hops);
	}
	rc = 0;
 out:
	curl_free(url);
	curl_free(port);
	curl_free(host);
	return rc;
}

/*
 * Follows the redirect in f_next (a Location, maybe relative to f_url):
 * checks the target, then starts the next hop.
 */
static int
fetch_next_hop(struct fetch *f)
{
	CURLU	*u;
	char	 shown[FETCH_ERR_MAX], pre[FETCH_ERR_MAX + 32];
	char	 err[FETCH_ERR_MAX];
	int	 rc = -1;

	if ((u = curl_url()) == NULL)
		log_fatalx("fetch: curl_url: out of memory");
	if (curl_url_set(u, CURLUPART_URL, f->f_url, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, f->f_next,
	    CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		fetch_fail(f, "redirect from %s to a bad URL", f->f_where);
		goto out;
	}
	fetch_url_show(u, shown, sizeof(shown));
	snprintf(pre, sizeof(pre), "redirect to %s refused: ", shown);
	if (fetch_http_target(f->f_allow, u, pre, err, sizeof(err)) == -1) {
		fetch_fail(f, "%s", err);
		goto out;
	}
	curl_multi_remove_handle(f->f_multi, f->f_easy);
	f->f_easy_added = 0;
	f->f_hops++;
	free(f->f_next);
	f->f_next = NULL;
	if (fetch_hop_start(f, u, err, sizeof(err)) == -1) {
		fetch_fail(f, "%s", err);
		goto out;
	}
	rc = 0;
 out:
	curl_url_cleanup(u);
	return rc;
}

static void
fetch_touch(struct fetch *f)
{
	clock_gettime(CLOCK_MONOTONIC, &f->f_last_io);
}

/*
 * Shows u without credentials, query or fragment (they may hold secrets,
 * e.g. a SAS token), for messages and logs.
 */
static void
fetch_url_show(CURLU *u, char *out, size_t len)
{
	CURLU	*c;
	char	*s = NULL;

	if ((c = curl_url_dup(u)) == NULL)
		log_fatalx("fetch: curl_url_dup: out of memory");
	curl_url_set(c, CURLUPART_USER, NULL, 0);
	curl_url_set(c, CURLUPART_PASSWORD, NULL, 0);
	curl_url_set(c, CURLUPART_OPTIONS, NULL, 0);
	curl_url_set(c, CURLUPART_QUERY, NULL, 0);
	curl_url_set(c, CURLUPART_FRAGMENT, NULL, 0);
	if (curl_url_get(c, CURLUPART_URL, &s, 0) == CURLUE_OK)
		snprintf(out, len, "%.300s", s);
	else
		snprintf(out, len, "(unprintable URL)");
	curl_free(s);
	curl_url_cleanup(c);
}

/* Body data: judge the response on the first call, then buffer. */
static size_t
fetch_on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct fetch	*f = arg;
	size_t		 n = size * nmemb;

	fetch_touch(f);
	if (!f->f_checked && fetch_check_response(f) == -1)
		return 0;	/* fails the transfer: f_err or f_redirect */
	if (f->f_raw_pos > 0) {
		memmove(f->f_raw, f->f_raw + f->f_raw_pos,
		    f->f_raw_len - f->f_raw_pos);
		f->f_raw_len -= f->f_raw_pos;
		f->f_raw_pos = 0;
	}
	if (n > f->f_raw_cap - f->f_raw_len) {
		if (f->f_raw_len > 0) {
			f->f_paused = 1;
			return CURL_WRITEFUNC_PAUSE;	/* resent later */
		}
		/* Cannot happen with curl's 16 KB chunks; stay correct. */
		if (n > FETCH_RAW_MAX) {
			fetch_fail(f, "libcurl passed a %zu-byte chunk", n);
			return 0;
		}
		f->f_raw = xreallocarray(f->f_raw, n, 1);
		f->f_raw_cap = n;
	}
	memcpy(f->f_raw + f->f_raw_len, ptr, n);
	f->f_raw_len += n;
	f->f_raw_bytes += (int64_t)n;
	return n;
}

/* Copies at most FETCH_HDR_MAX-1 bytes of v; returns 1 if it fit. */
static int
fetch_hdr_copy(char *dst, const char *v, size_t vl)
{
	if (vl >= FETCH_HDR_MAX)
		vl = FETCH_HDR_MAX - 1;
	memcpy(dst, v, vl);
	dst[vl] = '\0';
	return vl < FETCH_HDR_MAX - 1;
}

/* Response headers, one line per call (not NUL-terminated). */
static size_t
fetch_on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct fetch	*f = arg;
	size_t		 n = size * nmemb, nl, vl, cl;
	const char	*v, *sp;

	fetch_touch(f);
	vl = n;
	while (vl > 0 && (ptr[vl - 1] == '\n' || ptr[vl - 1] == '\r'))
		vl--;
	if (vl >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
		/* A new response (1xx, or the final one): forget the last. */
		f->f_ce[0] = f->f_got_etag[0] = '\0';
		f->f_ce_long = f->f_etag_seen = f->f_etag_long = 0;
		free(f->f_location);
		f->f_location = NULL;
		sp = memchr(ptr, ' ', vl);
		if (sp != NULL) {
			sp++;
			(void)fetch_hdr_copy(f->f_status, sp,
			    vl - (size_t)(sp - ptr));
		} else
			f->f_status[0] = '\0';
		return n;
	}
	v = memchr(ptr, ':', vl);
	if (v == NULL)
		return n;
	nl = (size_t)(v - ptr);
	v++;
	vl -= nl + 1;
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	if (nl == 16 && str_ncaseeq(ptr, "content-encoding", nl)) {
		/* Repeated fields combine as one list (RFC 9110 §5.3). */
		cl = strlen(f->f_ce);
		if (cl > 0 && cl + 2 + vl < FETCH_HDR_MAX) {
			memcpy(f->f_ce + cl, ", ", 2);
			cl += 2;
		}
		if (cl + vl < FETCH_HDR_MAX) {
			memcpy(f->f_ce + cl, v, vl);
			f->f_ce[cl + vl] = '\0';
		} else
			f->f_ce_long = 1;
	} else if (nl == 4 && str_ncaseeq(ptr, "etag", nl)) {
		f->f_etag_seen = 1;
		f->f_etag_long = !fetch_hdr_copy(f->f_got_etag, v, vl);
	} else if (nl == 8 && str_ncaseeq(ptr, "location", nl)) {
		/* Kept here: CURLINFO_REDIRECT_URL is only set once the
		 * transfer completes, and we abort redirects at their body. */
		free(f->f_location);
		f->f_location = xstrndup(v, vl > FETCH_URL_MAX ?
		    FETCH_URL_MAX + 1 : vl);
	}
	return n;
}

/*
 * Judges the response of this hop once its headers are complete: decides
 * between redirect, error and body, and sets up the decoder.  Returns 0
 * if the body is to be read, -1 otherwise (f_redirect set, or failed).
 */
static int
fetch_check_response(struct fetch *f)
{
	long		 code = 0;
	enum fetch_decode_coding coding = f->f_suffix;
	char		 err[FETCH_ERR_MAX];

	f->f_checked = 1;
	curl_easy_getinfo(f->f_easy, CURLINFO_RESPONSE_CODE, &code);
	if (code == 301 || code == 302 || code == 303 || code == 307 ||
	    code == 308) {
		if (f->f_location == NULL || *f->f_location == '\0') {
			fetch_fail(f, "HTTP %s from %s without a Location",
			    f->f_status, f->f_where);
			return -1;
		}
		if (strlen(f->f_location) > FETCH_URL_MAX) {
			fetch_fail(f, "HTTP %s from %s: Location longer than "
			    "%d bytes", f->f_status, f->f_where, FETCH_URL_MAX);
			return -1;
		}
		if (f->f_hops >= f->f_max_hops) {
			fetch_fail(f, "too many redirects (more than %d)",
			    f->f_max_hops);
			return -1;
		}
		free(f->f_next);
		f->f_next = xstrdup(f->f_location);
		f->f_redirect = 1;
		return -1;
	}
	if (code != 200) {
		if (f->f_status[0] != '\0')
			fetch_fail(f, "HTTP %s", f->f_status);
		else
			fetch_fail(f, "HTTP %ld", code);
		return -1;
	}
	if (f->f_etag != NULL) {
		if (!f->f_etag_seen) {
			fetch_fail(f, "ETag mismatch: expected %.200s, the "
			    "response has none", f->f_etag);
			return -1;
		}
		if (f->f_etag_long ||
		    !fetch_etag_match(f->f_etag, f->f_got_etag)) {
			fetch_fail(f, "ETag mismatch: expected %.200s, got "
			    "%.200s", f->f_etag, f->f_got_etag);
			return -1;
		}
	}
	if (f->f_ce_long) {
		fetch_fail(f, "unsupported Content-Encoding (too long)");
		return -1;
	}
	if (fetch_decode_ce_parse(f->f_ce, &coding, err, sizeof(err)) == -1) {
		fetch_fail(f, "%s", err);
		return -1;
	}
	return fetch_start_decoder(f, coding);
}

/* Milliseconds from a to b. */
static int64_t
fetch_ms(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000 +
	    (b->tv_nsec - a->tv_nsec) / 1000000;
}

int
fetch_http_fill(struct fetch *f)
{
	struct timespec	 start, now;
	const struct timespec *since;
	struct CURLMsg	*msg;
	CURLMcode	 mc;
	int		 running, left;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (f->f_state != FETCH_RUNNING)
			return -1;
		if (f->f_raw_pos < f->f_raw_len)
			return 1;
		if (f->f_xfer_done) {
			if (fetch_http_finish(f) == -1)
				return -1;
			if (f->f_xfer_done)
				return 0;
			clock_gettime(CLOCK_MONOTONIC, &start); /* new hop */
			continue;
		}
		if (f->f_paused) {
			f->f_paused = 0;
			if (curl_easy_pause(f->f_easy, CURLPAUSE_CONT) !=
			    CURLE_OK && f->f_state == FETCH_RUNNING) {
				fetch_fail(f, "%s: cannot resume the transfer",
				    f->f_where);
				return -1;
			}
			continue;
		}
		mc = curl_multi_perform(f->f_multi, &running);
		if (mc != CURLM_OK) {
			fetch_fail(f, "%s: %s", f->f_where,
			    curl_multi_strerror(mc));
			return -1;
		}
		while ((msg = curl_multi_info_read(f->f_multi, &left)) !=
		    NULL) {
			if (msg->msg == CURLMSG_DONE &&
			    msg->easy_handle == f->f_easy) {
				f->f_xfer_done = 1;
				f->f_result = msg->data.result;
			}
		}
		if (f->f_raw_pos < f->f_raw_len || f->f_xfer_done ||
		    f->f_paused || f->f_state != FETCH_RUNNING)
			continue;
		/* Before a request is out, CURLOPT_CONNECTTIMEOUT rules. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		since = fetch_ms(&start, &f->f_last_io) > 0 ? &f->f_last_io :
		    &start;
		if (f->f_stall > 0 && f->f_connected &&
		    fetch_ms(since, &now) >= (int64_t)f->f_stall * 1000) {
			fetch_fail(f, "no data from %s for %d s (stalled)",
			    f->f_where, f->f_stall);
			return -1;
		}
		mc = curl_multi_poll(f->f_multi, NULL, 0, FETCH_POLL_MS, NULL);
		if (mc != CURLM_OK) {
			fetch_fail(f, "%s: %s", f->f_where,
			    curl_multi_strerror(mc));
			return -1;
		}
	}
}

/*
 * The current hop's transfer has ended: returns 0 with f_xfer_done still
 * set at the end of the body, 0 with it cleared when a redirect hop was
 * started, or -1.
 */
static int
fetch_http_finish(struct fetch *f)
{
	if (f->f_state != FETCH_RUNNING)
		return -1;
	/* A complete response without a body is judged now. */
	if (!f->f_checked && f->f_result == CURLE_OK &&
	    fetch_check_response(f) == -1 && !f->f_redirect)
		return -1;
	if (f->f_redirect)
		return fetch_next_hop(f);
	if (f->f_result != CURLE_OK) {
		fetch_fail_curl(f);
		return -1;
	}
	return 0;
}

/* Turns a failed transfer into one line that names host:port. */
static void
fetch_fail_curl(struct fetch *f)
{
	long		 oserr = 0;
	const char	*why;

	why = f->f_curlerr[0] != '\0' ? f->f_curlerr :
	    curl_easy_strerror(f->f_result);
	switch (f->f_result) {
	case CURLE_COULDNT_RESOLVE_HOST:
		fetch_fail(f, "cannot resolve host %s", f->f_host);
		break;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(f->f_easy, CURLINFO_OS_ERRNO, &oserr);
		if (f->f_blocked[0] != '\0')
			fetch_fail(f, "%s", f->f_blocked);
		else if (oserr == ECONNREFUSED)
			fetch_fail(f, "connection refused: %s", f->f_where);
		else
			fetch_fail(f, "cannot connect to %s: %s", f->f_where,
			    why);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		fetch_fail(f, "timeout connecting to %s: %s", f->f_where, why);
		break;
	default:
		fetch_fail(f, "%s: %s", f->f_where, why);
		break;
	}
}

/* Before each connect(): create the socket unless the address is refused. */
static curl_socket_t
fetch_on_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct fetch		*f = arg;
	char			 ip[INET6_ADDRSTRLEN];
	enum fetch_policy_ipclass	 cls;
	int			 fd;

	if (purpose != CURLSOCKTYPE_IPCXN ||
	    fetch_policy_addr_text(sa->family, &sa->addr, sa->addrlen, ip,
	    sizeof(ip)) == -1) {
		snprintf(f->f_blocked, sizeof(f->f_blocked), "host %s: "
		    "refused a non-IP connection", f->f_host);
		return CURL_SOCKET_BAD;
	}
	if (fetch_policy_addr_refused(f->f_host, ip, &cls)) {
		snprintf(f->f_blocked, sizeof(f->f_blocked), "host %s "
		    "resolves to %s address %s: refused (SSRF protection)",
		    f->f_host, fetch_policy_ip_class_name(cls), ip);
		log_warnx("fetch: %s", f->f_blocked);
		return CURL_SOCKET_BAD;
	}
	fd = socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
	return fd == -1 ? CURL_SOCKET_BAD : fd;
}

/* Before each request, on a new or reused connection. */
static int
fetch_on_prereq(void *arg, char *ip, char *local_ip, int port,
    int local_port)
{
	struct fetch		*f = arg;
	enum fetch_policy_ipclass	 cls;

	(void)local_ip;
	(void)port;
	(void)local_port;
	if (fetch_policy_addr_refused(f->f_host, ip, &cls)) {
		fetch_fail(f, "host %s is connected to %s address %s: refused "
		    "(SSRF protection)", f->f_host,
		    fetch_policy_ip_class_name(cls), ip);
		log_warnx("fetch: %s", f->f_err);
		return CURL_PREREQFUNC_ABORT;
	}
	f->f_connected = 1;
	fetch_touch(f);
	return CURL_PREREQFUNC_OK;
}

/* Sets s and n to the entity-tag without "W/" and quotes. */
static void
fetch_etag_opaque(const char *t, const char **s, size_t *n)
{
	size_t	l;

	if (t[0] == 'W' && t[1] == '/')
		t += 2;
	l = strlen(t);
	if (l >= 2 && t[0] == '"' && t[l - 1] == '"') {
		t++;
		l -= 2;
	}
	*s = t;
	*n = l;
}

int
fetch_etag_match(const char *want, const char *got)
{
	const char	*a, *b;
	size_t		 al, bl;

	if (want == NULL || got == NULL)
		return 0;
	fetch_etag_opaque(want, &a, &al);
	fetch_etag_opaque(got, &b, &bl);
	return al > 0 && al == bl && memcmp(a, b, al) == 0;
}

void
fetch_http_cleanup(struct fetch *f)
{
	if (f->f_easy_added)
		curl_multi_remove_handle(f->f_multi, f->f_easy);
	if (f->f_easy != NULL)
		curl_easy_cleanup(f->f_easy);
	if (f->f_multi != NULL)
		curl_multi_cleanup(f->f_multi);
	curl_url_cleanup(f->f_cu);
	curl_slist_free_all(f->f_hdrs);
	free(f->f_allow);
	free(f->f_etag);
	free(f->f_url);
	free(f->f_location);
	free(f->f_next);
}
