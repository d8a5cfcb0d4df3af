/*
 * aimd.c — additive increase, multiplicative decrease of a rate factor
 * (see aimd.h for the rule and why the hold and the dead band).
 */
#include "lib/aimd.h"

void
aimd_init(struct aimd *a, double floor, double decrease, double increase,
    double hold_s)
{
	if (!(floor > 0))
		floor = 0.01;
	if (floor > 1)
		floor = 1;
	if (!(decrease > 0) || decrease >= 1)
		decrease = 0.5;
	if (!(increase > 0) || increase > 1)
		increase = 0.05;
	if (!(hold_s >= 0))
		hold_s = 0;
	a->a_factor = 1;
	a->a_floor = floor;
	a->a_decrease = decrease;
	a->a_increase = increase;
	a->a_hold_s = hold_s;
	a->a_last_cut = -1;
	a->a_p99_ms = -1;
	a->a_cuts = 0;
}

double
aimd_step(struct aimd *a, double now, double p99_ms, double target_ms)
{
	a->a_p99_ms = p99_ms;
	if (!(target_ms > 0)) {
		a->a_factor = 1;
		return a->a_factor;
	}
	if (p99_ms > target_ms) {
		if (a->a_last_cut >= 0 && now - a->a_last_cut < a->a_hold_s)
			return a->a_factor;
		a->a_factor *= a->a_decrease;
		if (a->a_factor < a->a_floor)
			a->a_factor = a->a_floor;
		a->a_last_cut = now;
		a->a_cuts++;
	} else if (p99_ms < 0 || p99_ms <= target_ms * AIMD_DEADBAND) {
		a->a_factor += a->a_increase;
		if (a->a_factor > 1)
			a->a_factor = 1;
	}
	return a->a_factor;
}

double
aimd_reference(double ref, double rate, double cap)
{
	if (cap <= 0) {
		ref *= AIMD_REF_DECAY;
		return rate > ref ? rate : ref;
	}
	if (rate >= cap * AIMD_REF_BINDS)
		return ref * AIMD_REF_PROBE;
	return ref;
}
