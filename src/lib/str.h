/*
 * str.h — checked number parsing and bounded string helpers.
 *
 * str_to_i64 accepts an optional sign and decimal digits only, the whole
 * string, within [min, max]; on failure it returns -1 and sets *errstr to
 * "invalid", "too small" or "too large" (OpenBSD strtonum semantics).
 */
#ifndef LIB_STR_H
#define LIB_STR_H

#include <stddef.h>
#include <stdint.h>

int	 str_to_i64(const char *, int64_t min, int64_t max, int64_t *,
	    const char **errstr);
/* Copies at most size-1 bytes and NUL-terminates; returns strlen(src). */
size_t	 str_lcpy(char *dst, const char *src, size_t size);
int	 str_has_prefix(const char *, const char *);
/* Case-insensitive ASCII comparison of the first n bytes. */
int	 str_ncaseeq(const char *, const char *, size_t);
/* Trims ASCII whitespace at both ends in place; returns s. */
char	*str_trim(char *s);
/* Formats n with thousands separators ("1,200,000") into dst. */
void	 str_group_digits(char *dst, size_t size, int64_t n);

#endif
