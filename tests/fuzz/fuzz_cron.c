/*
 * fuzz_cron.c — cron expressions (jobs/cron.c): arbitrary text into
 * cron_parse; every accepted expression must have a next fire time in
 * UTC strictly after 'after' (and within the search bound), and the
 * next fire after that one must be later still.  The first input bytes
 * also pick 'after', and an RFC 3339 round trip is checked on the way.
 * fuzz-sources: src/jobs/cron.c
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "jobs/cron.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cron	c;
	char		expr[CRON_EXPR_MAX + 16], err[256], ts[CRON_TIME_MAX];
	time_t		after = 1767225600, next, next2, back;	/* 2026 */
	size_t		n;

	if (size >= 4) {
		/* 1970..~2106: a spread of 'after' values. */
		after = (time_t)((uint32_t)data[0] << 24 |
		    (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 |
		    data[3]);
		data += 4;
		size -= 4;
	}
	n = size < sizeof(expr) - 1 ? size : sizeof(expr) - 1;
	memcpy(expr, data, n);
	expr[n] = '\0';

	cron_time_format(after, ts, sizeof(ts));
	assert(cron_time_parse(ts, &back) == 0 && back == after);
	(void)cron_time_parse(expr, &back);
	(void)cron_tz_valid(expr);

	if (cron_parse(expr, &c, err, sizeof(err)) == -1) {
		assert(err[0] != '\0');
		return 0;
	}
	assert(c.c_minute != 0 && c.c_hour != 0 && c.c_mday != 0 &&
	    c.c_month != 0 && c.c_wday != 0);
	assert(c.c_minute >> 60 == 0 && c.c_hour >> 24 == 0 &&
	    (c.c_mday & 1) == 0 && (c.c_month & 0xe001) == 0 &&
	    (c.c_wday & 0x80) == 0);
	if (cron_next(&c, "UTC", after, &next, err, sizeof(err)) == -1)
		assert(!"an accepted expression must fire");
	assert(next > after);
	assert(next % 60 == 0);
	assert(next - after <= (time_t)CRON_SEARCH_YEARS * 366 * 86400);
	if (cron_next(&c, "UTC", next, &next2, err, sizeof(err)) == 0)
		assert(next2 > next);
	return 0;
}
