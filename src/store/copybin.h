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
 *
 * The other way (COPY ... TO STDOUT (FORMAT binary), as an export reads
 * it): COPYBIN_HEADER bytes of header before the first row, in the same
 * message, copybin_split per row, and a 2-byte trailer (copybin_is_trailer).
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

#define COPYBIN_HEADER	19	/* signature, flags, extension length */

/* True if p[0..len) starts with the binary COPY signature. */
int	copybin_is_header(const char *p, size_t len);
/* True if p[0..len) is the trailer (int16 -1). */
int	copybin_is_trailer(const char *p, size_t len);
/*
 * Splits one row (int16 count, then per value an int32 length and the
 * bytes) of exactly nf values into val/vlen, each NUL-terminated in
 * place: a value's terminator overwrites the next value's length, already
 * read, and row[len] must be a writable NUL for the last (libpq's
 * PQgetCopyData buffers are).  0, or -1 for a row of another shape,
 * NULLs included.
 */
int	copybin_split(char *row, size_t len, int nf, char **val,
	    size_t *vlen);
/* A tid value (6 bytes: page, offset); -1 if the value is not 6 bytes. */
int	copybin_tid(const char *v, size_t vlen, int64_t *page, int64_t *off);

#endif
