/*
 * export_status.h — a bulk job's status URL (API process): polls and the
 * client's DELETE, for http_route.c's table.
 *
 *   GET|DELETE /fhir/_jobs/{id}               status / cancel
 *
 * Status polls are answered from export_cache.h (rendered answers kept
 * for at most EXPORT_CACHE_TTL_MS, polled ones refreshed by one thread):
 * only a miss reads the job store.
 */
#ifndef API_EXPORT_STATUS_H
#define API_EXPORT_STATUS_H

#include <stddef.h>

struct cfg;
struct http_req;

/* Main thread, before the daemon starts: starts the status cache.  0, or
 * -1 (errbuf) and polls then read the job store each time. */
int	export_status_start(const struct cfg *, char *errbuf, size_t errlen);
/* Main thread, after the daemon stopped. */
void	export_status_stop(void);

void	export_status_get(struct http_req *);
void	export_status_delete(struct http_req *);

#endif
