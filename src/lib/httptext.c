/*
 * httptext.c — qvalues and percent-encoding (httptext.h), written once
 * for http/ (the router's parsers), bulk/ (Accept-Encoding, the search
 * query), api/ and cli/ (URLs they build).
 */
#include <string.h>

#include "lib/buf.h"
#include "lib/httptext.h"

int
httptext_qvalue(const char *s, size_t len, int *q)
{
	size_t	i;
	int	v, scale = 100;

	if (len == 0 || (s[0] != '0' && s[0] != '1'))
		return -1;
	v = (s[0] - '0') * 1000;
	if (len == 1)
		goto done;
	if (s[1] != '.' || len > 5)
		return -1;
	for (i = 2; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v += (s[i] - '0') * scale;
		scale /= 10;
	}
	if (v > 1000)
		return -1;
 done:
	*q = v;
	return 0;
}

int
httptext_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int
httptext_pct_byte(const char *s, size_t n, unsigned char *out)
{
	int	hi, lo;

	if (n < 3 || s[0] != '%' ||
	    (hi = httptext_hexval((unsigned char)s[1])) == -1 ||
	    (lo = httptext_hexval((unsigned char)s[2])) == -1)
		return -1;
	*out = (unsigned char)(hi << 4 | lo);
	return 0;
}

int
httptext_pct_encode(struct buf *b, const char *s, const char *keep)
{
	static const char	hex[] = "0123456789ABCDEF";
	unsigned char		c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr(keep, c) != NULL) {
			if (buf_putc(b, (char)c) == -1)
				return -1;
		} else if (buf_putc(b, '%') == -1 ||
		    buf_putc(b, hex[c >> 4]) == -1 ||
		    buf_putc(b, hex[c & 15]) == -1)
			return -1;
	}
	return 0;
}
