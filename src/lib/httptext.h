/*
 * httptext.h — the few pieces of HTTP and URI text syntax that more than
 * one layer parses or writes: the qvalue of RFC 9110 §12.4.2 (Accept,
 * Accept-Encoding) and RFC 3986 percent-encoding.  Pure functions on
 * caller memory; no allocation, no state, safe on any thread.
 */
#ifndef LIB_HTTPTEXT_H
#define LIB_HTTPTEXT_H

#include <stddef.h>

struct buf;

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) in
 * s[0..len), as thousandths (0..1000) in *q.  Returns 0, or -1 if
 * malformed (*q untouched). */
int	 httptext_qvalue(const char *s, size_t len, int *q);
/* The value of one hex digit, or -1. */
int	 httptext_hexval(int ch);
/* Decodes the escape "%XX" at s[0..n) (s[0] is '%') into *out.  Returns
 * 0, or -1 when fewer than three bytes remain or a digit is not hex.
 * What a decoded byte may be (NUL, '/', controls) is the caller's rule. */
int	 httptext_pct_byte(const char *s, size_t n, unsigned char *out);
/* Appends s percent-encoded to b: ASCII letters, digits and the bytes in
 * keep stay, every other byte becomes "%XX" (upper-case hex).  RFC 3986
 * unreserved is keep = "-._~".  Returns 0, or -1 when b is full. */
int	 httptext_pct_encode(struct buf *b, const char *s, const char *keep);

#endif
