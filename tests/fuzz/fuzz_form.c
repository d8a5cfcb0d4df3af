/*
 * fuzz_form.c — lib/form: arbitrary bodies into form_parse; accepted
 * ones hold at most FORM_MAX_PAIRS pairs whose names and values are
 * NUL-terminated inside the one buffer, no longer than the body, and
 * form_get agrees with the repeated flags.
 * fuzz-sources:
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/form.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct form	 f;
	const char	*v;
	size_t		 i;
	int		 r;

	if (form_parse((const char *)data, size, &f, NULL, 0) == -1) {
		assert(f.f_buf == NULL && f.f_npairs == 0);
		return 0;
	}
	assert(f.f_npairs <= FORM_MAX_PAIRS);
	for (i = 0; i < f.f_npairs; i++) {
		assert(f.f_pairs[i].fp_name >= f.f_buf &&
		    f.f_pairs[i].fp_name + f.f_pairs[i].fp_namelen <=
		    f.f_buf + size);
		assert(strlen(f.f_pairs[i].fp_name) ==
		    f.f_pairs[i].fp_namelen);
		assert(strlen(f.f_pairs[i].fp_value) ==
		    f.f_pairs[i].fp_valuelen);
		assert(f.f_pairs[i].fp_namelen + f.f_pairs[i].fp_valuelen <=
		    size);
		r = form_get(&f, f.f_pairs[i].fp_name, &v);
		assert(r == (f.f_pairs[i].fp_repeated ? -1 : 1));
		assert(v != NULL);
	}
	form_free(&f);
	return 0;
}
