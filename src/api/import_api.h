/*
 * import_api.h — the HTTP side of $import (API process).
 *
 *   POST /fhir/$import    a Parameters body (the shape HAPI, Microsoft
 *                         and IBM share) or the plain-JSON manifest form
 *                         (IMP-R-01) → 202 + Content-Location
 *
 * Status, DELETE and files share the export handlers (export_api.c),
 * which call the two renderers below for import jobs.
 */
#ifndef BULK_IMPORT_API_H
#define BULK_IMPORT_API_H

#include <stddef.h>
#include <cjson/cJSON.h>

struct buf;
struct cfg;
struct http_req;
struct jobq_job;
struct pg_conn;

void	import_api_kickoff(struct http_req *);
/* "2/5 files, 1,200,000 lines, 37 errors" (under 100 characters), and
 * the fraction done for Retry-After. */
void	import_api_progress(const struct jobq_job *, char *out, size_t outlen,
	    double *fraction);
/* Appends the completed import's manifest (IMP-S-02) to b.  error_rows:
 * the job's "error" outputs as (inputUrl, file, count) triples. */
int	import_api_manifest(const struct cfg *, const struct jobq_job *,
	    const cJSON *params, const char *const *error_rows, int nerrors,
	    struct buf *b);

#endif
