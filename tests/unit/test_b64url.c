/*
 * test_b64url.c — lib/b64url: RFC 4648 §10 vectors in base64url, strict
 * decoding (JOSE compact serialisation, AUTH-T-04/05 carriers).
 */
#include <string.h>

#include "check.h"
#include "lib/b64url.h"

static int
enc_is(const char *in, const char *want)
{
	char	out[64];
	size_t	n;

	return b64url_encode(in, strlen(in), out, sizeof(out), &n) == 0 &&
	    n == strlen(want) && strcmp(out, want) == 0;
}

static int
dec_is(const char *in, const char *want)
{
	char	out[64];
	size_t	n;

	return b64url_decode(in, strlen(in), out, sizeof(out), &n) == 0 &&
	    n == strlen(want) && memcmp(out, want, n) == 0;
}

static int
dec_fails(const char *in)
{
	char	out[64];
	size_t	n;

	return b64url_decode(in, strlen(in), out, sizeof(out), &n) == -1;
}

int
main(void)
{
	unsigned char	all[256], back[256];
	char		txt[400], small[4];
	size_t		n, m, i;

	CHECK(enc_is("", ""));
	CHECK(enc_is("f", "Zg"));
	CHECK(enc_is("fo", "Zm8"));
	CHECK(enc_is("foo", "Zm9v"));
	CHECK(enc_is("foob", "Zm9vYg"));
	CHECK(enc_is("fooba", "Zm9vYmE"));
	CHECK(enc_is("foobar", "Zm9vYmFy"));
	CHECK(enc_is("\xfb\xff", "-_8"));	/* url alphabet, not +/ */
	CHECK(dec_is("Zm9vYmE", "fooba"));
	CHECK(dec_is("-_8", "\xfb\xff"));
	CHECK(dec_is("", ""));
	/* Strict: padding, standard alphabet, bad length, junk. */
	CHECK(dec_fails("Zg=="));
	CHECK(dec_fails("Zm8="));
	CHECK(dec_fails("+/8"));
	CHECK(dec_fails("Z"));
	CHECK(dec_fails("Zm9vY"));
	CHECK(dec_fails("Zm 9v"));
	CHECK(dec_fails("Zm9v\n"));
	/* Non-canonical trailing bits: "Zh" and "Zm9" decode like "Zg"
	 * and "Zm8" with stray low bits set. */
	CHECK(dec_fails("Zh"));
	CHECK(dec_fails("Zm9"));
	/* Round trip of every byte value and every length. */
	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)i;
	for (i = 0; i <= sizeof(all); i++) {
		CHECK(b64url_encode(all, i, txt, sizeof(txt), &n) == 0);
		CHECK(n == b64url_encoded_len(i));
		CHECK(b64url_decode(txt, n, back, sizeof(back), &m) == 0);
		CHECK(m == i && memcmp(all, back, i) == 0);
		CHECK(b64url_decoded_max(n) == i);
	}
	/* Bounded: too small a destination is refused, not overrun. */
	CHECK(b64url_encode("foo", 3, small, sizeof(small), &n) == -1);
	CHECK(b64url_decode("Zm9vYmFy", 8, small, sizeof(small), &n) == -1);
	return CHECK_DONE();
}
