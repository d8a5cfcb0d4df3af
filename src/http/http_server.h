/*
 * http_server.h — the API process: libmicrohttpd with explicit limits,
 * the router, the access log.  Runs until SIGTERM or SIGINT; returns the
 * process exit status.
 *
 * The framework names no handler: the application (src/api/api_routes.c)
 * hands its route table and hooks down in a struct http_app, the way
 * OpenBSD httpd passes its procs[].
 */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <stddef.h>

struct cfg;
struct http_route;

struct http_app {
	/* The route table (http_route.h); constant, static. */
	const struct http_route	*app_routes;
	size_t			 app_nroutes;
	/* Main thread, after the router and the database pool are ready
	 * and before the daemon starts.  0, or -1 with the reason in
	 * errbuf: the API does not start.  May be NULL. */
	int			(*app_start)(const struct cfg *,
				    char *errbuf, size_t errlen);
	/* Main thread, after the daemon stopped.  Called on every way out
	 * once the socket is open, even when app_start failed or did not
	 * run, so it must tolerate that.  May be NULL. */
	void			(*app_stop)(void);
};

/* app is borrowed and must outlive the call. */
int	http_server_main(struct cfg *, const struct http_app *app);

#endif
