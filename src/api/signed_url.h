/*
 * signed_url.h — the API's check of a signed download URL (auth/
 * urlsign.h) on GET /fhir/_jobs/{id}/files/{name}.
 *
 *	switch (signed_url_check(req, rel)) {
 *	case -1: return;		(answered: 403 or 503)
 *	case 1:  serve without a token;
 *	case 0:  not a signed URL: the bearer token decides.
 *	}
 *
 * A request with any of kid, exp or sig is a signed URL: all three must
 * be there, well formed, name a server key, match rel and not be past
 * exp; otherwise 403 with an OperationOutcome (code "forbidden") that
 * says which (expired, signature, unknown key, malformed).  With auth =
 * none it answers 0 (everything is open anyway).
 *
 * The keys are cached per process (reloaded every SIGNED_URL_REFRESH_S,
 * or at most once a second when a kid is unknown), so a download costs
 * no query for its signature.  libmicrohttpd threads; thread-safe.
 */
#ifndef API_SIGNED_URL_H
#define API_SIGNED_URL_H

#define SIGNED_URL_REFRESH_S	60

struct http_req;

int	signed_url_check(struct http_req *, const char *rel);

#endif
