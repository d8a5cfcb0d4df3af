/*
 * copybin.c — PostgreSQL's binary COPY format (see "Binary Format" under
 * COPY in the PostgreSQL manual): an 11-byte signature, flags and header
 * extension length, then per tuple an int16 field count and per field an
 * int32 length (-1 for NULL) and the bytes, then an int16 -1 trailer.
 */
#include <string.h>

#include "lib/buf.h"
#include "store/copybin.h"

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
	static const char sig[] = "PGCOPY\n\377\r\n";	/* and its NUL */

	if (buf_append(b, sig, sizeof(sig)) == -1)
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
