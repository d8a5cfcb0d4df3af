/*
 * api_interactive.c — publishes this API process's interactive latency
 * for the bulk jobs' controller (see api_interactive.h, jobs/backoff.h).
 *
 * DESIGN.  The request threads only add their duration to a window
 * (http_metrics_interactive, one short mutex); the p99, the database
 * write and anything that could wait on PostgreSQL happen on this one
 * thread with its own connection, so nothing on the request path waits
 * for the controller.  A database that is down costs a reconnect attempt
 * a second, logged once per outage; jobs then see no fresh API row and
 * climb back to full rate (no signal is not "slow").
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api_interactive.h"
#include "core/cfg.h"
#include "http/http_metrics.h"
#include "http/http_route.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "store/db.h"
#include "store/interactive.h"

static struct {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	pthread_t		 thread;
	int			 running;	/* thread started */
	int			 stop;		/* under mu */
	const struct cfg	*cfg;
	PGconn			*conn;		/* the thread's */
	/* Last publish, under mu, for /metrics: */
	double			 p99_ms;
	unsigned long long	 requests;
	unsigned int		 in_flight;
	struct interactive_jobs	 jobs;
	int			 published;	/* at least once */
	char			 proc[INTERACTIVE_PROC_MAX];
} ai = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.p99_ms = -1,
	.jobs = { 0, 1 },
};

static void	*api_interactive_main(void *);
static void	 api_interactive_once(int *);

/* One publish; *down says whether the last one failed (logged once). */
static void
api_interactive_once(int *down)
{
	struct interactive_jobs	 jobs;
	uint64_t		 n;
	unsigned int		 in_flight;
	double			 p99;
	char			 err[512];

	p99 = http_metrics_interactive_p99(&n);
	in_flight = http_route_in_flight();
	if (ai.conn == NULL || !db_ensure(ai.conn)) {
		if (ai.conn != NULL)
			PQfinish(ai.conn);
		ai.conn = db_connect(ai.cfg->database_url, "interactive", err,
		    sizeof(err));
		if (ai.conn != NULL && db_exec(ai.conn, "SET "
		    "statement_timeout = 1000", 0, NULL, err,
		    sizeof(err)) == -1) {
			PQfinish(ai.conn);
			ai.conn = NULL;
		}
	}
	if (ai.conn == NULL || interactive_publish_api(ai.conn, ai.proc, p99,
	    (int)in_flight, n > (uint64_t)INT32_MAX ? INT32_MAX : (int)n,
	    &jobs, err, sizeof(err)) == -1) {
		if (!*down)
			log_warnx("interactive latency not published: %s "
			    "(bulk jobs run as if it were low)", err);
		*down = 1;
		jobs.ij_jobs = 0;
		jobs.ij_factor_min = 1;
	} else if (*down) {
		log_info("interactive latency published again");
		*down = 0;
	}
	pthread_mutex_lock(&ai.mu);
	ai.p99_ms = p99;
	ai.requests = (unsigned long long)n;
	ai.in_flight = in_flight;
	ai.jobs = jobs;
	ai.published = 1;
	pthread_mutex_unlock(&ai.mu);
}

static void *
api_interactive_main(void *arg)
{
	struct timespec	ts;
	int		down = 0;

	(void)arg;
	pthread_mutex_lock(&ai.mu);
	while (!ai.stop) {
		pthread_mutex_unlock(&ai.mu);
		api_interactive_once(&down);
		pthread_mutex_lock(&ai.mu);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += API_INTERACTIVE_PERIOD_MS / 1000;
		ts.tv_nsec += (long)(API_INTERACTIVE_PERIOD_MS % 1000) *
		    1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!ai.stop && pthread_cond_timedwait(&ai.cv, &ai.mu,
		    &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&ai.mu);
	return NULL;
}

int
api_interactive_start(const struct cfg *cfg, char *errbuf, size_t errlen)
{
	pthread_condattr_t	ca;
	char			host[64];
	int			e;

	if (strcmp(cfg->interactive_control, "on") != 0 ||
	    cfg->interactive_p99_target_ms <= 0)
		return 0;
	http_metrics_window(cfg->interactive_window_ms);
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(ai.proc, sizeof(ai.proc), "api %s:%ld", host,
	    (long)getpid());
	ai.cfg = cfg;
	ai.stop = 0;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ai.cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((e = pthread_create(&ai.thread, NULL, api_interactive_main,
	    NULL)) != 0) {
		pthread_cond_destroy(&ai.cv);
		snprintf(errbuf, errlen, "interactive latency publisher: %s",
		    strerror(e));
		return -1;
	}
	ai.running = 1;
	return 0;
}

void
api_interactive_stop(void)
{
	char	err[512];

	if (!ai.running)
		return;
	pthread_mutex_lock(&ai.mu);
	ai.stop = 1;
	pthread_cond_signal(&ai.cv);
	pthread_mutex_unlock(&ai.mu);
	pthread_join(ai.thread, NULL);
	pthread_cond_destroy(&ai.cv);
	ai.running = 0;
	if (ai.conn != NULL) {
		(void)interactive_forget(ai.conn, ai.proc, err, sizeof(err));
		PQfinish(ai.conn);
		ai.conn = NULL;
	}
}

int
api_interactive_metrics(struct buf *b)
{
	struct interactive_jobs	jobs;
	unsigned long long	n;
	uint64_t		n64;
	double			p99;
	int			on, rc = 0;

	pthread_mutex_lock(&ai.mu);
	on = ai.running;
	p99 = ai.p99_ms;
	n = ai.requests;
	jobs = ai.jobs;
	pthread_mutex_unlock(&ai.mu);
	/* Off: nothing is published, but the window still says. */
	if (!on) {
		p99 = http_metrics_interactive_p99(&n64);
		n = (unsigned long long)n64;
	}
	rc |= buf_printf(b,
	    "# HELP bulkhead_interactive_control 1 when bulk jobs back off "
	    "as interactive p99 rises (interactive_control).\n"
	    "# TYPE bulkhead_interactive_control gauge\n"
	    "bulkhead_interactive_control %d\n"
	    "# HELP bulkhead_interactive_p99_seconds This process's p99 of "
	    "interactive FHIR requests over the window, as last published "
	    "(-1: none).\n"
	    "# TYPE bulkhead_interactive_p99_seconds gauge\n"
	    "bulkhead_interactive_p99_seconds %.6f\n"
	    "# HELP bulkhead_interactive_window_requests Requests in that "
	    "window.\n"
	    "# TYPE bulkhead_interactive_window_requests gauge\n"
	    "bulkhead_interactive_window_requests %llu\n"
	    "# HELP bulkhead_bulk_jobs_controlled Bulk jobs publishing their "
	    "rate factor.\n"
	    "# TYPE bulkhead_bulk_jobs_controlled gauge\n"
	    "bulkhead_bulk_jobs_controlled %d\n"
	    "# HELP bulkhead_bulk_rate_factor Lowest rate factor of those "
	    "jobs (1: full rate).\n"
	    "# TYPE bulkhead_bulk_rate_factor gauge\n"
	    "bulkhead_bulk_rate_factor %.4f\n", on,
	    p99 < 0 ? -1.0 : p99 / 1000.0, n, jobs.ij_jobs,
	    jobs.ij_factor_min);
	return rc != 0 ? -1 : 0;
}
