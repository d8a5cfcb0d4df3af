/*
 * test_lib.c — src/lib: str, buf, jscan, lines.
 */
#include <string.h>
#include <sys/types.h>

#include "check.h"
#include "lib/buf.h"
#include "lib/jscan.h"
#include "lib/lines.h"
#include "lib/str.h"

static void
test_str(void)
{
	int64_t		 v;
	const char	*e;
	char		 d[32];

	CHECK(str_to_i64("42", 0, 100, &v, &e) == 0 && v == 42);
	CHECK(str_to_i64("-1", 0, 100, &v, &e) == -1 &&
	    strcmp(e, "too small") == 0);
	CHECK(str_to_i64("101", 0, 100, &v, &e) == -1 &&
	    strcmp(e, "too large") == 0);
	CHECK(str_to_i64("4x", 0, 100, &v, &e) == -1);
	CHECK(str_to_i64("", 0, 100, &v, &e) == -1);
	CHECK(str_to_i64(" 4", 0, 100, &v, &e) == -1);
	CHECK(str_to_i64("99999999999999999999", 0, INT64_MAX, &v, &e) == -1);
	str_group_digits(d, sizeof(d), 1200000);
	CHECK(strcmp(d, "1,200,000") == 0);
	str_group_digits(d, sizeof(d), 999);
	CHECK(strcmp(d, "999") == 0);
	CHECK(str_lcpy(d, "abcdef", 4) == 6 && strcmp(d, "abc") == 0);
}

static void
test_buf(void)
{
	struct buf	b;

	buf_init(&b, 8);
	CHECK(buf_puts(&b, "1234") == 0);
	CHECK(buf_puts(&b, "5678") == 0);
	CHECK(buf_puts(&b, "9") == -1);	/* over the maximum */
	CHECK(b.b_len == 8 && strcmp(b.b_data, "12345678") == 0);
	buf_reset(&b);
	/* 11 bytes escaped: over the maximum of 8. */
	CHECK(buf_json_escape(&b, "a\"\n\x01", 4) == -1);
	buf_free(&b);
	buf_init(&b, 1024);
	CHECK(buf_json_escape(&b, "a\"\n\x01", 4) == 0);
	CHECK(strcmp(b.b_data, "a\\\"\\n\\u0001") == 0);
	buf_free(&b);
}

static int
count_member(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	(void)k; (void)kl; (void)v; (void)vl;
	(*(int *)arg)++;
	return 0;
}

/* The string scanner reads eight bytes at a time: put each kind of
 * special byte at every offset of a long string and check that it is
 * seen exactly where it is, with the error offset pointing at it. */
static void
test_jscan_positions(void)
{
	static const struct {
		const char	*ins;
		int		 ok;
	} cases[] = {
		{ "\x01", 0 }, { "\x1f", 0 }, { "\x7f", 1 }, { " ", 1 },
		{ "\\n", 1 }, { "\\q", 0 }, { "\xc3\xa9", 1 }, { "\x80", 0 },
		{ "\xff", 0 }, { "\\\"", 1 }, { "\"", 0 },
	};
	struct jscan_error	 err;
	char			 line[64];
	size_t			 c, at, n;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		for (at = 0; at < 24; at++) {
			/* {"k":"aaa...<ins>aaa..."} */
			n = 0;
			memcpy(line, "{\"k\":\"", 6);
			n = 6;
			memset(line + n, 'a', at);
			n += at;
			memcpy(line + n, cases[c].ins, strlen(cases[c].ins));
			n += strlen(cases[c].ins);
			memset(line + n, 'b', 24 - at);
			n += 24 - at;
			memcpy(line + n, "\"}", 2);
			n += 2;
			err.je_offset = 0;
			CHECK((jscan_object(line, n, NULL, NULL, &err) == 0) ==
			    cases[c].ok);
			if (!cases[c].ok && cases[c].ins[0] != '"' &&
			    cases[c].ins[0] != '\\')
				CHECK(err.je_offset == 6 + at);
		}
}

static void
test_jscan(void)
{
	static const char *good[] = {
		"{}", " {\"a\":1} ", "{\"a\":[1,-2.5e+3,true,false,null,{}]}",
		"{\"s\":\"\\u00e9\\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",
	};
	static const char *bad[] = {
		"", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":01}",
		"{\"a\":1}x", "{\"a\":\"\x01\"}", "{\"a\":\"\xc3\"}",
		"{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xc0\xaf\"}",
		"{\"a\":tru}", "{\"a\":\"\\x\"}", "{\"a\":1.}", "{a:1}",
	};
	const char	*v;
	size_t		 i, vn;
	int		 n = 0;
	char		 deep[1200];

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(jscan_object(good[i], strlen(good[i]), NULL, NULL,
		    NULL) == 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(jscan_object(bad[i], strlen(bad[i]), NULL, NULL,
		    NULL) == -1);
	CHECK(jscan_object("{\"a\":1,\"b\":{\"c\":2}}", 19, count_member, &n,
	    NULL) == 0 && n == 2);
	CHECK(jscan_get("{\"a\":1,\"b\":{\"c\":2}}", 19, "b", &v, &vn) == 0 &&
	    vn == 7 && memcmp(v, "{\"c\":2}", 7) == 0);
	/* Nesting beyond the bound is an error, not a stack overflow. */
	memset(deep, '[', sizeof(deep));
	memcpy(deep, "{\"a\":", 5);
	CHECK(jscan_object(deep, sizeof(deep), NULL, NULL, NULL) == -1);
	test_jscan_positions();
}

struct mem {
	const char	*p;
	size_t		 left;
};

static ssize_t
mem_read(void *arg, void *buf, size_t len)
{
	struct mem	*m = arg;
	size_t		 n = m->left < len ? m->left : len;

	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return (ssize_t)n;
}

static void
test_lines(void)
{
	static const char	 in[] = "a\r\n\nbbbbbbbbbbbbbbbbbbbb\nccc";
	struct mem		 m = { in, sizeof(in) - 1 };
	struct lines		 l;
	const char		*line;
	size_t			 len;

	lines_init(&l, mem_read, &m, 10);
	CHECK(lines_next(&l, &line, &len) == LINES_OK && len == 1 &&
	    line[0] == 'a' && l.l_lineno == 1 && l.l_offset == 0);
	CHECK(lines_next(&l, &line, &len) == LINES_OK && len == 0 &&
	    l.l_offset == 3);
	CHECK(lines_next(&l, &line, &len) == LINES_TOOLONG &&
	    l.l_lineno == 3 && l.l_offset == 4);
	CHECK(lines_next(&l, &line, &len) == LINES_OK && len == 3 &&
	    memcmp(line, "ccc", 3) == 0 && l.l_lineno == 4);
	CHECK(lines_next(&l, &line, &len) == LINES_EOF);
	lines_free(&l);
}

int
main(void)
{
	test_str();
	test_buf();
	test_jscan();
	test_lines();
	return CHECK_DONE();
}
