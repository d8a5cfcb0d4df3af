/*
 * http_fhir.h — GET /fhir/metadata (the CapabilityStatement) and GET
 * /healthz (liveness and database reachability).
 *
 * The CapabilityStatement is built once at start-up from the embedded
 * fhir/CapabilityStatement.json, with date, software.version,
 * implementation.url (= base_url), fhirVersion 4.0.1 and kind filled in,
 * plus the entries of fhir/operations.json whose route the route table
 * has (EXP-CS-04: declare only what is implemented).  It is immutable
 * afterwards, so any thread may serve it.
 */
#ifndef HTTP_FHIR_H
#define HTTP_FHIR_H

#include <stddef.h>

struct cfg;
struct http_req;

/* Main thread, after http_route_init.  Returns 0, or -1 with the reason
 * (a missing or malformed embedded artifact) in errbuf. */
int	 http_fhir_init(const struct cfg *cfg, char *errbuf, size_t errlen);
/* Main thread, after the daemon stopped. */
void	 http_fhir_shutdown(void);

/* GET /fhir/metadata. */
void	 http_fhir_metadata(struct http_req *);
/* GET /healthz: 200 {"status":"ok","database":"ok"} when SELECT 1
 * answers on the thread's connection, else 503 OperationOutcome
 * (transient).  Nothing is cached. */
void	 http_fhir_healthz(struct http_req *);

#endif
