/*
 * openimis_bundle.h — reads the searchset Bundles of openIMIS's FHIR R4
 * module (../shared/OPENIMIS.md A1.1): total, the page number of the next
 * link, and each entry's resource as a store line.
 *
 * The module builds its links with DRF's PageNumberPagination
 * ("page-offset" is a page NUMBER) and, in the version OPENIMIS.md read
 * (9f63fab), passes them through urllib.parse.quote_plus, so "next"
 * arrives as "http%3A%2F%2F...%26page-offset%3D2"; later versions send
 * it plain.  A link is decoded once, and only when it is encoded (it has
 * no "://"), so a plain link's own %XX escapes survive.  The client does
 * not follow the link's host (behind a proxy it names the backend's
 * address): it takes the page number and asks its own base URL.
 *
 * Coverage and Contract carry no "id" (A1.6, A1.7): their store id is
 * the value of the identifier typed UUID, which the line gets as "id".
 *
 * Everything here parses outside input: bounded, no I/O, fuzzed
 * (tests/fuzz/fuzz_openimis_bundle.c).  Errors: -1 with a reason in
 * errbuf.
 */
#ifndef OPENIMIS_OPENIMIS_BUNDLE_H
#define OPENIMIS_OPENIMIS_BUNDLE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define OPENIMIS_ID_MAX	65	/* FHIR id: 64 characters + NUL */

struct openimis_page {
	cJSON		*op_root;	/* owned */
	int64_t		 op_total;	/* -1 when absent */
	const cJSON	*op_entries;	/* borrowed from op_root; may be NULL */
	long		 op_next;	/* page-offset of "next"; 0: last page */
};

/* Parses a searchset Bundle.  0, or -1 (not JSON, not a searchset
 * Bundle, a next link without a usable page-offset).  Free with
 * openimis_bundle_free whatever the result. */
int	openimis_bundle_parse(const char *text, size_t len,
	    struct openimis_page *, char *errbuf, size_t errlen);
void	openimis_bundle_free(struct openimis_page *);

/* Decodes a link as above into out.  0, or -1 if out is too small or an
 * escape is malformed. */
int	openimis_link_decode(const char *in, char *out, size_t outlen);
/* The page-offset parameter of a decoded URL: > 0, or 0 if absent or
 * not a positive number. */
long	openimis_link_page(const char *url);

/*
 * The compact JSON line to store for a resource of type want_type, with
 * "id" set from the UUID identifier when it has none; *id gets the id.
 * Returns a malloc'd string (caller frees) or NULL with a reason (wrong
 * type, no usable id).
 */
char	*openimis_resource_line(const cJSON *res, const char *want_type,
	    char *id, size_t idlen, char *errbuf, size_t errlen);
/* The value of the identifier whose type coding has code, or NULL.
 * Borrowed from res. */
const char *openimis_identifier(const cJSON *res, const char *code);

#endif
