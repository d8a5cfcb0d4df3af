/*
 * latwin.h — a sliding window of request latencies, for "p99 over the
 * last few seconds" without keeping every sample.
 *
 * The window is LATWIN_SLOTS slots of window/LATWIN_SLOTS ms each; a slot
 * is a histogram with LATWIN_SUB buckets per power of two of
 * microseconds (so a quantile is off by at most 1/LATWIN_SUB, 12.5%,
 * and reported as its bucket's upper bound: never optimistic).  A
 * sample lands in the slot of its time; a slot older than the window is
 * cleared when its turn comes again.  Memory is fixed (about 14 KB).
 *
 * Pure apart from its mutex: the caller passes the time (ms, any
 * monotonic origin).  Thread safety: every function may be called from
 * any thread once latwin_init returned.
 */
#ifndef LIB_LATWIN_H
#define LIB_LATWIN_H

#include <pthread.h>
#include <stdint.h>

#define LATWIN_SLOTS	8
#define LATWIN_SUB	8	/* buckets per doubling */
#define LATWIN_POW	27	/* up to 2^27 us, ~134 s */
#define LATWIN_BUCKETS	(LATWIN_POW * LATWIN_SUB)

struct latwin {
	pthread_mutex_t	lw_lock;
	int64_t		lw_slot_ms;		/* width of one slot */
	int64_t		lw_epoch[LATWIN_SLOTS];	/* slot number held */
	uint32_t	lw_n[LATWIN_SLOTS];	/* samples per slot */
	uint32_t	lw_hist[LATWIN_SLOTS][LATWIN_BUCKETS];
};

/* window_ms is clamped to at least LATWIN_SLOTS. */
void	latwin_init(struct latwin *, int64_t window_ms);
void	latwin_destroy(struct latwin *);
/* Records one sample of us microseconds at time now_ms. */
void	latwin_add(struct latwin *, int64_t now_ms, uint64_t us);
/* The q-quantile (0 < q <= 1) of the samples of the window ending at
 * now_ms, in ms, and how many samples there were; -1 ms when none. */
double	latwin_quantile(struct latwin *, int64_t now_ms, double q,
	    uint64_t *count);
/* The bucket of us, and the bucket's upper bound in us (for tests). */
int	latwin_bucket(uint64_t us);
uint64_t latwin_bucket_top(int bucket);

#endif
