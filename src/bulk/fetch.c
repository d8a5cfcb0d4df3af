/*
 * fetch.c — import inputs over http(s) and file://, decoded: the public
 * API of bulk/fetch.h, the URL dispatch, the file:// source and the read
 * loop.  The http(s) source is fetch_http.c, the decoders
 * fetch_decode.c, the address policy fetch_policy.c and the import-dir
 * rule confine.c.
 *
 * DESIGN: pull-based, after curl's fopen.c example.  fetch_read asks the
 * decoder for bytes; the decoder takes raw bytes from f_raw; when f_raw is
 * empty, a fill refills it: read(2) for files (fetch_file_fill), or for
 * http a loop of curl_multi_perform/curl_multi_poll (fetch_http_fill)
 * until the write callback has put something in f_raw or the transfer has
 * ended.  So at most one buffer of body data is held whatever the size.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bulk/confine.h"
#include "bulk/fetch.h"
#include "bulk/fetch_decode.h"
#include "bulk/fetch_int.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

static void	fetch_curl_init_once(void);
static void	fetch_oneline(char *);
static int	fetch_open_file(struct fetch *, const struct fetch_opts *,
		    CURLU *, char *, size_t);
static ssize_t	fetch_decode_some(struct fetch *, char *, size_t);
static int	fetch_file_fill(struct fetch *);

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
		f->f_suffix = fetch_decode_suffix(path);

	if (strcasecmp(scheme, "file") == 0) {
		if (fetch_open_file(f, opts, u, errbuf, errlen) == -1)
			goto err_close;
	} else if (strcasecmp(scheme, "http") == 0 ||
	    strcasecmp(scheme, "https") == 0) {
		if (etag != NULL && *etag != '\0')
			f->f_etag = xstrdup(etag);
		if (fetch_http_open(f, opts, u, errbuf, errlen) == -1)
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
	if (confine_path(opts->fo_import_dir, path, 0, real, sizeof(real),
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
	if (fetch_start_decoder(f, f->f_suffix) == -1) {
		snprintf(errbuf, errlen, "%s", f->f_err);
		goto out;
	}
	rc = 0;
 out:
	curl_free(path);
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
		if (f->f_dec != NULL && (fetch_decode_more(f->f_dec) ||
		    f->f_raw_pos < f->f_raw_len)) {
			n = fetch_decode_some(f, buf, len);
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
		if (r != 0)
			continue;
		/* At the end of the raw bytes the data must be complete. */
		if (f->f_dec == NULL || fetch_decode_end(f->f_dec) == 0) {
			f->f_state = FETCH_DONE;
			return 0;
		}
		fetch_fail(f, "%s", fetch_decode_error(f->f_dec));
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
	fetch_http_cleanup(f);
	fetch_decode_free(f->f_dec);
	if (f->f_fd != -1)
		close(f->f_fd);
	free(f->f_raw);
	free(f);
}

void
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

int
fetch_start_decoder(struct fetch *f, enum fetch_decode_coding coding)
{
	char	err[FETCH_ERR_MAX];

	fetch_decode_free(f->f_dec);
	if ((f->f_dec = fetch_decode_new(coding, err, sizeof(err))) == NULL) {
		fetch_fail(f, "%s", err);
		return -1;
	}
	return 0;
}

/*
 * Decodes from f_raw into out: bytes produced (> 0), 0 when more input is
 * needed, or -1 (failed).  A decoder failure fails the fetch.
 */
static ssize_t
fetch_decode_some(struct fetch *f, char *out, size_t len)
{
	size_t	used;
	ssize_t	n;

	n = fetch_decode_run(f->f_dec, f->f_raw + f->f_raw_pos,
	    f->f_raw_len - f->f_raw_pos, &used, out, len);
	f->f_raw_pos += used;
	if (*fetch_decode_error(f->f_dec) != '\0')
		fetch_fail(f, "%s", fetch_decode_error(f->f_dec));
	return n;
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
