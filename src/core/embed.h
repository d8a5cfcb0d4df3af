/*
 * embed.h — files compiled into the binary: schemas/NNN_name.sql (migrations),
 * the fhir/ artifacts (CapabilityStatement template, search parameters, tables)
 * and the operator console's web/admin/ files (api/admin_page.h).
 * Names are paths relative to the source tree ("schemas/001_store.sql").
 * Data is NUL-terminated; len excludes the NUL.  All static, never freed.
 */
#ifndef CORE_EMBED_H
#define CORE_EMBED_H

#include <stddef.h>

struct embed_file {
	const char		*ef_name;
	const unsigned char	*ef_data;
	size_t			 ef_len;
};

extern const struct embed_file embed_files[];
extern const size_t embed_nfiles;

/* Returns the named file, or NULL. */
const struct embed_file *embed_find(const char *name);

#endif
