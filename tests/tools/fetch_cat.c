/*
 * fetch_cat.c — test driver for bulk/fetch: fetches one URL and writes
 * the decoded bytes to stdout.  Not part of the product; the e2e test
 * (tests/e2e/test_fetch.py) compiles it against the built libraries.
 *
 *   fetch_cat URL [--etag E] [--allow HOSTS] [--import-dir D]
 *             [--stall S] [--connect-timeout S] [--max-redirects N]
 *             [--bufsize N] [--raw-bytes]
 *
 * Exits 0 after the whole body, or 1 after printing one line
 * "fetch_cat: <reason>" on stderr.  --raw-bytes adds a line
 * "raw_bytes N" on stderr at the end.  --bufsize sets the read size
 * (default 65536) to exercise short reads.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bulk/fetch.h"
#include "lib/log.h"
#include "lib/str.h"

#define CAT_BUF_MAX	(1 << 20)

static int	cat_num(const char *, int64_t, int64_t, int64_t *);
static int	cat_write(const char *, size_t);

static int
cat_num(const char *s, int64_t min, int64_t max, int64_t *out)
{
	const char	*errstr;

	if (str_to_i64(s, min, max, out, &errstr) == -1) {
		fprintf(stderr, "fetch_cat: bad number %s: %s\n", s, errstr);
		return -1;
	}
	return 0;
}

static int
cat_write(const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		w = write(STDOUT_FILENO, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static char		 buf[CAT_BUF_MAX];
	struct fetch_opts	 o;
	struct fetch		*f;
	const char		*url = NULL, *etag = NULL;
	char			 err[FETCH_ERR_MAX];
	int64_t			 v, bufsize = 65536;
	ssize_t			 n;
	int			 i, raw = 0, rc = 1;

	log_init("fetch_cat", LOG_LEVEL_ERROR);
	memset(&o, 0, sizeof(o));
	o.fo_connect_timeout = 10;
	o.fo_stall_timeout = 30;
	o.fo_max_redirects = 5;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--raw-bytes") == 0) {
			raw = 1;
			continue;
		}
		if (a[0] != '-' || a[1] != '-') {
			url = a;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "fetch_cat: %s needs a value\n", a);
			return 2;
		}
		if (strcmp(a, "--etag") == 0)
			etag = argv[++i];
		else if (strcmp(a, "--allow") == 0)
			o.fo_allow = argv[++i];
		else if (strcmp(a, "--import-dir") == 0)
			o.fo_import_dir = argv[++i];
		else if (strcmp(a, "--stall") == 0) {
			if (cat_num(argv[++i], 0, 3600, &v) == -1)
				return 2;
			o.fo_stall_timeout = (int)v;
		} else if (strcmp(a, "--connect-timeout") == 0) {
			if (cat_num(argv[++i], 0, 3600, &v) == -1)
				return 2;
			o.fo_connect_timeout = (int)v;
		} else if (strcmp(a, "--max-redirects") == 0) {
			if (cat_num(argv[++i], 0, 100, &v) == -1)
				return 2;
			o.fo_max_redirects = (int)v;
		} else if (strcmp(a, "--bufsize") == 0) {
			if (cat_num(argv[++i], 1, CAT_BUF_MAX, &bufsize) == -1)
				return 2;
		} else {
			fprintf(stderr, "fetch_cat: unknown option %s\n", a);
			return 2;
		}
	}
	if (url == NULL) {
		fprintf(stderr, "usage: fetch_cat URL [options]\n");
		return 2;
	}

	f = fetch_open(&o, url, etag, err, sizeof(err));
	if (f == NULL) {
		fprintf(stderr, "fetch_cat: %s\n", err);
		return 1;
	}
	while ((n = fetch_read(f, buf, (size_t)bufsize)) > 0) {
		if (cat_write(buf, (size_t)n) == -1) {
			fprintf(stderr, "fetch_cat: write: %s\n",
			    strerror(errno));
			goto out_close;
		}
	}
	if (n < 0) {
		fprintf(stderr, "fetch_cat: %s\n", fetch_error(f));
		goto out_close;
	}
	if (raw)
		fprintf(stderr, "raw_bytes %lld\n",
		    (long long)fetch_raw_bytes(f));
	rc = 0;
 out_close:
	fetch_close(f);
	return rc;
}
