/*
 * openhim_api.h — a small client of the OpenHIM core API (v8): one
 * authenticated HTTP call at a time, blocking, with short timeouts.
 *
 * Authentication is Basic (email:password), the scheme OpenHIM 8
 * recommends and accepts for both local and token users (core-js
 * src/api/authentication.js, src/protocols/local.js).  TLS: the API's
 * certificate is checked against openhim_ca_file (or the system store),
 * unless openhim_tls_insecure = 1.
 *
 * Errors: -1 with a reason in errbuf when no HTTP answer came (refused,
 * timeout, TLS); otherwise 0 and the HTTP status in *status, whatever it
 * is.  Called by the scheduler leader only (openhim_mediator.c).
 */
#ifndef OPENHIM_API_H
#define OPENHIM_API_H

#include <stddef.h>

#define OPENHIM_API_MAX_REPLY	(1 << 20)	/* answer bodies kept */
#define OPENHIM_API_TIMEOUT	5		/* seconds per call */

struct cfg;

/* method "POST"/"PUT"/"GET"; path from the API root ("/mediators");
 * body NUL-terminated JSON or NULL.  On 0, *reply is the answer body,
 * NUL-terminated (caller frees with free()), or NULL when reply is NULL. */
int	openhim_api_call(const struct cfg *c, const char *method,
	    const char *path, const char *body, long *status, char **reply,
	    char *errbuf, size_t errlen);

#endif
