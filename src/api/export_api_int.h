/*
 * export_api_int.h — private to the HTTP side of the bulk jobs
 * (api/export_api.c, api/export_status.c, api/export_files.c,
 * api/import_api.c): what the kick-off lends the status and download
 * handlers, and the bearer check they all make.  Not for use elsewhere.
 */
#ifndef API_EXPORT_API_INT_H
#define API_EXPORT_API_INT_H

#include <stddef.h>

#include <libpq-fe.h>

#include "auth/token.h"

#define EXPORT_API_CLIENT_MAX	(AUTH_STORE_NAME_MAX + 16)

struct buf;
struct http_req;

/* The request thread's database connection, or NULL after answering
 * 503. */
PGconn	*export_api_conn(struct http_req *);
/* Appends a FHIR OperationOutcome with one issue to b. */
void	 export_api_outcome(struct buf *b, const char *severity,
	    const char *code, const char *text);

/*
 * AUTH-BE-01: the bearer check every bulk endpoint makes first
 * (auth_bearer_check), and the client id its jobs are recorded under:
 * "smart:<client name>" with auth = smart, else (auth = none) a hash of
 * any bearer token sent, or the caller's address.  0, or -1 after
 * answering (401, 503).
 */
int	 export_api_principal(struct http_req *, struct token_principal *,
	    char *client, size_t clientlen);
/* 1 if the principal may see a job recorded under job_client (NULL for
 * none): always with auth = none, else only its own (AUTH-BE-06). */
int	 export_api_owns(const struct token_principal *,
	    const char *job_client);

#endif
