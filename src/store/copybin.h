/*
 * copybin.h — rows in PostgreSQL's binary COPY format, built in a buf.
 *
 * Why binary: the server takes length-prefixed fields without scanning
 * every byte of a 2 KB JSON text twice for delimiters and quotes, as the
 * csv and text formats make it do.  Measured on the demo dataset, the
 * same rows go in about 40% faster (tests/bench/RESULTS.md, load).
 *
 * A stream is copybin_header, then per row copybin_row and one call per
 * column in the COPY column list's order, then copybin_trailer.  Every
 * call returns 0, or -1 when the buffer's maximum would be exceeded (the
 * buffer then holds a partial row: reset it or give up on the stream).
 * Integers go out in network byte order; timestamptz is microseconds
 * since 2000-01-01 00:00 UTC (PostgreSQL's integer datetimes).
 */
#ifndef STORE_COPYBIN_H
#define STORE_COPYBIN_H

#include <stddef.h>
#include <stdint.h>

struct buf;

/* Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01. */
#define COPYBIN_PG_EPOCH_USEC	INT64_C(946684800000000)

int	copybin_header(struct buf *);
int	copybin_trailer(struct buf *);
int	copybin_row(struct buf *, int nfields);
int	copybin_text(struct buf *, const char *, size_t);
int	copybin_null(struct buf *);
int	copybin_int4(struct buf *, int32_t);
int	copybin_int8(struct buf *, int64_t);	/* also timestamptz */
int	copybin_bool(struct buf *, int);

#endif
