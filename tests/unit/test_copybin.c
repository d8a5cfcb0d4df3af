/*
 * test_copybin.c — binary COPY rows both ways (store/copybin.c): rows
 * built with the writer split back by copybin_split, and the shapes it
 * must refuse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lib/buf.h"
#include "store/copybin.h"

/* A copy of b's bytes with the NUL libpq puts after a message. */
static char *
message(const struct buf *b)
{
	char	*m = malloc(b->b_len + 1);

	memcpy(m, b->b_data, b->b_len);
	m[b->b_len] = '\0';
	return m;
}

static void
test_round_trip(void)
{
	struct buf	 b;
	char		*m, *val[3];
	size_t		 vlen[3];
	int64_t		 page, off;
	const char	 ctid[6] = { 0, 0, 1, 2, 0, 7 };	/* (258,7) */

	buf_init(&b, 1 << 20);
	CHECK(copybin_row(&b, 3) == 0);
	CHECK(copybin_text(&b, "pat-1", 5) == 0);
	CHECK(copybin_text(&b, "", 0) == 0);
	CHECK(copybin_text(&b, "{\"resourceType\":\"Claim\"}", 24) == 0);
	m = message(&b);
	CHECK(copybin_split(m, b.b_len, 3, val, vlen) == 0);
	CHECK(vlen[0] == 5 && strcmp(val[0], "pat-1") == 0);
	CHECK(vlen[1] == 0 && strcmp(val[1], "") == 0);
	CHECK(vlen[2] == 24 && strcmp(val[2],
	    "{\"resourceType\":\"Claim\"}") == 0);
	/* the wrong count of values */
	free(m);
	m = message(&b);
	CHECK(copybin_split(m, b.b_len, 2, val, vlen) == -1);
	/* truncated anywhere */
	CHECK(copybin_split(m, b.b_len - 1, 3, val, vlen) == -1);
	CHECK(copybin_split(m, 5, 3, val, vlen) == -1);
	CHECK(copybin_split(m, 1, 3, val, vlen) == -1);
	free(m);

	/* a NULL is refused */
	buf_reset(&b);
	CHECK(copybin_row(&b, 2) == 0);
	CHECK(copybin_text(&b, "a", 1) == 0);
	CHECK(copybin_null(&b) == 0);
	m = message(&b);
	CHECK(copybin_split(m, b.b_len, 2, val, vlen) == -1);
	free(m);

	/* header and trailer, as a COPY with no rows sends them */
	buf_reset(&b);
	CHECK(copybin_header(&b) == 0);
	CHECK(b.b_len == COPYBIN_HEADER);
	CHECK(copybin_is_header(b.b_data, b.b_len));
	CHECK(!copybin_is_header(b.b_data, b.b_len - 1));
	CHECK(copybin_trailer(&b) == 0);
	CHECK(copybin_is_trailer(b.b_data + COPYBIN_HEADER, 2));
	CHECK(!copybin_is_trailer(b.b_data, 2));

	CHECK(copybin_tid(ctid, 6, &page, &off) == 0);
	CHECK(page == 258 && off == 7);			/* (258,7) */
	CHECK(copybin_tid(ctid, 5, &page, &off) == -1);
	buf_free(&b);
}

int
main(void)
{
	test_round_trip();
	return CHECK_DONE();
}
