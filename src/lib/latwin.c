/*
 * latwin.c — sliding-window latency histograms (see latwin.h).
 */
#include <string.h>

#include "lib/latwin.h"

void
latwin_init(struct latwin *w, int64_t window_ms)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lw_lock, NULL);
	if (window_ms < LATWIN_SLOTS)
		window_ms = LATWIN_SLOTS;
	w->lw_slot_ms = window_ms / LATWIN_SLOTS;
	memset(w->lw_epoch, 0xff, sizeof(w->lw_epoch));	/* -1: empty */
}

void
latwin_destroy(struct latwin *w)
{
	pthread_mutex_destroy(&w->lw_lock);
}

int
latwin_bucket(uint64_t us)
{
	int	msb, sub, b;

	if (us < LATWIN_SUB)
		return (int)us;		/* exact below 8 us */
	msb = 63 - __builtin_clzll(us);
	sub = (int)((us >> (msb - 3)) & (LATWIN_SUB - 1));
	b = (msb - 2) * LATWIN_SUB + sub;
	return b >= LATWIN_BUCKETS ? LATWIN_BUCKETS - 1 : b;
}

uint64_t
latwin_bucket_top(int b)
{
	int	msb;

	if (b < LATWIN_SUB)
		return (uint64_t)b;
	msb = b / LATWIN_SUB + 2;
	return ((uint64_t)(LATWIN_SUB + b % LATWIN_SUB + 1) << (msb - 3)) - 1;
}

void
latwin_add(struct latwin *w, int64_t now_ms, uint64_t us)
{
	int64_t	epoch = now_ms / w->lw_slot_ms;
	int	s = (int)(epoch % LATWIN_SLOTS);

	pthread_mutex_lock(&w->lw_lock);
	if (w->lw_epoch[s] != epoch) {
		memset(w->lw_hist[s], 0, sizeof(w->lw_hist[s]));
		w->lw_n[s] = 0;
		w->lw_epoch[s] = epoch;
	}
	w->lw_hist[s][latwin_bucket(us)]++;
	w->lw_n[s]++;
	pthread_mutex_unlock(&w->lw_lock);
}

double
latwin_quantile(struct latwin *w, int64_t now_ms, double q, uint64_t *count)
{
	uint64_t	total = 0, want, cum = 0;
	int64_t		epoch = now_ms / w->lw_slot_ms;
	double		ms = -1;
	int		s, b;

	if (!(q > 0) || q > 1)
		q = 1;
	pthread_mutex_lock(&w->lw_lock);
	for (s = 0; s < LATWIN_SLOTS; s++)
		if (w->lw_epoch[s] >= 0 && w->lw_epoch[s] > epoch -
		    LATWIN_SLOTS && w->lw_epoch[s] <= epoch)
			total += w->lw_n[s];
	if (total > 0) {
		want = (uint64_t)(q * (double)total + 0.999999);
		if (want < 1)
			want = 1;
		for (b = 0; b < LATWIN_BUCKETS && cum < want; b++) {
			for (s = 0; s < LATWIN_SLOTS; s++)
				if (w->lw_epoch[s] >= 0 && w->lw_epoch[s] >
				    epoch - LATWIN_SLOTS &&
				    w->lw_epoch[s] <= epoch)
					cum += w->lw_hist[s][b];
			if (cum >= want)
				ms = (double)latwin_bucket_top(b) / 1000.0;
		}
	}
	pthread_mutex_unlock(&w->lw_lock);
	if (count != NULL)
		*count = total;
	return ms;
}
