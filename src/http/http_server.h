/*
 * http_server.h — the API process: libmicrohttpd with explicit limits,
 * the router, the access log.  Runs until SIGTERM or SIGINT; returns the
 * process exit status.
 */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

struct cfg;

int	http_server_main(struct cfg *);

#endif
