/*
 * readyz.h — GET /readyz: PostgreSQL reachable and migrations current
 * (200 {"status":"ready",...}), else 503 {"status":"unready","reason"}.
 */
#ifndef API_READYZ_H
#define API_READYZ_H

struct http_req;

void	readyz_get(struct http_req *);

#endif
