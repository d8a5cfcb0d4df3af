/*
 * fuzz_copybin.c — the binary COPY row splitter an export reads rows with
 * (store/copybin.c): any bytes, any value count, never a read or write
 * outside the message.
 * fuzz-sources: src/store/copybin.c
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/copybin.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*m, *val[4];
	size_t	 vlen[4];
	int64_t	 page, off;
	int	 nf, i;

	if (size < 1)
		return 0;
	nf = 1 + data[0] % 4;
	data++;
	size--;
	/* exactly the message and libpq's NUL, so ASan sees any overrun */
	m = malloc(size + 1);
	memcpy(m, data, size);
	m[size] = '\0';
	(void)copybin_is_header(m, size);
	(void)copybin_is_trailer(m, size);
	if (copybin_split(m, size, nf, val, vlen) == 0) {
		for (i = 0; i < nf; i++) {
			assert(val[i] >= m && val[i] + vlen[i] <= m + size);
			assert(val[i][vlen[i]] == '\0');
		}
		if (copybin_tid(val[0], vlen[0], &page, &off) == 0)
			assert(page >= 0 && page <= UINT32_MAX && off >= 0 &&
			    off <= UINT16_MAX);
	}
	free(m);
	return 0;
}
