/*
 * http_metrics.c — request counters by status class, a latency
 * histogram, bytes sent, uptime; rendered on each scrape.  A leaf of the
 * framework: the router feeds it, the /metrics handler (src/api/) reads
 * it, it calls neither.
 *
 * Interactive latency: FHIR requests (downloads of output files aside,
 * whose time is the client's bandwidth) also go into a sliding window
 * (lib/latwin.h) whose p99 the API publishes for the bulk jobs'
 * controller (api/api_interactive.c).
 */
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "core/version.h"
#include "http/http_metrics.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/latwin.h"

#define HTTP_METRICS_NBUCKETS	11
#define HTTP_METRICS_WINDOW_MS	2000	/* until http_metrics_window */

/* Upper bounds of the latency buckets, microseconds and as printed. */
static const uint64_t	 http_metrics_le_us[HTTP_METRICS_NBUCKETS] = {
	5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
	2500000, 5000000, 10000000,
};
static const char	*http_metrics_le[HTTP_METRICS_NBUCKETS] = {
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
	"2.5", "5", "10",
};

static struct {
	atomic_uint_fast64_t by_class[6];	/* 0 unanswered, 1..5 Nxx */
	atomic_uint_fast64_t bucket[HTTP_METRICS_NBUCKETS]; /* not cumul. */
	atomic_uint_fast64_t count;		/* answered requests */
	atomic_uint_fast64_t sum_us;		/* their total duration */
	atomic_uint_fast64_t bytes;		/* body bytes sent */
	struct timespec	     start_mono;	/* set once by init */
	time_t		     start_wall;	/* same, Unix time */
} http_metrics;

static struct latwin	http_metrics_lat;	/* interactive latencies */

void
http_metrics_init(void)
{
	clock_gettime(CLOCK_MONOTONIC, &http_metrics.start_mono);
	http_metrics.start_wall = time(NULL);
	latwin_init(&http_metrics_lat, HTTP_METRICS_WINDOW_MS);
}

void
http_metrics_window(int64_t window_ms)
{
	latwin_destroy(&http_metrics_lat);
	latwin_init(&http_metrics_lat, window_ms);
}

void
http_metrics_interactive(uint64_t duration_us)
{
	latwin_add(&http_metrics_lat, (int64_t)(clock_mono() * 1000.0),
	    duration_us);
}

double
http_metrics_interactive_p99(uint64_t *count)
{
	return latwin_quantile(&http_metrics_lat,
	    (int64_t)(clock_mono() * 1000.0), 0.99, count);
}

void
http_metrics_observe(unsigned int status, uint64_t duration_us,
    uint64_t bytes)
{
	size_t	i;
	unsigned int cls = status / 100;

	if (cls < 1 || cls > 5) {
		atomic_fetch_add(&http_metrics.by_class[0], 1);
		return;
	}
	atomic_fetch_add(&http_metrics.by_class[cls], 1);
	atomic_fetch_add(&http_metrics.count, 1);
	atomic_fetch_add(&http_metrics.sum_us, duration_us);
	atomic_fetch_add(&http_metrics.bytes, bytes);
	/* Non-cumulative here; the scrape accumulates. */
	for (i = 0; i < HTTP_METRICS_NBUCKETS; i++) {
		if (duration_us <= http_metrics_le_us[i]) {
			atomic_fetch_add(&http_metrics.bucket[i], 1);
			break;
		}
	}
}

int
http_metrics_render(struct buf *b, unsigned int in_flight)
{
	struct timespec	 now;
	uint64_t	 cum = 0, count, sum_us;
	double		 uptime;
	size_t		 i;
	unsigned int	 c;
	int		 rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	uptime = (double)(now.tv_sec - http_metrics.start_mono.tv_sec) +
	    (double)(now.tv_nsec - http_metrics.start_mono.tv_nsec) / 1e9;
	/* Read count and sum before the buckets so that the +Inf bucket
	 * (== count) is never below a finite bucket's cumulative sum. */
	count = atomic_load(&http_metrics.count);
	sum_us = atomic_load(&http_metrics.sum_us);

	rc |= buf_puts(b,
	    "# HELP bulkhead_http_requests_total HTTP requests answered, "
	    "by status class.\n"
	    "# TYPE bulkhead_http_requests_total counter\n");
	for (c = 1; c <= 5; c++)
		rc |= buf_printf(b,
		    "bulkhead_http_requests_total{code=\"%uxx\"} %llu\n", c,
		    (unsigned long long)atomic_load(&http_metrics.by_class[c]));
	rc |= buf_printf(b,
	    "# HELP bulkhead_http_requests_unanswered_total Requests that "
	    "ended without an answer (client gone, timeout, shutdown).\n"
	    "# TYPE bulkhead_http_requests_unanswered_total counter\n"
	    "bulkhead_http_requests_unanswered_total %llu\n",
	    (unsigned long long)atomic_load(&http_metrics.by_class[0]));
	rc |= buf_puts(b,
	    "# HELP bulkhead_http_request_duration_seconds Time from the "
	    "request line to the end of the answer.\n"
	    "# TYPE bulkhead_http_request_duration_seconds histogram\n");
	for (i = 0; i < HTTP_METRICS_NBUCKETS; i++) {
		cum += atomic_load(&http_metrics.bucket[i]);
		if (cum > count)
			cum = count;
		rc |= buf_printf(b, "bulkhead_http_request_duration_seconds_"
		    "bucket{le=\"%s\"} %llu\n", http_metrics_le[i],
		    (unsigned long long)cum);
	}
	rc |= buf_printf(b,
	    "bulkhead_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "bulkhead_http_request_duration_seconds_sum %.6f\n"
	    "bulkhead_http_request_duration_seconds_count %llu\n",
	    (unsigned long long)count, (double)sum_us / 1e6,
	    (unsigned long long)count);
	rc |= buf_printf(b,
	    "# HELP bulkhead_http_response_bytes_total Body bytes sent.\n"
	    "# TYPE bulkhead_http_response_bytes_total counter\n"
	    "bulkhead_http_response_bytes_total %llu\n"
	    "# HELP bulkhead_http_requests_in_flight Requests being served.\n"
	    "# TYPE bulkhead_http_requests_in_flight gauge\n"
	    "bulkhead_http_requests_in_flight %u\n"
	    "# HELP bulkhead_uptime_seconds Seconds since the API process "
	    "started.\n"
	    "# TYPE bulkhead_uptime_seconds gauge\n"
	    "bulkhead_uptime_seconds %.3f\n"
	    "# HELP bulkhead_process_start_time_seconds Start time of the "
	    "API process, Unix time.\n"
	    "# TYPE bulkhead_process_start_time_seconds gauge\n"
	    "bulkhead_process_start_time_seconds %lld\n"
	    "# HELP bulkhead_build_info Version of the running binary.\n"
	    "# TYPE bulkhead_build_info gauge\n"
	    "bulkhead_build_info{version=\"%s\"} 1\n",
	    (unsigned long long)atomic_load(&http_metrics.bytes),
	    in_flight, uptime,
	    (long long)http_metrics.start_wall, BULKHEAD_VERSION);
	return rc != 0 ? -1 : 0;
}
