/*
 * api_routes.h — the application the HTTP framework serves: the route
 * table naming every handler in src/api/, and the start and stop hooks
 * of the modules behind them.
 *
 * main.c hands &api_routes to http_server_main, the way OpenBSD httpd
 * hands its procs[] down: src/http/ never names a handler, so no include
 * there points up at src/api/.
 */
#ifndef API_ROUTES_H
#define API_ROUTES_H

struct http_app;

/* Constant; the table and hooks are static. */
extern const struct http_app	api_routes;

#endif
