/*
 * fuzz_openimis_bundle.c — openIMIS searchset Bundles and their links
 * (openimis/openimis_bundle.h), which come from outside.
 * fuzz-sources: src/openimis/openimis_bundle.c src/store/ndjson.c
 *
 * Input: a Bundle as openIMIS might send it.  Invariants: no crash; a
 * parsed next page is positive; every line made from an entry is JSON
 * whose id is the id returned, and which is of the type asked; a link
 * decoded once and then again (it then has "://") is unchanged.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "openimis/openimis_bundle.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct openimis_page	 pg;
	const cJSON		*e, *id;
	cJSON			*j;
	char			 err[256], ident[OPENIMIS_ID_MAX], a[512], b[512];
	char			 link[512], *line;
	size_t			 n;

	n = size < sizeof(link) - 1 ? size : sizeof(link) - 1;
	memcpy(link, data, n);
	link[n] = '\0';
	if (openimis_link_decode(link, a, sizeof(a)) == 0 &&
	    strstr(a, "://") != NULL) {
		assert(openimis_link_decode(a, b, sizeof(b)) == 0);
		assert(strcmp(a, b) == 0);
		(void)openimis_link_page(a);
	}
	if (openimis_bundle_parse((const char *)data, size, &pg, err,
	    sizeof(err)) == 0) {
		assert(pg.op_next >= 0);
		cJSON_ArrayForEach(e, pg.op_entries) {
			line = openimis_resource_line(
			    cJSON_GetObjectItemCaseSensitive(e, "resource"),
			    "Patient", ident, sizeof(ident), err, sizeof(err));
			if (line == NULL)
				continue;
			j = cJSON_Parse(line);
			assert(j != NULL);
			id = cJSON_GetObjectItemCaseSensitive(j, "id");
			assert(cJSON_IsString(id) &&
			    strcmp(id->valuestring, ident) == 0);
			cJSON_Delete(j);
			free(line);
		}
	}
	openimis_bundle_free(&pg);
	return 0;
}
