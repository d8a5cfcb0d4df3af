/*
 * fetch_decode.h — the content decoders of the import fetcher
 * (bulk/fetch.h): gzip (RFC 1952, concatenated members), zstd (RFC 8878,
 * concatenated and skippable frames) and identity, plus the two parsers
 * that choose one: a Content-Encoding list and a ".gz"/".zst" file name.
 *
 * Pure: no I/O, no libcurl; bytes in, bytes out, so it is unit-tested
 * and fuzzed alone (tests/fuzz/fuzz_fetch_decode.c).
 *
 * Promises:
 *   - memory is bounded whatever the input: zlib's 32 KB window, a zstd
 *     window of at most 128 MB (a frame asking for more is refused);
 *   - the output of every block decoded before corrupt data is handed
 *     out before the error is (IMP-R-04.9: the valid prefix counts);
 *   - a failure is sticky; its reason is one line naming the byte offset
 *     (counted in input bytes consumed) where it was found.
 *
 * Errors: fetch_decode_new and the parsers write a reason to a
 * caller-supplied errbuf; fetch_decode_run/_end keep theirs in the
 * decoder (fetch_decode_error).
 *
 * Threads: a decoder belongs to one thread at a time.
 */
#ifndef BULK_FETCH_DECODE_H
#define BULK_FETCH_DECODE_H

#include <stddef.h>
#include <sys/types.h>

enum fetch_decode_coding {
	FETCH_DECODE_IDENTITY,
	FETCH_DECODE_GZIP,
	FETCH_DECODE_ZSTD,
};

struct fetch_decode;

/*
 * A decoder for coding.  Returns NULL with the reason in errbuf if the
 * library refuses to start.  Caller frees with fetch_decode_free.
 */
struct fetch_decode *fetch_decode_new(enum fetch_decode_coding,
		    char *errbuf, size_t errlen);

/*
 * Decodes from in[0..inlen) into out[0..outlen) (outlen > 0) and sets
 * *used to the input bytes consumed; the caller passes the rest again.
 * Returns the bytes produced (> 0), 0 when the input gave nothing (more
 * is needed), or -1 when it failed.  On a failure after some output the
 * output is returned first and the failure is already set (see
 * fetch_decode_error); every later call returns -1.
 */
ssize_t		 fetch_decode_run(struct fetch_decode *, const void *in,
		    size_t inlen, size_t *used, void *out, size_t outlen);

/* 1 if the last run filled out: the decoder may hold more output. */
int		 fetch_decode_more(const struct fetch_decode *);

/*
 * At the end of the input: returns 0 if the encoded data was complete,
 * else -1 with the failure set ("truncated gzip data at byte N").
 */
int		 fetch_decode_end(struct fetch_decode *);

/* The reason for the failure ("" if none).  Borrowed, until free. */
const char	*fetch_decode_error(const struct fetch_decode *);

/* Frees everything; NULL is a no-op. */
void		 fetch_decode_free(struct fetch_decode *);

/* The coding a path's ".gz" / ".zst" suffix implies (any case). */
enum fetch_decode_coding fetch_decode_suffix(const char *path);

/*
 * Reads a Content-Encoding field value (repeated fields joined with ",").
 * Exactly one coding of ours ("gzip", "x-gzip", "zstd", any case) sets
 * *coding; none, or only "identity", leaves it as it was; any other
 * coding, or more than one, returns -1 with the reason in errbuf.
 * Returns 0 or -1.
 */
int		 fetch_decode_ce_parse(const char *ce,
		    enum fetch_decode_coding *coding, char *errbuf,
		    size_t errlen);

#endif
