/*
 * buf.c — bounded growable buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xmalloc.h"

void
buf_init(struct buf *b, size_t max)
{
	b->b_data = NULL;
	b->b_len = 0;
	b->b_cap = 0;
	b->b_max = max;
}

void
buf_free(struct buf *b)
{
	free(b->b_data);
	b->b_data = NULL;
	b->b_len = b->b_cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->b_len = 0;
	if (b->b_data != NULL)
		b->b_data[0] = '\0';
}

int
buf_reserve(struct buf *b, size_t extra)
{
	size_t	need, cap;

	if (extra > b->b_max || b->b_len > b->b_max - extra)
		return -1;
	need = b->b_len + extra + 1;
	if (need <= b->b_cap)
		return 0;
	cap = b->b_cap ? b->b_cap : 256;
	while (cap < need)
		cap *= 2;
	if (cap > b->b_max + 1)
		cap = b->b_max + 1;
	b->b_data = xreallocarray(b->b_data, cap, 1);
	b->b_cap = cap;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t len)
{
	if (buf_reserve(b, len) == -1)
		return -1;
	if (len > 0)
		memcpy(b->b_data + b->b_len, p, len);
	b->b_len += len;
	b->b_data[b->b_len] = '\0';
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->b_data + b->b_len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->b_len += (size_t)n;
	return 0;
}

int
buf_json_escape(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t		  i, start = 0;
	unsigned char	  c;
	char		  esc[7];

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (buf_append(b, s + start, i - start) == -1)
			return -1;
		start = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			if (buf_append(b, esc, 6) == -1)
				return -1;
			continue;
		}
		if (buf_append(b, esc, 2) == -1)
			return -1;
	}
	return buf_append(b, s + start, len - start);
}

char *
buf_steal(struct buf *b, size_t *lenp)
{
	char	*p = b->b_data;

	if (lenp != NULL)
		*lenp = b->b_len;
	if (p == NULL)
		p = xstrdup("");
	b->b_data = NULL;
	b->b_len = b->b_cap = 0;
	return p;
}
