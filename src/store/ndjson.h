/*
 * ndjson.h — what the store needs to know about one NDJSON resource line.
 *
 * ndjson_parse validates the line (strict JSON, UTF-8, one object) and
 * extracts resourceType, id, meta.lastUpdated and the Patient compartment
 * id.  It allocates nothing: the fields point into the line.  On a bad
 * line it returns -1 with a reason and the byte offset within the line.
 */
#ifndef STORE_NDJSON_H
#define STORE_NDJSON_H

#include <stddef.h>
#include <stdint.h>

#include "lib/jscan.h"

#define NDJSON_ID_MAX	64	/* FHIR id: [A-Za-z0-9-.]{1,64} */

struct ndjson_resource {
	const char	*nr_type;	/* resourceType */
	size_t		 nr_type_len;
	const char	*nr_id;
	size_t		 nr_id_len;
	const char	*nr_updated;	/* meta.lastUpdated, or NULL */
	size_t		 nr_updated_len;
	const char	*nr_patient;	/* compartment Patient id, or NULL */
	size_t		 nr_patient_len;
};

int	ndjson_parse(const char *line, size_t len, struct ndjson_resource *,
	    char *errbuf, size_t errlen, size_t *err_offset);
/* ndjson_parse that also hands every top-level member to 'member' (may
 * be NULL) during its one pass, so that callers checking more than the
 * fields above do not scan the line again. */
int	ndjson_parse_with(const char *line, size_t len,
	    struct ndjson_resource *, jscan_member_fn member, void *arg,
	    char *errbuf, size_t errlen, size_t *err_offset);
/* FHIR id syntax check. */
int	ndjson_valid_id(const char *, size_t);
/* FHIR instant syntax check (YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm)). */
int	ndjson_valid_instant(const char *, size_t);
/* A valid instant (ndjson_valid_instant) as a PostgreSQL timestamptz:
 * microseconds since 2000-01-01 UTC, rounded as the server would. */
int64_t	ndjson_instant_usec(const char *, size_t);
/* The member of 'type' whose reference puts it in a Patient's
 * compartment ("patient", "beneficiary", "subject"), or NULL. */
const char *ndjson_compartment_param(const char *type, size_t len);

#endif
