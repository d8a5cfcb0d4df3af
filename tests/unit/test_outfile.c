/*
 * test_outfile.c — bulk/outfile (the zstd NDJSON file writer) and
 * bulk/transcode (serving those files as zstd, identity or gzip, and the
 * Accept-Encoding choice).  Works in a mkdtemp directory under /tmp.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "check.h"
#include "bulk/outfile.h"
#include "bulk/transcode.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xmalloc.h"

#define MAXFILES	64
#define BIG		(256 * 1024 * 1024)

struct rec {
	char		name[128];
	char		path[512];
	int		seq;
	int64_t		count;
	int64_t		bytes;
	int64_t		stored;
	char		sha[65];
};

struct recs {
	struct rec	r[MAXFILES];
	int		n;
	int		fail_at;	/* callback fails on file N (1-based) */
};

static char	tmpdir[64];

static int
on_done(void *arg, const struct outfile_info *oi, char *errbuf, size_t errlen)
{
	struct recs	*rs = arg;
	struct rec	*r;

	if (rs->n >= MAXFILES)
		return -1;
	if (rs->fail_at == rs->n + 1) {
		snprintf(errbuf, errlen, "callback refused");
		return -1;
	}
	r = &rs->r[rs->n++];
	str_lcpy(r->name, oi->oi_name, sizeof(r->name));
	str_lcpy(r->path, oi->oi_path, sizeof(r->path));
	r->seq = oi->oi_seq;
	r->count = oi->oi_count;
	r->bytes = oi->oi_bytes;
	r->stored = oi->oi_stored_bytes;
	str_lcpy(r->sha, oi->oi_sha256, sizeof(r->sha));
	return 0;
}

/* Empties tmpdir; returns how many entries it held. */
static int
clean_dir(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(tmpdir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		unlinkat(dirfd(d), de->d_name, 0);
		n++;
	}
	closedir(d);
	return n;
}

/* Counts entries in tmpdir, and those ending in ".tmp". */
static int
count_dir(int *tmps)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;
	size_t		 l;

	*tmps = 0;
	if ((d = opendir(tmpdir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		l = strlen(de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".tmp") == 0)
			(*tmps)++;
		n++;
	}
	closedir(d);
	return n;
}

/* A FHIR-like resource line of about 'pad' extra bytes. */
static size_t
make_line(char *dst, size_t size, int i, size_t pad)
{
	int	n;
	size_t	len;

	n = snprintf(dst, size, "{\"resourceType\":\"Patient\",\"id\":\"p%d\","
	    "\"meta\":{\"lastUpdated\":\"2026-01-01T00:00:00Z\"},"
	    "\"gender\":\"%s\",\"birthDate\":\"19%02d-0%d-1%d\",\"text\":\"",
	    i, i % 2 ? "male" : "female", i % 100, 1 + i % 9, i % 10);
	len = (size_t)n;
	for (; pad > 0 && len + 3 < size; pad--, len++)
		dst[len] = (char)('a' + (i + (int)len) % 26);
	dst[len++] = '"';
	dst[len++] = '}';
	dst[len] = '\0';
	return len;
}

static int
read_file(const char *path, struct buf *out)
{
	char	chunk[65536];
	ssize_t	n;
	int	fd;

	buf_init(out, BIG);
	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(out, chunk, (size_t)n) == -1)
			break;
	close(fd);
	return n == 0 ? 0 : -1;
}

/* Reads the whole representation with reads of 'step' bytes. */
static int
transcode_all(const char *path, enum transcode_enc enc, int64_t off,
    size_t step, struct buf *out)
{
	struct transcode	*t;
	char			 err[256], *chunk;
	ssize_t			 n;

	buf_init(out, BIG);
	if ((t = transcode_open(path, enc, off, err, sizeof(err))) == NULL)
		return -1;
	chunk = xmalloc(step);
	while ((n = transcode_read(t, chunk, step)) > 0)
		if (buf_append(out, chunk, (size_t)n) == -1) {
			n = -1;
			break;
		}
	/* Sticky end (or error). */
	if (n == 0 && transcode_read(t, chunk, step) != 0)
		n = -1;
	if (n == -1 && transcode_read(t, chunk, step) != -1)
		n = -2;
	free(chunk);
	transcode_close(t);
	return n == 0 ? 0 : -1;
}

static int
gunzip(const struct buf *in, struct buf *out)
{
	z_stream	zs;
	char		chunk[65536];
	int		zrc;

	buf_init(out, BIG);
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return -1;
	zs.next_in = (Bytef *)in->b_data;
	zs.avail_in = (uInt)in->b_len;
	do {
		zs.next_out = (Bytef *)chunk;
		zs.avail_out = sizeof(chunk);
		zrc = inflate(&zs, Z_NO_FLUSH);
		if (zrc != Z_OK && zrc != Z_STREAM_END)
			break;
		buf_append(out, chunk, sizeof(chunk) - zs.avail_out);
	} while (zrc != Z_STREAM_END);
	/* The whole input is one gzip member. */
	if (zs.avail_in != 0)
		zrc = Z_DATA_ERROR;
	inflateEnd(&zs);
	return zrc == Z_STREAM_END ? 0 : -1;
}

static void
sha256_hex(const void *p, size_t len, char hex[65])
{
	unsigned char	md[32];
	unsigned int	mdlen = 0, i;

	EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/*
 * Reads a zstd frame header (RFC 8878 §3.1.1.1) on its own rather than
 * through zstd's unstable API: the window size and the checksum flag.
 */
static int
frame_header(const struct buf *b, uint64_t *window, int *checksum)
{
	const unsigned char	*p = (const unsigned char *)b->b_data;
	static const int	 fcs_len[4] = { 0, 2, 4, 8 };
	uint64_t		 fcs = 0;
	int			 fhd, single, did, fcs_n, i, off, e, m;

	if (b->b_len < 6 || p[0] != 0x28 || p[1] != 0xb5 || p[2] != 0x2f ||
	    p[3] != 0xfd)
		return -1;
	fhd = p[4];
	single = (fhd >> 5) & 1;
	*checksum = (fhd >> 2) & 1;
	did = fhd & 3;
	fcs_n = fcs_len[fhd >> 6];
	if (single && fcs_n == 0)
		fcs_n = 1;
	if (!single) {
		e = p[5] >> 3;
		m = p[5] & 7;
		*window = (uint64_t)1 << (10 + e);
		*window += (*window / 8) * (uint64_t)m;
		return 0;
	}
	off = 5 + (did == 3 ? 4 : did);
	if (b->b_len < (size_t)(off + fcs_n))
		return -1;
	for (i = fcs_n - 1; i >= 0; i--)
		fcs = (fcs << 8) | p[off + i];
	if (fcs_n == 2)
		fcs += 256;
	*window = fcs;
	return 0;
}

/* Checks one completed file against the expected uncompressed bytes. */
static void
check_file(const struct rec *r, const struct buf *want)
{
	struct buf	stored, plain, gz, gzplain, z;
	char		hex[65];
	uint64_t	window;
	int		cksum;
	struct stat	st;

	CHECK(read_file(r->path, &stored) == 0);
	CHECK(stat(r->path, &st) == 0 && st.st_size == r->stored);
	CHECK((int64_t)stored.b_len == r->stored);
	sha256_hex(stored.b_data, stored.b_len, hex);
	CHECK(strcmp(hex, r->sha) == 0);
	CHECK(r->bytes == (int64_t)want->b_len);
	/* Window <= 8 MB and a checksum (CMP-03). */
	CHECK(frame_header(&stored, &window, &cksum) == 0 &&
	    window <= (8u << 20) && cksum == 1);

	CHECK(transcode_all(r->path, TRANSCODE_IDENTITY, 0, 4096,
	    &plain) == 0);
	CHECK(plain.b_len == want->b_len &&
	    memcmp(plain.b_data, want->b_data, want->b_len) == 0);
	CHECK(transcode_all(r->path, TRANSCODE_GZIP, 0, 1000, &gz) == 0);
	CHECK(gunzip(&gz, &gzplain) == 0 && gzplain.b_len == want->b_len &&
	    memcmp(gzplain.b_data, want->b_data, want->b_len) == 0);
	CHECK(transcode_all(r->path, TRANSCODE_ZSTD, 0, 333, &z) == 0);
	CHECK(z.b_len == stored.b_len &&
	    memcmp(z.b_data, stored.b_data, z.b_len) == 0);
	buf_free(&stored);
	buf_free(&plain);
	buf_free(&gz);
	buf_free(&gzplain);
	buf_free(&z);
}

/* 250 lines at 100 per file: 100/100/50, names, seqs, contents. */
static void
test_roll_count(void)
{
	struct recs		 rs;
	struct outfile_set	*s;
	struct buf		 want[3];
	char			 line[1024], err[256];
	size_t			 len;
	int			 i, tmps;

	memset(&rs, 0, sizeof(rs));
	for (i = 0; i < 3; i++)
		buf_init(&want[i], BIG);
	s = outfile_set_open(tmpdir, "Patient", 1, 100, 0, 1, on_done, &rs,
	    err, sizeof(err));
	CHECK(s != NULL);
	if (s == NULL)
		return;
	for (i = 0; i < 250; i++) {
		len = make_line(line, sizeof(line), i, (size_t)(i % 300));
		CHECK(outfile_set_write(s, line, len, err, sizeof(err)) == 0);
		buf_append(&want[i / 100], line, len);
		buf_putc(&want[i / 100], '\n');
		/* The third file is still open, under its .tmp name. */
		if (i == 200)
			CHECK(count_dir(&tmps) == 3 && tmps == 1);
	}
	CHECK(rs.n == 2);	/* rolled twice; the last is still open */
	CHECK(outfile_set_current_count(s) == 50);
	CHECK(outfile_set_close_current(s, err, sizeof(err)) == 0);
	CHECK(outfile_set_close_current(s, err, sizeof(err)) == 0);
	CHECK(outfile_set_next_seq(s) == 4);
	outfile_set_free(s);

	CHECK(rs.n == 3);
	CHECK(count_dir(&tmps) == 3 && tmps == 0);
	CHECK(strcmp(rs.r[0].name, "Patient-0001.ndjson.zst") == 0);
	CHECK(strcmp(rs.r[1].name, "Patient-0002.ndjson.zst") == 0);
	CHECK(strcmp(rs.r[2].name, "Patient-0003.ndjson.zst") == 0);
	for (i = 0; i < 3 && i < rs.n; i++) {
		char p[512];

		snprintf(p, sizeof(p), "%s/%s", tmpdir, rs.r[i].name);
		CHECK(strcmp(rs.r[i].path, p) == 0);
		CHECK(rs.r[i].seq == i + 1);
		CHECK(rs.r[i].count == (i < 2 ? 100 : 50));
		check_file(&rs.r[i], &want[i]);
		buf_free(&want[i]);
	}
	clean_dir();
}

/* Rolling by uncompressed bytes, and lines larger than the limit. */
static void
test_roll_bytes(void)
{
	struct recs		 rs;
	struct outfile_set	*s;
	struct buf		 want;
	char			 line[128], err[256], *huge;
	size_t			 hugelen = 300 * 1024 + 7;
	int			 i;

	/* 100-byte lines (101 with LF) under 1000 bytes: 9 per file. */
	memset(&rs, 0, sizeof(rs));
	s = outfile_set_open(tmpdir, "Observation", 1, 0, 1000, 3, on_done,
	    &rs, err, sizeof(err));
	CHECK(s != NULL);
	memset(line, 'x', 100);
	for (i = 0; i < 20; i++)
		CHECK(outfile_set_write(s, line, 100, err, sizeof(err)) == 0);
	CHECK(outfile_set_close_current(s, err, sizeof(err)) == 0);
	outfile_set_free(s);
	CHECK(rs.n == 3 && rs.r[0].count == 9 && rs.r[1].count == 9 &&
	    rs.r[2].count == 2 && rs.r[0].bytes == 909);
	clean_dir();

	/* 99-byte lines: exactly 1000 bytes fit, 10 per file. */
	memset(&rs, 0, sizeof(rs));
	s = outfile_set_open(tmpdir, "Observation", 1, 0, 1000, 1, on_done,
	    &rs, err, sizeof(err));
	for (i = 0; i < 20; i++)
		CHECK(outfile_set_write(s, line, 99, err, sizeof(err)) == 0);
	CHECK(outfile_set_close_current(s, err, sizeof(err)) == 0);
	outfile_set_free(s);
	CHECK(rs.n == 2 && rs.r[0].count == 10 && rs.r[0].bytes == 1000 &&
	    rs.r[1].count == 10);
	clean_dir();

	/* A line over max_bytes (and over the 128 KB input buffer) goes
	 * alone into its own file, whole. */
	huge = xmalloc(hugelen);
	for (i = 0; i < (int)hugelen; i++)
		huge[i] = (char)('A' + (i * 7) % 26);
	memset(&rs, 0, sizeof(rs));
	s = outfile_set_open(tmpdir, "Binary", 1, 0, 1000, 1, on_done, &rs,
	    err, sizeof(err));
	CHECK(outfile_set_write(s, line, 10, err, sizeof(err)) == 0);
	CHECK(outfile_set_write(s, huge, hugelen, err, sizeof(err)) == 0);
	CHECK(outfile_set_write(s, huge, hugelen, err, sizeof(err)) == 0);
	CHECK(outfile_set_write(s, line, 10, err, sizeof(err)) == 0);
	CHECK(outfile_set_close_current(s, err, sizeof(err)) == 0);
	outfile_set_free(s);
	CHECK(rs.n == 4);
	if (rs.n == 4) {
		CHECK(rs.r[0].count == 1 && rs.r[0].bytes == 11);
		CHECK(rs.r[1].count == 1 &&
		    rs.r[1].bytes == (int64_t)hugelen + 1);
		CHECK(rs.r[2].count == 1 &&
		    rs.r[2].bytes == (int64_t)hugelen + 1);
		CHECK(rs.r[3].count == 1 && rs.r[3].bytes == 11);
		buf_init(&want, BIG);
		buf_append(&want, huge, hugelen);
		buf_putc(&want, '\n');
		check_file(&rs.r[1], &want);
		buf_free(&want);
	}
	free(huge);
	clean_dir();
}

/* Checkpoint and resume; lazy open; abort and free discard the .tmp. */
static void
test_lifecycle(void)
{
	struct recs		 rs;
	struct outfile_set	*s;
	char			 line[256], err[256];
	size_t			 len;
	int			 i, tmps;

	/* No lines: no file, no callback. */
	memset(&rs, 0, sizeof(rs));
	s = outfile_set_open(tmpdir, "Coverage", 5, 10, 0, 1, on_done, &rs,
	    err, sizeof(err));
	CHECK(outfile_set_close_current(s, err, sizeof(err)) == 0);
	CHECK(outfile_set_next_seq(s) == 5);
	outfile_set_free(s);
	CHECK(rs.n == 0 && count_dir(&tmps) == 0);

	/* A batch, a checkpoint, then a new set resuming at next_seq. */
	s = outfile_set_open(tmpdir, "Claim", 1, 10, 0, 1, on_done, &rs,
	    err, sizeof(err));
	for (i = 0; i < 7; i++) {
		len = make_line(line, sizeof(line), i, 10);
		CHECK(outfile_set_write(s, line, len, err, sizeof(err)) == 0);
	}
	CHECK(outfile_set_close_current(s, err, sizeof(err)) == 0);
	CHECK(rs.n == 1 && rs.r[0].count == 7);
	i = outfile_set_next_seq(s);
	CHECK(i == 2);
	outfile_set_free(s);
	s = outfile_set_open(tmpdir, "Claim", i, 10, 0, 1, on_done, &rs,
	    err, sizeof(err));
	for (i = 0; i < 12; i++) {
		len = make_line(line, sizeof(line), i, 10);
		CHECK(outfile_set_write(s, line, len, err, sizeof(err)) == 0);
	}
	CHECK(outfile_set_close_current(s, err, sizeof(err)) == 0);
	outfile_set_free(s);
	CHECK(rs.n == 3 && rs.r[1].seq == 2 && rs.r[1].count == 10 &&
	    rs.r[2].seq == 3 && rs.r[2].count == 2 &&
	    strcmp(rs.r[2].name, "Claim-0003.ndjson.zst") == 0);
	CHECK(count_dir(&tmps) == 3 && tmps == 0);
	clean_dir();

	/* Abort removes the .tmp of the open file; completed files stay. */
	memset(&rs, 0, sizeof(rs));
	s = outfile_set_open(tmpdir, "Claim", 1, 3, 0, 1, on_done, &rs,
	    err, sizeof(err));
	for (i = 0; i < 5; i++)
		CHECK(outfile_set_write(s, "{}", 2, err, sizeof(err)) == 0);
	CHECK(count_dir(&tmps) == 2 && tmps == 1);
	outfile_set_abort(s);
	CHECK(count_dir(&tmps) == 1 && tmps == 0 && rs.n == 1);
	clean_dir();

	/* Free without close_current discards too. */
	s = outfile_set_open(tmpdir, "Claim", 1, 3, 0, 1, NULL, NULL,
	    err, sizeof(err));
	CHECK(outfile_set_write(s, "{}", 2, err, sizeof(err)) == 0);
	outfile_set_free(s);
	CHECK(count_dir(&tmps) == 0);
	outfile_set_abort(NULL);
	outfile_set_free(NULL);

	/* The strongest level allowed still keeps the window <= 8 MB. */
	memset(&rs, 0, sizeof(rs));
	s = outfile_set_open(tmpdir, "Patient", 1, 0, 0, OUTFILE_LEVEL_MAX,
	    on_done, &rs, err, sizeof(err));
	for (i = 0; i < 2000; i++) {
		len = make_line(line, sizeof(line), i, 100);
		CHECK(outfile_set_write(s, line, len, err, sizeof(err)) == 0);
	}
	CHECK(outfile_set_close_current(s, err, sizeof(err)) == 0);
	outfile_set_free(s);
	CHECK(rs.n == 1 && rs.r[0].bytes > 256 * 1024);
	if (rs.n == 1) {
		struct buf	stored;
		uint64_t	window;
		int		cksum;

		CHECK(read_file(rs.r[0].path, &stored) == 0);
		CHECK(frame_header(&stored, &window, &cksum) == 0 &&
		    window <= (8u << 20) && window >= (1u << 20) &&
		    cksum == 1);
		buf_free(&stored);
	}
	clean_dir();

	/* Large seqs widen the name. */
	memset(&rs, 0, sizeof(rs));
	s = outfile_set_open(tmpdir, "Patient", 12345, 0, 0, 1, on_done, &rs,
	    err, sizeof(err));
	CHECK(outfile_set_write(s, "{}", 2, err, sizeof(err)) == 0);
	CHECK(outfile_set_close_current(s, err, sizeof(err)) == 0);
	outfile_set_free(s);
	CHECK(rs.n == 1 && strcmp(rs.r[0].name,
	    "Patient-12345.ndjson.zst") == 0);
	clean_dir();
}

static void
test_errors(void)
{
	struct recs		 rs;
	struct outfile_set	*s;
	char			 err[256];
	int			 tmps;

	CHECK(outfile_set_open(tmpdir, "../x", 1, 0, 0, 1, NULL, NULL, err,
	    sizeof(err)) == NULL);
	CHECK(outfile_set_open(tmpdir, "", 1, 0, 0, 1, NULL, NULL, err,
	    sizeof(err)) == NULL);
	CHECK(outfile_set_open(tmpdir, ".x", 1, 0, 0, 1, NULL, NULL, err,
	    sizeof(err)) == NULL);
	CHECK(outfile_set_open(tmpdir, "P", 0, 0, 0, 1, NULL, NULL, err,
	    sizeof(err)) == NULL);
	CHECK(outfile_set_open(tmpdir, "P", 1, -1, 0, 1, NULL, NULL, err,
	    sizeof(err)) == NULL);
	CHECK(outfile_set_open(tmpdir, "P", 1, 0, 0, 22, NULL, NULL, err,
	    sizeof(err)) == NULL);
	CHECK(outfile_set_open("/nonexistent/dir", "P", 1, 0, 0, 1, NULL,
	    NULL, err, sizeof(err)) == NULL && strstr(err, "/nonexistent"));

	/* Bad lines are refused without failing the set. */
	memset(&rs, 0, sizeof(rs));
	s = outfile_set_open(tmpdir, "P", 1, 0, 0, 1, on_done, &rs, err,
	    sizeof(err));
	CHECK(outfile_set_write(s, "{\n}", 3, err, sizeof(err)) == -1 &&
	    strstr(err, "newline") != NULL);
	CHECK(outfile_set_write(s, "", 0, err, sizeof(err)) == -1);
	CHECK(outfile_set_write(s, "{}", 2, err, sizeof(err)) == 0);
	CHECK(outfile_set_close_current(s, err, sizeof(err)) == 0);
	outfile_set_free(s);
	CHECK(rs.n == 1 && rs.r[0].count == 1);
	clean_dir();

	/* A callback error fails the write that rolled, and sticks. */
	memset(&rs, 0, sizeof(rs));
	rs.fail_at = 2;
	s = outfile_set_open(tmpdir, "P", 1, 1, 0, 1, on_done, &rs, err,
	    sizeof(err));
	CHECK(outfile_set_write(s, "{}", 2, err, sizeof(err)) == 0);
	CHECK(outfile_set_write(s, "{}", 2, err, sizeof(err)) == 0);
	CHECK(outfile_set_write(s, "{}", 2, err, sizeof(err)) == -1 &&
	    strcmp(err, "callback refused") == 0);
	CHECK(outfile_set_write(s, "{}", 2, err, sizeof(err)) == -1);
	CHECK(outfile_set_close_current(s, err, sizeof(err)) == -1);
	outfile_set_abort(s);
	CHECK(count_dir(&tmps) == 2 && tmps == 0);
	clean_dir();
}

/* Offsets into the identity and zstd representations; bad input. */
static void
test_transcode(void)
{
	struct recs		 rs;
	struct outfile_set	*s;
	struct buf		 want, got, stored;
	struct transcode	*t;
	char			 line[2048], err[256], path[512], c;
	size_t			 len, steps[] = { 1, 7, 4096, 1 << 20 };
	int64_t			 offs[6];
	int			 i, fd;

	/* One file of ~6 MB: several buffers' worth at every stage. */
	memset(&rs, 0, sizeof(rs));
	buf_init(&want, BIG);
	s = outfile_set_open(tmpdir, "Encounter", 1, 0, 0, 1, on_done, &rs,
	    err, sizeof(err));
	for (i = 0; i < 20000; i++) {
		len = make_line(line, sizeof(line), i, (size_t)(i % 400));
		outfile_set_write(s, line, len, err, sizeof(err));
		buf_append(&want, line, len);
		buf_putc(&want, '\n');
	}
	CHECK(outfile_set_close_current(s, err, sizeof(err)) == 0);
	outfile_set_free(s);
	CHECK(rs.n == 1);
	if (rs.n != 1)
		return;
	check_file(&rs.r[0], &want);
	for (i = 0; i < 4; i++) {
		CHECK(transcode_all(rs.r[0].path, TRANSCODE_IDENTITY, 0,
		    steps[i], &got) == 0 && got.b_len == want.b_len &&
		    memcmp(got.b_data, want.b_data, want.b_len) == 0);
		buf_free(&got);
	}

	offs[0] = 1;
	offs[1] = 131072;
	offs[2] = (int64_t)want.b_len / 2 + 3;
	offs[3] = (int64_t)want.b_len - 1;
	offs[4] = (int64_t)want.b_len;
	offs[5] = (int64_t)want.b_len + 10;
	for (i = 0; i < 6; i++) {
		size_t o = offs[i] > (int64_t)want.b_len ? want.b_len :
		    (size_t)offs[i];

		CHECK(transcode_all(rs.r[0].path, TRANSCODE_IDENTITY, offs[i],
		    65536, &got) == 0 && got.b_len == want.b_len - o &&
		    (got.b_len == 0 ||
		    memcmp(got.b_data, want.b_data + o, got.b_len) == 0));
		buf_free(&got);
	}
	CHECK(read_file(rs.r[0].path, &stored) == 0);
	CHECK(transcode_all(rs.r[0].path, TRANSCODE_ZSTD, 100, 4096,
	    &got) == 0 && got.b_len == stored.b_len - 100 &&
	    memcmp(got.b_data, stored.b_data + 100, got.b_len) == 0);
	buf_free(&got);
	CHECK(transcode_open(rs.r[0].path, TRANSCODE_GZIP, 1, err,
	    sizeof(err)) == NULL);
	CHECK(transcode_open(rs.r[0].path, TRANSCODE_IDENTITY, -1, err,
	    sizeof(err)) == NULL);
	CHECK(transcode_open("/nonexistent", TRANSCODE_ZSTD, 0, err,
	    sizeof(err)) == NULL);

	/* Truncated: every decoding read fails, never a silent short end. */
	snprintf(path, sizeof(path), "%s/bad.zst", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(write(fd, stored.b_data, stored.b_len / 2) ==
	    (ssize_t)(stored.b_len / 2));
	close(fd);
	CHECK(transcode_all(path, TRANSCODE_IDENTITY, 0, 65536, &got) == -1);
	buf_free(&got);
	CHECK(transcode_all(path, TRANSCODE_GZIP, 0, 65536, &got) == -1);
	buf_free(&got);
	/* Truncated by the last byte only (inside the checksum). */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(write(fd, stored.b_data, stored.b_len - 1) ==
	    (ssize_t)(stored.b_len - 1));
	close(fd);
	CHECK(transcode_all(path, TRANSCODE_IDENTITY, 0, 65536, &got) == -1);
	buf_free(&got);
	/* A flipped byte in the last block: the checksum catches it. */
	c = stored.b_data[stored.b_len - 20];
	stored.b_data[stored.b_len - 20] = (char)(c ^ 0x10);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(write(fd, stored.b_data, stored.b_len) ==
	    (ssize_t)stored.b_len);
	close(fd);
	CHECK(transcode_all(path, TRANSCODE_IDENTITY, 0, 65536, &got) == -1);
	buf_free(&got);
	t = transcode_open(path, TRANSCODE_GZIP, 0, err, sizeof(err));
	while (t != NULL && transcode_read(t, line, sizeof(line)) > 0)
		;
	CHECK(t != NULL && transcode_read(t, line, sizeof(line)) == -1 &&
	    transcode_error(t)[0] != '\0');
	transcode_close(t);
	/* A wrong content size in the frame header fails whatever the read
	 * size (libzstd alone catches it only with a large buffer). */
	memset(&rs, 0, sizeof(rs));
	s = outfile_set_open(tmpdir, "Small", 1, 0, 0, 1, on_done, &rs,
	    err, sizeof(err));
	CHECK(outfile_set_write(s, "{\"a\":1}", 7, err, sizeof(err)) == 0);
	CHECK(outfile_set_close_current(s, err, sizeof(err)) == 0);
	outfile_set_free(s);
	buf_free(&stored);
	CHECK(rs.n == 1 && read_file(rs.r[0].path, &stored) == 0);
	if (stored.b_len > 6 && (stored.b_data[4] & 0x20)) {
		unsigned char	fhd = (unsigned char)stored.b_data[4];
		size_t		fcs = 5 + (size_t)((fhd & 3) == 3 ? 4 :
				    (fhd & 3));

		stored.b_data[fcs]++;
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		CHECK(write(fd, stored.b_data, stored.b_len) ==
		    (ssize_t)stored.b_len);
		close(fd);
		for (i = 0; i < 4; i++) {
			CHECK(transcode_all(path, TRANSCODE_IDENTITY, 0,
			    steps[i], &got) == -1);
			buf_free(&got);
		}
	} else
		CHECK(!"small file has a single-segment header");
	/* An empty frame claiming 3 bytes: libzstd 1.5 lets it through
	 * unless the output buffer holds 3 bytes (found by the fuzzer). */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(write(fd, "\x28\xb5\x2f\xfd\x24\x03\x01\x00\x00"
	    "\x99\xe9\xd8\x51", 13) == 13);
	close(fd);
	for (i = 0; i < 4; i++) {
		CHECK(transcode_all(path, TRANSCODE_IDENTITY, 1, steps[i],
		    &got) == -1);
		buf_free(&got);
		CHECK(transcode_all(path, TRANSCODE_IDENTITY, 0, steps[i],
		    &got) == -1);
		buf_free(&got);
	}
	/* The same frame with its true size (0) is valid and empty. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(write(fd, "\x28\xb5\x2f\xfd\x24\x00\x01\x00\x00"
	    "\x99\xe9\xd8\x51", 13) == 13);
	close(fd);
	CHECK(transcode_all(path, TRANSCODE_IDENTITY, 0, 1, &got) == 0 &&
	    got.b_len == 0);
	buf_free(&got);

	/* Not zstd at all; and empty. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(write(fd, "{\"resourceType\":\"Patient\"}\n", 27) == 27);
	close(fd);
	CHECK(transcode_all(path, TRANSCODE_IDENTITY, 0, 100, &got) == -1);
	buf_free(&got);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	close(fd);
	CHECK(transcode_all(path, TRANSCODE_IDENTITY, 0, 100, &got) == -1);
	buf_free(&got);
	CHECK(transcode_all(path, TRANSCODE_ZSTD, 0, 100, &got) == 0 &&
	    got.b_len == 0);
	buf_free(&got);
	transcode_close(NULL);

	buf_free(&stored);
	buf_free(&want);
	clean_dir();
}

static void
test_choose(void)
{
	static const struct {
		const char	*hdr;
		int		 rc;
		enum transcode_enc enc;
	} cases[] = {
		{ "gzip, deflate, br", 0, TRANSCODE_GZIP },
		{ "gzip, deflate, br, zstd", 0, TRANSCODE_ZSTD },
		{ "zstd;q=0.5, gzip;q=1", 0, TRANSCODE_GZIP },
		{ "zstd;q=1, gzip;q=1", 0, TRANSCODE_ZSTD },
		{ "gzip;q=1.0, zstd;q=1.000", 0, TRANSCODE_ZSTD },
		{ "identity;q=0", -1, TRANSCODE_IDENTITY },
		{ "identity;q=0, gzip", 0, TRANSCODE_GZIP },
		{ "identity;q=0, br", -1, TRANSCODE_IDENTITY },
		{ "*", 0, TRANSCODE_ZSTD },
		{ "*;q=0.2, zstd;q=0", 0, TRANSCODE_GZIP },
		{ "", 0, TRANSCODE_IDENTITY },
		{ "gzip;q=0", 0, TRANSCODE_IDENTITY },
		{ "*;q=0, identity", 0, TRANSCODE_IDENTITY },
		{ "*;q=0", -1, TRANSCODE_IDENTITY },
		{ "*;q=0, gzip;q=0.1", 0, TRANSCODE_GZIP },
		{ "x-gzip", 0, TRANSCODE_GZIP },
		{ "GZIP ; Q=0.8 , ZStd ;q=0.9", 0, TRANSCODE_ZSTD },
		{ "\tgzip\t;\tq=0.9\t", 0, TRANSCODE_GZIP },
		{ "br;q=1, identity;q=0.5", 0, TRANSCODE_IDENTITY },
		{ "identity;q=0, identity", 0, TRANSCODE_IDENTITY },
		{ "zstd;level=3", 0, TRANSCODE_ZSTD },
		/* Unlisted identity ranks below any listed coding. */
		{ "gzip;q=0.001", 0, TRANSCODE_GZIP },
		{ "deflate, br", 0, TRANSCODE_IDENTITY },
		{ "*;q=0.5, gzip;q=0.4", 0, TRANSCODE_ZSTD },
		{ "*;q=0.5, gzip;q=0.4, zstd;q=0", 0, TRANSCODE_IDENTITY },
		/* Garbage is tolerated: bad elements are skipped. */
		{ "zstd;q=abc, gzip", 0, TRANSCODE_GZIP },
		{ "zstd;q=2", 0, TRANSCODE_IDENTITY },
		{ "zstd;q=0.0001", 0, TRANSCODE_IDENTITY },
		{ ",,;;, ,=;q=1", 0, TRANSCODE_IDENTITY },
		{ "gzip;;q=0.3;", 0, TRANSCODE_GZIP },
		{ "\xff\xfe, zstd", 0, TRANSCODE_ZSTD },
	};
	enum transcode_enc	e;
	size_t			i;
	int			rc;

	CHECK(transcode_choose(NULL, &e) == 0 && e == TRANSCODE_IDENTITY);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		e = TRANSCODE_IDENTITY;
		rc = transcode_choose(cases[i].hdr, &e);
		if (rc != cases[i].rc || (rc == 0 && e != cases[i].enc))
			fprintf(stderr, "choose '%s': rc %d enc %d\n",
			    cases[i].hdr, rc, (int)e);
		CHECK(rc == cases[i].rc && (rc == -1 || e == cases[i].enc));
	}
	CHECK(strcmp(transcode_enc_name(TRANSCODE_GZIP), "gzip") == 0);
	CHECK(strcmp(transcode_enc_name(TRANSCODE_ZSTD), "zstd") == 0);
	CHECK(strcmp(transcode_enc_name(TRANSCODE_IDENTITY), "identity") == 0);
}

int
main(void)
{
	str_lcpy(tmpdir, "/tmp/test_outfile.XXXXXX", sizeof(tmpdir));
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_roll_count();
	test_roll_bytes();
	test_lifecycle();
	test_errors();
	test_transcode();
	test_choose();
	clean_dir();
	rmdir(tmpdir);
	return CHECK_DONE();
}
