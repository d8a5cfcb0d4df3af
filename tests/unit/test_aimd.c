/*
 * test_aimd.c — the interactive-latency controller's arithmetic
 * (lib/aimd.c) and the latency window it is fed from (lib/latwin.c):
 * cuts, the hold after a cut, the dead band, the floor, recovery, "off",
 * and quantiles that are never below the true value by more than a
 * bucket and never optimistic.
 */
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "lib/aimd.h"
#include "lib/latwin.h"

static int
near(double a, double b)
{
	return a - b < 1e-9 && b - a < 1e-9;
}

static void
test_aimd(void)
{
	struct aimd	a;
	double		t = 0, f;
	int		i;

	aimd_init(&a, 0.05, 0.5, 0.1, 2.0);
	CHECK(near(a.a_factor, 1));
	/* Below the dead band at 1: stays 1. */
	CHECK(near(aimd_step(&a, t++, 5, 10), 1));
	/* A breach halves. */
	CHECK(near(aimd_step(&a, t, 30, 10), 0.5));
	CHECK(a.a_cuts == 1);
	/* Within the hold: no second cut. */
	CHECK(near(aimd_step(&a, t + 1, 30, 10), 0.5));
	/* After the hold: the next. */
	CHECK(near(aimd_step(&a, t + 2, 30, 10), 0.25));
	t += 2;
	/* Between 80% and 100% of the target: holds. */
	CHECK(near(aimd_step(&a, ++t, 9, 10), 0.25));
	CHECK(near(aimd_step(&a, ++t, 10, 10), 0.25));
	/* Below: additive steps back up. */
	CHECK(near(aimd_step(&a, ++t, 7.9, 10), 0.35));
	CHECK(near(aimd_step(&a, ++t, 1, 10), 0.45));
	/* No observation counts as "fine". */
	CHECK(near(aimd_step(&a, ++t, -1, 10), 0.55));
	/* The floor: many breaches never go below it. */
	for (i = 0; i < 20; i++, t += 3)
		f = aimd_step(&a, t, 500, 10);
	CHECK(near(f, 0.05));
	CHECK(a.a_factor >= a.a_floor);
	/* Full recovery takes ceil((1 - 0.05) / 0.1) quiet steps. */
	for (i = 0; i < 9; i++)
		f = aimd_step(&a, ++t, 2, 10);
	CHECK(f < 1);
	CHECK(near(aimd_step(&a, ++t, 2, 10), 1));
	CHECK(near(aimd_step(&a, ++t, 2, 10), 1));
	/* Target 0: off, the factor is 1 whatever p99 says. */
	aimd_step(&a, t += 3, 500, 10);
	CHECK(a.a_factor < 1);
	CHECK(near(aimd_step(&a, ++t, 500, 0), 1));
	CHECK(near(a.a_p99_ms, 500));
	/* Bad arguments are clamped to sane ones. */
	aimd_init(&a, 0, 2, -1, -5);
	CHECK(a.a_floor > 0 && a.a_decrease < 1 && a.a_increase > 0 &&
	    a.a_hold_s == 0);
	CHECK(near(aimd_step(&a, 0, 50, 10), 0.5));
	CHECK(near(aimd_step(&a, 0, 50, 10), 0.25));	/* no hold */
}

static void
test_reference(void)
{
	double	ref = 0;
	int	i;

	/* Uncapped: the highest rate seen, fading slowly. */
	ref = aimd_reference(ref, 1000, 0);
	CHECK(near(ref, 1000));
	ref = aimd_reference(ref, 500, 0);
	CHECK(near(ref, 980));
	ref = aimd_reference(ref, 2000, 0);
	CHECK(near(ref, 2000));
	/* Capped, well under the cap: unchanged (the job is the limit). */
	CHECK(near(aimd_reference(2000, 300, 1000), 2000));
	/* Capped and at the cap: a start-up reference of 100 rows/s does
	 * not stick; it grows 5% a step while the cap binds. */
	ref = 100;
	for (i = 0; i < 10; i++)
		ref = aimd_reference(ref, 50 * 0.95, 50);
	CHECK(ref > 160 && ref < 165);
}

static void
test_latwin(void)
{
	struct latwin	w;
	uint64_t	n, us;
	double		p;
	int		b, i;

	/* Buckets: contiguous, upper bounds monotonic, within 12.5%. */
	for (us = 0; us < 200000; us += 1 + us / 50) {
		b = latwin_bucket(us);
		CHECK(latwin_bucket_top(b) >= us);
		CHECK(b == 0 || latwin_bucket_top(b - 1) < us);
		CHECK((double)latwin_bucket_top(b) <= (double)us * 1.125 + 1);
	}
	CHECK(latwin_bucket(UINT64_MAX) == LATWIN_BUCKETS - 1);

	latwin_init(&w, 2000);
	CHECK(latwin_quantile(&w, 0, 0.99, &n) < 0 && n == 0);
	/* 990 samples at 1 ms, 10 at 50 ms: p99 is 1 ms, p99.9 is 50. */
	for (i = 0; i < 990; i++)
		latwin_add(&w, 1000 + i % 500, 1000);
	for (i = 0; i < 10; i++)
		latwin_add(&w, 1200, 50000);
	p = latwin_quantile(&w, 1600, 0.99, &n);
	CHECK(n == 1000);
	CHECK(p >= 1.0 && p < 1.13);
	p = latwin_quantile(&w, 1600, 0.999, NULL);
	CHECK(p >= 50.0 && p < 56.3);
	/* 21 slow ones of 1011: p99 is slow. */
	for (i = 0; i < 11; i++)
		latwin_add(&w, 1300, 50000);
	p = latwin_quantile(&w, 1600, 0.99, NULL);
	CHECK(p >= 50.0);
	/* The window slides: 2 s later everything has aged out. */
	p = latwin_quantile(&w, 3600, 0.99, &n);
	CHECK(n == 0 && p < 0);
	/* And a reused slot starts empty. */
	latwin_add(&w, 3600, 3000);
	p = latwin_quantile(&w, 3600, 0.99, &n);
	CHECK(n == 1 && p >= 3.0 && p < 3.4);
	latwin_destroy(&w);
}

int
main(void)
{
	test_aimd();
	test_reference();
	test_latwin();
	return CHECK_DONE();
}
