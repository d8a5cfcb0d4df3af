/*
 * buf.h — a growable byte buffer with a hard maximum (curl's dynbuf).
 *
 * buf_init sets the maximum; every append checks it before growing and
 * returns -1 when the result would exceed it, leaving the buffer unchanged.
 * The data is always NUL-terminated (the NUL is not counted in len).
 * buf_free releases the memory; it is a no-op on a zeroed buffer.
 */
#ifndef LIB_BUF_H
#define LIB_BUF_H

#include <stddef.h>
#include <stdarg.h>

struct buf {
	char	*b_data;	/* owned; NULL until first append */
	size_t	 b_len;		/* bytes used, excluding the NUL */
	size_t	 b_cap;		/* bytes allocated */
	size_t	 b_max;		/* hard limit on b_len */
};

void	 buf_init(struct buf *, size_t max);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);	/* len = 0, memory kept */
int	 buf_reserve(struct buf *, size_t extra);
int	 buf_append(struct buf *, const void *, size_t);
int	 buf_puts(struct buf *, const char *);
int	 buf_putc(struct buf *, char);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Appends s as the body of a JSON string (no quotes), escaping as needed. */
int	 buf_json_escape(struct buf *, const char *s, size_t len);
/* Hands the data to the caller (who frees it) and re-inits the buffer. */
char	*buf_steal(struct buf *, size_t *lenp);

#endif
