/*
 * http_metrics.h — process counters of the API and their rendering in
 * Prometheus text format 0.0.4 (the /metrics handler lives in
 * src/api/api_routes.c).
 *
 * Counters are C11 atomics, updated from any MHD worker thread without
 * locks.  They are per process: with several API nodes, scrape each.
 * Later gauges (job queue depth by state, oldest queued age, running per
 * kind) are written by http_metrics_get from their own modules' getters.
 */
#ifndef HTTP_METRICS_H
#define HTTP_METRICS_H

#include <stdint.h>

struct buf;

#define HTTP_METRICS_MAX_TEXT	(64 * 1024) /* one scrape */

/* Main thread, before the daemon starts: records the start time. */
void	 http_metrics_init(void);
/* Main thread, after init and before the daemon starts: the window of
 * the interactive p99 (default 2 s). */
void	 http_metrics_window(int64_t window_ms);
/* Records one interactive request's duration (the router decides which
 * requests are interactive).  Any thread. */
void	 http_metrics_interactive(uint64_t duration_us);
/* p99 of the interactive requests of the window, ms (-1: none), and how
 * many there were.  Any thread. */
double	 http_metrics_interactive_p99(uint64_t *count);
/* Counts one finished request: status 0 means no answer was sent
 * (client gone, timeout, shutdown).  Any thread. */
void	 http_metrics_observe(unsigned int status, uint64_t duration_us,
	    uint64_t bytes);
/* Appends the counters as Prometheus text to b (bounded; give it
 * HTTP_METRICS_MAX_TEXT); in_flight is the gauge of requests being
 * served (http_route_in_flight).  Returns 0, or -1 when b was full.
 * Any thread. */
int	 http_metrics_render(struct buf *b, unsigned int in_flight);

#endif
