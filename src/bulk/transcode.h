/*
 * transcode.h — serves a stored ".ndjson.zst" output file (outfile.h) in
 * the content coding the client asked for, streaming (EXP-F-09, CMP-01,
 * CMP-04):
 *
 *   TRANSCODE_ZSTD      the stored bytes, unchanged;
 *   TRANSCODE_IDENTITY  decompressed NDJSON;
 *   TRANSCODE_GZIP      decompressed, then deflated as gzip (RFC 1952,
 *                       zlib level 1, memLevel 8) with its trailer.
 *
 * A struct transcode is pulled by the HTTP response callback with
 * transcode_read; memory is flat (two 128 KB buffers plus the zstd and
 * zlib states; the zstd window is capped at 8 MB, RFC 9659), whatever the
 * file size.  Decoding checks the zstd frame checksum, so a corrupt or
 * truncated file fails with -1 rather than serving bad data; since the
 * response headers are already out by then, the HTTP layer can only
 * abort the connection (which the client sees as a short body).
 *
 * Errors: transcode_open returns NULL with errbuf set; transcode_read
 * returns -1 and transcode_error says why.  One struct transcode per
 * response; not thread-safe.
 */
#ifndef BULK_TRANSCODE_H
#define BULK_TRANSCODE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum transcode_enc {
	TRANSCODE_IDENTITY,
	TRANSCODE_GZIP,
	TRANSCODE_ZSTD,
};

struct transcode;

/*
 * Opens path for reading in encoding enc, starting offset bytes into that
 * representation: for IDENTITY an uncompressed offset (the stream is
 * decompressed and discarded up to it, lazily on the first read), for
 * ZSTD an offset into the stored bytes (a seek), for GZIP it must be 0
 * (the gzip bytes are not stable across zlib versions, so ranges over
 * them are not offered).  An offset at or past the end gives an empty
 * stream.  Returns NULL with errbuf set if the file cannot be opened or
 * the arguments are bad.  Caller frees with transcode_close.
 */
struct transcode *transcode_open(const char *path, enum transcode_enc enc,
	    int64_t offset, char *errbuf, size_t errlen);

/*
 * Fills buf with up to max bytes of the representation.  Returns the
 * number of bytes (> 0; short only near the end), 0 at the end, or -1 on
 * a corrupt or truncated file or an I/O error (see transcode_error).
 * After 0 or -1, further calls return the same.  max must be > 0.
 */
ssize_t	transcode_read(struct transcode *, char *buf, size_t max);

/* The reason for the last -1 ("" if none).  Borrowed; valid until
 * transcode_close. */
const char *transcode_error(const struct transcode *);

/* Closes and frees; NULL is a no-op. */
void	transcode_close(struct transcode *);

/* The Content-Encoding token for enc ("identity", "gzip", "zstd"). */
const char *transcode_enc_name(enum transcode_enc);

/*
 * Chooses the response coding from an Accept-Encoding field value (RFC
 * 9110 §12.5.3).  Several header lines may be joined with ", ".  NULL
 * (header absent) means identity.  Codings and parameter names are
 * case-insensitive; "x-gzip" counts as gzip; "*" stands for every coding
 * not listed; identity is acceptable unless "identity;q=0", or "*;q=0"
 * without an "identity" entry, excludes it, and when neither it nor "*"
 * is listed it ranks below every listed coding ("gzip;q=0.5" gives gzip).
 * Among the acceptable codings (q > 0) the highest q wins, ties going to
 * zstd, then gzip, then identity; so "*" gives zstd and "zstd;q=0.5,
 * gzip" gives gzip.  A coding listed twice keeps its highest q.
 * Malformed elements (bad q, empty coding) are skipped rather than
 * failing the whole header.  Allocates nothing; linear in the input.
 * Returns 0 with *out set, or -1 when nothing we offer is acceptable
 * (answer 406).
 */
int	transcode_choose(const char *accept_encoding,
	    enum transcode_enc *out);

#endif
