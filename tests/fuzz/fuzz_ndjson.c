/*
 * fuzz_ndjson.c — the NDJSON resource-line parser (store/ndjson.c, on
 * lib/jscan.c) and the bounded line reader (lib/lines.c).
 * fuzz-sources: src/store/ndjson.c
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "lib/jscan.h"
#include "lib/lines.h"
#include "store/ndjson.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct mem {
	const uint8_t	*p;
	size_t		 left;
};

/* Hands out the input in small, uneven reads to exercise refills. */
static ssize_t
mem_read(void *arg, void *buf, size_t len)
{
	struct mem	*m = arg;
	size_t		 n = m->left < 7 ? m->left : 7;

	if (n > len)
		n = len;
	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return (ssize_t)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ndjson_resource	 r;
	struct lines		 l;
	struct mem		 m = { data, size };
	const char		*line;
	char			 err[256];
	size_t			 len, off;
	enum lines_status	 st;

	if (ndjson_parse((const char *)data, size, &r, err, sizeof(err),
	    &off) == 0) {
		/* Fields point inside the input and are well formed. */
		assert(r.nr_type >= (const char *)data);
		assert(r.nr_id + r.nr_id_len <= (const char *)data + size);
		assert(ndjson_valid_id(r.nr_id, r.nr_id_len));
		if (r.nr_updated != NULL)
			assert(ndjson_valid_instant(r.nr_updated,
			    r.nr_updated_len));
	} else
		assert(off <= size);

	lines_init(&l, mem_read, &m, 64);
	while ((st = lines_next(&l, &line, &len)) != LINES_EOF) {
		assert(st != LINES_ERROR);
		if (st == LINES_OK) {
			assert(len <= 64);
			(void)jscan_object(line, len, NULL, NULL, NULL);
		}
	}
	lines_free(&l);
	return 0;
}
