/*
 * test_http_parse.c — the router's pure parsers: Accept with q-values,
 * Accept-Encoding, Content-Type, _format, Prefer, the path splitter
 * (percent-decoding, "..", %2F) and the pattern matcher.
 */
#include <stdio.h>
#include <string.h>

#include "http/http_parse.h"

static int	passed, failed;

#define CHECK(cond) do {						\
	if (cond)							\
		passed++;						\
	else {								\
		failed++;						\
		fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
	}								\
} while (0)

static const char *const offers[] = {
	"application/fhir+json", "application/json", "application/json+fhir",
};

static void
test_accept(void)
{
	static const struct {
		const char	*accept;
		int		 want;
	} cases[] = {
		{ NULL, 0 },
		{ "", 0 },
		{ "*/*", 0 },
		{ "application/json", 1 },
		{ "APPLICATION/JSON", 1 },
		{ "application/fhir+json", 0 },
		{ "application/*", 0 },
		{ "application/json+fhir", 2 },
		{ "text/html", -1 },
		{ "application/xml", -1 },
		{ "application/fhir+xml", -1 },
		{ "text/html, application/xhtml+xml, */*;q=0", -1 },
		{ "text/html, application/json;q=0.5", 1 },
		{ "application/fhir+json;q=0, application/json", 1 },
		{ "application/fhir+json;q=0, */*", 1 },
		{ "*/*;q=0", -1 },
		{ "application/json;q=0.9, application/fhir+json;q=0.8", 1 },
		{ "application/json;q=0.8, application/fhir+json;q=0.8", 0 },
		{ "application/fhir+json; fhirVersion=4.0", 0 },
		{ "application/fhir+json ; q=1.000", 0 },
		{ "application/*;q=0.1, application/fhir+json;q=0", 1 },
		/* the most specific range decides, even with a lower q:
		 * fhir+json gets 0.1, json 0, json+fhir 0.9 (via x/x) */
		{ "application/*;q=0.9, application/fhir+json;q=0.1, "
		    "application/json;q=0", 2 },
		{ "application/*;q=0.9, application/fhir+json;q=0.1, "
		    "application/json;q=0, application/json+fhir;q=0", 0 },
		{ "application/json;foo=\"a,b\", text/html", 1 },
		{ "text/html,,, ,application/json", 1 },
		/* wholly malformed: treated as absent (lenient) */
		{ "garbage", 0 },
		{ "*/json", 0 },
		{ "application/json;q=1.5", 0 },
		{ "application/json;q=0.12345", 0 },
		{ "application/json;q=", 0 },
		{ "\"unterminated", 0 },
		/* malformed elements skipped, the rest counts */
		{ "text/html;q=bad, text/plain", -1 },
		{ "application/json;q=2, text/plain", -1 },
	};
	size_t	i;
	int	got;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = http_parse_accept(cases[i].accept, offers, 3);
		if (got != cases[i].want)
			fprintf(stderr, "accept \"%s\": got %d, want %d\n",
			    cases[i].accept ? cases[i].accept : "(null)", got,
			    cases[i].want);
		CHECK(got == cases[i].want);
	}
	CHECK(http_parse_accept("*/*", offers, 0) == -1);
}

static void
test_accept_encoding(void)
{
	static const struct {
		const char	*ae;
		const char	*coding;
		int		 want;
	} cases[] = {
		{ NULL, "identity", 1000 },
		{ NULL, "gzip", 0 },
		{ "", "identity", 1000 },
		{ "", "zstd", 0 },
		{ "gzip", "gzip", 1000 },
		{ "gzip", "zstd", 0 },
		{ "gzip", "identity", 1000 },
		{ "gzip;q=0.5, zstd", "zstd", 1000 },
		{ "gzip;q=0.5, zstd", "gzip", 500 },
		{ "*", "zstd", 1000 },
		{ "*;q=0", "identity", 0 },
		{ "*;q=0", "gzip", 0 },
		{ "identity;q=0, *", "identity", 0 },
		{ "identity;q=0, *", "gzip", 1000 },
		{ "zstd;q=0, *", "zstd", 0 },
		{ "zstd;q=0, *", "gzip", 1000 },
		{ "GZIP", "gzip", 1000 },
		{ "br;q=0.8, gzip;q=1.0", "gzip", 1000 },
		{ "gzip;q=x, zstd", "gzip", 0 },
		{ "deflate, gzip;q=0.001", "gzip", 1 },
	};
	size_t	i;
	int	got;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = http_parse_accept_encoding(cases[i].ae, cases[i].coding);
		if (got != cases[i].want)
			fprintf(stderr, "accept-encoding \"%s\" %s: got %d, "
			    "want %d\n", cases[i].ae ? cases[i].ae : "(null)",
			    cases[i].coding, got, cases[i].want);
		CHECK(got == cases[i].want);
	}
}

static void
test_content_type(void)
{
	CHECK(http_parse_content_type_json("application/json"));
	CHECK(http_parse_content_type_json("application/fhir+json"));
	CHECK(http_parse_content_type_json(
	    "application/fhir+json; charset=utf-8"));
	CHECK(http_parse_content_type_json("Application/JSON;charset=UTF-8"));
	CHECK(http_parse_content_type_json("application/json+fhir"));
	CHECK(http_parse_content_type_json("application/merge-patch+json"));
	CHECK(!http_parse_content_type_json(NULL));
	CHECK(!http_parse_content_type_json(""));
	CHECK(!http_parse_content_type_json("text/plain"));
	CHECK(!http_parse_content_type_json("application/xml"));
	CHECK(!http_parse_content_type_json("application/fhir+ndjson"));
	CHECK(!http_parse_content_type_json(
	    "application/x-www-form-urlencoded"));
	CHECK(!http_parse_content_type_json("text/json"));
	CHECK(!http_parse_content_type_json("application/json, text/plain"));
	CHECK(!http_parse_content_type_json("application/+json"));
}

static void
test_format(void)
{
	CHECK(http_parse_format_json("json"));
	CHECK(http_parse_format_json("JSON"));
	CHECK(http_parse_format_json("application/json"));
	CHECK(http_parse_format_json("application/fhir+json"));
	CHECK(http_parse_format_json("application/fhir json"));
	CHECK(http_parse_format_json("application/json+fhir"));
	CHECK(http_parse_format_json("application/fhir+json;fhirVersion=4.0"));
	CHECK(http_parse_format_json(" json "));
	CHECK(!http_parse_format_json(NULL));
	CHECK(!http_parse_format_json(""));
	CHECK(!http_parse_format_json("xml"));
	CHECK(!http_parse_format_json("application/fhir+xml"));
	CHECK(!http_parse_format_json("text/xml"));
	CHECK(!http_parse_format_json("html"));
	CHECK(!http_parse_format_json("ttl"));
	CHECK(!http_parse_format_json("ndjson"));
}

static void
test_prefer(void)
{
	struct http_prefer	p;

	http_parse_prefer(NULL, &p);
	CHECK(!p.hp_respond_async && !p.hp_separate_status &&
	    p.hp_handling == HTTP_PREFER_HANDLING_UNSET);
	http_parse_prefer("respond-async", &p);
	CHECK(p.hp_respond_async);
	http_parse_prefer("RESPOND-ASYNC, handling=lenient", &p);
	CHECK(p.hp_respond_async &&
	    p.hp_handling == HTTP_PREFER_HANDLING_LENIENT);
	http_parse_prefer("handling = \"strict\"; foo=bar", &p);
	CHECK(!p.hp_respond_async &&
	    p.hp_handling == HTTP_PREFER_HANDLING_STRICT);
	http_parse_prefer("respond-async, separate-export-status", &p);
	CHECK(p.hp_respond_async && p.hp_separate_status);
	http_parse_prefer("handling=bogus, return=minimal", &p);
	CHECK(p.hp_handling == HTTP_PREFER_HANDLING_UNSET);
	http_parse_prefer("handling=\"unterminated, respond-async", &p);
	CHECK(p.hp_handling == HTTP_PREFER_HANDLING_UNSET);
}

static void
test_path(void)
{
	static const char *const bad[] = {
		NULL, "", "fhir", "*", "http://host/fhir/metadata",
		"/fhir/a%2Fb", "/fhir/a%2fb", "/fhir/../x", "/fhir/%2E%2E/x",
		"/fhir/%2e./x", "/fhir/./x", "/..", "/fhir/..", "/fhir/%zz",
		"/fhir/%4", "/fhir/%", "/a%00b", "/a%0Ab", "/a\tb", "/a%7Fb",
	};
	struct http_path	p;
	char			long_path[HTTP_PARSE_MAX_PATH + 16];
	char			many[4 * HTTP_PARSE_MAX_SEGS + 8];
	size_t			i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (http_parse_path(bad[i], &p) != -1)
			fprintf(stderr, "path \"%s\" accepted\n",
			    bad[i] ? bad[i] : "(null)");
		CHECK(http_parse_path(bad[i], &p) == -1);
	}

	CHECK(http_parse_path("/fhir/metadata", &p) == 0);
	CHECK(p.hp_nseg == 2 && strcmp(p.hp_seg[0], "fhir") == 0 &&
	    strcmp(p.hp_seg[1], "metadata") == 0);
	CHECK(http_parse_path("/", &p) == 0);
	CHECK(p.hp_nseg == 1 && p.hp_seg[0][0] == '\0');
	CHECK(http_parse_path("/fhir/Group/a%20b/$export?x=%2F&y=..", &p) == 0);
	CHECK(p.hp_nseg == 4 && strcmp(p.hp_seg[2], "a b") == 0 &&
	    strcmp(p.hp_seg[3], "$export") == 0);
	CHECK(http_parse_path("/fhir/%24export", &p) == 0);
	CHECK(p.hp_nseg == 2 && strcmp(p.hp_seg[1], "$export") == 0);
	CHECK(http_parse_path("/fhir/metadata#frag", &p) == 0);
	CHECK(p.hp_nseg == 2 && strcmp(p.hp_seg[1], "metadata") == 0);
	CHECK(http_parse_path("/fhir/.../x", &p) == 0);
	CHECK(http_parse_path("/fhir/a..b/.x", &p) == 0);
	CHECK(http_parse_path("/fhir//x/", &p) == 0);
	CHECK(p.hp_nseg == 4 && p.hp_seg[1][0] == '\0' &&
	    p.hp_seg[3][0] == '\0');
	CHECK(http_parse_path("/caf%C3%A9", &p) == 0);
	CHECK(strcmp(p.hp_seg[0], "caf\xc3\xa9") == 0);

	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	CHECK(http_parse_path(long_path, &p) == -1);
	long_path[HTTP_PARSE_MAX_PATH - 1] = '\0';	/* exactly fits */
	CHECK(http_parse_path(long_path, &p) == 0);

	for (i = 0; i < HTTP_PARSE_MAX_SEGS; i++)
		memcpy(many + 2 * i, "/a", 2);
	many[2 * i] = '\0';
	CHECK(http_parse_path(many, &p) == 0 &&
	    p.hp_nseg == HTTP_PARSE_MAX_SEGS);
	memcpy(many + 2 * i, "/a", 3);
	CHECK(http_parse_path(many, &p) == -1);
}

static void
test_match(void)
{
	struct http_path	 p;
	const char		*params[4];
	size_t			 np = 99;

	CHECK(http_parse_path("/fhir/metadata", &p) == 0);
	CHECK(http_parse_match("/fhir/metadata", &p, params, 4, &np) == 1);
	CHECK(np == 0);
	CHECK(http_parse_match("/fhir/Metadata", &p, params, 4, &np) == 0);
	CHECK(http_parse_match("/fhir", &p, params, 4, &np) == 0);
	CHECK(http_parse_match("/fhir/metadata/x", &p, params, 4, &np) == 0);
	CHECK(http_parse_match("/fhir/{x}", &p, params, 4, &np) == 1);
	CHECK(np == 1 && strcmp(params[0], "metadata") == 0);

	CHECK(http_parse_path("/fhir/metadata/", &p) == 0);
	CHECK(http_parse_match("/fhir/metadata", &p, params, 4, &np) == 0);

	CHECK(http_parse_path("/fhir/Group/42/$export", &p) == 0);
	CHECK(http_parse_match("/fhir/Group/{id}/$export", &p, params, 4,
	    &np) == 1);
	CHECK(np == 1 && strcmp(params[0], "42") == 0);
	CHECK(http_parse_match("/fhir/Group/{id}", &p, params, 4, &np) == 0);
	CHECK(http_parse_match("/fhir/Patient/$export", &p, params, 4,
	    &np) == 0);

	CHECK(http_parse_path("/fhir/Group//$export", &p) == 0);
	CHECK(http_parse_match("/fhir/Group/{id}/$export", &p, params, 4,
	    &np) == 0);

	CHECK(http_parse_path("/fhir/_files/j1/Patient.ndjson", &p) == 0);
	CHECK(http_parse_match("/fhir/_files/{id}/{name}", &p, params, 4,
	    &np) == 1);
	CHECK(np == 2 && strcmp(params[0], "j1") == 0 &&
	    strcmp(params[1], "Patient.ndjson") == 0);
	/* more captures than room: counted, not stored past maxparams */
	CHECK(http_parse_match("/{a}/{b}/{c}/{d}", &p, params, 1, &np) == 1);
	CHECK(np == 4 && strcmp(params[0], "fhir") == 0);

	CHECK(http_parse_path("/", &p) == 0);
	CHECK(http_parse_match("/", &p, params, 4, NULL) == 1);
	CHECK(http_parse_match("/{x}", &p, params, 4, NULL) == 0);
	CHECK(http_parse_match("relative", &p, params, 4, NULL) == 0);

	CHECK(http_parse_param_index("/fhir/_files/{id}/{name}", "id") == 0);
	CHECK(http_parse_param_index("/fhir/_files/{id}/{name}", "name") ==
	    1);
	CHECK(http_parse_param_index("/fhir/_files/{id}/{name}", "nam") ==
	    -1);
	CHECK(http_parse_param_index("/fhir/metadata", "id") == -1);
	CHECK(http_parse_param_index("/", "id") == -1);
}

int
main(void)
{
	test_accept();
	test_accept_encoding();
	test_content_type();
	test_format();
	test_prefer();
	test_path();
	test_match();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
