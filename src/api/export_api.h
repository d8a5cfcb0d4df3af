/*
 * export_api.h — the $export kick-off (API process): handlers for
 * http_route.c's table; they record jobs, never do bulk work.  The
 * status URL is export_status.h's, the downloads export_files.h's.
 *
 *   GET|POST /fhir/$export                    system level
 *   GET|POST /fhir/Patient/$export            all patients
 *   GET|POST /fhir/Group/{id}/$export         a Group's members
 */
#ifndef BULK_EXPORT_API_H
#define BULK_EXPORT_API_H

struct http_req;

void	export_api_kickoff_system(struct http_req *);
void	export_api_kickoff_patient(struct http_req *);
void	export_api_kickoff_group(struct http_req *);

#endif
