/*
 * api_interactive.h — the API process's half of the interactive-latency
 * controller: a thread that publishes this process's recent interactive
 * p99 and in-flight count once a second (store/interactive.h), and the
 * controller's gauges for /metrics.  The p99 is the higher of the FHIR
 * handlers' own times and of a self-probe's round trips (a GET
 * /fhir/metadata every API_INTERACTIVE_PROBE_MS on a loopback
 * connection), which also counts the time a request waits before a
 * handler sees it.  The bulk jobs' half is
 * jobs/backoff.h.
 *
 * Main thread: start before the HTTP daemon, stop after it.  The
 * rendering may be called from any thread.
 */
#ifndef API_INTERACTIVE_H
#define API_INTERACTIVE_H

#include <stddef.h>

struct buf;
struct cfg;

#define API_INTERACTIVE_PERIOD_MS	1000	/* one publish a second */
#define API_INTERACTIVE_PROBE_MS	20	/* one self-probe so often */

/* Starts the publisher unless the controller is off (then 0 and
 * nothing runs).  cfg is borrowed until api_interactive_stop.  0, or -1
 * (errbuf) when the thread could not start. */
int	api_interactive_start(const struct cfg *, char *errbuf,
	    size_t errlen);
/* Stops and joins the publisher; safe if start did not run. */
void	api_interactive_stop(void);
/* Appends the controller's gauges, Prometheus text.  -1 when b is full. */
int	api_interactive_metrics(struct buf *);

#endif
