/*
 * fuzz-sources: src/http/http_parse.c
 * fuzz_http_headers.c — libFuzzer target for src/http/http_parse.c: every
 * header, query and path parser on the same input, with invariants.
 *
 * Build, from the top of the tree (the pattern is every src/lib file):
 *	clang -fsanitize=fuzzer,address,undefined -Isrc \
 *	    tests/fuzz/fuzz_http_headers.c src/http/http_parse.c \
 *	    src/lib/[a-z]*.c
 * Run:   ./a.out -max_len=4096
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const fuzz_offers[] = {
	"application/fhir+json", "application/json", "application/json+fhir",
	"application/fhir+ndjson",
};

static const char *const fuzz_patterns[] = {
	"/", "/fhir/metadata", "/fhir/Group/{id}/$export",
	"/fhir/_files/{id}/{name}", "/{a}/{b}/{c}/{d}/{e}",
};

/* Every captured parameter is one whole, clean segment of p. */
static void
fuzz_check_path(const struct http_path *p)
{
	size_t	i, len;

	if (p->hp_nseg == 0 || p->hp_nseg > HTTP_PARSE_MAX_SEGS)
		abort();
	for (i = 0; i < p->hp_nseg; i++) {
		if (p->hp_seg[i] < p->hp_buf ||
		    p->hp_seg[i] >= p->hp_buf + sizeof(p->hp_buf))
			abort();
		len = strlen(p->hp_seg[i]);
		if (memchr(p->hp_seg[i], '/', len) != NULL ||
		    strcmp(p->hp_seg[i], ".") == 0 ||
		    strcmp(p->hp_seg[i], "..") == 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_prefer	 pref;
	struct http_path	*path;
	const char		*params[4];
	char			*s;
	size_t			 i, j, np;
	int			 r;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	for (i = 0; i <= sizeof(fuzz_offers) / sizeof(fuzz_offers[0]); i++) {
		r = http_parse_accept(s, fuzz_offers, i);
		if (r < -1 || r >= (int)i || (i == 0 && r != -1))
			abort();
	}
	r = http_parse_accept_encoding(s, "zstd");
	if (r < 0 || r > 1000)
		abort();
	r = http_parse_accept_encoding(s, "identity");
	if (r < 0 || r > 1000)
		abort();
	(void)http_parse_content_type_json(s);
	(void)http_parse_format_json(s);
	http_parse_prefer(s, &pref);
	if ((unsigned)pref.hp_handling > HTTP_PREFER_HANDLING_STRICT)
		abort();

	/* On the heap so that ASan sees overruns of hp_buf. */
	if ((path = malloc(sizeof(*path))) == NULL) {
		free(s);
		return 0;
	}
	if (http_parse_path(s, path) == 0) {
		fuzz_check_path(path);
		for (i = 0; i < sizeof(fuzz_patterns) /
		    sizeof(fuzz_patterns[0]); i++) {
			if (!http_parse_match(fuzz_patterns[i], path, params,
			    4, &np))
				continue;
			for (j = 0; j < np && j < 4; j++)
				if (params[j][0] == '\0')
					abort();
			if (http_parse_param_index(fuzz_patterns[i], "id") >=
			    (int)np + 1)
				abort();
		}
	}
	/* The input as a pattern against a fixed path. */
	if (http_parse_path("/fhir/Group/42/$export", path) == 0)
		(void)http_parse_match(s, path, params, 4, NULL);
	(void)http_parse_param_index(s, "id");
	free(path);
	free(s);
	return 0;
}
