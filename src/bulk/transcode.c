/*
 * transcode.c — stored zstd NDJSON out as zstd, identity or gzip, and the
 * Accept-Encoding negotiation that picks one.
 *
 * DESIGN: a pull pipeline driven by transcode_read.  Compressed bytes are
 * read from the file into tc_in (128 KB).  IDENTITY decompresses straight
 * into the caller's buffer; GZIP decompresses into tc_mid (128 KB) and
 * deflates from there into the caller's buffer; ZSTD is a plain read.
 * Each call fills the caller's buffer as far as it can, so the HTTP layer
 * sees few, large chunks.  The decoder refuses windows over 8 MB (our
 * writer never makes them; RFC 9659) and checks frame checksums; input
 * that ends inside a frame is an error, as is a file with no frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "bulk/transcode.h"
#include "lib/httptext.h"
#include "lib/str.h"
#include "lib/xmalloc.h"

#define TC_INBUF	(128 * 1024)
#define TC_MIDBUF	(128 * 1024)
#define TC_WINDOWLOG_MAX 23		/* 8 MB: RFC 9659 */
#define TC_FRAMEHEADER_MAX 18		/* magic + 14 (RFC 8878 §3.1.1) */
#define TC_GZIP_LEVEL	1
#define TC_GZIP_WBITS	(15 + 16)	/* gzip wrapper */
#define TC_GZIP_MEMLEVEL 8
#define TC_ERR_MAX	256

enum tc_state {
	TC_RUNNING,	/* more to produce */
	TC_DONE,	/* everything produced: reads return 0 */
	TC_FAILED,	/* reads return -1 */
};

struct transcode {
	int		 tc_fd;
	enum transcode_enc tc_enc;
	enum tc_state	 tc_state;
	ZSTD_DCtx	*tc_dctx;	/* owned; not for ZSTD */
	z_stream	 tc_zs;		/* GZIP only */
	int		 tc_zs_live;	/* deflateInit2 done */
	char		*tc_in;		/* owned; compressed input */
	size_t		 tc_in_pos;
	size_t		 tc_in_len;
	int		 tc_src_eof;	/* file fully read */
	int		 tc_in_frame;	/* decoder inside a frame */
	int64_t		 tc_frames;	/* frames started */
	uint64_t	 tc_frame_size;	/* declared content size */
	uint64_t	 tc_frame_out;	/* bytes decoded in the frame */
	int		 tc_decoded;	/* decoder output complete */
	char		*tc_mid;	/* owned; GZIP and skipping */
	size_t		 tc_mid_pos;
	size_t		 tc_mid_len;
	int64_t		 tc_skip;	/* identity bytes to drop */
	char		 tc_err[TC_ERR_MAX];
};

static ssize_t	tc_fail(struct transcode *, const char *, const char *);
static int	tc_fill(struct transcode *);
static int	tc_decode(struct transcode *, ZSTD_outBuffer *);
static ssize_t	tc_read_zstd(struct transcode *, char *, size_t);
static ssize_t	tc_read_identity(struct transcode *, char *, size_t);
static ssize_t	tc_read_gzip(struct transcode *, char *, size_t);
static int	tc_token_is(const char *, size_t, const char *);
static void	tc_trim(const char **, const char **);

struct transcode *
transcode_open(const char *path, enum transcode_enc enc, int64_t offset,
    char *errbuf, size_t errlen)
{
	struct transcode	*t;
	size_t			 zr;
	int			 zrc;

	if (offset < 0 || (enc == TRANSCODE_GZIP && offset != 0)) {
		snprintf(errbuf, errlen, "transcode: bad offset");
		return NULL;
	}
	if (enc != TRANSCODE_IDENTITY && enc != TRANSCODE_GZIP &&
	    enc != TRANSCODE_ZSTD) {
		snprintf(errbuf, errlen, "transcode: bad encoding");
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->tc_enc = enc;
	t->tc_state = TC_RUNNING;
	t->tc_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (t->tc_fd == -1) {
		snprintf(errbuf, errlen, "transcode: %s: %s", path,
		    strerror(errno));
		goto err_free;
	}
	if (enc == TRANSCODE_ZSTD) {
		if (offset > 0 && lseek(t->tc_fd, (off_t)offset, SEEK_SET) ==
		    (off_t)-1) {
			snprintf(errbuf, errlen, "transcode: seek %s: %s",
			    path, strerror(errno));
			goto err_free;
		}
		return t;
	}

	t->tc_skip = offset;
	t->tc_in = xmalloc(TC_INBUF);
	t->tc_mid = xmalloc(TC_MIDBUF);
	t->tc_dctx = ZSTD_createDCtx();
	if (t->tc_dctx == NULL) {
		snprintf(errbuf, errlen, "transcode: out of memory");
		goto err_free;
	}
	zr = ZSTD_DCtx_setParameter(t->tc_dctx, ZSTD_d_windowLogMax,
	    TC_WINDOWLOG_MAX);
	if (ZSTD_isError(zr)) {
		snprintf(errbuf, errlen, "transcode: zstd: %s",
		    ZSTD_getErrorName(zr));
		goto err_free;
	}
	if (enc == TRANSCODE_GZIP) {
		zrc = deflateInit2(&t->tc_zs, TC_GZIP_LEVEL, Z_DEFLATED,
		    TC_GZIP_WBITS, TC_GZIP_MEMLEVEL, Z_DEFAULT_STRATEGY);
		if (zrc != Z_OK) {
			snprintf(errbuf, errlen, "transcode: deflateInit2: %d",
			    zrc);
			goto err_free;
		}
		t->tc_zs_live = 1;
	}
	return t;

 err_free:
	transcode_close(t);
	return NULL;
}

void
transcode_close(struct transcode *t)
{
	if (t == NULL)
		return;
	if (t->tc_fd != -1)
		close(t->tc_fd);
	if (t->tc_zs_live)
		deflateEnd(&t->tc_zs);
	ZSTD_freeDCtx(t->tc_dctx);
	free(t->tc_in);
	free(t->tc_mid);
	free(t);
}

const char *
transcode_error(const struct transcode *t)
{
	return t->tc_err;
}

const char *
transcode_enc_name(enum transcode_enc enc)
{
	switch (enc) {
	case TRANSCODE_GZIP:
		return "gzip";
	case TRANSCODE_ZSTD:
		return "zstd";
	case TRANSCODE_IDENTITY:
	default:
		return "identity";
	}
}

/* Records the reason and makes the failure sticky; returns -1. */
static ssize_t
tc_fail(struct transcode *t, const char *what, const char *detail)
{
	snprintf(t->tc_err, sizeof(t->tc_err), "%s: %s", what, detail);
	t->tc_state = TC_FAILED;
	return -1;
}

/* Moves unread input to the front of tc_in and reads more after it;
 * sets tc_src_eof at the end of the file.  Returns 0 or -1. */
static int
tc_fill(struct transcode *t)
{
	ssize_t	n;

	if (t->tc_in_pos > 0) {
		memmove(t->tc_in, t->tc_in + t->tc_in_pos,
		    t->tc_in_len - t->tc_in_pos);
		t->tc_in_len -= t->tc_in_pos;
		t->tc_in_pos = 0;
	}
	do
		n = read(t->tc_fd, t->tc_in + t->tc_in_len,
		    TC_INBUF - t->tc_in_len);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		tc_fail(t, "read", strerror(errno));
		return -1;
	}
	if (n == 0)
		t->tc_src_eof = 1;
	t->tc_in_len += (size_t)n;
	return 0;
}

/*
 * Decompresses into out until it is full or the input is exhausted (then
 * tc_decoded is set).  Returns 0, or -1 on corrupt or truncated input.
 *
 * Each frame's declared content size, when it has one, is checked here:
 * libzstd's streaming decoder checks it only when the whole frame fits
 * the output buffer, so a damaged size field would otherwise pass or
 * fail depending on read sizes.  The frame checksum covers the content.
 */
static int
tc_decode(struct transcode *t, ZSTD_outBuffer *out)
{
	ZSTD_inBuffer	in;
	size_t		r, out0, avail;

	while (out->pos < out->size && !t->tc_decoded) {
		avail = t->tc_in_len - t->tc_in_pos;
		if (!t->tc_src_eof && (avail == 0 || (!t->tc_in_frame &&
		    avail < TC_FRAMEHEADER_MAX))) {
			if (tc_fill(t) == -1)
				return -1;
			continue;
		}
		if (avail == 0) {
			if (t->tc_in_frame || t->tc_frames == 0) {
				tc_fail(t, "zstd", "truncated input");
				return -1;
			}
			t->tc_decoded = 1;
			break;
		}
		if (!t->tc_in_frame) {
			t->tc_in_frame = 1;
			t->tc_frames++;
			t->tc_frame_out = 0;
			t->tc_frame_size = ZSTD_getFrameContentSize(
			    t->tc_in + t->tc_in_pos, avail);
		}
		in.src = t->tc_in;
		in.size = t->tc_in_len;
		in.pos = t->tc_in_pos;
		out0 = out->pos;
		r = ZSTD_decompressStream(t->tc_dctx, out, &in);
		if (ZSTD_isError(r)) {
			tc_fail(t, "zstd", ZSTD_getErrorName(r));
			return -1;
		}
		if (in.pos == t->tc_in_pos && out->pos == out0) {
			/* Cannot happen with room on both sides; never spin. */
			tc_fail(t, "zstd", "decoder made no progress");
			return -1;
		}
		t->tc_in_pos = in.pos;
		t->tc_frame_out += out->pos - out0;
		if (r == 0) {
			/* ZSTD_decompressStream stops at each frame's end. */
			if (t->tc_frame_size != ZSTD_CONTENTSIZE_UNKNOWN &&
			    t->tc_frame_size != ZSTD_CONTENTSIZE_ERROR &&
			    t->tc_frame_out != t->tc_frame_size) {
				tc_fail(t, "zstd", "frame content size "
				    "mismatch");
				return -1;
			}
			t->tc_in_frame = 0;
		}
	}
	return 0;
}

static ssize_t
tc_read_zstd(struct transcode *t, char *buf, size_t max)
{
	size_t	got = 0;
	ssize_t	n;

	while (got < max) {
		n = read(t->tc_fd, buf + got, max - got);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return tc_fail(t, "read", strerror(errno));
		}
		if (n == 0) {
			t->tc_state = TC_DONE;
			break;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static ssize_t
tc_read_identity(struct transcode *t, char *buf, size_t max)
{
	ZSTD_outBuffer	out;

	while (t->tc_skip > 0 && !t->tc_decoded) {
		out.dst = t->tc_mid;
		out.size = t->tc_skip < TC_MIDBUF ? (size_t)t->tc_skip :
		    TC_MIDBUF;
		out.pos = 0;
		if (tc_decode(t, &out) == -1)
			return -1;
		t->tc_skip -= (int64_t)out.pos;
	}
	out.dst = buf;
	out.size = max;
	out.pos = 0;
	if (tc_decode(t, &out) == -1)
		return -1;
	if (t->tc_decoded && out.pos < max)
		t->tc_state = TC_DONE;
	return (ssize_t)out.pos;
}

static ssize_t
tc_read_gzip(struct transcode *t, char *buf, size_t max)
{
	ZSTD_outBuffer	mid;
	z_stream	*zs = &t->tc_zs;
	uInt		 lim = max > UINT_MAX ? UINT_MAX : (uInt)max;
	int		 zrc, flush;

	zs->next_out = (Bytef *)buf;
	zs->avail_out = lim;
	while (zs->avail_out > 0) {
		if (t->tc_mid_pos == t->tc_mid_len && !t->tc_decoded) {
			mid.dst = t->tc_mid;
			mid.size = TC_MIDBUF;
			mid.pos = 0;
			if (tc_decode(t, &mid) == -1)
				return -1;
			t->tc_mid_pos = 0;
			t->tc_mid_len = mid.pos;
			continue;
		}
		flush = t->tc_mid_pos == t->tc_mid_len ? Z_FINISH : Z_NO_FLUSH;
		zs->next_in = (Bytef *)t->tc_mid + t->tc_mid_pos;
		zs->avail_in = (uInt)(t->tc_mid_len - t->tc_mid_pos);
		zrc = deflate(zs, flush);
		t->tc_mid_pos = t->tc_mid_len - zs->avail_in;
		if (zrc == Z_STREAM_END) {
			t->tc_state = TC_DONE;
			break;
		}
		if (zrc != Z_OK && zrc != Z_BUF_ERROR)
			return tc_fail(t, "deflate", zs->msg != NULL ?
			    zs->msg : "stream error");
	}
	return (ssize_t)(lim - zs->avail_out);
}

ssize_t
transcode_read(struct transcode *t, char *buf, size_t max)
{
	if (t->tc_state == TC_FAILED)
		return -1;
	if (t->tc_state == TC_DONE || max == 0)
		return 0;
	switch (t->tc_enc) {
	case TRANSCODE_ZSTD:
		return tc_read_zstd(t, buf, max);
	case TRANSCODE_GZIP:
		return tc_read_gzip(t, buf, max);
	case TRANSCODE_IDENTITY:
	default:
		return tc_read_identity(t, buf, max);
	}
}

/*
 * Accept-Encoding.
 */

/* Strips OWS (SP, HTAB) from both ends of [*s, *e). */
static void
tc_trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

static int
tc_token_is(const char *p, size_t len, const char *tok)
{
	return strlen(tok) == len && str_ncaseeq(p, tok, len);
}

int
transcode_choose(const char *hdr, enum transcode_enc *out)
{
	/* Highest q seen per coding, in thousandths; -1: not listed. */
	int		 q_zstd = -1, q_gzip = -1, q_ident = -1, q_star = -1;
	int		 q, *slot, best;
	const char	*p, *elem, *eend, *semi, *ps, *pe, *eq, *ns, *ne;
	const char	*vs, *ve;

	if (hdr == NULL) {
		*out = TRANSCODE_IDENTITY;
		return 0;
	}
	for (p = hdr; *p != '\0'; p = *eend == ',' ? eend + 1 : eend) {
		elem = p;
		eend = strchr(elem, ',');
		if (eend == NULL)
			eend = elem + strlen(elem);
		semi = memchr(elem, ';', (size_t)(eend - elem));
		ns = elem;
		ne = semi != NULL ? semi : eend;
		tc_trim(&ns, &ne);
		if (ns == ne)
			continue;
		q = 1000;
		/* Parameters: only "q" matters; others are ignored. */
		for (ps = semi; ps != NULL && ps < eend; ps = pe) {
			ps++;
			pe = memchr(ps, ';', (size_t)(eend - ps));
			if (pe == NULL)
				pe = eend;
			eq = memchr(ps, '=', (size_t)(pe - ps));
			if (eq == NULL)
				continue;
			vs = ps;
			ve = eq;
			tc_trim(&vs, &ve);
			if (!tc_token_is(vs, (size_t)(ve - vs), "q"))
				continue;
			vs = eq + 1;
			ve = pe;
			tc_trim(&vs, &ve);
			if (httptext_qvalue(vs, (size_t)(ve - vs), &q) == -1) {
				q = -1;
				break;
			}
		}
		if (q == -1)
			continue;	/* malformed weight: skip it */
		if (tc_token_is(ns, (size_t)(ne - ns), "zstd"))
			slot = &q_zstd;
		else if (tc_token_is(ns, (size_t)(ne - ns), "gzip") ||
		    tc_token_is(ns, (size_t)(ne - ns), "x-gzip"))
			slot = &q_gzip;
		else if (tc_token_is(ns, (size_t)(ne - ns), "identity"))
			slot = &q_ident;
		else if (tc_token_is(ns, (size_t)(ne - ns), "*"))
			slot = &q_star;
		else
			continue;
		if (q > *slot)
			*slot = q;
	}

	/*
	 * Unlisted codings take "*"'s weight.  Identity, listed neither
	 * itself nor through "*", is acceptable (§12.5.3) but the last
	 * choice: "gzip;q=0.5" asks for gzip, not for identity at q=1.
	 */
	if (q_zstd == -1)
		q_zstd = q_star == -1 ? 0 : q_star;
	if (q_gzip == -1)
		q_gzip = q_star == -1 ? 0 : q_star;
	if (q_ident == -1)
		q_ident = q_star == -1 ? 1 : q_star;

	best = 0;
	if (q_zstd > best) {
		best = q_zstd;
		*out = TRANSCODE_ZSTD;
	}
	if (q_gzip > best) {
		best = q_gzip;
		*out = TRANSCODE_GZIP;
	}
	if (q_ident > best) {
		best = q_ident;
		*out = TRANSCODE_IDENTITY;
	}
	return best > 0 ? 0 : -1;
}
