/*
 * b64url.c — strict unpadded base64url; see b64url.h.
 */
#include <stdint.h>

#include "lib/b64url.h"

static const char b64url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int	b64url_val(unsigned char);

/* The 6-bit value of c, or -1 if c is not in the alphabet. */
static int
b64url_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

size_t
b64url_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t
b64url_decoded_max(size_t n)
{
	return n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
}

int
b64url_encode(const void *src, size_t n, char *dst, size_t dstsz,
    size_t *outlen)
{
	const unsigned char	*s = src;
	size_t			 i, o = 0;
	uint32_t		 v;

	if (n > (SIZE_MAX - 1) / 4 * 3 || dstsz < b64url_encoded_len(n) + 1)
		return -1;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		dst[o++] = b64url_alpha[v >> 18 & 63];
		dst[o++] = b64url_alpha[v >> 12 & 63];
		dst[o++] = b64url_alpha[v >> 6 & 63];
		dst[o++] = b64url_alpha[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)s[i] << 16;
		dst[o++] = b64url_alpha[v >> 18 & 63];
		dst[o++] = b64url_alpha[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		dst[o++] = b64url_alpha[v >> 18 & 63];
		dst[o++] = b64url_alpha[v >> 12 & 63];
		dst[o++] = b64url_alpha[v >> 6 & 63];
	}
	dst[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return 0;
}

int
b64url_decode(const char *src, size_t n, void *dst, size_t dstsz,
    size_t *outlen)
{
	unsigned char	*d = dst;
	size_t		 i, o = 0, rem = n % 4;
	uint32_t	 v = 0;
	int		 c, k;

	if (rem == 1 || b64url_decoded_max(n) > dstsz)
		return -1;
	for (i = 0; i + 4 <= n; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			if ((c = b64url_val((unsigned char)src[i + k])) < 0)
				return -1;
			v = v << 6 | (uint32_t)c;
		}
		d[o++] = (unsigned char)(v >> 16);
		d[o++] = (unsigned char)(v >> 8);
		d[o++] = (unsigned char)v;
	}
	if (rem != 0) {
		v = 0;
		for (k = 0; k < (int)rem; k++) {
			if ((c = b64url_val((unsigned char)src[i + k])) < 0)
				return -1;
			v = v << 6 | (uint32_t)c;
		}
		/* 2 chars = 12 bits for 8; 3 chars = 18 bits for 16: the
		 * unused low bits must be zero (canonical form). */
		if (rem == 2) {
			if ((v & 0xf) != 0)
				return -1;
			d[o++] = (unsigned char)(v >> 4);
		} else {
			if ((v & 0x3) != 0)
				return -1;
			d[o++] = (unsigned char)(v >> 10);
			d[o++] = (unsigned char)(v >> 2);
		}
	}
	if (outlen != NULL)
		*outlen = o;
	return 0;
}
