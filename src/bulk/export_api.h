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
 */
#ifndef BULK_EXPORT_API_H
#define BULK_EXPORT_API_H

struct http_req;

void	export_api_kickoff_system(struct http_req *);
void	export_api_kickoff_patient(struct http_req *);
void	export_api_kickoff_group(struct http_req *);
void	export_api_status(struct http_req *);
void	export_api_delete(struct http_req *);
void	export_api_file(struct http_req *);

#endif
