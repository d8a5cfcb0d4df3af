/*
 * fuzz_tzfile.c — TZif images (lib/tzfile.c): arbitrary bytes into
 * tzfile_parse; for every image it accepts, the segment around each of a
 * few instants (1800..3000) must contain the instant and carry offsets
 * within TZFILE_OFF_MAX that tzfile_offset agrees with, and walking the
 * segments from 1970 on (as cron_next does) must move strictly forward.
 * lib/ is linked into every target, so the line below names no source.
 * fuzz-sources:
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tzfile.h"

#define T_1970	INT64_C(0)
#define T_3000	INT64_C(32503680000)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_seg(const struct tzfile *z, int64_t t, struct tzfile_seg *g)
{
	tzfile_segment(z, t, g);
	assert(g->g_start <= t && t < g->g_end);
	assert(g->g_off > -TZFILE_OFF_MAX && g->g_off < TZFILE_OFF_MAX);
	assert(g->g_prev > -TZFILE_OFF_MAX && g->g_prev < TZFILE_OFF_MAX);
	assert(tzfile_offset(z, t) == g->g_off);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t	 probe[] = {
		INT64_C(-5364662400),	/* 1800 */
		INT64_C(-1),
		T_1970,
		INT64_C(1711846799),	/* 2024-03-31 00:59:59 UTC */
		INT64_C(1767225600),	/* 2026 */
		INT64_C(4102444800),	/* 2100 */
		T_3000,
	};
	struct tzfile		 z;
	struct tzfile_seg	 g;
	char			 err[256];
	int64_t			 t;
	size_t			 i;
	int			 n;

	err[0] = '\0';
	if (tzfile_parse(&z, data, size, err, sizeof(err)) == -1) {
		assert(err[0] != '\0');
		return 0;
	}
	for (i = 0; i < sizeof(probe) / sizeof(probe[0]); i++)
		check_seg(&z, probe[i], &g);
	for (t = T_1970, n = 0; n < 200; n++) {
		check_seg(&z, t, &g);
		if (g.g_end == INT64_MAX || g.g_end > T_3000)
			break;
		assert(g.g_end > t);
		t = g.g_end;
	}
	tzfile_free(&z);	/* a no-op here: parse borrows the image */
	return 0;
}
