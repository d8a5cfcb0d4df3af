/*
 * http_server.c — the API process: the listening socket, libmicrohttpd in
 * thread-pool mode under explicit limits, signals, a graceful stop.
 *
 * DESIGN: thread-pool mode (an internal polling thread per pool member,
 * epoll where available) so that each worker thread may block on its own
 * PostgreSQL connection (http_db.c) without stalling the others; the API
 * does only short, bounded database work (statement_timeout) and leaves
 * bulk work to the worker processes.  Every limit is configuration:
 * threads, connections, per-connection memory (which bounds the request
 * line and headers), idle timeout, body size (enforced by the router).
 *
 * We open the listening socket ourselves so that "address in use" and
 * name resolution failures are reported in one clear line, and so that
 * "[::1]", "localhost" and "0.0.0.0" all work.  The main thread only
 * waits for signals: SIGTERM or SIGINT stops accepting, lets requests in
 * progress finish (at most HTTP_SERVER_DRAIN_MS), stops the daemon and
 * returns 0.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "auth/urlsign.h"
#include "core/cfg.h"
#include "http/http_db.h"
#include "http/http_metrics.h"
#include "http/http_route.h"
#include "http/http_server.h"
#include "lib/log.h"

#define HTTP_SERVER_BACKLOG	511	/* listen(2) queue */
#define HTTP_SERVER_DRAIN_MS	5000	/* stop: wait for requests */
#define HTTP_SERVER_LOG_RING	(1024 * 1024)	/* ~5 s of access log at
						   1,000 requests/s */

static int	 http_server_listen(const struct cfg *, char *, size_t);
static void	 http_server_mhd_log(void *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));
static void	 http_server_drain(void);

/*
 * Resolves cfg->listen_host (brackets around an IPv6 literal allowed;
 * "" or "*" for every address), binds and listens, IPv4 results first so
 * that "localhost" serves 127.0.0.1.  "::" is dual-stack.  Returns the
 * non-blocking socket, or -1 with the reason in errbuf.
 */
static int
http_server_listen(const struct cfg *cfg, char *errbuf, size_t errlen)
{
	struct addrinfo		 hints, *res = NULL, *ai;
	struct sockaddr_in6	 sin6;
	const char		*h = cfg->listen_host;
	char			 host[256], port[16];
	size_t			 len = strlen(h);
	int			 fd = -1, one = 1, zero = 0, pass, saved = 0;
	int			 gai;

	if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
		h++;
		len -= 2;
	}
	if (len >= sizeof(host)) {
		snprintf(errbuf, errlen, "host name too long");
		return -1;
	}
	memcpy(host, h, len);
	host[len] = '\0';
	snprintf(port, sizeof(port), "%d", cfg->listen_port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	gai = getaddrinfo(host[0] == '\0' || strcmp(host, "*") == 0 ? NULL :
	    host, port, &hints, &res);
	if (gai != 0) {
		snprintf(errbuf, errlen, "%s", gai_strerror(gai));
		return -1;
	}
	for (pass = 0; pass < 2 && fd == -1; pass++) {
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			if ((ai->ai_family == AF_INET) != (pass == 0))
				continue;
			fd = socket(ai->ai_family, ai->ai_socktype |
			    SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
			if (fd == -1) {
				saved = errno;
				continue;
			}
			(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
			    sizeof(one));
			if (ai->ai_family == AF_INET6 &&
			    ai->ai_addrlen >= sizeof(sin6)) {
				memcpy(&sin6, ai->ai_addr, sizeof(sin6));
				if (IN6_IS_ADDR_UNSPECIFIED(&sin6.sin6_addr))
					(void)setsockopt(fd, IPPROTO_IPV6,
					    IPV6_V6ONLY, &zero, sizeof(zero));
			}
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
			    listen(fd, HTTP_SERVER_BACKLOG) == 0)
				break;
			saved = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd == -1)
		snprintf(errbuf, errlen, "%s",
		    strerror(saved != 0 ? saved : EADDRNOTAVAIL));
	return fd;
}

/* MHD_OPTION_EXTERNAL_LOGGER: MHD's own complaints, one line each. */
static void
http_server_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	msg[512];
	size_t	len;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		msg[--len] = '\0';
	urlsign_redact(msg);	/* a message may quote a signed URL */
	log_warnx("libmicrohttpd: %s", msg);
}

/* Waits until no request is in progress, at most HTTP_SERVER_DRAIN_MS.
 * Idle keep-alive connections do not count. */
static void
http_server_drain(void)
{
	struct timespec	ts = { 0, 20 * 1000 * 1000 };
	int		waited;

	for (waited = 0; http_route_in_flight() > 0 &&
	    waited < HTTP_SERVER_DRAIN_MS; waited += 20)
		nanosleep(&ts, NULL);
	if (http_route_in_flight() > 0)
		log_warnx("stopping with %u requests still in progress",
		    http_route_in_flight());
}

/*
 * The API process's main: runs until SIGTERM or SIGINT.  Returns 0 after
 * a clean stop, 1 when it cannot start (one log line says why).  Call on
 * the main thread with no other threads running.
 */
int
http_server_main(struct cfg *cfg, const struct http_app *app)
{
	struct MHD_Daemon	*d = NULL;
	struct sigaction	 sa;
	sigset_t		 set;
	MHD_socket		 lfd;
	char			 err[512];
	unsigned int		 flags;
	int			 fd = -1, sig, rc = 1;

	/* Signals arrive at sigwait below; MHD threads inherit the mask. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if ((fd = http_server_listen(cfg, err, sizeof(err))) == -1) {
		log_error("cannot listen on %s: %s", cfg->listen, err);
		return 1;
	}
	http_metrics_init();
	if (http_route_init(cfg, app->app_routes, app->app_nroutes, err,
	    sizeof(err)) == -1 ||
	    http_db_init(cfg, err, sizeof(err)) == -1 ||
	    (app->app_start != NULL &&
	    app->app_start(cfg, err, sizeof(err)) == -1)) {
		log_error("cannot start the API: %s", err);
		goto out_close;
	}
	/* The access log off the request path: see lib/log.c. */
	if (log_async_start(HTTP_SERVER_LOG_RING) == -1)
		log_warnx("access log written inline: no log thread");

	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
	    MHD_USE_ERROR_LOG;
	flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ?
	    MHD_USE_EPOLL : MHD_USE_POLL;
	d = MHD_start_daemon(flags, (uint16_t)cfg->listen_port, NULL, NULL,
	    http_route_access, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, http_server_mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->http_threads,
	    MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)cfg->http_max_connections,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->http_conn_memory,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->http_timeout,
	    MHD_OPTION_URI_LOG_CALLBACK, http_route_uri_log, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, http_route_completed, NULL,
	    MHD_OPTION_END);
	if (d == NULL) {
		log_error("cannot start the HTTP server on %s", cfg->listen);
		goto out_close;
	}
	fd = -1;	/* the daemon's now */
	log_info("listening on %s, FHIR base %s (%d threads, %d connections, "
	    "body limit %lld bytes)", cfg->listen, cfg->base_url,
	    cfg->http_threads, cfg->http_max_connections,
	    (long long)cfg->http_max_body);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break;
		log_info("SIGHUP: the API has no reloadable settings yet");
	}
	log_info("%s received, stopping", sig == SIGTERM ? "SIGTERM" :
	    "SIGINT");
	lfd = MHD_quiesce_daemon(d);
	http_server_drain();
	MHD_stop_daemon(d);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	rc = 0;

 out_close:
	if (fd != -1)
		close(fd);
	if (app->app_stop != NULL)
		app->app_stop();
	http_db_shutdown();
	log_async_stop();
	return rc;
}
