/*
 * aimd.h — the arithmetic of the interactive-latency controller: an
 * AIMD (additive increase, multiplicative decrease) factor in
 * [floor, 1] that bulk jobs multiply their rate by.
 *
 * One step per observation: interactive p99 above the target cuts the
 * factor by a_decrease (at most once per a_hold_s, so that the cut can
 * show in the next window before another is made); p99 at most
 * AIMD_DEADBAND of the target, or no observation at all, adds
 * a_increase; in between the factor holds.  The floor keeps a job moving
 * whatever the API sees.  A target of 0 (or less) means "controller
 * off": the factor is 1.
 *
 * Pure: no clock, no I/O; the caller passes the time.  Not thread-safe:
 * one owner per struct.
 */
#ifndef LIB_AIMD_H
#define LIB_AIMD_H

#define AIMD_DEADBAND	0.8	/* increase only below 80% of the target */
#define AIMD_REF_DECAY	0.98	/* per step, an uncapped reference */
#define AIMD_REF_BINDS	0.9	/* rate >= 90% of the cap: it binds */
#define AIMD_REF_PROBE	1.05	/* per step, a binding cap's reference */

struct aimd {
	double	a_factor;	/* current share of the rate, floor..1 */
	double	a_floor;	/* lowest factor, > 0 */
	double	a_decrease;	/* multiplier on a breach, 0 < d < 1 */
	double	a_increase;	/* added per step below the deadband */
	double	a_hold_s;	/* after a cut, none other for this long */
	double	a_last_cut;	/* time of the last cut; < 0: never */
	double	a_p99_ms;	/* last observation, -1: none */
	long	a_cuts;		/* cuts so far */
};

/* Starts at factor 1.  Out-of-range arguments are clamped (floor to
 * (0,1], decrease to (0,1), increase to (0,1]). */
void	aimd_init(struct aimd *, double floor, double decrease,
	    double increase, double hold_s);
/* One step at time now (seconds, any origin) with the observed p99 in
 * ms (< 0: no observation) against target_ms.  Returns the new factor. */
double	aimd_step(struct aimd *, double now, double p99_ms, double target_ms);
/*
 * The reference rate the factor applies to, after a step that measured
 * rate under cap (0: none).  Uncapped, the highest rate seen, decaying by
 * AIMD_REF_DECAY a step (a faster phase fades).  Capped and running at
 * the cap, the job could go faster than the reference says (a reference
 * taken while it was starting up, or on a busier machine): it grows by
 * AIMD_REF_PROBE a step, so the factor stays a share of what the job can
 * really do.  Capped below the cap: unchanged.
 */
double	aimd_reference(double ref, double rate, double cap);

#endif
