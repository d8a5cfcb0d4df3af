/*
 * b64url.h — base64url (RFC 4648 §5) without padding, as JOSE uses it
 * (RFC 7515 §2).
 *
 * Decoding is strict: '=' padding, characters outside [A-Za-z0-9-_], a
 * length of 1 mod 4 and non-zero unused trailing bits are all refused, so
 * one byte string has exactly one accepted encoding.  Both directions
 * write into caller buffers with stated sizes and never allocate.
 */
#ifndef LIB_B64URL_H
#define LIB_B64URL_H

#include <stddef.h>

/* Characters needed to encode n bytes (no NUL). */
size_t	 b64url_encoded_len(size_t n);
/* Upper bound of the bytes n characters decode to. */
size_t	 b64url_decoded_max(size_t n);
/* Encodes src[0..n) into dst and NUL-terminates it; dstsz must be at least
 * b64url_encoded_len(n) + 1.  Returns 0, or -1 if dst is too small. */
int	 b64url_encode(const void *src, size_t n, char *dst, size_t dstsz,
	    size_t *outlen);
/* Decodes src[0..n) into dst (no NUL added).  Returns 0, or -1 on any
 * malformed input or if the result would exceed dstsz. */
int	 b64url_decode(const char *src, size_t n, void *dst, size_t dstsz,
	    size_t *outlen);

#endif
