/*
 * http_parse.h — pure parsers for what a request carries: the Accept,
 * Accept-Encoding, Content-Type and Prefer headers, the _format query
 * parameter, and the router's path splitter and pattern matcher.
 *
 * DESIGN: no libmicrohttpd, no allocation, no global state; input is any
 * NUL-terminated string (hostile bytes included), output is bounded by the
 * structures below.  This file depends on src/lib only, so it is unit
 * tested (tests/unit/test_http_parse.c) and fuzzed
 * (tests/fuzz/fuzz_http_headers.c) on its own.  All functions are
 * thread-safe.
 *
 * q-values are integers in thousandths: 1000 is q=1, 0 is "not acceptable".
 * Repeated header fields are handled by joining their values with ", "
 * before calling (RFC 9110 §5.3), which the router does.
 */
#ifndef HTTP_PARSE_H
#define HTTP_PARSE_H

#include <stddef.h>

#define HTTP_PARSE_MAX_SEGS	24	/* path segments in a request */
#define HTTP_PARSE_MAX_PATH	2048	/* decoded, NULs included */

/* A request path split into percent-decoded segments. */
struct http_path {
	char		 hp_buf[HTTP_PARSE_MAX_PATH]; /* NUL-separated */
	const char	*hp_seg[HTTP_PARSE_MAX_SEGS]; /* into hp_buf */
	size_t		 hp_nseg;		      /* segments used */
};

/* Preferences of a Prefer header (RFC 7240) the bulk operations use. */
enum http_prefer_handling {
	HTTP_PREFER_HANDLING_UNSET,
	HTTP_PREFER_HANDLING_LENIENT,
	HTTP_PREFER_HANDLING_STRICT,
};

struct http_prefer {
	int			 hp_respond_async;	/* respond-async */
	int			 hp_separate_status;	/* separate-export-
							 * status */
	enum http_prefer_handling hp_handling;		/* handling=... */
};

/*
 * Content negotiation on an Accept value.  offers are "type/subtype"
 * strings in the server's order of preference.  For each offer, the most
 * specific matching media range (exact, then type/x, then x/x, where x is
 * '*') gives its q; the offer with the highest q > 0 wins, ties going to
 * the earlier offer.  Returns the winner's index, or -1 when every offer
 * has q = 0.  A NULL, empty or wholly unparseable Accept accepts offer 0
 * (lenient: malformed elements are skipped).  Media range parameters other
 * than q are ignored.
 */
int	 http_parse_accept(const char *accept, const char *const *offers,
	    size_t noffers);

/*
 * The q (0..1000) that an Accept-Encoding value gives to content coding
 * 'coding' ("gzip", "zstd", "identity"), with RFC 9110 §12.5.3 rules:
 * an explicit entry wins over '*'; identity is acceptable unless excluded
 * by "identity;q=0" or "*;q=0".  With accept_encoding NULL only identity is
 * acceptable (we send a coding only when the client names it; CMP-04).
 */
int	 http_parse_accept_encoding(const char *accept_encoding,
	    const char *coding);

/* 1 if a Content-Type value names JSON: application/json, application/
 * <x>+json (fhir+json included) or the legacy application/json+fhir,
 * parameters (charset) ignored; 0 otherwise or for NULL. */
int	 http_parse_content_type_json(const char *content_type);

/* 1 if a _format query value asks for JSON ("json", application/json,
 * application/fhir+json, application/json+fhir, parameters ignored; a
 * space stands for a '+' a client did not escape), 0 otherwise (xml,
 * turtle, html, anything unknown). */
int	 http_parse_format_json(const char *format);

/* Fills *out from a Prefer value (NULL allowed); unknown preferences are
 * ignored, as RFC 7240 asks. */
void	 http_parse_prefer(const char *prefer, struct http_prefer *out);

/*
 * Splits the path of a raw request-target ("/fhir/Group/a%20b/$export?x")
 * at '/', stopping at '?' or '#', and percent-decodes each segment into
 * out.  Returns 0, or -1 when the target does not start with '/', has a
 * malformed %-escape, a segment that decodes to contain '/' or NUL
 * (%2F, %00), a "." or ".." segment (also when %-encoded), more than
 * HTTP_PARSE_MAX_SEGS segments or more than HTTP_PARSE_MAX_PATH bytes.
 * "/" is one empty segment; empty segments are kept (they match nothing).
 */
int	 http_parse_path(const char *raw, struct http_path *out);

/*
 * Matches a route pattern ("/fhir/Group/{id}/$export") against a split
 * path: literal segments compare byte for byte, "{name}" captures any
 * non-empty segment.  Returns 1 on a match, with params[0..] pointing at
 * the captured segments in pattern order (at most maxparams are stored;
 * *nparams gets the count, which may be NULL); 0 otherwise.  The pointers
 * borrow from path.
 */
int	 http_parse_match(const char *pattern, const struct http_path *path,
	    const char **params, size_t maxparams, size_t *nparams);

/* The position of "{name}" among the captures of pattern, or -1. */
int	 http_parse_param_index(const char *pattern, const char *name);

#endif
