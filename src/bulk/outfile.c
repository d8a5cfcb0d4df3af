/*
 * outfile.c — the export writer: NDJSON lines into a sequence of
 * zstd-compressed files, rolled by line count and uncompressed bytes.
 *
 * DESIGN: lines are copied into a 128 KB input buffer and compressed a
 * buffer at a time with ZSTD_compressStream2 (one call per buffer rather
 * than per line, which matters for small resources); compressed bytes go
 * to a 256 KB output buffer that is hashed (EVP sha256) and written out
 * with write(2) in full when it fills.  Nothing grows with the file.
 * Files live under their ".tmp" name until complete; completion is
 * fsync, renameat, fsync of the directory, then the caller's callback.
 * All file operations are relative to a directory fd opened once, so the
 * full path is only built for error messages and the callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "bulk/outfile.h"
#include "lib/str.h"
#include "lib/xmalloc.h"

#define OUTFILE_INBUF		(128 * 1024)
#define OUTFILE_OUTBUF		(256 * 1024)
#define OUTFILE_NAME_MAX	128	/* prefix-seq + suffix + ".tmp" */

struct outfile_set {
	int		 os_dirfd;	/* the output directory */
	char		*os_dir;	/* owned; for paths in messages */
	char		 os_prefix[OUTFILE_PREFIX_MAX + 1];
	int64_t		 os_max_resources; /* 0: no limit */
	int64_t		 os_max_bytes;	/* 0: no limit */
	outfile_done_fn	 os_done;	/* may be NULL */
	void		*os_done_arg;
	int		 os_next_seq;	/* seq of the next file */
	int		 os_failed;	/* sticky error */

	ZSTD_CCtx	*os_cctx;	/* owned */
	EVP_MD_CTX	*os_md;		/* owned */
	char		*os_in;		/* owned; OUTFILE_INBUF */
	size_t		 os_in_len;
	char		*os_out;	/* owned; OUTFILE_OUTBUF */
	size_t		 os_out_len;

	/* The file being written; os_fd == -1 when none is open. */
	int		 os_fd;
	int		 os_seq;
	char		 os_name[OUTFILE_NAME_MAX]; /* final name */
	char		 os_tmp[OUTFILE_NAME_MAX]; /* name + ".tmp" */
	int64_t		 os_count;	/* lines */
	int64_t		 os_bytes;	/* uncompressed bytes */
	int64_t		 os_stored;	/* compressed bytes written */
};

static int	outfile_valid_prefix(const char *);
static const char *outfile_strerror(int);
static int	outfile_flush_out(struct outfile_set *, char *, size_t);
static int	outfile_compress(struct outfile_set *, ZSTD_EndDirective,
		    char *, size_t);
static int	outfile_put(struct outfile_set *, const char *, size_t,
		    char *, size_t);
static int	outfile_begin(struct outfile_set *, char *, size_t);
static int	outfile_complete(struct outfile_set *, char *, size_t);
static void	outfile_discard(struct outfile_set *);

/* strerror, naming the full disk an operator must act on (issue 14). */
static const char *
outfile_strerror(int e)
{
	if (e == ENOSPC)
		return "No space left on device (ENOSPC: the disk under "
		    "data_dir is full)";
	if (e == EDQUOT)
		return "Disk quota exceeded (EDQUOT on data_dir)";
	return strerror(e);
}

static int
outfile_valid_prefix(const char *p)
{
	size_t	i, len = strlen(p);

	if (len == 0 || len > OUTFILE_PREFIX_MAX || p[0] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		char c = p[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == '-'))
			return 0;
	}
	return 1;
}

struct outfile_set *
outfile_set_open(const char *dir, const char *prefix, int first_seq,
    int64_t max_resources, int64_t max_bytes, int zstd_level,
    outfile_done_fn done, void *done_arg, char *errbuf, size_t errlen)
{
	struct outfile_set	*s;
	size_t			 zr;
	int			 dfd;

	if (!outfile_valid_prefix(prefix)) {
		snprintf(errbuf, errlen, "outfile: invalid prefix '%.80s'",
		    prefix);
		return NULL;
	}
	if (first_seq < 1 || first_seq > OUTFILE_SEQ_MAX) {
		snprintf(errbuf, errlen, "outfile: seq %d out of range",
		    first_seq);
		return NULL;
	}
	if (max_resources < 0 || max_bytes < 0) {
		snprintf(errbuf, errlen, "outfile: negative file limit");
		return NULL;
	}
	if (zstd_level < ZSTD_minCLevel() || zstd_level > OUTFILE_LEVEL_MAX) {
		snprintf(errbuf, errlen, "outfile: zstd level %d out of "
		    "range %d..%d", zstd_level, ZSTD_minCLevel(),
		    OUTFILE_LEVEL_MAX);
		return NULL;
	}
	if (strlen(dir) + 1 + OUTFILE_NAME_MAX >= PATH_MAX) {
		snprintf(errbuf, errlen, "outfile: directory path too long");
		return NULL;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1) {
		snprintf(errbuf, errlen, "outfile: %s: %s", dir,
		    outfile_strerror(errno));
		return NULL;
	}

	s = xcalloc(1, sizeof(*s));
	s->os_dirfd = dfd;
	s->os_fd = -1;
	s->os_dir = xstrdup(dir);
	str_lcpy(s->os_prefix, prefix, sizeof(s->os_prefix));
	s->os_max_resources = max_resources;
	s->os_max_bytes = max_bytes;
	s->os_done = done;
	s->os_done_arg = done_arg;
	s->os_next_seq = first_seq;
	s->os_in = xmalloc(OUTFILE_INBUF);
	s->os_out = xmalloc(OUTFILE_OUTBUF);

	s->os_cctx = ZSTD_createCCtx();
	s->os_md = EVP_MD_CTX_new();
	if (s->os_cctx == NULL || s->os_md == NULL) {
		snprintf(errbuf, errlen, "outfile: out of memory");
		goto err_free;
	}
	/*
	 * The window: levels up to 19 use at most windowLog 23 (8 MB) in
	 * zstd's tables, and OUTFILE_LEVEL_MAX keeps us there; forcing
	 * ZSTD_c_windowLog to 23 would instead raise the window of the fast
	 * levels (19 at level 1) and the memory every reader needs.  Finding
	 * the level's own value takes ZSTD_getCParams, which is in zstd's
	 * unstable API, so the cap is the level bound (test_outfile checks
	 * the frame header at OUTFILE_LEVEL_MAX).
	 */
	if (ZSTD_isError(zr = ZSTD_CCtx_setParameter(s->os_cctx,
	    ZSTD_c_compressionLevel, zstd_level)) ||
	    ZSTD_isError(zr = ZSTD_CCtx_setParameter(s->os_cctx,
	    ZSTD_c_checksumFlag, 1))) {
		snprintf(errbuf, errlen, "outfile: zstd: %s",
		    ZSTD_getErrorName(zr));
		goto err_free;
	}
	return s;

 err_free:
	outfile_set_free(s);
	return NULL;
}

/* Hashes and writes the output buffer in full. */
static int
outfile_flush_out(struct outfile_set *s, char *errbuf, size_t errlen)
{
	size_t	off = 0;
	ssize_t	n;

	if (s->os_out_len == 0)
		return 0;
	if (EVP_DigestUpdate(s->os_md, s->os_out, s->os_out_len) != 1) {
		snprintf(errbuf, errlen, "outfile: sha256 update failed");
		return -1;
	}
	while (off < s->os_out_len) {
		n = write(s->os_fd, s->os_out + off, s->os_out_len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(errbuf, errlen, "outfile: write %s/%s: %s",
			    s->os_dir, s->os_tmp, outfile_strerror(errno));
			return -1;
		}
		off += (size_t)n;
	}
	s->os_stored += (int64_t)s->os_out_len;
	s->os_out_len = 0;
	return 0;
}

/*
 * Feeds the input buffer to zstd.  ZSTD_e_continue consumes all of it;
 * ZSTD_e_end also ends the frame and flushes everything.
 */
static int
outfile_compress(struct outfile_set *s, ZSTD_EndDirective mode,
    char *errbuf, size_t errlen)
{
	ZSTD_inBuffer	in = { s->os_in, s->os_in_len, 0 };
	ZSTD_outBuffer	out;
	size_t		rem;

	for (;;) {
		out.dst = s->os_out;
		out.size = OUTFILE_OUTBUF;
		out.pos = s->os_out_len;
		rem = ZSTD_compressStream2(s->os_cctx, &out, &in, mode);
		if (ZSTD_isError(rem)) {
			snprintf(errbuf, errlen, "outfile: zstd: %s",
			    ZSTD_getErrorName(rem));
			return -1;
		}
		s->os_out_len = out.pos;
		if (s->os_out_len == OUTFILE_OUTBUF &&
		    outfile_flush_out(s, errbuf, errlen) == -1)
			return -1;
		if (mode == ZSTD_e_end ? rem == 0 : in.pos == in.size)
			break;
	}
	s->os_in_len = 0;
	return 0;
}

static int
outfile_begin(struct outfile_set *s, char *errbuf, size_t errlen)
{
	int	n;

	if (s->os_next_seq > OUTFILE_SEQ_MAX) {
		snprintf(errbuf, errlen, "outfile: too many files");
		return -1;
	}
	s->os_seq = s->os_next_seq;
	n = snprintf(s->os_name, sizeof(s->os_name), "%s-%04d%s",
	    s->os_prefix, s->os_seq, OUTFILE_SUFFIX);
	if (n < 0 || (size_t)n >= sizeof(s->os_name))
		goto err_name;
	n = snprintf(s->os_tmp, sizeof(s->os_tmp), "%s.tmp", s->os_name);
	if (n < 0 || (size_t)n >= sizeof(s->os_tmp))
		goto err_name;

	s->os_fd = openat(s->os_dirfd, s->os_tmp,
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (s->os_fd == -1) {
		snprintf(errbuf, errlen, "outfile: %s/%s: %s", s->os_dir,
		    s->os_tmp, outfile_strerror(errno));
		return -1;
	}
	if (EVP_DigestInit_ex(s->os_md, EVP_sha256(), NULL) != 1) {
		snprintf(errbuf, errlen, "outfile: sha256 init failed");
		outfile_discard(s);
		return -1;
	}
	ZSTD_CCtx_reset(s->os_cctx, ZSTD_reset_session_only);
	s->os_next_seq++;
	s->os_count = 0;
	s->os_bytes = 0;
	s->os_stored = 0;
	s->os_in_len = 0;
	s->os_out_len = 0;
	return 0;

 err_name:
	snprintf(errbuf, errlen, "outfile: file name too long");
	return -1;
}

/* Closes and unlinks the current .tmp file; errors are ignored. */
static void
outfile_discard(struct outfile_set *s)
{
	if (s->os_fd == -1)
		return;
	close(s->os_fd);
	s->os_fd = -1;
	unlinkat(s->os_dirfd, s->os_tmp, 0);
	s->os_in_len = 0;
	s->os_out_len = 0;
}

/* Ends the frame, makes the file durable under its name, reports it. */
static int
outfile_complete(struct outfile_set *s, char *errbuf, size_t errlen)
{
	struct outfile_info	 info;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0, i;
	char			 path[PATH_MAX];
	static const char	 hex[] = "0123456789abcdef";
	int			 fd;

	if (outfile_compress(s, ZSTD_e_end, errbuf, errlen) == -1 ||
	    outfile_flush_out(s, errbuf, errlen) == -1)
		goto err_discard;
	if (EVP_DigestFinal_ex(s->os_md, md, &mdlen) != 1 || mdlen != 32) {
		snprintf(errbuf, errlen, "outfile: sha256 final failed");
		goto err_discard;
	}
	if (fsync(s->os_fd) == -1) {
		snprintf(errbuf, errlen, "outfile: fsync %s/%s: %s",
		    s->os_dir, s->os_tmp, outfile_strerror(errno));
		goto err_discard;
	}
	fd = s->os_fd;
	s->os_fd = -1;
	if (close(fd) == -1) {
		snprintf(errbuf, errlen, "outfile: close %s/%s: %s",
		    s->os_dir, s->os_tmp, outfile_strerror(errno));
		unlinkat(s->os_dirfd, s->os_tmp, 0);
		return -1;
	}
	if (renameat(s->os_dirfd, s->os_tmp, s->os_dirfd, s->os_name) == -1) {
		snprintf(errbuf, errlen, "outfile: rename %s/%s: %s",
		    s->os_dir, s->os_tmp, outfile_strerror(errno));
		unlinkat(s->os_dirfd, s->os_tmp, 0);
		return -1;
	}
	if (fsync(s->os_dirfd) == -1) {
		snprintf(errbuf, errlen, "outfile: fsync %s: %s", s->os_dir,
		    outfile_strerror(errno));
		return -1;
	}

	memset(&info, 0, sizeof(info));
	for (i = 0; i < mdlen; i++) {
		info.oi_sha256[2 * i] = hex[md[i] >> 4];
		info.oi_sha256[2 * i + 1] = hex[md[i] & 0xf];
	}
	info.oi_sha256[64] = '\0';
	/* Cannot truncate: checked against PATH_MAX in outfile_set_open. */
	snprintf(path, sizeof(path), "%s/%s", s->os_dir, s->os_name);
	info.oi_name = s->os_name;
	info.oi_path = path;
	info.oi_seq = s->os_seq;
	info.oi_count = s->os_count;
	info.oi_bytes = s->os_bytes;
	info.oi_stored_bytes = s->os_stored;
	if (s->os_done != NULL &&
	    s->os_done(s->os_done_arg, &info, errbuf, errlen) == -1)
		return -1;
	return 0;

 err_discard:
	outfile_discard(s);
	return -1;
}

/* Copies p into the input buffer, compressing each time it fills. */
static int
outfile_put(struct outfile_set *s, const char *p, size_t len, char *errbuf,
    size_t errlen)
{
	size_t	n;

	while (len > 0) {
		if (s->os_in_len == OUTFILE_INBUF &&
		    outfile_compress(s, ZSTD_e_continue, errbuf, errlen) == -1)
			return -1;
		n = OUTFILE_INBUF - s->os_in_len;
		if (n > len)
			n = len;
		memcpy(s->os_in + s->os_in_len, p, n);
		s->os_in_len += n;
		p += n;
		len -= n;
	}
	return 0;
}

int
outfile_set_write(struct outfile_set *s, const char *line, size_t len,
    char *errbuf, size_t errlen)
{
	if (s->os_failed) {
		snprintf(errbuf, errlen, "outfile: set failed earlier");
		return -1;
	}
	if (len == 0) {
		snprintf(errbuf, errlen, "outfile: empty line");
		return -1;
	}
	if (memchr(line, '\n', len) != NULL) {
		snprintf(errbuf, errlen, "outfile: line contains a newline");
		return -1;
	}
	if (s->os_fd != -1 && s->os_count > 0 &&
	    ((s->os_max_resources > 0 &&
	    s->os_count >= s->os_max_resources) ||
	    (s->os_max_bytes > 0 &&
	    (uint64_t)s->os_bytes + len + 1 > (uint64_t)s->os_max_bytes))) {
		if (outfile_complete(s, errbuf, errlen) == -1)
			goto err_fail;
	}
	if (s->os_fd == -1 && outfile_begin(s, errbuf, errlen) == -1)
		goto err_fail;

	if (outfile_put(s, line, len, errbuf, errlen) == -1 ||
	    outfile_put(s, "\n", 1, errbuf, errlen) == -1)
		goto err_discard;
	s->os_count++;
	s->os_bytes += (int64_t)len + 1;
	return 0;

 err_discard:
	outfile_discard(s);
 err_fail:
	s->os_failed = 1;
	return -1;
}

int
outfile_set_close_current(struct outfile_set *s, char *errbuf, size_t errlen)
{
	if (s->os_failed) {
		snprintf(errbuf, errlen, "outfile: set failed earlier");
		return -1;
	}
	if (s->os_fd == -1)
		return 0;
	if (outfile_complete(s, errbuf, errlen) == -1) {
		s->os_failed = 1;
		return -1;
	}
	return 0;
}

int
outfile_set_next_seq(const struct outfile_set *s)
{
	return s->os_next_seq;
}

int64_t
outfile_set_current_count(const struct outfile_set *s)
{
	return s->os_fd == -1 ? 0 : s->os_count;
}

void
outfile_set_abort(struct outfile_set *s)
{
	outfile_set_free(s);
}

void
outfile_set_free(struct outfile_set *s)
{
	if (s == NULL)
		return;
	outfile_discard(s);
	if (s->os_dirfd != -1)
		close(s->os_dirfd);
	ZSTD_freeCCtx(s->os_cctx);
	EVP_MD_CTX_free(s->os_md);
	free(s->os_in);
	free(s->os_out);
	free(s->os_dir);
	free(s);
}
