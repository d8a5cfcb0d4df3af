/*
 * validate.h — the per-line checks $import makes beyond well-formed JSON:
 * the elements FHIR R4 requires at the top level of the type (the table
 * fhir/required-elements.json, compiled in) and well-formed references.
 *
 * validate_init parses the table once per process (not thread-safe; call
 * it before starting threads); validate_resource is then thread-safe.
 */
#ifndef STORE_VALIDATE_H
#define STORE_VALIDATE_H

#include <stddef.h>

struct ndjson_resource;

/* 0, or -1 with the reason in errbuf if the table is missing or bad. */
int	validate_init(char *errbuf, size_t errlen);
/* Checks a line ndjson_parse already accepted.  0, or -1 with a one-line
 * reason and *offset (byte in the line) set. */
int	validate_resource(const char *type, size_t typelen, const char *line,
	    size_t len, char *errbuf, size_t errlen, size_t *offset);
/* Everything $import checks on a line of an input of 'type', in one scan
 * of the line: ndjson_parse (filling *res), resourceType equal to 'type',
 * the required elements, then the references.  0, or -1 with a one-line
 * reason and *offset set.  Thread-safe after validate_init. */
int	validate_line(const char *type, const char *line, size_t len,
	    struct ndjson_resource *res, char *errbuf, size_t errlen,
	    size_t *offset);

#endif
