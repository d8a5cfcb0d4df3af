/*
 * api_interactive.c — publishes this API process's interactive latency
 * for the bulk jobs' controller (see api_interactive.h, jobs/backoff.h).
 *
 * DESIGN.  The request threads only add their duration to a window
 * (http_metrics_interactive, one short mutex); the p99, the database
 * write and anything that could wait on PostgreSQL happen on this one
 * thread with its own connection, so nothing on the request path waits
 * for the controller.
 *
 * What a client waits for is more than what the handlers measure: under
 * a saturating closed loop (wrk -c50) the handlers' own p99 stayed under
 * 0.2 ms while wrk saw 30-60 ms, all of it spent before the request was
 * read (the listen queue, and the HTTP threads waiting for a CPU).  So
 * the thread also probes the API as a client does, every
 * API_INTERACTIVE_PROBE_MS: GET /fhir/metadata on a keep-alive loopback
 * connection, timed from the write to the last byte of the answer.  The
 * p99 published is the higher of the two windows.  The probe carries a
 * per-process secret (X-Bulkhead-Probe) so that the router keeps it out
 * of the access log and /metrics.  A database that is down costs a
 * reconnect attempt a second, logged once per outage; jobs then see no fresh API row and
 * climb back to full rate (no signal is not "slow").
 */
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api_interactive.h"
#include "core/cfg.h"
#include "http/http_metrics.h"
#include "http/http_route.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/latwin.h"
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
	int			 probe_fd;	/* keep-alive probe, or -1 */
	struct latwin		 probe_win;	/* probe round trips */
	char			 probe_req[256];	/* the request */
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
static void	 api_interactive_probe(void);
static int	 api_interactive_connect(void);

/* One publish; *down says whether the last one failed (logged once). */
static void
api_interactive_once(int *down)
{
	struct interactive_jobs	 jobs;
	uint64_t		 n;
	unsigned int		 in_flight;
	double			 p99, probe;
	char			 err[512];

	p99 = http_metrics_interactive_p99(&n);
	probe = latwin_quantile(&ai.probe_win, (int64_t)(clock_mono() * 1000.0),
	    0.99, NULL);
	if (probe > p99)
		p99 = probe;
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

/* A loopback connection to our own listener, or -1. */
static int
api_interactive_connect(void)
{
	struct addrinfo	 hints, *res = NULL, *ai0;
	struct timeval	 tv = { 1, 0 };
	const char	*host = ai.cfg->listen_host;
	char		 port[16];
	int		 fd = -1;

	if (host[0] == '\0' || strcmp(host, "*") == 0 ||
	    strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0)
		host = "::1";
	snprintf(port, sizeof(port), "%d", ai.cfg->listen_port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai0 = res; ai0 != NULL && fd == -1; ai0 = ai0->ai_next) {
		fd = socket(ai0->ai_family, ai0->ai_socktype | SOCK_CLOEXEC,
		    ai0->ai_protocol);
		if (fd == -1)
			continue;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof(tv)) == -1 || setsockopt(fd, SOL_SOCKET,
		    SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
		    connect(fd, ai0->ai_addr, ai0->ai_addrlen) == -1) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

/*
 * One probe: the request, then the answer read to its Content-Length.
 * A failure or a timeout (1 s) counts as 1 s and drops the connection.
 */
static void
api_interactive_probe(void)
{
	char	 b[16384], *hdr_end, *cl;
	size_t	 len = strlen(ai.probe_req), got = 0, want = 0;
	ssize_t	 n;
	double	 t0;
	int	 ok = 0;

	if (ai.probe_fd == -1 && (ai.probe_fd = api_interactive_connect()) ==
	    -1)
		return;		/* not listening yet: nothing to measure */
	t0 = clock_mono();
	if (write(ai.probe_fd, ai.probe_req, len) != (ssize_t)len)
		goto out;
	hdr_end = NULL;
	for (;;) {
		n = read(ai.probe_fd, b + (hdr_end == NULL ? got : 0),
		    hdr_end == NULL ? sizeof(b) - 1 - got : sizeof(b));
		if (n <= 0)
			goto out;
		got += (size_t)n;
		if (hdr_end == NULL) {
			b[got] = '\0';
			if ((hdr_end = strstr(b, "\r\n\r\n")) == NULL) {
				if (got >= sizeof(b) - 1)
					goto out;
				continue;
			}
			if ((cl = strcasestr(b, "\r\nContent-Length:")) ==
			    NULL || cl > hdr_end)
				goto out;
			want = (size_t)(hdr_end + 4 - b) +
			    (size_t)strtoul(cl + 17, NULL, 10);
		}
		if (got >= want)
			break;
	}
	ok = 1;
 out:
	latwin_add(&ai.probe_win, (int64_t)(clock_mono() * 1000.0), ok ?
	    (uint64_t)((clock_mono() - t0) * 1e6) : 1000000);
	if (!ok) {
		close(ai.probe_fd);
		ai.probe_fd = -1;
	}
}

static void *
api_interactive_main(void *arg)
{
	struct timespec	ts;
	double		next_pub = 0, now;
	int		down = 0;

	(void)arg;
	pthread_mutex_lock(&ai.mu);
	while (!ai.stop) {
		pthread_mutex_unlock(&ai.mu);
		api_interactive_probe();
		if ((now = clock_mono()) >= next_pub) {
			next_pub = now + API_INTERACTIVE_PERIOD_MS / 1000.0;
			api_interactive_once(&down);
		}
		pthread_mutex_lock(&ai.mu);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)API_INTERACTIVE_PROBE_MS * 1000000L;
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
	unsigned char		rnd[16];
	char			host[64], tok[2 * sizeof(rnd) + 1];
	size_t			i;
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
	ai.probe_fd = -1;
	latwin_init(&ai.probe_win, cfg->interactive_window_ms);
	/* A per-process secret marks the probe's own requests, which the
	 * router then leaves out of the access log and /metrics. */
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		snprintf(errbuf, errlen, "interactive probe: getrandom: %s",
		    strerror(errno));
		latwin_destroy(&ai.probe_win);
		return -1;
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(tok + 2 * i, 3, "%02x", rnd[i]);
	http_route_quiet_token(tok);
	snprintf(ai.probe_req, sizeof(ai.probe_req), "GET /fhir/metadata "
	    "HTTP/1.1\r\nHost: localhost\r\nAccept: application/fhir+json"
	    "\r\nUser-Agent: bulkhead-probe\r\nX-Bulkhead-Probe: %s"
	    "\r\n\r\n", tok);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ai.cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((e = pthread_create(&ai.thread, NULL, api_interactive_main,
	    NULL)) != 0) {
		pthread_cond_destroy(&ai.cv);
		latwin_destroy(&ai.probe_win);
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
	if (ai.probe_fd != -1)
		close(ai.probe_fd);
	ai.probe_fd = -1;
	latwin_destroy(&ai.probe_win);
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
