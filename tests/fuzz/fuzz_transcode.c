/*
 * fuzz_transcode.c — fuzz-sources: src/bulk/transcode.c
 *
 * Accept-Encoding negotiation on arbitrary header bytes, and the download
 * transcoder (bulk/transcode.c) over arbitrary files.  Input layout:
 * byte 0 is a mode, bytes 1-2 a position, the rest the payload.  With
 * mode bit 0 the payload is first zstd-compressed (a valid frame, as our
 * writer makes), then bit 1 flips a byte and bit 2 truncates at the
 * position; otherwise the payload is the file as is.  Invariants: no
 * crash or hang; ZSTD passthrough is the file's bytes; IDENTITY with an
 * offset is a suffix of IDENTITY; GZIP inflates to IDENTITY and fails
 * exactly when it does; an untouched frame decodes to the payload.
 */
#include <assert.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "bulk/transcode.h"
#include "lib/xmalloc.h"

#define FZ_MAX_IN	(64 * 1024)
#define FZ_OUT_CAP	(2 * 1024 * 1024)	/* bound on output read */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	fz_path[64];
static int	fz_fd = -1;	/* fz_path, open for writing */
static char	fz_file[FZ_MAX_IN + 1024];
static char	fz_ident[FZ_OUT_CAP];
static char	fz_other[FZ_OUT_CAP];
static char	fz_inflated[FZ_OUT_CAP];

static void
fz_cleanup(void)
{
	unlink(fz_path);
}

/*
 * Reads the whole representation in reads of 'step' bytes into out (at
 * most FZ_OUT_CAP).  Returns bytes read; *status is 0 at a clean end,
 * -1 on error, 1 when the cap stopped us first.
 */
static size_t
fz_read_all(enum transcode_enc enc, int64_t off, size_t step, char *out,
    int *status)
{
	struct transcode	*t;
	char			 err[256];
	size_t			 got = 0, want;
	ssize_t			 n;

	t = transcode_open(fz_path, enc, off, err, sizeof(err));
	assert(t != NULL);
	for (;;) {
		if (got == FZ_OUT_CAP) {
			*status = 1;
			break;
		}
		want = FZ_OUT_CAP - got < step ? FZ_OUT_CAP - got : step;
		n = transcode_read(t, out + got, want);
		assert(n >= -1 && n <= (ssize_t)want);
		if (n == -1) {
			assert(transcode_error(t)[0] != '\0');
			assert(transcode_read(t, out, 1) == -1);
			*status = -1;
			break;
		}
		if (n == 0) {
			assert(transcode_read(t, out, 1) == 0);
			*status = 0;
			break;
		}
		got += (size_t)n;
	}
	transcode_close(t);
	return got;
}

/* Inflates a gzip member; returns its length or -1. */
static ssize_t
fz_gunzip(const char *in, size_t len, char *out, size_t cap)
{
	z_stream	zs;
	int		zrc;
	ssize_t		n;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return -1;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)cap;
	zrc = inflate(&zs, Z_FINISH);
	n = zrc == Z_STREAM_END && zs.avail_in == 0 ?
	    (ssize_t)(cap - zs.avail_out) : -1;
	inflateEnd(&zs);
	return n;
}

static void
fz_choose(const uint8_t *data, size_t size)
{
	enum transcode_enc	 e = TRANSCODE_IDENTITY;
	char			*hdr;
	int			 rc;

	hdr = xmalloc(size + 1);
	memcpy(hdr, data, size);
	hdr[size] = '\0';
	rc = transcode_choose(hdr, &e);
	assert(rc == 0 || rc == -1);
	if (rc == 0)
		assert(e == TRANSCODE_IDENTITY || e == TRANSCODE_GZIP ||
		    e == TRANSCODE_ZSTD);
	free(hdr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ZSTD_CCtx	*cctx;
	const uint8_t	*payload;
	size_t		 plen, flen, ilen, olen, pos, step, o;
	int		 mode, valid, ist, ost;
	ssize_t		 glen;
	int64_t		 off;

	fz_choose(data, size);
	if (size < 3 || size - 3 > FZ_MAX_IN)
		return 0;
	if (fz_path[0] == '\0') {
		snprintf(fz_path, sizeof(fz_path), "/tmp/fuzz_tc.XXXXXX");
		fz_fd = mkstemp(fz_path);
		assert(fz_fd != -1);
		atexit(fz_cleanup);
	}
	mode = data[0];
	pos = (size_t)data[1] << 8 | data[2];
	payload = data + 3;
	plen = size - 3;
	valid = 0;
	if (mode & 1) {
		cctx = ZSTD_createCCtx();
		assert(cctx != NULL);
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
		flen = ZSTD_compress2(cctx, fz_file, sizeof(fz_file), payload,
		    plen);
		assert(!ZSTD_isError(flen));
		ZSTD_freeCCtx(cctx);
		valid = 1;
		if ((mode & 2) && flen > 0) {
			fz_file[pos % flen] ^= (char)(1 + (mode >> 4));
			valid = 0;
		}
		if ((mode & 4) && pos < flen) {
			flen = pos;
			valid = 0;
		}
	} else {
		memcpy(fz_file, payload, plen);
		flen = plen;
	}
	/* Rewritten in place: truncating to 0 first makes ext4 flush the
	 * file on close (auto_da_alloc), which slows each run 100 times. */
	assert(pwrite(fz_fd, fz_file, flen, 0) == (ssize_t)flen);
	assert(ftruncate(fz_fd, (off_t)flen) == 0);

	step = 1 + (size_t)(mode >> 3) * 97;

	/* ZSTD: the stored bytes from an offset, unchanged. */
	off = (int64_t)(pos % (flen + 2));
	olen = fz_read_all(TRANSCODE_ZSTD, off, step, fz_other, &ost);
	o = (size_t)off > flen ? flen : (size_t)off;
	assert(ost == 0 && olen == flen - o);
	assert(olen == 0 || memcmp(fz_other, fz_file + o, olen) == 0);

	/* IDENTITY, whole. */
	ilen = fz_read_all(TRANSCODE_IDENTITY, 0, step, fz_ident, &ist);
	if (valid)
		assert(ist == 0 && ilen == plen &&
		    (plen == 0 || memcmp(fz_ident, payload, plen) == 0));
	if (ist == 1)
		return 0;	/* a bomb past the cap: nothing to compare */

	/* IDENTITY from an offset: a suffix, or the same failure. */
	off = (int64_t)(pos % (ilen + 2));
	olen = fz_read_all(TRANSCODE_IDENTITY, off, step + 1, fz_other, &ost);
	assert(ost == ist);
	if (ist == 0) {
		o = (size_t)off > ilen ? ilen : (size_t)off;
		assert(olen == ilen - o);
		assert(olen == 0 || memcmp(fz_other, fz_ident + o, olen) == 0);
	}

	/* GZIP: fails exactly when IDENTITY does, else inflates to it. */
	olen = fz_read_all(TRANSCODE_GZIP, 0, step, fz_other, &ost);
	if (ost == 1)
		return 0;
	assert(ost == ist);
	if (ist == 0) {
		glen = fz_gunzip(fz_other, olen, fz_inflated,
		    sizeof(fz_inflated));
		assert(glen == (ssize_t)ilen);
		assert(ilen == 0 || memcmp(fz_inflated, fz_ident, ilen) == 0);
	}
	return 0;
}
