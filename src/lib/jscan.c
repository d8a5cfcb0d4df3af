/*
 * jscan.c — single-pass JSON validation (RFC 8259) with UTF-8 checks.
 *
 * Recursive descent over a cursor; depth bounded by JSCAN_MAX_DEPTH so a
 * hostile line cannot exhaust the stack.  Strings are skipped with a fast
 * path for plain ASCII and a full check of multi-byte UTF-8 sequences
 * (no overlongs, no surrogates, nothing above U+10FFFF).
 */
#include <stdint.h>
#include <string.h>

#include "jscan.h"

struct jscan {
	const unsigned char	*p;	/* cursor */
	const unsigned char	*start;
	const unsigned char	*end;
	struct jscan_error	*err;
};

static int	jscan_value(struct jscan *, int);

static int
jscan_fail(struct jscan *s, const char *reason)
{
	if (s->err != NULL) {
		s->err->je_offset = (size_t)(s->p - s->start);
		s->err->je_reason = reason;
	}
	return -1;
}

static void
jscan_ws(struct jscan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* Validates one UTF-8 sequence starting at s->p (a byte >= 0x80). */
static int
jscan_utf8(struct jscan *s)
{
	const unsigned char	*p = s->p;
	unsigned int		 c = p[0], need, cp, min;

	if (c >= 0xc2 && c <= 0xdf) {
		need = 1; cp = c & 0x1f; min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2; cp = c & 0x0f; min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3; cp = c & 0x07; min = 0x10000;
	} else
		return jscan_fail(s, "invalid UTF-8");
	if ((size_t)(s->end - p) <= need)
		return jscan_fail(s, "truncated UTF-8 sequence");
	for (unsigned int i = 1; i <= need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return jscan_fail(s, "invalid UTF-8");
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return jscan_fail(s, "invalid UTF-8");
	s->p += need + 1;
	return 0;
}

static int
jscan_hex4(struct jscan *s)
{
	int	i;

	if (s->end - s->p < 4)
		return jscan_fail(s, "truncated \\u escape");
	for (i = 0; i < 4; i++) {
		unsigned char c = s->p[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F')))
			return jscan_fail(s, "invalid \\u escape");
	}
	s->p += 4;
	return 0;
}

#define JSCAN_ONES	0x0101010101010101ULL
#define JSCAN_HIGHS	0x8080808080808080ULL
/* Nonzero high bit in each byte of v that is zero (exact for the first
 * zero byte, which is all the caller needs: any hit means "not plain"). */
#define JSCAN_HASZERO(v)	(((v) - JSCAN_ONES) & ~(v) & JSCAN_HIGHS)

/* Marks (high bit of the byte) each of the 8 bytes at p that is a quote,
 * a backslash, a control character or non-ASCII; zero when all are plain.
 * The lowest mark is always exact (borrows only run upward), which is
 * all the caller uses.  Profiles put string scanning at over a third of
 * 'bulkhead load'; FHIR strings are mostly plain ASCII. */
static uint64_t
jscan_special8(const unsigned char *p)
{
	uint64_t	w;

	memcpy(&w, p, sizeof(w));
	return (w & JSCAN_HIGHS) |
	    ((w - 0x2020202020202020ULL) & ~w & JSCAN_HIGHS) |
	    JSCAN_HASZERO(w ^ 0x2222222222222222ULL) |
	    JSCAN_HASZERO(w ^ 0x5c5c5c5c5c5c5c5cULL);
}

/* At the opening quote; leaves the cursor after the closing one. */
static int
jscan_string(struct jscan *s)
{
	s->p++;
	for (;;) {
		/* Fast path: plain printable ASCII, eight bytes at a time
		 * while none of them needs a closer look. */
		while (s->end - s->p >= 8) {
			uint64_t m = jscan_special8(s->p);

			if (m == 0) {
				s->p += 8;
				continue;
			}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			s->p += (unsigned)__builtin_ctzll(m) >> 3;
#endif
			break;
		}
		while (s->p < s->end && *s->p >= 0x20 && *s->p < 0x80 &&
		    *s->p != '"' && *s->p != '\\')
			s->p++;
		if (s->p >= s->end)
			return jscan_fail(s, "unterminated string");
		if (*s->p == '"') {
			s->p++;
			return 0;
		}
		if (*s->p == '\\') {
			s->p++;
			if (s->p >= s->end)
				return jscan_fail(s, "unterminated string");
			switch (*s->p) {
			case '"': case '\\': case '/': case 'b': case 'f':
			case 'n': case 'r': case 't':
				s->p++;
				break;
			case 'u':
				s->p++;
				if (jscan_hex4(s) == -1)
					return -1;
				break;
			default:
				return jscan_fail(s, "invalid escape");
			}
			continue;
		}
		if (*s->p < 0x20)
			return jscan_fail(s, "control character in string");
		if (jscan_utf8(s) == -1)
			return -1;
	}
}

static int
jscan_number(struct jscan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p >= s->end)
		return jscan_fail(s, "truncated number");
	if (*s->p == '0')
		s->p++;
	else if (*s->p >= '1' && *s->p <= '9')
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			s->p++;
	else
		return jscan_fail(s, "invalid number");
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (s->p >= s->end || *s->p < '0' || *s->p > '9')
			return jscan_fail(s, "invalid number");
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (s->p >= s->end || *s->p < '0' || *s->p > '9')
			return jscan_fail(s, "invalid number");
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			s->p++;
	}
	return 0;
}

static int
jscan_literal(struct jscan *s, const char *word)
{
	size_t	n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return jscan_fail(s, "invalid literal");
	s->p += n;
	return 0;
}

static int
jscan_array(struct jscan *s, int depth)
{
	s->p++;
	jscan_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 0;
	}
	for (;;) {
		if (jscan_value(s, depth + 1) == -1)
			return -1;
		jscan_ws(s);
		if (s->p >= s->end)
			return jscan_fail(s, "unterminated array");
		if (*s->p == ']') {
			s->p++;
			return 0;
		}
		if (*s->p != ',')
			return jscan_fail(s, "expected ',' or ']'");
		s->p++;
	}
}

/* Objects at depth 0 report their members; nested ones are skipped. */
static int
jscan_obj(struct jscan *s, int depth, jscan_member_fn member, void *arg)
{
	const unsigned char	*key, *key_end, *val;

	s->p++;
	jscan_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		jscan_ws(s);
		if (s->p >= s->end)
			return jscan_fail(s, "unterminated object");
		if (*s->p != '"')
			return jscan_fail(s, "expected a key");
		key = s->p;
		if (jscan_string(s) == -1)
			return -1;
		key_end = s->p - 1;
		jscan_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return jscan_fail(s, "expected ':'");
		s->p++;
		jscan_ws(s);
		val = s->p;
		if (jscan_value(s, depth + 1) == -1)
			return -1;
		if (member != NULL && member(arg, (const char *)key + 1,
		    (size_t)(key_end - key - 1), (const char *)val,
		    (size_t)(s->p - val)) == -1) {
			return jscan_fail(s, "stopped");
		}
		jscan_ws(s);
		if (s->p >= s->end)
			return jscan_fail(s, "unterminated object");
		if (*s->p == '}') {
			s->p++;
			return 0;
		}
		if (*s->p != ',')
			return jscan_fail(s, "expected ',' or '}'");
		s->p++;
	}
}

static int
jscan_value(struct jscan *s, int depth)
{
	if (depth > JSCAN_MAX_DEPTH)
		return jscan_fail(s, "nesting too deep");
	jscan_ws(s);
	if (s->p >= s->end)
		return jscan_fail(s, "unexpected end of input");
	switch (*s->p) {
	case '{':
		return jscan_obj(s, depth, NULL, NULL);
	case '[':
		return jscan_array(s, depth);
	case '"':
		return jscan_string(s);
	case 't':
		return jscan_literal(s, "true");
	case 'f':
		return jscan_literal(s, "false");
	case 'n':
		return jscan_literal(s, "null");
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return jscan_number(s);
		return jscan_fail(s, "unexpected character");
	}
}

int
jscan_object(const char *buf, size_t len, jscan_member_fn member, void *arg,
    struct jscan_error *err)
{
	struct jscan	s;

	s.start = s.p = (const unsigned char *)buf;
	s.end = s.p + len;
	s.err = err;
	jscan_ws(&s);
	if (s.p >= s.end)
		return jscan_fail(&s, "empty");
	if (*s.p != '{')
		return jscan_fail(&s, "not a JSON object");
	if (jscan_obj(&s, 0, member, arg) == -1)
		return -1;
	jscan_ws(&s);
	if (s.p != s.end)
		return jscan_fail(&s, "trailing data after the object");
	return 0;
}

int
jscan_plain_string(const char *value, size_t len, const char **s, size_t *n)
{
	if (len < 2 || value[0] != '"' || value[len - 1] != '"')
		return -1;
	if (memchr(value + 1, '\\', len - 2) != NULL)
		return -1;
	*s = value + 1;
	*n = len - 2;
	return 0;
}

struct jscan_find {
	const char	*key;
	size_t		 keylen;
	const char	*value;
	size_t		 valuelen;
};

static int
jscan_find_cb(void *arg, const char *key, size_t keylen, const char *value,
    size_t valuelen)
{
	struct jscan_find	*f = arg;

	if (keylen == f->keylen && memcmp(key, f->key, keylen) == 0) {
		f->value = value;
		f->valuelen = valuelen;
	}
	return 0;
}

int
jscan_get(const char *obj, size_t len, const char *key, const char **value,
    size_t *valuelen)
{
	struct jscan_find	f = { key, strlen(key), NULL, 0 };

	if (jscan_object(obj, len, jscan_find_cb, &f, NULL) == -1 ||
	    f.value == NULL)
		return -1;
	*value = f.value;
	*valuelen = f.valuelen;
	return 0;
}
