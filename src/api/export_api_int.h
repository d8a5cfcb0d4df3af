/*
 * export_api_int.h — private to the HTTP side of $export (api/export_api.c,
 * api/export_status.c, api/export_files.c): what the kick-off lends the
 * status and download handlers.  Not for use elsewhere.
 */
#ifndef API_EXPORT_API_INT_H
#define API_EXPORT_API_INT_H

#include <libpq-fe.h>

struct buf;
struct http_req;

/* The request thread's database connection, or NULL after answering
 * 503. */
PGconn	*export_api_conn(struct http_req *);
/* Appends a FHIR OperationOutcome with one issue to b. */
void	 export_api_outcome(struct buf *b, const char *severity,
	    const char *code, const char *text);

#endif
