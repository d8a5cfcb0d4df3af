/*
 * fetch_decode.c — gzip, zstd and identity decoding for the import
 * fetcher, and the parsers that pick the coding (see fetch_decode.h).
 *
 * DESIGN: the caller owns the input buffer; each run decodes what it can
 * from it and says how much it used.  gzip goes through zlib's inflate,
 * member after member.  zstd goes through ZSTD_decompressStream, but fed
 * one step at a time (fetch_decode_zstd_step): on corrupt data zstd
 * returns the error without reporting the output it made earlier in the
 * same call, so a call never holds more than one frame-header byte, one
 * block-header byte or one block body.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>
/* ZSTD_getFrameHeader, ZSTD_nextInputType, ZSTD_nextSrcSizeToDecompress:
 * the exported "advanced" API, to feed the decoder one step at a time. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include "bulk/fetch_decode.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"

#define FETCH_DECODE_ERR_MAX	512
#define FETCH_DECODE_GZIP_WBITS	(15 + 16)	/* gzip wrapper only */
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
#define FETCH_DECODE_ZSTD_WINDOWLOG_MAX 27

struct fetch_decode {
	enum fetch_decode_coding d_coding;
	int		 d_failed;	/* sticky; d_err says why */
	int64_t		 d_used;	/* input bytes consumed, in all */
	int		 d_more;	/* the last run filled the output */
	int		 d_in_member;	/* inside a gzip member / zstd frame */
	int64_t		 d_members;	/* members or frames completed */

	z_stream	 d_zs;		/* GZIP */
	int		 d_zs_live;	/* inflateInit2 done */
	ZSTD_DCtx	*d_zd;		/* owned; ZSTD */
	unsigned char	 d_zhead[ZSTD_FRAMEHEADERSIZE_MAX]; /* frame header */
	size_t		 d_zhead_len;	/* its bytes fed so far */
	int		 d_zstart;	/* feeding a frame header */
	int		 d_zfree;	/* a frame we do not step (skippable) */
	size_t		 d_zpart;	/* bytes fed toward a buffered block */
	char		 d_err[FETCH_DECODE_ERR_MAX]; /* fetch_decode_error */
};

static void	fetch_decode_fail(struct fetch_decode *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static ssize_t	fetch_decode_gzip(struct fetch_decode *, const char *,
		    size_t, size_t *, char *, size_t);
static ssize_t	fetch_decode_zstd(struct fetch_decode *, const char *,
		    size_t, size_t *, char *, size_t);
static size_t	fetch_decode_zstd_step(struct fetch_decode *, size_t,
		    size_t *, ZSTD_nextInputType_e *);
static void	fetch_decode_zstd_stepped(struct fetch_decode *,
		    const unsigned char *, size_t, size_t, size_t,
		    ZSTD_nextInputType_e);

struct fetch_decode *
fetch_decode_new(enum fetch_decode_coding coding, char *errbuf,
    size_t errlen)
{
	struct fetch_decode	*d;
	size_t			 zr;

	d = xcalloc(1, sizeof(*d));
	d->d_coding = coding;
	switch (coding) {
	case FETCH_DECODE_GZIP:
		if (inflateInit2(&d->d_zs, FETCH_DECODE_GZIP_WBITS) != Z_OK) {
			snprintf(errbuf, errlen, "zlib init failed");
			goto err_free;
		}
		d->d_zs_live = 1;
		break;
	case FETCH_DECODE_ZSTD:
		d->d_zstart = 1;
		if ((d->d_zd = ZSTD_createDCtx()) == NULL)
			log_fatalx("fetch: ZSTD_createDCtx: out of memory");
		zr = ZSTD_DCtx_setParameter(d->d_zd, ZSTD_d_windowLogMax,
		    FETCH_DECODE_ZSTD_WINDOWLOG_MAX);
		if (ZSTD_isError(zr)) {
			snprintf(errbuf, errlen, "zstd init failed: %s",
			    ZSTD_getErrorName(zr));
			goto err_free;
		}
		break;
	case FETCH_DECODE_IDENTITY:
		break;
	}
	return d;

 err_free:
	fetch_decode_free(d);
	return NULL;
}

void
fetch_decode_free(struct fetch_decode *d)
{
	if (d == NULL)
		return;
	if (d->d_zs_live)
		inflateEnd(&d->d_zs);
	ZSTD_freeDCtx(d->d_zd);
	free(d);
}

const char *
fetch_decode_error(const struct fetch_decode *d)
{
	return d->d_err;
}

int
fetch_decode_more(const struct fetch_decode *d)
{
	return d->d_more;
}

/* Records the first failure and makes it sticky. */
static void
fetch_decode_fail(struct fetch_decode *d, const char *fmt, ...)
{
	va_list	ap;

	if (d->d_failed)
		return;
	va_start(ap, fmt);
	vsnprintf(d->d_err, sizeof(d->d_err), fmt, ap);
	va_end(ap);
	d->d_failed = 1;
}

ssize_t
fetch_decode_run(struct fetch_decode *d, const void *in, size_t inlen,
    size_t *used, void *out, size_t outlen)
{
	size_t	n;

	*used = 0;
	d->d_more = 0;
	if (d->d_failed)
		return -1;
	switch (d->d_coding) {
	case FETCH_DECODE_IDENTITY:
		n = inlen < outlen ? inlen : outlen;
		memcpy(out, in, n);
		*used = n;
		d->d_used += (int64_t)n;
		return (ssize_t)n;
	case FETCH_DECODE_GZIP:
		return fetch_decode_gzip(d, in, inlen, used, out, outlen);
	case FETCH_DECODE_ZSTD:
		return fetch_decode_zstd(d, in, inlen, used, out, outlen);
	}
	return -1;
}

static ssize_t
fetch_decode_gzip(struct fetch_decode *d, const char *in, size_t inlen,
    size_t *used, char *out, size_t len)
{
	int	zrc;

	if (len > UINT_MAX)
		len = UINT_MAX;
	d->d_zs.next_in = (Bytef *)(uintptr_t)in;
	d->d_zs.avail_in = (uInt)(inlen > UINT_MAX ? UINT_MAX : inlen);
	d->d_zs.next_out = (Bytef *)out;
	d->d_zs.avail_out = (uInt)len;
	zrc = inflate(&d->d_zs, Z_NO_FLUSH);
	*used = (size_t)((const char *)d->d_zs.next_in - in);
	if (*used > 0)
		d->d_in_member = 1;
	d->d_used += (int64_t)*used;
	if (zrc == Z_STREAM_END) {
		/* Concatenated members are one gzip file. */
		d->d_in_member = 0;
		d->d_members++;
		inflateReset(&d->d_zs);
	} else if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
		fetch_decode_fail(d, "corrupt gzip data at byte %lld: %s",
		    (long long)d->d_used, d->d_zs.msg != NULL ?
		    d->d_zs.msg : "inflate failed");
		/* Hand out what decoded before the damage; the failure is
		 * sticky and ends the next run. */
		return len - d->d_zs.avail_out > 0 ?
		    (ssize_t)(len - d->d_zs.avail_out) : -1;
	} else
		d->d_more = d->d_zs.avail_out == 0;
	return (ssize_t)(len - d->d_zs.avail_out);
}

static ssize_t
fetch_decode_zstd(struct fetch_decode *d, const char *src, size_t avail,
    size_t *used, char *out, size_t len)
{
	ZSTD_inBuffer	 in;
	ZSTD_outBuffer	 ob;
	ZSTD_nextInputType_e nit;
	size_t		 zr, need;

	in.src = src;
	in.size = fetch_decode_zstd_step(d, avail, &need, &nit);
	in.pos = 0;
	ob.dst = out;
	ob.size = len;
	ob.pos = 0;
	zr = ZSTD_decompressStream(d->d_zd, &ob, &in);
	*used = in.pos;
	d->d_used += (int64_t)in.pos;
	if (ZSTD_isError(zr) && ZSTD_getErrorCode(zr) ==
	    ZSTD_error_frameParameter_windowTooLarge) {
		/* Name the frame's first byte: its header went in a byte at
		 * a time. */
		fetch_decode_fail(d, "zstd frame at byte %lld needs a window "
		    "over %d MB: refused", (long long)d->d_used -
		    (d->d_zstart ? (long long)d->d_zhead_len : 0),
		    (1 << FETCH_DECODE_ZSTD_WINDOWLOG_MAX) >> 20);
		return -1;
	}
	if (ZSTD_isError(zr)) {
		fetch_decode_fail(d, "corrupt zstd data at byte %lld: %s",
		    (long long)d->d_used, ZSTD_getErrorName(zr));
		return ob.pos > 0 ? (ssize_t)ob.pos : -1;
	}
	fetch_decode_zstd_stepped(d, (const unsigned char *)in.src, in.pos,
	    in.size, need, nit);
	if (zr == 0) {
		/* A frame ended (zstd says 0 only then). */
		if (d->d_in_member || in.pos > 0 || ob.pos > 0)
			d->d_members++;
		d->d_in_member = 0;
		d->d_zstart = 1;
		d->d_zhead_len = 0;
		d->d_zfree = 0;
		d->d_zpart = 0;
	} else if (in.pos > 0 || ob.pos > 0)
		d->d_in_member = 1;
	d->d_more = ob.pos == ob.size;
	return (ssize_t)ob.pos;
}

/*
 * How many input bytes the zstd decoder may see in this call: the frame
 * header and block headers go in a byte at a time, a block body exactly
 * to its end.  Then any error comes in a call of its own, and every
 * block decoded before it has been handed out.
 */
static size_t
fetch_decode_zstd_step(struct fetch_decode *d, size_t avail, size_t *need,
    ZSTD_nextInputType_e *nit)
{
	*need = 0;
	*nit = ZSTDnit_frameHeader;
	if (avail == 0 || d->d_zfree)
		return avail;
	if (d->d_zstart)
		return 1;
	*nit = ZSTD_nextInputType(d->d_zd);
	if (*nit != ZSTDnit_block && *nit != ZSTDnit_lastBlock)
		return 1;
	*need = ZSTD_nextSrcSizeToDecompress(d->d_zd);
	if (*need <= d->d_zpart)
		return 1;
	return *need - d->d_zpart < avail ? *need - d->d_zpart : avail;
}

/* Follows the step fetch_decode_zstd_step allowed: n of lim bytes used. */
static void
fetch_decode_zstd_stepped(struct fetch_decode *d, const unsigned char *p,
    size_t n, size_t lim, size_t need, ZSTD_nextInputType_e nit)
{
	ZSTD_frameHeader	fh;
	size_t			r;

	if (d->d_zfree || n == 0)
		return;
	if (d->d_zstart) {
		if (d->d_zhead_len < sizeof(d->d_zhead))
			d->d_zhead[d->d_zhead_len++] = *p;
		r = ZSTD_getFrameHeader(&fh, d->d_zhead, d->d_zhead_len);
		if (ZSTD_isError(r) || d->d_zhead_len == sizeof(d->d_zhead)) {
			d->d_zstart = 0;	/* the decoder will say */
			d->d_zfree = 1;
		} else if (r == 0) {
			d->d_zstart = 0;
			d->d_zfree = fh.frameType == ZSTD_skippableFrame;
			d->d_zpart = 0;
		}
		return;
	}
	if (nit != ZSTDnit_block && nit != ZSTDnit_lastBlock) {
		d->d_zpart = 0;
		return;
	}
	/* A compressed block is buffered until whole (the decoder's count
	 * stays); a raw one decodes as it comes (its count goes down). */
	if (n < lim && ZSTD_nextInputType(d->d_zd) == nit &&
	    ZSTD_nextSrcSizeToDecompress(d->d_zd) == need)
		d->d_zpart += n;
	else
		d->d_zpart = 0;
}

int
fetch_decode_end(struct fetch_decode *d)
{
	const char	*name = d->d_coding == FETCH_DECODE_GZIP ? "gzip" :
			    "zstd";

	if (d->d_failed)
		return -1;
	if (d->d_coding == FETCH_DECODE_IDENTITY)
		return 0;
	if (d->d_in_member || d->d_members == 0) {
		fetch_decode_fail(d, "truncated %s data at byte %lld", name,
		    (long long)d->d_used);
		return -1;
	}
	return 0;
}

enum fetch_decode_coding
fetch_decode_suffix(const char *path)
{
	size_t	n = strlen(path);

	if (n >= 3 && strcasecmp(path + n - 3, ".gz") == 0)
		return FETCH_DECODE_GZIP;
	if (n >= 4 && strcasecmp(path + n - 4, ".zst") == 0)
		return FETCH_DECODE_ZSTD;
	return FETCH_DECODE_IDENTITY;
}

int
fetch_decode_ce_parse(const char *ce, enum fetch_decode_coding *coding,
    char *errbuf, size_t errlen)
{
	const char	*p, *tok, *end;
	size_t		 tl;
	int		 codings = 0;

	for (p = ce; *p != '\0'; p = *end == ',' ? end + 1 : end) {
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
			*coding = FETCH_DECODE_GZIP;
		else if (tl == 4 && str_ncaseeq(tok, "zstd", 4))
			*coding = FETCH_DECODE_ZSTD;
		else {
			snprintf(errbuf, errlen, "unsupported Content-Encoding "
			    "\"%.*s\" (zstd, gzip or identity only)",
			    (int)(tl > 64 ? 64 : tl), tok);
			return -1;
		}
		codings++;
	}
	if (codings > 1) {
		snprintf(errbuf, errlen, "unsupported Content-Encoding "
		    "\"%.100s\" (more than one coding)", ce);
		return -1;
	}
	return 0;
}
