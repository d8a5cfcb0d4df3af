/*
 * jscan.h — a strict, allocation-free JSON validator that reports the
 * members of the top-level object.
 *
 * The loader needs four fields of each NDJSON line (resourceType, id,
 * meta.lastUpdated, the compartment reference) and proof that the line is
 * well-formed JSON in valid UTF-8; building a tree for that would cost
 * more than PostgreSQL takes to store the line.  jscan_object walks the
 * text once (RFC 8259, nesting at most JSCAN_MAX_DEPTH), calls 'member'
 * for every top-level key with the raw span of its value, and stops at
 * the first error with its byte offset and a reason.
 */
#ifndef LIB_JSCAN_H
#define LIB_JSCAN_H

#include <stddef.h>

#define JSCAN_MAX_DEPTH	256

struct jscan_error {
	size_t		 je_offset;	/* byte offset of the error */
	const char	*je_reason;	/* static string */
};

/* Called per top-level member.  key is the raw key text between the
 * quotes (escapes not decoded); value is the raw JSON text of the value.
 * Return 0 to go on, -1 to stop (jscan_object then returns -1 with
 * je_reason "stopped"). */
typedef int (*jscan_member_fn)(void *arg, const char *key, size_t keylen,
    const char *value, size_t valuelen);

/* Validates that buf[0..len) holds exactly one JSON object, optionally
 * surrounded by white space.  member may be NULL.  Returns 0 or -1. */
int	jscan_object(const char *buf, size_t len, jscan_member_fn member,
	    void *arg, struct jscan_error *err);

/* If value (a raw span from jscan_object) is a JSON string without
 * escapes, sets *s and *n to its contents and returns 0; else -1. */
int	jscan_plain_string(const char *value, size_t len, const char **s,
	    size_t *n);

/* Finds member 'key' of the already-validated object text obj and
 * returns its raw value span, or -1 when absent. */
int	jscan_get(const char *obj, size_t len, const char *key,
	    const char **value, size_t *valuelen);

#endif
