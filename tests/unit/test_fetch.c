/*
 * test_fetch.c — the parts of bulk/fetch that need no network: IP
 * classification, allowlist matching, ETag comparison, import-dir path
 * containment (a mkdtemp tree with symlinks leading out), URL refusals by
 * fetch_open, and file:// reads with gzip/zstd decoding and its errors.
 * The http side is tested end to end in tests/e2e/test_fetch.py.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "check.h"
#include "bulk/confine.h"
#include "bulk/fetch.h"
#include "bulk/fetch_policy.h"
#include "lib/xmalloc.h"

static char	tmp[64];
static char	root[PATH_MAX];
static char	outside[PATH_MAX];

static void	test_ip_class(void);
static int	allowed(const char *, const char *);
static void	test_allow(void);
static void	test_etag(void);
static void	test_paths(void);
static void	test_confine_both_ways(void);
static void	test_url_refusals(void);
static void	test_file_reads(void);
static void	mkpath(char *, size_t, const char *, const char *);
static void	put(const char *, const char *, const void *, size_t);
static int	err_is(const char *, const char *);
static int	err_ends(const char *, const char *);
static char	*slurp(const char *, const char *, size_t, int64_t *,
		    char *, size_t);

struct ipcase {
	const char		*ip;
	enum fetch_policy_ipclass	 want;
};

static const struct ipcase ipcases[] = {
	{ "127.0.0.1",		FETCH_POLICY_IP_LOOPBACK },
	{ "127.255.255.254",	FETCH_POLICY_IP_LOOPBACK },
	{ "126.255.255.255",	FETCH_POLICY_IP_OTHER },
	{ "128.0.0.1",		FETCH_POLICY_IP_OTHER },
	{ "::1",		FETCH_POLICY_IP_LOOPBACK },
	{ "0:0:0:0:0:0:0:1",	FETCH_POLICY_IP_LOOPBACK },
	{ "::ffff:127.0.0.1",	FETCH_POLICY_IP_LOOPBACK },
	{ "::ffff:7f00:2",	FETCH_POLICY_IP_LOOPBACK },
	/* IPv4-compatible */
	{ "::127.0.0.1",	FETCH_POLICY_IP_LOOPBACK },
	{ "64:ff9b::127.0.0.1",	FETCH_POLICY_IP_LOOPBACK },	/* NAT64 */
	{ "0.0.0.0",		FETCH_POLICY_IP_UNSPECIFIED },
	{ "0.1.2.3",		FETCH_POLICY_IP_UNSPECIFIED },
	{ "::",			FETCH_POLICY_IP_UNSPECIFIED },
	{ "::ffff:0.0.0.0",	FETCH_POLICY_IP_UNSPECIFIED },
	{ "169.254.0.1",	FETCH_POLICY_IP_LINKLOCAL },
	{ "169.254.255.255",	FETCH_POLICY_IP_LINKLOCAL },
	{ "169.253.1.1",	FETCH_POLICY_IP_OTHER },
	{ "169.255.0.1",	FETCH_POLICY_IP_OTHER },
	{ "fe80::1",		FETCH_POLICY_IP_LINKLOCAL },
	{ "febf:ffff::1",	FETCH_POLICY_IP_LINKLOCAL },
	{ "fec0::1",		FETCH_POLICY_IP_OTHER },
	{ "::ffff:169.254.1.1",	FETCH_POLICY_IP_LINKLOCAL },
	{ "169.254.169.254",	FETCH_POLICY_IP_METADATA },
	{ "::ffff:169.254.169.254", FETCH_POLICY_IP_METADATA },
	{ "::ffff:a9fe:a9fe",	FETCH_POLICY_IP_METADATA },
	{ "64:ff9b::169.254.169.254", FETCH_POLICY_IP_METADATA },
	{ "fd00:ec2::254",	FETCH_POLICY_IP_METADATA },
	{ "FD00:EC2:0::254",	FETCH_POLICY_IP_METADATA },
	{ "fd00:ec2::253",	FETCH_POLICY_IP_OTHER },
	{ "100.100.100.200",	FETCH_POLICY_IP_METADATA },
	{ "100.100.100.201",	FETCH_POLICY_IP_OTHER },
	{ "10.0.0.1",		FETCH_POLICY_IP_OTHER },
	{ "192.168.1.1",	FETCH_POLICY_IP_OTHER },
	{ "8.8.8.8",		FETCH_POLICY_IP_OTHER },
	{ "2001:db8::1",	FETCH_POLICY_IP_OTHER },
	{ "::ffff:8.8.8.8",	FETCH_POLICY_IP_OTHER },
	{ "localhost",		FETCH_POLICY_IP_INVALID },
	{ "127.1",		FETCH_POLICY_IP_INVALID },
	{ "2130706433",		FETCH_POLICY_IP_INVALID },
	{ "[::1]",		FETCH_POLICY_IP_INVALID },
	{ "fe80::1%eth0",	FETCH_POLICY_IP_INVALID },
	{ "",			FETCH_POLICY_IP_INVALID },
	{ "1.2.3.4.5",		FETCH_POLICY_IP_INVALID },
};

static void
test_ip_class(void)
{
	size_t	i;

	for (i = 0; i < sizeof(ipcases) / sizeof(ipcases[0]); i++) {
		enum fetch_policy_ipclass got;

		got = fetch_policy_ip_class(ipcases[i].ip);
		if (got != ipcases[i].want)
			fprintf(stderr, "fetch_policy_ip_class(%s) = %d, "
			    "want %d\n", ipcases[i].ip, (int)got,
			    (int)ipcases[i].want);
		CHECK(got == ipcases[i].want);
	}
	CHECK(fetch_policy_ip_class(NULL) == FETCH_POLICY_IP_INVALID);
	CHECK(strcmp(fetch_policy_ip_class_name(FETCH_POLICY_IP_LOOPBACK),
	    "loopback") == 0);
	CHECK(strcmp(fetch_policy_ip_class_name(FETCH_POLICY_IP_METADATA),
	    "cloud metadata") == 0);
}

/* Short for the table below. */
static int
allowed(const char *allow, const char *host)
{
	return fetch_policy_host_allowed(allow, host);
}

static void
test_allow(void)
{
	CHECK(allowed("example.org", "example.org"));
	CHECK(allowed("example.org", "EXAMPLE.org"));
	CHECK(allowed("EXAMPLE.ORG", "example.org"));
	CHECK(allowed("a.test,example.org", "example.org"));
	CHECK(allowed(" a.test , example.org ", "example.org"));
	CHECK(allowed("a.test,,example.org,", "example.org"));
	CHECK(allowed("a.test,example.org", "a.test"));
	CHECK(!allowed("example.org", "www.example.org"));
	CHECK(!allowed("example.org", "example.org.evil.test"));
	CHECK(!allowed("example.org", "example.or"));
	CHECK(!allowed("example.org", "xexample.org"));
	CHECK(!allowed("example.org", "example.org."));
	CHECK(!allowed(".example.org", "a.example.org"));
	CHECK(!allowed("*", "example.org"));
	CHECK(!allowed("*", "*"));
	CHECK(!allowed("*.example.org", "a.example.org"));
	CHECK(!allowed("", "example.org"));
	CHECK(!allowed(NULL, "example.org"));
	CHECK(!allowed(",", ""));
	CHECK(!allowed("example.org", NULL));
	CHECK(!allowed("example.org", ""));
	/* IP literals match literally; brackets are optional. */
	CHECK(allowed("127.0.0.1", "127.0.0.1"));
	CHECK(!allowed("127.0.0.1", "127.0.0.2"));
	CHECK(!allowed("127.0.0.1", "localhost"));
	CHECK(!allowed("localhost", "127.0.0.1"));
	CHECK(allowed("::1", "[::1]"));
	CHECK(allowed("[::1]", "[::1]"));
	CHECK(allowed("[::1]", "::1"));
	CHECK(allowed("a.test, [fd00::5] ,b.test", "[FD00::5]"));
	CHECK(!allowed("::1", "[::2]"));
	CHECK(!allowed("[]", "[]"));
}

/* Delivery targets (fetch_policy_target_refused): a host not named in
 * the allowlist needs an ordinary, public address. */
static void
test_target_policy(void)
{
	const char	*what;

	CHECK(fetch_policy_ip_private("10.0.0.1"));
	CHECK(fetch_policy_ip_private("172.16.0.1"));
	CHECK(fetch_policy_ip_private("172.31.255.255"));
	CHECK(!fetch_policy_ip_private("172.32.0.1"));
	CHECK(!fetch_policy_ip_private("172.15.255.255"));
	CHECK(fetch_policy_ip_private("192.168.1.1"));
	CHECK(fetch_policy_ip_private("100.64.0.1"));
	CHECK(fetch_policy_ip_private("100.127.255.255"));
	CHECK(!fetch_policy_ip_private("100.128.0.1"));
	CHECK(fetch_policy_ip_private("fd12::1"));
	CHECK(fetch_policy_ip_private("fc00::1"));
	CHECK(fetch_policy_ip_private("fec0::1"));
	CHECK(fetch_policy_ip_private("::ffff:10.1.2.3"));
	CHECK(fetch_policy_ip_private("64:ff9b::192.168.0.1"));
	CHECK(!fetch_policy_ip_private("8.8.8.8"));
	CHECK(!fetch_policy_ip_private("2001:db8::1"));
	CHECK(!fetch_policy_ip_private("example.org"));
	CHECK(!fetch_policy_ip_private(NULL));

	CHECK(!fetch_policy_target_refused("", "router.example", "8.8.8.8",
	    &what));
	CHECK(fetch_policy_target_refused("", "router.example", "10.1.2.3",
	    &what) && strcmp(what, "private") == 0);
	CHECK(fetch_policy_target_refused("", "169.254.169.254",
	    "169.254.169.254", &what) && strcmp(what, "cloud metadata") == 0);
	CHECK(fetch_policy_target_refused("", "127.0.0.1", "127.0.0.1",
	    &what) && strcmp(what, "loopback") == 0);
	CHECK(fetch_policy_target_refused("", "localhost", "::1", &what));
	/* Named in the allowlist: the fetcher's rule. */
	CHECK(!fetch_policy_target_refused("127.0.0.1", "127.0.0.1",
	    "127.0.0.1", &what));
	CHECK(!fetch_policy_target_refused("openhim", "openhim", "172.18.0.5",
	    &what));
	CHECK(!fetch_policy_target_refused("localhost", "localhost", "::1",
	    &what));
	CHECK(fetch_policy_target_refused("openhim", "openhim",
	    "169.254.169.254", &what));
	CHECK(fetch_policy_target_refused("openhim", "openhim", "127.0.0.1",
	    &what));
}

static void
test_etag(void)
{
	CHECK(fetch_etag_match("\"abc\"", "\"abc\""));
	CHECK(fetch_etag_match("abc", "\"abc\""));
	CHECK(fetch_etag_match("W/\"abc\"", "\"abc\""));
	CHECK(fetch_etag_match("\"abc\"", "W/\"abc\""));
	CHECK(fetch_etag_match("W/\"abc\"", "W/\"abc\""));
	CHECK(fetch_etag_match("0x8D9F", "\"0x8D9F\""));
	CHECK(!fetch_etag_match("\"abc\"", "\"ABC\""));
	CHECK(!fetch_etag_match("\"abc\"", "\"abcd\""));
	CHECK(!fetch_etag_match("\"abc\"", "\"ab\""));
	CHECK(!fetch_etag_match("", "\"\""));
	CHECK(!fetch_etag_match("\"\"", "\"\""));
	CHECK(!fetch_etag_match(NULL, "\"abc\""));
	CHECK(!fetch_etag_match("abc", NULL));
	CHECK(!fetch_etag_match("w/\"abc\"", "\"abc\""));	/* W/ only */
}

static void
mkpath(char *out, size_t len, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, len, "%s/%s", dir, name) >= len) {
		fprintf(stderr, "path too long\n");
		exit(2);
	}
}

static void
put(const char *dir, const char *name, const void *data, size_t len)
{
	char	path[PATH_MAX];
	int	fd;

	mkpath(path, sizeof(path), dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd == -1 || write(fd, data, len) != (ssize_t)len) {
		perror(path);
		exit(2);
	}
	close(fd);
}

static int
err_is(const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		return 1;
	fprintf(stderr, "error \"%s\", want \"%s\"\n", got, want);
	return 0;
}

static int
err_ends(const char *got, const char *suffix)
{
	size_t	gl = strlen(got), sl = strlen(suffix);

	if (gl >= sl && strcmp(got + gl - sl, suffix) == 0)
		return 1;
	fprintf(stderr, "error \"%s\", want \"...%s\"\n", got, suffix);
	return 0;
}

static void
test_paths(void)
{
	char	out[PATH_MAX], err[FETCH_ERR_MAX], p[PATH_MAX * 2];
	char	want[PATH_MAX], rootlink[PATH_MAX];

	/* Inside, plainly and through inner links and "..". */
	mkpath(p, sizeof(p), root, "a.ndjson");
	CHECK(confine_path(root, p, 0, out, sizeof(out), err,
	    sizeof(err)) == 0);
	CHECK(strcmp(out, p) == 0);
	mkpath(p, sizeof(p), root, "sub/../a.ndjson");
	CHECK(confine_path(root, p, 0, out, sizeof(out), err,
	    sizeof(err)) == 0);
	mkpath(want, sizeof(want), root, "a.ndjson");
	CHECK(strcmp(out, want) == 0);
	mkpath(p, sizeof(p), root, "inner-link");
	CHECK(confine_path(root, p, 0, out, sizeof(out), err,
	    sizeof(err)) == 0);
	CHECK(strcmp(out, want) == 0);
	mkpath(p, sizeof(p), root, "./sub//b.ndjson");
	CHECK(confine_path(root, p, 0, out, sizeof(out), err,
	    sizeof(err)) == 0);
	/* A root given with a trailing slash or through a symlink. */
	snprintf(p, sizeof(p), "%s/", root);
	mkpath(want, sizeof(want), root, "a.ndjson");
	CHECK(confine_path(p, want, 0, out, sizeof(out), err,
	    sizeof(err)) == 0);
	mkpath(rootlink, sizeof(rootlink), tmp, "rootlink");
	mkpath(p, sizeof(p), rootlink, "a.ndjson");
	CHECK(confine_path(rootlink, p, 0, out, sizeof(out), err,
	    sizeof(err)) == 0);
	CHECK(strcmp(out, want) == 0);
	CHECK(confine_path(rootlink, want, 0, out, sizeof(out), err,
	    sizeof(err)) == 0);

	/* Outside: "..", elsewhere, symlinks out, the root itself. */
	mkpath(p, sizeof(p), root, "../outside/secret");
	CHECK(confine_path(root, p, 0, out, sizeof(out), err,
	    sizeof(err)) == -1);
	CHECK(err_ends(err, ": outside import_dir"));
	mkpath(p, sizeof(p), root, "sub/../../outside/secret");
	CHECK(confine_path(root, p, 0, out, sizeof(out), err,
	    sizeof(err)) == -1);
	CHECK(err_ends(err, ": outside import_dir"));
	CHECK(confine_path(root, "/etc/passwd", 0, out, sizeof(out), err,
	    sizeof(err)) == -1);
	CHECK(err_is(err, "/etc/passwd: outside import_dir"));
	/* Missing files elsewhere do not say so (no probing). */
	CHECK(confine_path(root, "/etc/nonexistent", 0, out, sizeof(out),
	    err, sizeof(err)) == -1);
	CHECK(err_is(err, "/etc/nonexistent: outside import_dir"));
	mkpath(p, sizeof(p), root, "link-out");
	CHECK(confine_path(root, p, 0, out, sizeof(out), err,
	    sizeof(err)) == -1);
	CHECK(err_ends(err, ": outside import_dir"));
	mkpath(p, sizeof(p), root, "dirlink-out/secret");
	CHECK(confine_path(root, p, 0, out, sizeof(out), err,
	    sizeof(err)) == -1);
	CHECK(err_ends(err, ": outside import_dir"));
	CHECK(confine_path(root, root, 0, out, sizeof(out), err,
	    sizeof(err)) == -1);
	CHECK(err_ends(err, ": outside import_dir"));
	mkpath(p, sizeof(p), root, "..");
	CHECK(confine_path(root, p, 0, out, sizeof(out), err,
	    sizeof(err)) == -1);
	/* A sibling whose name starts like the root is not inside it. */
	snprintf(p, sizeof(p), "%s-evil/a.ndjson", root);
	CHECK(confine_path(root, p, 0, out, sizeof(out), err,
	    sizeof(err)) == -1);
	CHECK(err_ends(err, ": outside import_dir"));

	/* Missing inside, relative, bad root, tiny out. */
	mkpath(p, sizeof(p), root, "missing");
	CHECK(confine_path(root, p, 0, out, sizeof(out), err,
	    sizeof(err)) == -1);
	CHECK(err_ends(err, ": No such file or directory"));
	CHECK(confine_path(root, "a.ndjson", 0, out, sizeof(out), err,
	    sizeof(err)) == -1);
	CHECK(err_is(err, "file path must be absolute"));
	CHECK(confine_path("/nonexistent-bulkhead", "/nonexistent-"
	    "bulkhead/a", 0, out, sizeof(out), err, sizeof(err)) == -1);
	CHECK(strstr(err, "import_dir") != NULL);
	mkpath(p, sizeof(p), root, "a.ndjson");
	CHECK(confine_path(root, p, 0, out, 8, err, sizeof(err)) == -1);
	CHECK(err_is(err, "file path too long"));
	/* Root "/" holds everything but itself. */
	CHECK(confine_path("/", p, 0, out, sizeof(out), err,
	    sizeof(err)) == 0);
	CHECK(confine_path("/", "/", 0, out, sizeof(out), err,
	    sizeof(err)) == -1);
}

/*
 * The kick-off (CONFINE_MAY_BE_MISSING) and the worker (0) refuse an
 * escape with the same reason, including the escapes the kick-off's old
 * lexical check let through: a symlink out, a file (present or missing)
 * below a symlinked directory out, a trailing "..".  A missing file
 * inside passes the kick-off and is the worker's to report.
 */
static void
test_confine_both_ways(void)
{
	static const char *const escapes[] = { "link-out",
	    "dirlink-out/secret", "dirlink-out/missing",
	    "dirlink-out/../outside/secret", "..", "sub/../..", "" };
	char	out[PATH_MAX], e0[FETCH_ERR_MAX], e1[FETCH_ERR_MAX];
	char	p[PATH_MAX * 2];
	size_t	i;

	for (i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		mkpath(p, sizeof(p), root, escapes[i]);
		CHECK(confine_path(root, p, 0, out, sizeof(out), e0,
		    sizeof(e0)) == -1);
		CHECK(confine_path(root, p, CONFINE_MAY_BE_MISSING, NULL, 0,
		    e1, sizeof(e1)) == -1);
		if (strcmp(e0, e1) != 0 || !err_ends(e0,
		    ": outside import_dir"))
			fprintf(stderr, "%s: worker \"%s\", kick-off \"%s\"\n",
			    escapes[i], e0, e1);
		CHECK(strcmp(e0, e1) == 0);
		CHECK(err_ends(e0, ": outside import_dir"));
	}
	/* Missing inside: the kick-off lets the worker say so. */
	mkpath(p, sizeof(p), root, "sub/missing.ndjson");
	CHECK(confine_path(root, p, CONFINE_MAY_BE_MISSING, NULL, 0, e1,
	    sizeof(e1)) == 0);
	CHECK(confine_path(root, p, 0, out, sizeof(out), e0,
	    sizeof(e0)) == -1);
	CHECK(err_ends(e0, "sub/missing.ndjson: No such file or directory"));
	mkpath(p, sizeof(p), root, "nodir/missing.ndjson");
	CHECK(confine_path(root, p, CONFINE_MAY_BE_MISSING, out,
	    sizeof(out), e1, sizeof(e1)) == 0);
	CHECK(strcmp(out, p) == 0);
	/* A root that does not resolve: lexical judgement only. */
	CHECK(confine_path("/nonexistent-bulkhead", "/nonexistent-bulkhead/a",
	    CONFINE_MAY_BE_MISSING, NULL, 0, e1, sizeof(e1)) == 0);
	CHECK(confine_path("/nonexistent-bulkhead", "/etc/passwd",
	    CONFINE_MAY_BE_MISSING, NULL, 0, e1, sizeof(e1)) == -1);
	CHECK(err_is(e1, "/etc/passwd: outside import_dir"));
}

struct urlcase {
	const char	*url;
	const char	*allow;
	const char	*want;		/* NULL: opens */
};

static const struct urlcase urlcases[] = {
	{ "ftp://example.org/a.ndjson", "example.org",
	  "unsupported URL scheme \"ftp\" (http, https and file only)" },
	{ "gopher://example.org/", "example.org",
	  "unsupported URL scheme \"gopher\" (http, https and file only)" },
	{ "example.org/a.ndjson", "example.org", "bad URL: Bad scheme" },
	{ "http://exa mple.org/", "example.org", "bad URL: Bad hostname" },
	{ "http://[::1/", "::1", "bad URL: Bad IPv6 address" },
	{ "http://example.org:99999/", "example.org",
	  "bad URL: Port number was not a decimal number between 0 and "
	  "65535" },
	{ "", "example.org", "bad URL: Bad scheme" },
	{ "http://example.org/a", "", "host example.org is not allowed: "
	  "import_allow is empty" },
	{ "http://example.org/a", NULL, "host example.org is not allowed: "
	  "import_allow is empty" },
	{ "http://example.org/a", "example.com,*",
	  "host example.org is not in import_allow" },
	{ "https://169.254.169.254/latest", "example.org",
	  "host 169.254.169.254 is not in import_allow" },
	{ "http://[::1]:8080/a", "127.0.0.1",
	  "host [::1] is not in import_allow" },
	{ "http://user:pw@example.org/a", "example.com",
	  "host example.org is not in import_allow" },
	{ "http://example.org/a.ndjson", "example.org", NULL },
	{ "HTTPS://EXAMPLE.ORG/a.ndjson.gz?sig=x", "example.org", NULL },
	{ "http://[::1]:8080/a", "::1", NULL },
	{ "http://127.0.0.1:8080/a", " 127.0.0.1 ", NULL },
};

static void
test_url_refusals(void)
{
	struct fetch_opts	 o;
	struct fetch		*f;
	char			 err[FETCH_ERR_MAX], *big;
	size_t			 i;

	memset(&o, 0, sizeof(o));
	for (i = 0; i < sizeof(urlcases) / sizeof(urlcases[0]); i++) {
		o.fo_allow = urlcases[i].allow;
		err[0] = '\0';
		f = fetch_open(&o, urlcases[i].url, NULL, err, sizeof(err));
		if (urlcases[i].want == NULL) {
			if (f == NULL)
				fprintf(stderr, "%s: %s\n", urlcases[i].url,
				    err);
			CHECK(f != NULL);
			/* Opening does no I/O: nothing to fail yet. */
			if (f != NULL)
				CHECK(fetch_error(f)[0] == '\0');
		} else {
			CHECK(f == NULL);
			CHECK(err_is(err, urlcases[i].want));
		}
		fetch_close(f);
	}
	CHECK(fetch_open(&o, NULL, NULL, err, sizeof(err)) == NULL);

	big = xmalloc(10000);
	memset(big, 'a', 9999);
	big[9999] = '\0';
	memcpy(big, "http://", 7);
	o.fo_allow = "a";
	CHECK(fetch_open(&o, big, NULL, err, sizeof(err)) == NULL);
	CHECK(err_is(err, "URL missing or longer than 8192 bytes"));
	free(big);

	/* file:// needs an import dir, and stays inside it. */
	o.fo_import_dir = NULL;
	CHECK(fetch_open(&o, "file:///etc/passwd", NULL, err,
	    sizeof(err)) == NULL);
	CHECK(err_is(err, "file:// URLs are disabled (no import_dir)"));
	o.fo_import_dir = root;
	CHECK(fetch_open(&o, "file:///etc/passwd", NULL, err,
	    sizeof(err)) == NULL);
	CHECK(err_is(err, "/etc/passwd: outside import_dir"));
	CHECK(fetch_open(&o, "file://example.org/etc/passwd", NULL, err,
	    sizeof(err)) == NULL);
	CHECK(strncmp(err, "bad URL", 7) == 0);
	/* A small buffer truncates, still one line. */
	CHECK(fetch_open(&o, "ftp://x/", NULL, err, 12) == NULL);
	CHECK(err_is(err, "unsupported"));
}

/* Reads url to the end in reads of at most step bytes; NULL on error
 * (errbuf set).  Caller frees. */
static char *
slurp(const char *url, const char *dir, size_t step, int64_t *lenp,
    char *errbuf, size_t errlen)
{
	struct fetch_opts	 o;
	struct fetch		*f;
	char			*data = NULL;
	size_t			 len = 0, cap = 0;
	ssize_t			 n;

	memset(&o, 0, sizeof(o));
	o.fo_import_dir = dir;
	if ((f = fetch_open(&o, url, NULL, errbuf, errlen)) == NULL)
		return NULL;
	for (;;) {
		if (cap - len < step) {
			cap = cap * 2 + step;
			data = xreallocarray(data, cap, 1);
		}
		n = fetch_read(f, data + len, step);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (n < 0) {
		CHECK(errno == EIO);
		snprintf(errbuf, errlen, "%s", fetch_error(f));
		CHECK(fetch_read(f, data, step) == -1);	/* sticky */
		free(data);
		data = NULL;
	} else {
		CHECK(fetch_read(f, data, step) == 0);
		*lenp = (int64_t)len;
		/* Raw bytes are the file's size: decoded sizes differ. */
		CHECK(fetch_raw_bytes(f) > 0 || len == 0);
	}
	fetch_close(f);
	return data;
}

static void
test_file_reads(void)
{
	static const size_t	 steps[] = { 1, 7, 4096, 1 << 20 };
	char			 url[PATH_MAX * 2], err[FETCH_ERR_MAX];
	char			*plain, *gz, *zs, *got, *bad;
	size_t			 plen, gzlen, zslen, i, j;
	int64_t			 glen;
	z_stream		 zs_;
	ZSTD_CCtx		*cc;
	const char		*names[] = { "p.ndjson", "p.ndjson.gz",
				    "p.ndjson.zst", "two.ndjson.gz",
				    "two.ndjson.zst" };

	/* 300 KB of lines: more than one raw buffer. */
	plen = 300 * 1024;
	plain = xmalloc(plen);
	for (i = 0; i < plen; i++)
		plain[i] = (i % 61 == 60) ? '\n' : (char)('a' + i % 26);
	put(root, "p.ndjson", plain, plen);

	gzlen = compressBound(plen) + 64;
	gz = xmalloc(gzlen);
	memset(&zs_, 0, sizeof(zs_));
	CHECK(deflateInit2(&zs_, 6, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) == Z_OK);
	zs_.next_in = (Bytef *)plain;
	zs_.avail_in = (uInt)plen;
	zs_.next_out = (Bytef *)gz;
	zs_.avail_out = (uInt)gzlen;
	CHECK(deflate(&zs_, Z_FINISH) == Z_STREAM_END);
	gzlen = zs_.total_out;
	deflateEnd(&zs_);
	put(root, "p.ndjson.gz", gz, gzlen);

	/* With a checksum, as the zstd CLI writes by default. */
	zslen = ZSTD_compressBound(plen);
	zs = xmalloc(zslen);
	cc = ZSTD_createCCtx();
	CHECK(!ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag,
	    1)));
	zslen = ZSTD_compress2(cc, zs, zslen, plain, plen);
	CHECK(!ZSTD_isError(zslen));
	ZSTD_freeCCtx(cc);
	put(root, "p.ndjson.zst", zs, zslen);

	/* Two members / frames in one file. */
	bad = xmalloc(2 * (gzlen > zslen ? gzlen : zslen));
	memcpy(bad, gz, gzlen);
	memcpy(bad + gzlen, gz, gzlen);
	put(root, "two.ndjson.gz", bad, 2 * gzlen);
	memcpy(bad, zs, zslen);
	memcpy(bad + zslen, zs, zslen);
	put(root, "two.ndjson.zst", bad, 2 * zslen);

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t want = strncmp(names[i], "two", 3) == 0 ? 2 * plen :
		    plen;

		for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			snprintf(url, sizeof(url), "file://%s/%s", root,
			    names[i]);
			got = slurp(url, root, steps[j], &glen, err,
			    sizeof(err));
			if (got == NULL)
				fprintf(stderr, "%s: %s\n", url, err);
			CHECK(got != NULL && glen == (int64_t)want &&
			    memcmp(got, plain, plen) == 0 &&
			    memcmp(got + want - plen, plain, plen) == 0);
			free(got);
		}
	}

	/* Corrupt: a damaged deflate stream, garbage after a member. */
	memcpy(bad, gz, gzlen);
	for (i = 20; i < 40; i++)
		bad[i] ^= 0x55;
	put(root, "bad.ndjson.gz", bad, gzlen);
	snprintf(url, sizeof(url), "file://%s/bad.ndjson.gz", root);
	CHECK(slurp(url, root, 4096, &glen, err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "corrupt gzip data at byte ", 26) == 0);
	memcpy(bad, gz, gzlen);
	memcpy(bad + gzlen, "garbage!", 8);
	put(root, "trail.ndjson.gz", bad, gzlen + 8);
	snprintf(url, sizeof(url), "file://%s/trail.ndjson.gz", root);
	CHECK(slurp(url, root, 4096, &glen, err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "corrupt gzip data at byte ", 26) == 0);

	/* Truncated, and empty, gzip and zstd. */
	put(root, "cut.ndjson.gz", gz, gzlen / 2);
	snprintf(url, sizeof(url), "file://%s/cut.ndjson.gz", root);
	CHECK(slurp(url, root, 4096, &glen, err, sizeof(err)) == NULL);
	snprintf(url, sizeof(url), "truncated gzip data at byte %zu",
	    gzlen / 2);
	CHECK(err_is(err, url));
	put(root, "cut.ndjson.zst", zs, zslen - 3);
	snprintf(url, sizeof(url), "file://%s/cut.ndjson.zst", root);
	CHECK(slurp(url, root, 4096, &glen, err, sizeof(err)) == NULL);
	snprintf(url, sizeof(url), "truncated zstd data at byte %zu",
	    zslen - 3);
	CHECK(err_is(err, url));
	put(root, "empty.ndjson.zst", "", 0);
	snprintf(url, sizeof(url), "file://%s/empty.ndjson.zst", root);
	CHECK(slurp(url, root, 4096, &glen, err, sizeof(err)) == NULL);
	CHECK(err_is(err, "truncated zstd data at byte 0"));
	put(root, "empty.ndjson", "", 0);
	snprintf(url, sizeof(url), "file://%s/empty.ndjson", root);
	got = slurp(url, root, 4096, &glen, err, sizeof(err));
	CHECK(got != NULL && glen == 0);
	free(got);

	/* Corrupt zstd block (the frame checksum or block check fails). */
	memcpy(bad, zs, zslen);
	for (i = zslen / 2; i < zslen / 2 + 8; i++)
		bad[i] ^= 0x55;
	put(root, "bad.ndjson.zst", bad, zslen);
	snprintf(url, sizeof(url), "file://%s/bad.ndjson.zst", root);
	CHECK(slurp(url, root, 4096, &glen, err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "corrupt zstd data at byte ", 26) == 0);

	/*
	 * Hand-made frames: no content size, window descriptor exponent
	 * E (windowLog 10 + E), one last raw block "{}\n".  windowLog 27
	 * (128 MB) is accepted, 28 refused (ZSTD_d_windowLogMax 27).
	 */
	for (i = 27; i <= 28; i++) {
		unsigned char fr[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x00, 0,
		    0x19, 0x00, 0x00, '{', '}', '\n' };

		fr[5] = (unsigned char)((i - 10) << 3);
		put(root, "wide.ndjson.zst", fr, sizeof(fr));
		snprintf(url, sizeof(url), "file://%s/wide.ndjson.zst", root);
		got = slurp(url, root, 4096, &glen, err, sizeof(err));
		if (i == 27)
			CHECK(got != NULL && glen == 3 &&
			    memcmp(got, "{}\n", 3) == 0);
		else {
			CHECK(got == NULL);
			CHECK(err_is(err, "zstd frame at byte 0 needs a window "
			    "over 128 MB: refused"));
		}
		free(got);
	}

	free(bad);
	free(zs);
	free(gz);
	free(plain);
}

int
main(void)
{
	char		p[PATH_MAX], q[PATH_MAX];
	const char	*files[] = { "a.ndjson", "sub/b.ndjson", "inner-link",
			    "link-out", "dirlink-out", "p.ndjson",
			    "p.ndjson.gz", "p.ndjson.zst", "two.ndjson.gz",
			    "two.ndjson.zst", "bad.ndjson.gz",
			    "trail.ndjson.gz", "cut.ndjson.gz",
			    "cut.ndjson.zst", "empty.ndjson.zst",
			    "empty.ndjson", "bad.ndjson.zst",
			    "wide.ndjson.zst" };
	size_t		i;

	snprintf(tmp, sizeof(tmp), "/tmp/test_fetch.XXXXXX");
	if (mkdtemp(tmp) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	mkpath(root, sizeof(root), tmp, "import");
	mkpath(outside, sizeof(outside), tmp, "outside");
	mkpath(p, sizeof(p), root, "sub");
	if (mkdir(root, 0755) == -1 || mkdir(outside, 0755) == -1 ||
	    mkdir(p, 0755) == -1) {
		perror("mkdir");
		return 2;
	}
	put(root, "a.ndjson", "{}\n", 3);
	put(root, "sub/b.ndjson", "{}\n", 3);
	put(outside, "secret", "secret\n", 7);
	mkpath(p, sizeof(p), root, "inner-link");
	CHECK(symlink("a.ndjson", p) == 0);
	mkpath(p, sizeof(p), root, "link-out");
	mkpath(q, sizeof(q), outside, "secret");
	CHECK(symlink(q, p) == 0);
	mkpath(p, sizeof(p), root, "dirlink-out");
	CHECK(symlink(outside, p) == 0);
	mkpath(p, sizeof(p), tmp, "rootlink");
	CHECK(symlink(root, p) == 0);

	test_ip_class();
	test_allow();
	test_target_policy();
	test_etag();
	test_paths();
	test_confine_both_ways();
	test_url_refusals();
	test_file_reads();

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		mkpath(p, sizeof(p), root, files[i]);
		unlink(p);
	}
	mkpath(p, sizeof(p), root, "sub");
	rmdir(p);
	rmdir(root);
	mkpath(p, sizeof(p), outside, "secret");
	unlink(p);
	rmdir(outside);
	mkpath(p, sizeof(p), tmp, "rootlink");
	unlink(p);
	rmdir(tmp);
	return CHECK_DONE();
}
