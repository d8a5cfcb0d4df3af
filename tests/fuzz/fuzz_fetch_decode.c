/*
 * fuzz_fetch_decode.c — fuzz-sources: src/bulk/fetch_decode.c
 * fuzz-runs: 5000 (each input may set up a 128 MB zstd window)
 *
 * The import fetcher's decoders (bulk/fetch_decode.h) and the parsers
 * that choose one.  Input layout: byte 0 is a mode (bits 0-1 the coding:
 * identity, gzip, zstd, or 3 = the one a Content-Encoding parse of the
 * payload picks; bit 7: compress the payload first, so the decoder sees
 * a valid stream), byte 1 the chunk and output sizes, the rest the
 * payload.  The payload is decoded twice: in one piece into a large
 * buffer, and as fetch.c feeds it, in small chunks with the unused rest
 * passed again, into a small buffer.  Invariants: no crash, hang or
 * unbounded output; both runs agree on success, and on the output (one
 * is a prefix of the other if they failed); a compressed payload decodes
 * to itself; a failure is sticky and has a reason.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>

#include "bulk/fetch_decode.h"
#include "lib/xmalloc.h"

#define FZ_OUT_CAP	(1024 * 1024)	/* decoded bytes looked at */
#define FZ_CE_MAX	512

struct fz_run {
	char	*out;		/* decoded bytes, FZ_OUT_CAP */
	size_t	 len;		/* ... so many */
	int	 ok;		/* run and end both succeeded */
	int	 capped;	/* stopped at FZ_OUT_CAP */
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fz_decode(enum fetch_decode_coding c, const uint8_t *in, size_t inlen,
    size_t chunk, size_t outsz, struct fz_run *r)
{
	struct fetch_decode	*d;
	char			 err[256], *buf;
	size_t			 fed = 0, pos = 0, used;
	ssize_t			 n;

	memset(r, 0, sizeof(*r));
	r->out = xmalloc(FZ_OUT_CAP);
	buf = xmalloc(outsz);
	d = fetch_decode_new(c, err, sizeof(err));
	assert(d != NULL);
	/* As fetch_read: decode while there is input or held output, then
	 * take the next chunk, and at the end check completeness. */
	for (;;) {
		if (pos < fed || fetch_decode_more(d)) {
			n = fetch_decode_run(d, in + pos, fed - pos, &used,
			    buf, outsz);
			assert(used <= fed - pos);
			pos += used;
			if (n < 0) {
				assert(fetch_decode_error(d)[0] != '\0');
				break;
			}
			assert((size_t)n <= outsz);
			if (n > 0) {
				if (r->len + (size_t)n > FZ_OUT_CAP) {
					r->capped = 1;
					break;
				}
				memcpy(r->out + r->len, buf, (size_t)n);
				r->len += (size_t)n;
				if (fetch_decode_error(d)[0] != '\0')
					break;	/* the next run fails */
				continue;
			}
			if (pos < fed)
				continue;
		}
		if (fed == inlen) {
			r->ok = fetch_decode_end(d) == 0;
			if (!r->ok)
				assert(fetch_decode_error(d)[0] != '\0');
			break;
		}
		fed = fed + chunk < inlen ? fed + chunk : inlen;
	}
	if (fetch_decode_error(d)[0] != '\0') {
		/* Sticky. */
		assert(fetch_decode_run(d, in, inlen, &used, buf, outsz) == -1);
		assert(used == 0);
		assert(fetch_decode_end(d) == -1);
	}
	fetch_decode_free(d);
	free(buf);
}

static size_t
fz_compress(enum fetch_decode_coding c, const uint8_t *in, size_t len,
    uint8_t **out)
{
	z_stream	zs;
	size_t		cap;

	if (c == FETCH_DECODE_ZSTD) {
		cap = ZSTD_compressBound(len);
		*out = xmalloc(cap);
		cap = ZSTD_compress(*out, cap, in, len, 1);
		assert(!ZSTD_isError(cap));
		return cap;
	}
	memset(&zs, 0, sizeof(zs));
	assert(deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) == Z_OK);
	cap = deflateBound(&zs, (uLong)len) + 32;
	*out = xmalloc(cap);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = *out;
	zs.avail_out = (uInt)cap;
	assert(deflate(&zs, Z_FINISH) == Z_STREAM_END);
	cap = cap - zs.avail_out;
	deflateEnd(&zs);
	return cap;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum fetch_decode_coding c;
	struct fz_run	 whole, bits;
	char		 ce[FZ_CE_MAX + 1], err[256];
	uint8_t		*packed = NULL;
	const uint8_t	*in;
	size_t		 inlen, chunk, outsz, m;

	if (size < 2)
		return 0;
	in = data + 2;
	inlen = size - 2;

	/* The parsers, on the payload as text. */
	m = inlen < FZ_CE_MAX ? inlen : FZ_CE_MAX;
	memcpy(ce, in, m);
	ce[m] = '\0';
	c = fetch_decode_suffix(ce);
	assert(c == FETCH_DECODE_IDENTITY || c == FETCH_DECODE_GZIP ||
	    c == FETCH_DECODE_ZSTD);
	c = FETCH_DECODE_IDENTITY;
	err[0] = '\0';
	if (fetch_decode_ce_parse(ce, &c, err, sizeof(err)) == -1)
		assert(err[0] != '\0' && strlen(err) < sizeof(err));
	assert(c == FETCH_DECODE_IDENTITY || c == FETCH_DECODE_GZIP ||
	    c == FETCH_DECODE_ZSTD);
	if ((data[0] & 3) != 3)
		c = (enum fetch_decode_coding)(data[0] & 3);

	if ((data[0] & 0x80) && c != FETCH_DECODE_IDENTITY) {
		inlen = fz_compress(c, in, inlen, &packed);
		in = packed;
	}
	chunk = (size_t)((data[0] >> 2) & 0x1f) + 1;
	outsz = (size_t)data[1] + 1;
	fz_decode(c, in, inlen, inlen > 0 ? inlen : 1, 64 * 1024, &whole);
	fz_decode(c, in, inlen, chunk, outsz, &bits);
	if (!whole.capped && !bits.capped) {
		assert(whole.ok == bits.ok);
		if (whole.ok)
			assert(whole.len == bits.len &&
			    memcmp(whole.out, bits.out, whole.len) == 0);
		else {
			m = whole.len < bits.len ? whole.len : bits.len;
			assert(memcmp(whole.out, bits.out, m) == 0);
		}
		if (packed != NULL)
			assert(whole.ok && whole.len == size - 2 &&
			    memcmp(whole.out, data + 2, size - 2) == 0);
	}
	free(whole.out);
	free(bits.out);
	free(packed);
	return 0;
}
