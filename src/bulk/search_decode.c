/*
 * search_decode.c — a query part's value, from the URL to the values the
 * compiler binds: percent-decoding (UTF-8 checked), the split on ','
 * with "\," as a literal comma, FHIR's '\' escapes, the '|' of
 * system|code, and the shape of a FHIR id.  Every failure is reported
 * through search_fail() with the offending text quoted, bounded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulk/search.h"
#include "bulk/search_int.h"
#include "lib/buf.h"
#include "lib/httptext.h"
#include "lib/xmalloc.h"

static int	 utf8_valid(const unsigned char *, size_t);

/* RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF. */
static int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t		i = 0, k, len;
	uint32_t	cp, min;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			len = 2, cp = s[i] & 0x1f, min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			len = 3, cp = s[i] & 0x0f, min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			len = 4, cp = s[i] & 0x07, min = 0x10000;
		} else
			return 0;
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* application/x-www-form-urlencoded decoding of s[0..n) into 'out':
 * "+" is a space and %XX a byte; the result must be UTF-8 without NUL. */
int
search_pct_decode(struct sc *c, const char *s, size_t n, struct buf *out)
{
	char		tmp[SHOW_MAX + 8];
	size_t		i;
	unsigned char	byte;
	char		ch;

	buf_reset(out);
	for (i = 0; i < n; i++) {
		ch = s[i];
		if (ch == '+')
			ch = ' ';
		else if (ch == '%') {
			if (httptext_pct_byte(s + i, n - i, &byte) == -1)
				return search_fail(c, "bad percent-escape '%s'",
				    search_show(tmp, sizeof(tmp), s + i,
				    n - i < 3 ? n - i : 3));
			ch = (char)byte;
			i += 2;
			if (ch == '\0')
				return search_fail(c,
				    "'%%00' (NUL) is not allowed in"
				    " '%s'", search_show(tmp, sizeof(tmp), s,
				    n));
		} else if (ch == '\0')
			return search_fail(c, "NUL byte in the query");
		if (buf_putc(out, ch) == -1)
			return search_fail(c, "query too long");
	}
	if (!utf8_valid((const unsigned char *)out->b_data, out->b_len))
		return search_fail(c, "'%s' is not valid UTF-8 once decoded",
		    search_show(tmp, sizeof(tmp), s, n));
	return 0;
}

/* Splits the decoded value on commas that are not escaped; checks that
 * every backslash starts one of FHIR's escapes (\, \$ \| \\). */
int
search_split_values(struct sc *c, struct term *t)
{
	const char	*v = t->t_value, *start = v;
	const char	*name = t->t_param->sp_name;
	char		 tmp[SHOW_MAX + 8];
	size_t		 n = strlen(v), i;

	t->t_nvals = 0;
	if (n == 0)
		return search_fail(c, "%s: empty value", name);
	for (i = 0; i <= n; i++) {
		if (i < n && v[i] == '\\') {
			if (i + 1 == n || strchr(",$|\\", v[i + 1]) == NULL)
				return search_fail(c,
				    "%s: bad escape in '%s' (only"
				    " \\, \\$ \\| \\\\ are defined)", name,
				    search_show(tmp, sizeof(tmp), v, n));
			i++;
			continue;
		}
		if (i < n && v[i] != ',')
			continue;
		if (v + i == start)
			return search_fail(c, "%s: empty value in '%s'", name,
			    search_show(tmp, sizeof(tmp), v, n));
		if (t->t_nvals == SEARCH_MAX_VALUES)
			return search_fail(c, "%s: more than %d values", name,
			    SEARCH_MAX_VALUES);
		t->t_vals[t->t_nvals].v_p = start;
		t->t_vals[t->t_nvals].v_n = (size_t)(v + i - start);
		t->t_nvals++;
		start = v + i + 1;
	}
	return 0;
}

/* Resolves FHIR escapes (already checked by split_values).  Caller frees
 * the result with free(). */
char *
search_unescape(const char *p, size_t n)
{
	char	*s = xmalloc(n + 1);
	size_t	 i, o = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\\' && i + 1 < n)
			i++;
		s[o++] = p[i];
	}
	s[o] = '\0';
	return s;
}

/* The first '|' in p[0..n) that is not escaped, or NULL. */
const char *
search_find_bar(const char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\\')
			i++;
		else if (p[i] == '|')
			return p + i;
	}
	return NULL;
}

