/*
 * fuzz_openhim_time.c — openhim/openhim_time: any text is parsed without
 * overflow; an accepted instant formats to text that parses back to the
 * same microsecond.
 * fuzz-sources: src/openhim/openhim_time.c
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "openhim/openhim_time.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	text[OPENHIM_TIME_TEXT];
	int64_t	usec, back;

	if (openhim_time_parse((const char *)data, size, &usec) == -1)
		return 0;
	assert(usec >= 0);
	openhim_time_format(usec, text, sizeof(text));
	assert(openhim_time_parse(text, strlen(text), &back) == 0);
	assert(back == usec);
	return 0;
}
