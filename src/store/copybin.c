/*
 * copybin.c — PostgreSQL's binary COPY format (see "Binary Format" under
 * COPY in the PostgreSQL manual): an 11-byte signature, flags and header
 * extension length, then per tuple an int16 field count and per field an
 * int32 length (-1 for NULL) and the bytes, then an int16 -1 trailer.
 */
#include <string.h>

#include "lib/buf.h"
#include "store/copybin.h"

/* The signature that opens a stream, NUL included (11 bytes). */
static const char copybin_sig[] = "PGCOPY\n\377\r\n";

static int
copybin_be(struct buf *b, uint64_t v, size_t n)
{
	unsigned char	out[8];
	size_t		i;

	for (i = 0; i < n; i++)
		out[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
	return buf_append(b, out, n);
}

int
copybin_header(struct buf *b)
{
	if (buf_append(b, copybin_sig, sizeof(copybin_sig)) == -1)
		return -1;
	return copybin_be(b, 0, 4) | copybin_be(b, 0, 4);
}

int
copybin_trailer(struct buf *b)
{
	return copybin_be(b, 0xffff, 2);
}

int
copybin_row(struct buf *b, int nfields)
{
	return copybin_be(b, (uint64_t)nfields, 2);
}

int
copybin_text(struct buf *b, const char *s, size_t n)
{
	if (n > INT32_MAX || buf_reserve(b, 4 + n) == -1)
		return -1;
	(void)copybin_be(b, n, 4);
	return buf_append(b, s, n);
}

int
copybin_null(struct buf *b)
{
	return copybin_be(b, 0xffffffffu, 4);
}

int
copybin_int4(struct buf *b, int32_t v)
{
	if (buf_reserve(b, 8) == -1)
		return -1;
	(void)copybin_be(b, 4, 4);
	return copybin_be(b, (uint32_t)v, 4);
}

int
copybin_int8(struct buf *b, int64_t v)
{
	if (buf_reserve(b, 12) == -1)
		return -1;
	(void)copybin_be(b, 8, 4);
	return copybin_be(b, (uint64_t)v, 8);
}

int
copybin_bool(struct buf *b, int v)
{
	if (buf_reserve(b, 5) == -1)
		return -1;
	(void)copybin_be(b, 1, 4);
	return buf_append(b, v ? "\1" : "\0", 1);
}

/* ---- reading: COPY TO STDOUT (FORMAT binary) ---- */

static uint32_t
copybin_get32(const unsigned char *u)
{
	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	    (uint32_t)u[2] << 8 | u[3];
}

int
copybin_is_header(const char *p, size_t len)
{
	return len >= COPYBIN_HEADER &&
	    memcmp(p, copybin_sig, sizeof(copybin_sig)) == 0;
}

int
copybin_is_trailer(const char *p, size_t len)
{
	return len == 2 && (unsigned char)p[0] == 0xff &&
	    (unsigned char)p[1] == 0xff;
}

int
copybin_split(char *row, size_t len, int nf, char **val, size_t *vlen)
{
	const unsigned char	*u = (const unsigned char *)row;
	size_t			 off = 2;
	uint32_t		 l;
	int			 i;

	if (nf < 1 || len < 2 || ((u[0] << 8) | u[1]) != nf)
		return -1;
	for (i = 0; i < nf; i++) {
		if (len - off < 4)
			return -1;
		l = copybin_get32(u + off);
		off += 4;
		if (l > len - off)	/* NULL (0xffffffff) included */
			return -1;
		val[i] = row + off;
		vlen[i] = l;
		off += l;
	}
	if (off != len)
		return -1;
	for (i = 0; i < nf - 1; i++)
		val[i][vlen[i]] = '\0';
	return 0;
}

int
copybin_tid(const char *v, size_t vlen, int64_t *page, int64_t *off)
{
	const unsigned char	*u = (const unsigned char *)v;

	if (vlen != 6)
		return -1;
	*page = copybin_get32(u);
	*off = u[4] << 8 | u[5];
	return 0;
}
