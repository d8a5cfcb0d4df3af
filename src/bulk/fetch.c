/*
 * fetch.c — import inputs over http(s) (libcurl) and file://, decoded.
 *
 * DESIGN: pull-based, after curl's fopen.c example.  fetch_read asks the
 * decoder for bytes; the decoder takes raw bytes from f_raw; when f_raw is
 * empty, a fill refills it: read(2) for files, or for http a loop of
 * curl_multi_perform/curl_multi_poll until the write callback has put
 * something in f_raw or the transfer has ended.  The write callback pauses
 * the transfer (CURL_WRITEFUNC_PAUSE) when a chunk does not fit, and the
 * fill resumes it once f_raw has been drained, so at most one buffer of
 * body data is held whatever the file size.
 *
 * The response headers are judged once per hop, at the first body byte or
 * at the end of a body-less response (fetch_check_response): a 3xx with a
 * Location starts the next hop, anything but 200 fails, then ETag and
 * Content-Encoding are checked and the decoder chosen.
 *
 * Redirects are followed here, not by CURLOPT_FOLLOWLOCATION, so that each
 * target is checked (scheme, allowlist) before any connection is made for
 * it, and so that the host the address check is made for is always known.
 * Address checks: CURLOPT_OPENSOCKETFUNCTION refuses to create the socket
 * for a refused address (curl then tries the host's next address), so not
 * even a SYN goes there; CURLOPT_PREREQFUNCTION re-checks the connected
 * address before every request, which also covers reused connections.
 *
 * The stall timer is ours, not CURLOPT_LOW_SPEED_*: curl measures speed
 * over wall-clock time, including time the caller spends away processing
 * lines, and could fail a healthy transfer behind a slow consumer; we
 * count only time spent waiting inside fetch_read.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zlib.h>
/* ZSTD_getFrameHeader, ZSTD_nextInputType, ZSTD_nextSrcSizeToDecompress:
 * the exported "advanced" API, to feed the decoder one step at a time. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include "bulk/fetch.h"
#include "core/version.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"

#define FETCH_RAWBUF	(256 * 1024)	/* raw bytes held at most, normally */
#define FETCH_RAW_MAX	(4 * 1024 * 1024) /* one curl chunk never exceeds */
#define FETCH_URL_MAX	8192
#define FETCH_HDR_MAX	256		/* status, ETag, Content-Encoding */
#define FETCH_HOST_MAX	256
#define FETCH_WHERE_MAX	(FETCH_HOST_MAX + 16)
#define FETCH_POLL_MS	200
#define FETCH_GZIP_WBITS (15 + 16)	/* gzip wrapper only (RFC 1952) */
/*
 * Largest zstd window accepted: 2^27 = 128 MB, libzstd's own default
 * limit, set explicitly so that it cannot silently change.  RFC 9659 caps
 * HTTP zstd content at 8 MB (windowLog 23) and our own export files obey
 * that, but stored ".zst" inputs are often made with "zstd --long" or
 * "--ultra -20..22", which use windows up to 128 MB; refusing them would
 * refuse ordinary files.  Anything larger (up to 2 GB with --long=31) is
 * refused as corrupt, so one hostile frame cannot make us allocate more
 * than about 128 MB per fetch.
 */
#define FETCH_ZSTD_WINDOWLOG_MAX 27

enum fetch_kind {
	FETCH_FILE,
	FETCH_HTTP,
};

enum fetch_coding {
	FETCH_IDENTITY,
	FETCH_GZIP,
	FETCH_ZSTD,
};

enum fetch_state {
	FETCH_RUNNING,		/* more to come */
	FETCH_DONE,		/* reads return 0 */
	FETCH_FAILED,		/* reads return -1 */
};

struct fetch {
	enum fetch_kind	 f_kind;
	enum fetch_state f_state;
	enum fetch_coding f_suffix;	/* from the requested path */
	enum fetch_coding f_coding;	/* valid once f_body_ok */
	int		 f_body_ok;	/* response accepted, decoder ready */
	int		 f_fd;		/* FILE: the open file; else -1 */

	char		*f_raw;		/* owned; undecoded bytes */
	size_t		 f_raw_cap;	/* allocated */
	size_t		 f_raw_pos;	/* first byte not yet decoded */
	size_t		 f_raw_len;	/* end of valid bytes */
	int		 f_raw_eof;	/* FILE: read(2) returned 0 */
	int64_t		 f_raw_bytes;	/* body bytes received or read */
	int64_t		 f_raw_used;	/* body bytes consumed by the decoder */

	z_stream	 f_zs;		/* GZIP */
	int		 f_zs_live;	/* inflateInit2 done */
	ZSTD_DCtx	*f_zd;		/* owned; ZSTD */
	unsigned char	 f_zhead[ZSTD_FRAMEHEADERSIZE_MAX]; /* frame header */
	size_t		 f_zhead_len;	/* its bytes fed so far */
	int		 f_zstart;	/* feeding a frame header */
	int		 f_zfree;	/* a frame we do not step (skippable) */
	size_t		 f_zpart;	/* bytes fed toward a buffered block */
	int		 f_in_member;	/* inside a gzip member / zstd frame */
	int64_t		 f_members;	/* members or frames completed */
	int		 f_dec_more;	/* decoder filled the output last time,
					 * so it may hold more */

	CURLM		*f_multi;	/* owned; HTTP */
	CURL		*f_easy;	/* owned; HTTP */
	int		 f_easy_added;	/* f_easy is in f_multi */
	struct curl_slist *f_hdrs;	/* owned; request headers */
	char		*f_allow;	/* owned copy of fo_allow */
	char		*f_etag;	/* owned; expected ETag or NULL */
	int		 f_stall;	/* fo_stall_timeout */
	int		 f_max_hops;	/* fo_max_redirects */
	int		 f_hops;	/* redirects followed so far */
	char		*f_url;		/* owned; URL of the current hop */
	CURLU		*f_cu;		/* owned; the same, given to curl */
	char		*f_location;	/* owned; this hop's Location or NULL */
	char		*f_next;	/* owned; redirect target or NULL */
	char		 f_host[FETCH_HOST_MAX]; /* current host, no brackets */
	char		 f_where[FETCH_WHERE_MAX]; /* "host:port", messages */
	int		 f_host_ip;	/* host is an IP literal */
	int		 f_host_local;	/* host is localhost or *.localhost */
	int		 f_checked;	/* this hop's response judged */
	int		 f_redirect;	/* this hop ended in a redirect */
	int		 f_connected;	/* a request went out on this hop */
	int		 f_paused;	/* the write callback paused curl */
	int		 f_xfer_done;	/* CURLMSG_DONE seen for this hop */
	CURLcode	 f_result;	/* its result */
	struct timespec	 f_last_io;	/* last header or body byte */
	char		 f_status[FETCH_HDR_MAX]; /* "404 Not Found" */
	char		 f_ce[FETCH_HDR_MAX];	/* Content-Encoding values */
	int		 f_ce_long;	/* ... did not fit */
	char		 f_got_etag[FETCH_HDR_MAX]; /* response ETag */
	int		 f_etag_seen;	/* an ETag header came */
	int		 f_etag_long;	/* ... did not fit */
	char		 f_blocked[FETCH_ERR_MAX]; /* last address refused */
	char		 f_curlerr[CURL_ERROR_SIZE]; /* CURLOPT_ERRORBUFFER */
	char		 f_err[FETCH_ERR_MAX];	/* fetch_error */
};

static void	fetch_curl_init_once(void);
static void	fetch_fail(struct fetch *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	fetch_oneline(char *);
static void	fetch_touch(struct fetch *);
static int	fetch_is_ip_literal(const char *);
static int	fetch_is_localhost(const char *);
static void	fetch_unbracket(const char *, size_t, const char **, size_t *);
static enum fetch_ipclass fetch_class4(const unsigned char *);
static enum fetch_ipclass fetch_class6(const unsigned char *);
static enum fetch_coding fetch_suffix_coding(const char *);
static int	fetch_path_normalize(const char *, char *, size_t);
static int	fetch_path_under(const char *, const char *);
static void	fetch_url_show(CURLU *, char *, size_t);
static int	fetch_http_target(const char *, CURLU *, const char *,
		    char *, size_t);
static int	fetch_hdr_copy(char *, const char *, size_t);
static int64_t	fetch_ms(const struct timespec *, const struct timespec *);
static void	fetch_etag_opaque(const char *, const char **, size_t *);
static int	fetch_ce_parse(struct fetch *, enum fetch_coding *);
static int	fetch_open_file(struct fetch *, const struct fetch_opts *,
		    CURLU *, char *, size_t);
static int	fetch_open_http(struct fetch *, const struct fetch_opts *,
		    CURLU *, char *, size_t);
static int	fetch_hop_start(struct fetch *, CURLU *, char *, size_t);
static int	fetch_next_hop(struct fetch *);
static int	fetch_check_response(struct fetch *);
static int	fetch_decoder_init(struct fetch *, enum fetch_coding);
static ssize_t	fetch_decode(struct fetch *, char *, size_t);
static int	fetch_decoder_end(struct fetch *);
static size_t	fetch_zstd_step(struct fetch *, size_t, size_t *,
		    ZSTD_nextInputType_e *);
static void	fetch_zstd_stepped(struct fetch *, const unsigned char *,
		    size_t, size_t, size_t, ZSTD_nextInputType_e);
static int	fetch_file_fill(struct fetch *);
static int	fetch_http_fill(struct fetch *);
static int	fetch_http_finish(struct fetch *);
static void	fetch_fail_curl(struct fetch *);
static int	fetch_addr_refused(struct fetch *, const char *,
		    enum fetch_ipclass *);
static size_t	fetch_on_body(char *, size_t, size_t, void *);
static size_t	fetch_on_header(char *, size_t, size_t, void *);
static curl_socket_t fetch_on_socket(void *, curlsocktype,
		    struct curl_sockaddr *);
static int	fetch_on_prereq(void *, char *, char *, int, int);

/* libcurl's process-wide init, once (the only global state here). */
static pthread_once_t	fetch_once = PTHREAD_ONCE_INIT;
static CURLcode		fetch_once_rc;

static void
fetch_curl_init_once(void)
{
	fetch_once_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct fetch *
fetch_open(const struct fetch_opts *opts, const char *url, const char *etag,
    char *errbuf, size_t errlen)
{
	struct fetch	*f = NULL;
	CURLU		*u = NULL;
	CURLUcode	 uc;
	char		*scheme = NULL, *path = NULL;

	if (url == NULL || strlen(url) > FETCH_URL_MAX) {
		snprintf(errbuf, errlen, "URL missing or longer than %d bytes",
		    FETCH_URL_MAX);
		goto out_free;
	}
	pthread_once(&fetch_once, fetch_curl_init_once);
	if (fetch_once_rc != CURLE_OK) {
		snprintf(errbuf, errlen, "libcurl init failed: %s",
		    curl_easy_strerror(fetch_once_rc));
		goto out_free;
	}
	if ((u = curl_url()) == NULL)
		log_fatalx("fetch: curl_url: out of memory");
	uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (uc != CURLUE_OK) {
		snprintf(errbuf, errlen, "bad URL: %s", curl_url_strerror(uc));
		goto out_free;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		snprintf(errbuf, errlen, "bad URL: no scheme");
		goto out_free;
	}

	f = xcalloc(1, sizeof(*f));
	f->f_fd = -1;
	f->f_state = FETCH_RUNNING;
	f->f_raw_cap = FETCH_RAWBUF;
	f->f_raw = xmalloc(f->f_raw_cap);
	/* The coding a ".gz"/".zst" name implies, if no header says one. */
	if (curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) ==
	    CURLUE_OK)
		f->f_suffix = fetch_suffix_coding(path);

	if (strcasecmp(scheme, "file") == 0) {
		if (fetch_open_file(f, opts, u, errbuf, errlen) == -1)
			goto err_close;
	} else if (strcasecmp(scheme, "http") == 0 ||
	    strcasecmp(scheme, "https") == 0) {
		if (etag != NULL && *etag != '\0')
			f->f_etag = xstrdup(etag);
		if (fetch_open_http(f, opts, u, errbuf, errlen) == -1)
			goto err_close;
	} else {
		snprintf(errbuf, errlen, "unsupported URL scheme \"%.32s\" "
		    "(http, https and file only)", scheme);
		goto err_close;
	}
	goto out_free;

 err_close:
	fetch_close(f);
	f = NULL;
 out_free:
	if (f == NULL && errlen > 0)
		fetch_oneline(errbuf);
	curl_free(path);
	curl_free(scheme);
	curl_url_cleanup(u);
	return f;
}

/* file://: resolve inside the import dir, open a regular file. */
static int
fetch_open_file(struct fetch *f, const struct fetch_opts *opts, CURLU *u,
    char *errbuf, size_t errlen)
{
	char		 real[PATH_MAX];
	char		*path = NULL;
	struct stat	 st;
	CURLUcode	 uc;
	int		 rc = -1;

	f->f_kind = FETCH_FILE;
	if (opts->fo_import_dir == NULL || *opts->fo_import_dir == '\0') {
		snprintf(errbuf, errlen, "file:// URLs are disabled "
		    "(no import_dir)");
		goto out;
	}
	uc = curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE);
	if (uc != CURLUE_OK) {
		snprintf(errbuf, errlen, "bad file URL: %s",
		    curl_url_strerror(uc));
		goto out;
	}
	if (fetch_path_resolve(opts->fo_import_dir, path, real, sizeof(real),
	    errbuf, errlen) == -1)
		goto out;
	/* O_NOFOLLOW: a symlink swapped in after realpath is refused;
	 * O_NONBLOCK: a FIFO swapped in cannot hang the open. */
	f->f_fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (f->f_fd == -1) {
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(f->f_fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(errbuf, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (fetch_decoder_init(f, f->f_suffix) == -1) {
		snprintf(errbuf, errlen, "%s", f->f_err);
		goto out;
	}
	rc = 0;
 out:
	curl_free(path);
	return rc;
}

/* http(s)://: check the target, set up curl; no I/O yet. */
static int
fetch_open_http(struct fetch *f, const struct fetch_opts *opts, CURLU *u,
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
	if (!fetch_host_allowed(allow, host)) {
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
	fetch_unbracket(host, strlen(host), &h, &hl);
	if (hl >= sizeof(f->f_host)) {
		snprintf(errbuf, errlen, "host name too long");
		goto out;
	}
	memcpy(f->f_host, h, hl);
	f->f_host[hl] = '\0';
	snprintf(f->f_where, sizeof(f->f_where), "%s:%s", host, port);
	f->f_host_ip = fetch_is_ip_literal(f->f_host);
	f->f_host_local = fetch_is_localhost(f->f_host);

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

ssize_t
fetch_read(void *arg, void *buf, size_t len)
{
	struct fetch	*f = arg;
	ssize_t		 n;
	int		 r;

	if (f->f_state == FETCH_DONE || len == 0)
		return 0;
	while (f->f_state == FETCH_RUNNING) {
		if (f->f_body_ok &&
		    (f->f_dec_more || f->f_raw_pos < f->f_raw_len)) {
			n = fetch_decode(f, buf, len);
			if (n > 0)
				return n;
			if (n < 0)
				break;
			if (f->f_raw_pos < f->f_raw_len)
				continue;
		}
		if (f->f_kind == FETCH_FILE)
			r = fetch_file_fill(f);
		else
			r = fetch_http_fill(f);
		if (r == 0 && fetch_decoder_end(f) == 0) {
			f->f_state = FETCH_DONE;
			return 0;
		}
	}
	errno = EIO;
	return -1;
}

const char *
fetch_error(const struct fetch *f)
{
	return f->f_err;
}

int64_t
fetch_raw_bytes(const struct fetch *f)
{
	return f->f_raw_bytes;
}

void
fetch_close(struct fetch *f)
{
	if (f == NULL)
		return;
	if (f->f_easy_added)
		curl_multi_remove_handle(f->f_multi, f->f_easy);
	if (f->f_easy != NULL)
		curl_easy_cleanup(f->f_easy);
	if (f->f_multi != NULL)
		curl_multi_cleanup(f->f_multi);
	curl_url_cleanup(f->f_cu);
	curl_slist_free_all(f->f_hdrs);
	if (f->f_zs_live)
		inflateEnd(&f->f_zs);
	ZSTD_freeDCtx(f->f_zd);
	if (f->f_fd != -1)
		close(f->f_fd);
	free(f->f_raw);
	free(f->f_allow);
	free(f->f_etag);
	free(f->f_url);
	free(f->f_location);
	free(f->f_next);
	free(f);
}

/* Records the first failure and makes it sticky. */
static void
fetch_fail(struct fetch *f, const char *fmt, ...)
{
	va_list	ap;

	if (f->f_state == FETCH_FAILED)
		return;
	va_start(ap, fmt);
	vsnprintf(f->f_err, sizeof(f->f_err), fmt, ap);
	va_end(ap);
	fetch_oneline(f->f_err);
	f->f_state = FETCH_FAILED;
}

/* Makes s one printable line: control bytes become '?'. */
static void
fetch_oneline(char *s)
{
	size_t	n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
	    s[n - 1] == ' '))
		s[--n] = '\0';
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
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
	enum fetch_coding coding = f->f_suffix;

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
	if (fetch_ce_parse(f, &coding) == -1)
		return -1;
	return fetch_decoder_init(f, coding);
}

/*
 * Reads the Content-Encoding list: exactly one coding of ours sets
 * *coding; none (or only "identity") leaves it; anything else, or a
 * stack of codings, fails.  Returns 0 or -1.
 */
static int
fetch_ce_parse(struct fetch *f, enum fetch_coding *coding)
{
	const char	*p = f->f_ce, *tok, *end;
	size_t		 tl;
	int		 codings = 0;

	if (f->f_ce_long) {
		fetch_fail(f, "unsupported Content-Encoding (too long)");
		return -1;
	}
	for (; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		for (tok = p; tok < end && isspace((unsigned char)*tok); tok++)
			;
		tl = (size_t)(end - tok);
		while (tl > 0 && isspace((unsigned char)tok[tl - 1]))
			tl--;
		if (tl == 0 || (tl == 8 && str_ncaseeq(tok, "identity", 8)))
			continue;
		if ((tl == 4 && str_ncaseeq(tok, "gzip", 4)) ||
		    (tl == 6 && str_ncaseeq(tok, "x-gzip", 6)))
			*coding = FETCH_GZIP;
		else if (tl == 4 && str_ncaseeq(tok, "zstd", 4))
			*coding = FETCH_ZSTD;
		else {
			fetch_fail(f, "unsupported Content-Encoding \"%.*s\" "
			    "(zstd, gzip or identity only)",
			    (int)(tl > 64 ? 64 : tl), tok);
			return -1;
		}
		codings++;
	}
	if (codings > 1) {
		fetch_fail(f, "unsupported Content-Encoding \"%.100s\" "
		    "(more than one coding)", f->f_ce);
		return -1;
	}
	return 0;
}

static int
fetch_decoder_init(struct fetch *f, enum fetch_coding coding)
{
	size_t	zr;

	f->f_coding = coding;
	switch (coding) {
	case FETCH_GZIP:
		memset(&f->f_zs, 0, sizeof(f->f_zs));
		if (inflateInit2(&f->f_zs, FETCH_GZIP_WBITS) != Z_OK) {
			fetch_fail(f, "zlib init failed");
			return -1;
		}
		f->f_zs_live = 1;
		break;
	case FETCH_ZSTD:
		f->f_zstart = 1;
		if ((f->f_zd = ZSTD_createDCtx()) == NULL)
			log_fatalx("fetch: ZSTD_createDCtx: out of memory");
		zr = ZSTD_DCtx_setParameter(f->f_zd, ZSTD_d_windowLogMax,
		    FETCH_ZSTD_WINDOWLOG_MAX);
		if (ZSTD_isError(zr)) {
			fetch_fail(f, "zstd init failed: %s",
			    ZSTD_getErrorName(zr));
			return -1;
		}
		break;
	case FETCH_IDENTITY:
		break;
	}
	f->f_body_ok = 1;
	return 0;
}

/*
 * Decodes from f_raw into out.  Returns bytes produced (> 0), 0 when the
 * available input gave nothing (more is needed), or -1 (failed).
 */
static ssize_t
fetch_decode(struct fetch *f, char *out, size_t len)
{
	ZSTD_inBuffer	 in;
	ZSTD_outBuffer	 ob;
	ZSTD_nextInputType_e nit;
	size_t		 avail = f->f_raw_len - f->f_raw_pos, used, zr;
	size_t		 need;
	int		 zrc;

	f->f_dec_more = 0;
	switch (f->f_coding) {
	case FETCH_IDENTITY:
		used = avail < len ? avail : len;
		memcpy(out, f->f_raw + f->f_raw_pos, used);
		f->f_raw_pos += used;
		f->f_raw_used += (int64_t)used;
		return (ssize_t)used;
	case FETCH_GZIP:
		if (len > UINT_MAX)
			len = UINT_MAX;
		f->f_zs.next_in = (Bytef *)(f->f_raw + f->f_raw_pos);
		f->f_zs.avail_in = (uInt)(avail > UINT_MAX ? UINT_MAX : avail);
		f->f_zs.next_out = (Bytef *)out;
		f->f_zs.avail_out = (uInt)len;
		zrc = inflate(&f->f_zs, Z_NO_FLUSH);
		used = (size_t)((char *)f->f_zs.next_in -
		    (f->f_raw + f->f_raw_pos));
		if (used > 0)
			f->f_in_member = 1;
		f->f_raw_pos += used;
		f->f_raw_used += (int64_t)used;
		if (zrc == Z_STREAM_END) {
			/* Concatenated members are one gzip file. */
			f->f_in_member = 0;
			f->f_members++;
			inflateReset(&f->f_zs);
		} else if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			fetch_fail(f, "corrupt gzip data at byte %lld: %s",
			    (long long)f->f_raw_used, f->f_zs.msg != NULL ?
			    f->f_zs.msg : "inflate failed");
			/* Hand out what decoded before the damage; the
			 * failure is sticky and ends the next read. */
			return len - f->f_zs.avail_out > 0 ?
			    (ssize_t)(len - f->f_zs.avail_out) : -1;
		} else
			f->f_dec_more = f->f_zs.avail_out == 0;
		return (ssize_t)(len - f->f_zs.avail_out);
	case FETCH_ZSTD:
		in.src = f->f_raw + f->f_raw_pos;
		in.size = fetch_zstd_step(f, avail, &need, &nit);
		in.pos = 0;
		ob.dst = out;
		ob.size = len;
		ob.pos = 0;
		zr = ZSTD_decompressStream(f->f_zd, &ob, &in);
		f->f_raw_pos += in.pos;
		f->f_raw_used += (int64_t)in.pos;
		if (ZSTD_isError(zr) && ZSTD_getErrorCode(zr) ==
		    ZSTD_error_frameParameter_windowTooLarge) {
			/* Name the frame's first byte: its header went in a
			 * byte at a time. */
			fetch_fail(f, "zstd frame at byte %lld needs a window "
			    "over %d MB: refused", (long long)f->f_raw_used -
			    (f->f_zstart ? (long long)f->f_zhead_len : 0),
			    (1 << FETCH_ZSTD_WINDOWLOG_MAX) >> 20);
			return -1;
		}
		if (ZSTD_isError(zr)) {
			fetch_fail(f, "corrupt zstd data at byte %lld: %s",
			    (long long)f->f_raw_used, ZSTD_getErrorName(zr));
			return ob.pos > 0 ? (ssize_t)ob.pos : -1;
		}
		fetch_zstd_stepped(f, (const unsigned char *)in.src, in.pos,
		    in.size, need, nit);
		if (zr == 0) {
			/* A frame ended (zstd says 0 only then). */
			if (f->f_in_member || in.pos > 0 || ob.pos > 0)
				f->f_members++;
			f->f_in_member = 0;
			f->f_zstart = 1;
			f->f_zhead_len = 0;
			f->f_zfree = 0;
			f->f_zpart = 0;
		} else if (in.pos > 0 || ob.pos > 0)
			f->f_in_member = 1;
		f->f_dec_more = ob.pos == ob.size;
		return (ssize_t)ob.pos;
	}
	return -1;
}

/*
 * How many input bytes the zstd decoder may see in this call.  When
 * ZSTD_decompressStream meets corrupt data it returns the error without
 * reporting the output it produced earlier in the same call, so a call
 * must never hold more than one step: the frame header and block headers
 * go in a byte at a time, a block body exactly to its end.  Then any
 * error comes in a call of its own, and every block decoded before it has
 * been handed out (IMP-R-04.9: the valid prefix counts).
 */
static size_t
fetch_zstd_step(struct fetch *f, size_t avail, size_t *need,
    ZSTD_nextInputType_e *nit)
{
	*need = 0;
	*nit = ZSTDnit_frameHeader;
	if (avail == 0 || f->f_zfree)
		return avail;
	if (f->f_zstart)
		return 1;
	*nit = ZSTD_nextInputType(f->f_zd);
	if (*nit != ZSTDnit_block && *nit != ZSTDnit_lastBlock)
		return 1;
	*need = ZSTD_nextSrcSizeToDecompress(f->f_zd);
	if (*need <= f->f_zpart)
		return 1;
	return *need - f->f_zpart < avail ? *need - f->f_zpart : avail;
}

/* Follows the step fetch_zstd_step allowed: n of lim bytes at p used. */
static void
fetch_zstd_stepped(struct fetch *f, const unsigned char *p, size_t n,
    size_t lim, size_t need, ZSTD_nextInputType_e nit)
{
	ZSTD_frameHeader	fh;
	size_t			r;

	if (f->f_zfree || n == 0)
		return;
	if (f->f_zstart) {
		if (f->f_zhead_len < sizeof(f->f_zhead))
			f->f_zhead[f->f_zhead_len++] = *p;
		r = ZSTD_getFrameHeader(&fh, f->f_zhead, f->f_zhead_len);
		if (ZSTD_isError(r) || f->f_zhead_len == sizeof(f->f_zhead)) {
			f->f_zstart = 0;	/* the decoder will say */
			f->f_zfree = 1;
		} else if (r == 0) {
			f->f_zstart = 0;
			f->f_zfree = fh.frameType == ZSTD_skippableFrame;
			f->f_zpart = 0;
		}
		return;
	}
	if (nit != ZSTDnit_block && nit != ZSTDnit_lastBlock) {
		f->f_zpart = 0;
		return;
	}
	/* A compressed block is buffered until whole (the decoder's count
	 * stays); a raw one decodes as it comes (its count goes down). */
	if (n < lim && ZSTD_nextInputType(f->f_zd) == nit &&
	    ZSTD_nextSrcSizeToDecompress(f->f_zd) == need)
		f->f_zpart += n;
	else
		f->f_zpart = 0;
}

/* At the end of the raw bytes: the encoded data must be complete. */
static int
fetch_decoder_end(struct fetch *f)
{
	const char	*name = f->f_coding == FETCH_GZIP ? "gzip" : "zstd";

	if (f->f_coding == FETCH_IDENTITY)
		return 0;
	if (f->f_in_member || f->f_members == 0) {
		fetch_fail(f, "truncated %s data at byte %lld", name,
		    (long long)f->f_raw_used);
		return -1;
	}
	return 0;
}

/* Refills f_raw from the file: 1 more data, 0 end, -1 failed. */
static int
fetch_file_fill(struct fetch *f)
{
	ssize_t	n;

	if (f->f_raw_eof)
		return 0;
	do
		n = read(f->f_fd, f->f_raw, f->f_raw_cap);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		fetch_fail(f, "read: %s", strerror(errno));
		return -1;
	}
	if (n == 0) {
		f->f_raw_eof = 1;
		return 0;
	}
	f->f_raw_pos = 0;
	f->f_raw_len = (size_t)n;
	f->f_raw_bytes += n;
	return 1;
}

/* Milliseconds from a to b. */
static int64_t
fetch_ms(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000 +
	    (b->tv_nsec - a->tv_nsec) / 1000000;
}

/*
 * Runs curl until f_raw holds bytes (1), the body has ended (0) or the
 * fetch failed (-1).  Follows redirects on the way.
 */
static int
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

/*
 * Whether connecting to ip for the current host is refused; sets *cls.
 * See fetch.h for the rule.
 */
static int
fetch_addr_refused(struct fetch *f, const char *ip, enum fetch_ipclass *cls)
{
	*cls = fetch_ip_class(ip);
	if (*cls == FETCH_IP_OTHER)
		return 0;
	if (*cls == FETCH_IP_INVALID)
		return 1;
	if (f->f_host_ip)
		return 0;	/* an IP literal the allowlist names */
	if (f->f_host_local && *cls == FETCH_IP_LOOPBACK)
		return 0;
	return 1;
}

/* Before each connect(): create the socket unless the address is refused. */
static curl_socket_t
fetch_on_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct fetch		*f = arg;
	struct sockaddr_storage	 ss;
	char			 ip[INET6_ADDRSTRLEN];
	const void		*a = NULL;
	enum fetch_ipclass	 cls;
	int			 fd;

	memset(&ss, 0, sizeof(ss));
	if (sa->addrlen <= sizeof(ss))
		memcpy(&ss, &sa->addr, sa->addrlen);
	if (sa->family == AF_INET &&
	    sa->addrlen >= sizeof(struct sockaddr_in))
		a = &((const struct sockaddr_in *)(const void *)&ss)->sin_addr;
	else if (sa->family == AF_INET6 &&
	    sa->addrlen >= sizeof(struct sockaddr_in6))
		a = &((const struct sockaddr_in6 *)(const void *)&ss)->
		    sin6_addr;
	if (purpose != CURLSOCKTYPE_IPCXN || a == NULL ||
	    inet_ntop(sa->family, a, ip, sizeof(ip)) == NULL) {
		snprintf(f->f_blocked, sizeof(f->f_blocked), "host %s: "
		    "refused a non-IP connection", f->f_host);
		return CURL_SOCKET_BAD;
	}
	if (fetch_addr_refused(f, ip, &cls)) {
		snprintf(f->f_blocked, sizeof(f->f_blocked), "host %s "
		    "resolves to %s address %s: refused (SSRF protection)",
		    f->f_host, fetch_ip_class_name(cls), ip);
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
	enum fetch_ipclass	 cls;

	(void)local_ip;
	(void)port;
	(void)local_port;
	if (fetch_addr_refused(f, ip, &cls)) {
		fetch_fail(f, "host %s is connected to %s address %s: refused "
		    "(SSRF protection)", f->f_host, fetch_ip_class_name(cls),
		    ip);
		log_warnx("fetch: %s", f->f_err);
		return CURL_PREREQFUNC_ABORT;
	}
	f->f_connected = 1;
	fetch_touch(f);
	return CURL_PREREQFUNC_OK;
}

/* Pure helpers. */

static enum fetch_ipclass
fetch_class4(const unsigned char *b)
{
	if (b[0] == 127)
		return FETCH_IP_LOOPBACK;
	if (b[0] == 0)
		return FETCH_IP_UNSPECIFIED;	/* 0/8 reaches the host */
	if (b[0] == 169 && b[1] == 254 && b[2] == 169 && b[3] == 254)
		return FETCH_IP_METADATA;	/* AWS, GCP, Azure, ... */
	if (b[0] == 169 && b[1] == 254)
		return FETCH_IP_LINKLOCAL;
	if (b[0] == 100 && b[1] == 100 && b[2] == 100 && b[3] == 200)
		return FETCH_IP_METADATA;	/* Alibaba Cloud */
	return FETCH_IP_OTHER;
}

static enum fetch_ipclass
fetch_class6(const unsigned char *b)
{
	static const unsigned char zero[16];
	static const unsigned char ec2[16] = { 0xfd, 0x00, 0x0e, 0xc2,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54 };
	static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

	if (memcmp(b, zero, 15) == 0 && b[15] == 0)
		return FETCH_IP_UNSPECIFIED;
	if (memcmp(b, zero, 15) == 0 && b[15] == 1)
		return FETCH_IP_LOOPBACK;
	/* ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible). */
	if (memcmp(b, zero, 10) == 0 &&
	    ((b[10] == 0xff && b[11] == 0xff) || (b[10] == 0 && b[11] == 0)))
		return fetch_class4(b + 12);
	/* 64:ff9b::a.b.c.d: a NAT64 gateway would connect to a.b.c.d. */
	if (memcmp(b, nat64, 12) == 0)
		return fetch_class4(b + 12);
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return FETCH_IP_LINKLOCAL;
	if (memcmp(b, ec2, 16) == 0)
		return FETCH_IP_METADATA;	/* AWS IMDS over IPv6 */
	return FETCH_IP_OTHER;
}

enum fetch_ipclass
fetch_ip_class(const char *ip)
{
	unsigned char	b[16];

	if (ip == NULL)
		return FETCH_IP_INVALID;
	if (inet_pton(AF_INET, ip, b) == 1)
		return fetch_class4(b);
	if (inet_pton(AF_INET6, ip, b) == 1)
		return fetch_class6(b);
	return FETCH_IP_INVALID;
}

const char *
fetch_ip_class_name(enum fetch_ipclass c)
{
	switch (c) {
	case FETCH_IP_OTHER:
		return "ordinary";
	case FETCH_IP_LOOPBACK:
		return "loopback";
	case FETCH_IP_LINKLOCAL:
		return "link-local";
	case FETCH_IP_UNSPECIFIED:
		return "unspecified";
	case FETCH_IP_METADATA:
		return "cloud metadata";
	case FETCH_IP_INVALID:
		break;
	}
	return "non-IP";
}

/* Strips one pair of [] around s[0..n). */
static void
fetch_unbracket(const char *s, size_t n, const char **out, size_t *outlen)
{
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	*out = s;
	*outlen = n;
}

int
fetch_host_allowed(const char *allow, const char *host)
{
	const char	*h, *e, *p, *end;
	size_t		 hl, el;

	if (allow == NULL || host == NULL)
		return 0;
	fetch_unbracket(host, strlen(host), &h, &hl);
	if (hl == 0)
		return 0;
	for (p = allow; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		while (p < end && isspace((unsigned char)*p))
			p++;
		el = (size_t)(end - p);
		while (el > 0 && isspace((unsigned char)p[el - 1]))
			el--;
		fetch_unbracket(p, el, &e, &el);
		if (el == 1 && e[0] == '*')
			continue;	/* no wildcards, say so nowhere else */
		if (el == hl && str_ncaseeq(e, h, hl))
			return 1;
	}
	return 0;
}

static int
fetch_is_ip_literal(const char *host)
{
	return fetch_ip_class(host) != FETCH_IP_INVALID;
}

/* "localhost" and "*.localhost" are loopback by definition (RFC 6761). */
static int
fetch_is_localhost(const char *host)
{
	size_t	n = strlen(host);

	if (n > 0 && host[n - 1] == '.')
		n--;
	if (n == 9)
		return str_ncaseeq(host, "localhost", 9);
	return n > 10 && str_ncaseeq(host + n - 10, ".localhost", 10);
}

static enum fetch_coding
fetch_suffix_coding(const char *path)
{
	size_t	n = strlen(path);

	if (n >= 3 && strcasecmp(path + n - 3, ".gz") == 0)
		return FETCH_GZIP;
	if (n >= 4 && strcasecmp(path + n - 4, ".zst") == 0)
		return FETCH_ZSTD;
	return FETCH_IDENTITY;
}

/*
 * Lexically normalizes an absolute path ("//", ".", ".."; ".." at the
 * root stays there) into out.  Returns 0, or -1 if it does not fit.
 */
static int
fetch_path_normalize(const char *path, char *out, size_t outlen)
{
	const char	*p = path, *seg;
	size_t		 len = 0, sl;

	if (outlen < 2)
		return -1;
	while (*p != '\0') {
		while (*p == '/')
			p++;
		seg = p;
		while (*p != '\0' && *p != '/')
			p++;
		sl = (size_t)(p - seg);
		if (sl == 0 || (sl == 1 && seg[0] == '.'))
			continue;
		if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;		/* the '/' before it */
			continue;
		}
		if (len + 1 + sl + 1 > outlen)
			return -1;
		out[len++] = '/';
		memcpy(out + len, seg, sl);
		len += sl;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return 0;
}

/* Whether p lies strictly below root (both normalized, absolute). */
static int
fetch_path_under(const char *root, const char *p)
{
	size_t	rl = strlen(root);

	if (rl == 1 && root[0] == '/')
		return p[0] == '/' && p[1] != '\0';
	return strncmp(p, root, rl) == 0 && p[rl] == '/' && p[rl + 1] != '\0';
}

int
fetch_path_resolve(const char *root, const char *path, char *out,
    size_t outlen, char *errbuf, size_t errlen)
{
	char	rootreal[PATH_MAX], rootlex[PATH_MAX], lex[PATH_MAX];
	char	real[PATH_MAX];

	if (path == NULL || path[0] != '/') {
		snprintf(errbuf, errlen, "file path must be absolute");
		return -1;
	}
	if (root == NULL || realpath(root, rootreal) == NULL) {
		snprintf(errbuf, errlen, "import_dir %s: %s",
		    root != NULL ? root : "(none)", strerror(errno));
		return -1;
	}
	if (fetch_path_normalize(path, lex, sizeof(lex)) == -1) {
		snprintf(errbuf, errlen, "file path too long");
		return -1;
	}
	/* Refuse what is outside lexically before asking the file system,
	 * so that callers cannot learn which files exist elsewhere. */
	if (!fetch_path_under(rootreal, lex) && (root[0] != '/' ||
	    fetch_path_normalize(root, rootlex, sizeof(rootlex)) == -1 ||
	    !fetch_path_under(rootlex, lex))) {
		snprintf(errbuf, errlen, "%.300s: outside import_dir", path);
		return -1;
	}
	if (realpath(path, real) == NULL) {
		snprintf(errbuf, errlen, "%.300s: %s", path, strerror(errno));
		return -1;
	}
	if (!fetch_path_under(rootreal, real)) {
		snprintf(errbuf, errlen, "%.300s: outside import_dir", path);
		return -1;
	}
	if (str_lcpy(out, real, outlen) >= outlen) {
		snprintf(errbuf, errlen, "file path too long");
		return -1;
	}
	return 0;
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
