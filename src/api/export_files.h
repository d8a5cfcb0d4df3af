/*
 * export_files.h — downloads of bulk jobs' output files (API process),
 * for http_route.c's table.
 *
 *   GET /fhir/_jobs/{id}/files/{name}         one output file
 */
#ifndef API_EXPORT_FILES_H
#define API_EXPORT_FILES_H

struct http_req;

void	export_files_get(struct http_req *);

#endif
