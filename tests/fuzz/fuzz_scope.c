/*
 * fuzz_scope.c — auth/scope: the input, split at the first NUL, is a
 * requested and a registered scope string.  Every accepted parse
 * formats and re-parses to the same permissions; every grant is within
 * both the request and the registration (no escalation, AUTH-V-06).
 * fuzz-sources: src/auth/scope.c src/store/fhir_types.c src/store/ndjson.c
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/scope.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const fuzz_types[] = {
	"Patient", "Claim", "Coverage", "Observation", "Group",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct scope_set	 q, r, g, again;
	static char		 req[SCOPE_MAX_LEN + 2], reg[SCOPE_MAX_LEN + 2];
	static char		 out[SCOPE_MAX_LEN * 4];
	const uint8_t		*nul;
	size_t			 ql, rl, i;
	int			 qok, rok;

	nul = memchr(data, '\0', size);
	ql = nul != NULL ? (size_t)(nul - data) : size;
	if (ql > SCOPE_MAX_LEN + 1)
		ql = SCOPE_MAX_LEN + 1;
	memcpy(req, data, ql);
	req[ql] = '\0';
	rl = 0;
	if (nul != NULL) {
		rl = size - (size_t)(nul - data) - 1;
		if (rl > SCOPE_MAX_LEN + 1)
			rl = SCOPE_MAX_LEN + 1;
		memcpy(reg, nul + 1, rl);
	}
	reg[rl] = '\0';
	qok = scope_parse(req, SCOPE_PARSE_CONSTRAINED, &q, NULL, 0) == 0;
	rok = scope_parse(reg, 0, &r, NULL, 0) == 0;
	if (qok) {
		assert(q.ss_n > 0 && q.ss_n <= SCOPE_MAX_ITEMS);
		if (scope_format(&q, out, sizeof(out)) == 0) {
			assert(scope_parse(out, 0, &again, NULL, 0) == 0);
			for (i = 0; i < 5; i++)
				assert(scope_can_read(&q, fuzz_types[i]) ==
				    scope_can_read(&again, fuzz_types[i]));
		}
	}
	if (qok && rok && scope_grant(&q, &r, &g, NULL, 0) == 0) {
		assert(g.ss_n > 0);
		for (i = 0; i < 5; i++) {
			if (scope_can_read(&g, fuzz_types[i]))
				assert(scope_can_read(&q, fuzz_types[i]) &&
				    scope_can_read(&r, fuzz_types[i]));
			if (scope_can_write(&g, fuzz_types[i]))
				assert(scope_can_write(&q, fuzz_types[i]) &&
				    scope_can_write(&r, fuzz_types[i]));
		}
		assert(scope_format(&g, out, sizeof(out)) == 0);
	}
	return 0;
}
