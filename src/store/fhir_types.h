/*
 * fhir_types.h — the FHIR R4 resource type names, and which of them the
 * Patient compartment holds.
 */
#ifndef BULK_FHIR_TYPES_H
#define BULK_FHIR_TYPES_H

#include <stddef.h>

/* True if name is an R4 resource type ("Patient", "Claim", ...). */
int	 fhir_type_valid(const char *name);
/* The types the openIMIS store holds, in export order.  Static. */
const char *const *fhir_types_openimis(size_t *n);
/* True if resources of this type can sit in a Patient's compartment in
 * this store (Patient itself, and types with a compartment reference). */
int	 fhir_type_in_compartment(const char *name);
/* Types added to Patient- and Group-level exports when referenced from
 * compartment resources (EXP-K-05): Organization, Practitioner, Location. */
int	 fhir_type_is_context(const char *name);

#endif
