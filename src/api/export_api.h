/*
 * export_api.h — the HTTP side of $export (API process): kick-off, status
 * polling, cancellation and file download.  Handlers for http_route.c's
 * table; they record jobs and read job rows, never do bulk work.
 *
 *   GET|POST /fhir/$export                    system level
 *   GET|POST /fhir/Patient/$export            all patients
 *   GET|POST /fhir/Group/{id}/$export         a Group's members
 *   GET|DELETE /fhir/_jobs/{id}               status / cancel
 *   GET /fhir/_jobs/{id}/files/{name}         one output file
 *
 * Status polls are answered from export_cache.h (rendered answers kept
 * for at most EXPORT_CACHE_TTL_MS, polled ones refreshed by one thread):
 * only a miss reads the job store.
 */
#ifndef BULK_EXPORT_API_H
#define BULK_EXPORT_API_H

#include <stddef.h>

struct cfg;
struct http_req;

/* Main thread, before the daemon starts: starts the status cache.  0, or
 * -1 (errbuf) and polls then read the job store each time. */
int	export_api_start(const struct cfg *, char *errbuf, size_t errlen);
/* Main thread, after the daemon stopped. */
void	export_api_stop(void);

void	export_api_kickoff_system(struct http_req *);
void	export_api_kickoff_patient(struct http_req *);
void	export_api_kickoff_group(struct http_req *);
void	export_api_status(struct http_req *);
void	export_api_delete(struct http_req *);
void	export_api_file(struct http_req *);

#endif
