/*
 * http_metrics.h — process counters of the API and the /metrics handler
 * (Prometheus text format 0.0.4).
 *
 * Counters are C11 atomics, updated from any MHD worker thread without
 * locks.  They are per process: with several API nodes, scrape each.
 * Later gauges (job queue depth by state, oldest queued age, running per
 * kind) are written by http_metrics_get from their own modules' getters.
 */
#ifndef HTTP_METRICS_H
#define HTTP_METRICS_H

#include <stdint.h>

struct http_req;

/* Main thread, before the daemon starts: records the start time. */
void	 http_metrics_init(void);
/* Counts one finished request: status 0 means no answer was sent
 * (client gone, timeout, shutdown).  Any thread. */
void	 http_metrics_observe(unsigned int status, uint64_t duration_us,
	    uint64_t bytes);
/* GET /metrics. */
void	 http_metrics_get(struct http_req *);

#endif
