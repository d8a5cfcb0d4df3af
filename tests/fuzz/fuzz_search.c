/*
 * fuzz_search.c — the _typeFilter compiler (bulk/search.c).  The first
 * byte picks the resource type and the mode, the second the first $N;
 * the rest is the query, either raw or (to reach deep paths without a
 * seed corpus) one byte per word of a small search vocabulary.  Checks
 * that the SQL refers to exactly $first..$(first+n-1), carries no user
 * text (printable ASCII, balanced quotes and parentheses), and that
 * everything is freed (LeakSanitizer).
 * fuzz-sources: src/bulk/search.c src/bulk/search_param.c src/bulk/search_decode.c src/bulk/search_date.c src/store/ndjson.c
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulk/search.h"
#include "lib/buf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const types[] = {
	"Patient", "Coverage", "Claim", "ClaimResponse", "Group",
	"Medication", "Location", "Nope",
};

static const char *const words[] = {
	"&", "=", ",", "|", ":", "\\", "\\,", "%", "%2C", "%2B", "%7C", "+",
	"_id", "_lastUpdated", "gender", "birthdate", "family", "given",
	"identifier", "active", "general-practitioner", "beneficiary",
	"period", "class-value", "status", "created", "patient", "provider",
	"request", "outcome", "code", "name", "type", "member", "_count",
	":missing", ":not", ":exact", ":contains", ":Patient",
	":Organization", "true", "false", "eq", "ne", "gt", "lt", "ge", "le",
	"sa", "eb", "ap", "2026", "-02", "-29", "-12", "-31", "T10:00",
	":59", ".5", "Z", "-05:30", "0000", "Patient/", "p1", "http://s",
	"%C3%A9", "%00", "'", "\"", "$1", ".",
};

/* Checks the compiled SQL: quotes and parentheses balance, every $N
 * outside a string literal is one of ours, and each of ours is used. */
static void
check_sql(const struct search_sql *ss, int first)
{
	const char	*p = ss->ss_where.b_data;
	char		 used[SEARCH_MAX_PARAMS] = { 0 };
	int		 depth = 0, quoted = 0, i;
	long		 n;

	assert(p != NULL && strlen(p) == ss->ss_where.b_len);
	for (; *p != '\0'; p++) {
		assert(*p >= 0x20 && *p < 0x7f);
		if (*p == '\'') {
			quoted = !quoted;
			continue;
		}
		if (quoted) {
			/* jsonpath variables are $v, never $<digit>. */
			assert(!(*p == '$' && p[1] >= '0' && p[1] <= '9'));
			continue;
		}
		if (*p == '(')
			depth++;
		else if (*p == ')')
			assert(--depth >= 0);
		else if (*p == '$') {
			assert(p[1] >= '0' && p[1] <= '9');
			n = strtol(p + 1, NULL, 10);
			assert(n >= first && n < first + ss->ss_nparams);
			used[n - first] = 1;
		}
	}
	assert(!quoted && depth == 0);
	for (i = 0; i < ss->ss_nparams; i++) {
		assert(ss->ss_params[i] != NULL);
		assert(used[i]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct search_sql	 ss;
	struct buf		 q;
	const char		*type;
	char			 err[256];
	size_t			 i;
	int			 first, rc;

	if (size < 2)
		return 0;
	type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	first = data[1] == 255 ? SEARCH_MAX_FIRST : 1 + data[1] % 100;
	buf_init(&q, 1 << 16);
	for (i = 2; i < size; i++) {
		if (data[0] & 0x80)
			buf_puts(&q, words[data[i] %
			    (sizeof(words) / sizeof(words[0]))]);
		else
			buf_putc(&q, (char)data[i]);
	}

	search_sql_init(&ss);
	rc = search_compile(type, q.b_data != NULL ? q.b_data : "", first, &ss,
	    err, sizeof(err));
	if (rc == 0) {
		assert(ss.ss_nparams >= 0 &&
		    ss.ss_nparams <= SEARCH_MAX_PARAMS);
		check_sql(&ss, first);
	} else {
		assert(rc == -1 && err[0] != '\0');
		for (i = 0; err[i] != '\0'; i++)
			assert(err[i] >= 0x20 && err[i] < 0x7f);
		assert(ss.ss_nparams == 0 && ss.ss_params == NULL);
	}
	search_sql_free(&ss);
	buf_free(&q);
	return 0;
}
