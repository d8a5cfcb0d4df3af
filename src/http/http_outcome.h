/*
 * http_outcome.h — FHIR OperationOutcome bodies for every error answer.
 *
 * One issue per outcome: {"resourceType":"OperationOutcome","issue":[{
 * "severity":"error","code":"not-found","diagnostics":"..."}]}.  Codes are
 * FHIR R4 IssueType values; http_outcome_code maps an HTTP status to the
 * one the router uses by default.  Pure: depends on src/lib only.
 */
#ifndef HTTP_OUTCOME_H
#define HTTP_OUTCOME_H

struct buf;

/* Appends the outcome's JSON to b.  severity is "fatal", "error",
 * "warning" or "information"; diagnostics may be NULL.  Returns 0, or -1
 * when b's limit is reached (b then holds a truncated prefix). */
int		 http_outcome_write(struct buf *b, const char *severity,
		    const char *code, const char *diagnostics);

/* The IssueType code for an HTTP status: 404 not-found, 405/406/415/501
 * not-supported, 413 too-long, 429 throttled, 401/403 security, 503
 * transient, other 5xx exception, other 4xx invalid.  Static string. */
const char	*http_outcome_code(unsigned int status);

#endif
