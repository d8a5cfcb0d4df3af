/*
 * tzfile.c — TZif (RFC 8536) zones: decoding, the footer's POSIX TZ
 * rule, and the offset in force at an instant (tzfile.h).
 *
 * The file is read into one bounded buffer per load and decoded in
 * place: every count is checked against the bytes there before a
 * pointer is formed, so a corrupt or hostile file is refused, never
 * read past.  Leaf code: only lib/ headers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/civil.h"
#include "lib/str.h"
#include "lib/tzfile.h"
#include "lib/xmalloc.h"

#define TZFILE_DIR	"/usr/share/zoneinfo"
#define TZFILE_DAY	86400

static int	tzfile_err(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static uint32_t	tzfile_be32(const uint8_t *);
static int64_t	tzfile_trans(const struct tzfile *, uint32_t);
static int32_t	tzfile_type_off(const struct tzfile *, uint32_t);
static int	tzfile_rule_num(const char **, const char *, int, int *);
static int	tzfile_rule_name(const char **, const char *);
static int	tzfile_rule_off(const char **, const char *, int, int32_t *);
static int	tzfile_rule_date(const char **, const char *,
		    struct tzfile_date *);
static int	tzfile_rule_parse(struct tzfile *, const char *, size_t);
static int	tzfile_decode(struct tzfile *, const uint8_t *, size_t,
		    char *, size_t);
static int64_t	tzfile_rule_instant(const struct tzfile_date *, int64_t,
		    int32_t);
static int	tzfile_last_event(const struct tzfile *, int64_t, int64_t *,
		    int32_t *);
static int64_t	tzfile_next_event(const struct tzfile *, int64_t);

static int
tzfile_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
tzfile_name_ok(const char *tz)
{
	size_t	i, n;

	if (tz == NULL || (n = strnlen(tz, TZFILE_NAME_MAX)) == 0 ||
	    n >= TZFILE_NAME_MAX || tz[0] == '/' || tz[0] == '-' ||
	    strstr(tz, "..") != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (!((tz[i] >= 'A' && tz[i] <= 'Z') ||
		    (tz[i] >= 'a' && tz[i] <= 'z') ||
		    (tz[i] >= '0' && tz[i] <= '9') || tz[i] == '_' ||
		    tz[i] == '+' || tz[i] == '-' || tz[i] == '/'))
			return 0;
	return 1;
}

static uint32_t
tzfile_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int64_t
tzfile_trans(const struct tzfile *z, uint32_t i)
{
	const uint8_t	*p = z->z_trans + (size_t)i * (size_t)z->z_tsize;
	uint64_t	 v;

	if (z->z_tsize == 4)
		return (int32_t)tzfile_be32(p);
	v = (uint64_t)tzfile_be32(p) << 32 | tzfile_be32(p + 4);
	return (int64_t)v;
}

static int32_t
tzfile_type_off(const struct tzfile *z, uint32_t type)
{
	return (int32_t)tzfile_be32(z->z_types + (size_t)type * 6);
}

/* Up to maxd digits at *pp into *out. */
static int
tzfile_rule_num(const char **pp, const char *end, int maxd, int *out)
{
	const char	*p = *pp;
	int		 v = 0, n = 0;

	while (p < end && *p >= '0' && *p <= '9' && n < maxd) {
		v = v * 10 + (*p++ - '0');
		n++;
	}
	if (n == 0)
		return -1;
	*pp = p;
	*out = v;
	return 0;
}

/* A zone abbreviation: 3+ letters, or <...>. */
static int
tzfile_rule_name(const char **pp, const char *end)
{
	const char	*p = *pp;
	size_t		 n = 0;

	if (p < end && *p == '<') {
		for (p++; p < end && *p != '>'; p++)
			if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' &&
			    *p <= 'z') || (*p >= '0' && *p <= '9') ||
			    *p == '+' || *p == '-'))
				return -1;
			else
				n++;
		if (p >= end || n == 0)
			return -1;
		*pp = p + 1;
		return 0;
	}
	while (p < end && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' &&
	    *p <= 'z'))) {
		p++;
		n++;
	}
	if (n < 3)
		return -1;
	*pp = p;
	return 0;
}

/* [+-]h[h[h]][:mm[:ss]] in seconds, hours at most maxh. */
static int
tzfile_rule_off(const char **pp, const char *end, int maxh, int32_t *out)
{
	const char	*p = *pp;
	int		 sign = 1, h, m = 0, s = 0;

	if (p < end && (*p == '+' || *p == '-'))
		sign = *p++ == '-' ? -1 : 1;
	if (tzfile_rule_num(&p, end, 3, &h) == -1 || h > maxh)
		return -1;
	if (p < end && *p == ':') {
		p++;
		if (tzfile_rule_num(&p, end, 2, &m) == -1 || m > 59)
			return -1;
		if (p < end && *p == ':') {
			p++;
			if (tzfile_rule_num(&p, end, 2, &s) == -1 || s > 59)
				return -1;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	*pp = p;
	return 0;
}

static int
tzfile_rule_date(const char **pp, const char *end, struct tzfile_date *d)
{
	const char	*p = *pp;

	memset(d, 0, sizeof(*d));
	if (p < end && *p == 'J') {
		p++;
		d->d_kind = 'J';
		if (tzfile_rule_num(&p, end, 3, &d->d_n) == -1 || d->d_n < 1 ||
		    d->d_n > 365)
			return -1;
	} else if (p < end && *p == 'M') {
		p++;
		d->d_kind = 'M';
		if (tzfile_rule_num(&p, end, 2, &d->d_month) == -1 ||
		    d->d_month < 1 || d->d_month > 12 || p >= end ||
		    *p++ != '.' || tzfile_rule_num(&p, end, 1, &d->d_week) ==
		    -1 || d->d_week < 1 || d->d_week > 5 || p >= end ||
		    *p++ != '.' || tzfile_rule_num(&p, end, 1, &d->d_wday) ==
		    -1 || d->d_wday > 6)
			return -1;
	} else {
		d->d_kind = 'D';
		if (tzfile_rule_num(&p, end, 3, &d->d_n) == -1 || d->d_n > 365)
			return -1;
	}
	d->d_time = 2 * 3600;
	if (p < end && *p == '/') {
		p++;
		if (tzfile_rule_off(&p, end, 167, &d->d_time) == -1)
			return -1;
	}
	*pp = p;
	return 0;
}

/* The TZif footer, a POSIX TZ string (RFC 8536 §3.3). */
static int
tzfile_rule_parse(struct tzfile *z, const char *s, size_t len)
{
	const char	*p = s, *end = s + len;
	int32_t		 off;

	z->z_rule = 0;
	if (len == 0)
		return 0;
	if (tzfile_rule_name(&p, end) == -1 ||
	    tzfile_rule_off(&p, end, 24, &off) == -1)
		return -1;
	z->z_std = -off;
	if (z->z_std <= -TZFILE_OFF_MAX || z->z_std >= TZFILE_OFF_MAX)
		return -1;
	if (p == end) {
		if (z->z_timecnt == 0)
			z->z_off0 = z->z_std;
		return 0;
	}
	if (tzfile_rule_name(&p, end) == -1)
		return -1;
	z->z_dst = z->z_std + 3600;
	if (p < end && *p != ',') {
		if (tzfile_rule_off(&p, end, 24, &off) == -1)
			return -1;
		z->z_dst = -off;
	}
	if (p == end) {
		/* POSIX leaves the default rule to the implementation;
		 * glibc and tzcode use the US one. */
		z->z_start = (struct tzfile_date){ 'M', 0, 3, 2, 0, 7200 };
		z->z_end = (struct tzfile_date){ 'M', 0, 11, 1, 0, 7200 };
	} else if (*p++ != ',' || tzfile_rule_date(&p, end, &z->z_start) ==
	    -1 || p >= end || *p++ != ',' ||
	    tzfile_rule_date(&p, end, &z->z_end) == -1 || p != end)
		return -1;
	if (z->z_dst <= -TZFILE_OFF_MAX || z->z_dst >= TZFILE_OFF_MAX)
		return -1;
	z->z_rule = 1;
	return 0;
}

static int
tzfile_decode(struct tzfile *z, const uint8_t *b, size_t size, char *errbuf,
    size_t errlen)
{
	const uint8_t	*h, *p, *nl;
	uint64_t	 isut, isstd, leap, timecnt, typecnt, charcnt, blen;
	uint64_t	 off = 0, i;
	int		 pass, tsize = 4;

	for (pass = 0; pass < 2; pass++) {
		if (size < off + 44 || memcmp(b + off, "TZif", 4) != 0)
			return tzfile_err(errbuf, errlen, "not a TZif file");
		h = b + off;
		isut = tzfile_be32(h + 20);
		isstd = tzfile_be32(h + 24);
		leap = tzfile_be32(h + 28);
		timecnt = tzfile_be32(h + 32);
		typecnt = tzfile_be32(h + 36);
		charcnt = tzfile_be32(h + 40);
		blen = timecnt * (uint64_t)tsize + timecnt + typecnt * 6 +
		    charcnt + leap * (uint64_t)(tsize + 4) + isstd + isut;
		if (size - (off + 44) < blen)
			return tzfile_err(errbuf, errlen,
			    "truncated TZif file");
		if (pass == 1 || h[4] < '2')
			break;
		off += 44 + blen;	/* skip the 32-bit block */
		tsize = 8;
	}
	if (leap != 0)
		return tzfile_err(errbuf, errlen, "zones with leap seconds are "
		    "not supported");
	if (typecnt < 1 || typecnt > 256 || (isstd != 0 && isstd != typecnt) ||
	    (isut != 0 && isut != typecnt))
		return tzfile_err(errbuf, errlen, "corrupt TZif file");
	p = b + off + 44;
	z->z_tsize = tsize;
	z->z_timecnt = (uint32_t)timecnt;
	z->z_typecnt = (uint32_t)typecnt;
	z->z_trans = p;
	z->z_idx = p + timecnt * (uint64_t)tsize;
	z->z_types = z->z_idx + timecnt;
	for (i = 0; i < typecnt; i++) {
		int32_t	o = tzfile_type_off(z, (uint32_t)i);

		if (o <= -TZFILE_OFF_MAX || o >= TZFILE_OFF_MAX)
			return tzfile_err(errbuf, errlen, "corrupt TZif file");
	}
	for (i = 0; i < timecnt; i++)
		if (z->z_idx[i] >= typecnt || (i > 0 &&
		    tzfile_trans(z, (uint32_t)i) <=
		    tzfile_trans(z, (uint32_t)i - 1)))
			return tzfile_err(errbuf, errlen, "corrupt TZif file");
	z->z_off0 = tzfile_type_off(z, 0);
	if (tsize == 8) {
		p = b + off + 44 + blen;
		if (p < b + size) {
			if (*p != '\n' || (nl = memchr(p + 1, '\n',
			    (size_t)(b + size - p - 1))) == NULL)
				return tzfile_err(errbuf, errlen,
				    "corrupt TZif footer");
			if (tzfile_rule_parse(z, (const char *)p + 1,
			    (size_t)(nl - p - 1)) == -1)
				return tzfile_err(errbuf, errlen, "unsupported "
				    "TZ rule '%.*s'", (int)(nl - p - 1 > 64 ?
				    64 : nl - p - 1), (const char *)p + 1);
		}
	}
	return 0;
}

int
tzfile_load(struct tzfile *z, const char *tz, char *errbuf,
    size_t errlen)
{
	const char	*dir;
	char		 path[4096];
	struct stat	 st;
	ssize_t		 r;
	uint8_t		*buf = NULL;
	size_t		 got = 0;
	int		 fd = -1, rc = -1;

	memset(z, 0, sizeof(*z));
	if (!tzfile_name_ok(tz))
		return tzfile_err(errbuf, errlen, "invalid time zone name "
		    "'%.*s'", TZFILE_NAME_MAX, tz != NULL ? tz : "");
	if (strcmp(tz, "UTC") == 0 || strcmp(tz, "Etc/UTC") == 0)
		return 0;	/* built in: no transitions, offset 0 */
	if ((dir = getenv("TZDIR")) == NULL || dir[0] != '/')
		dir = TZFILE_DIR;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, tz) >=
	    sizeof(path))
		return tzfile_err(errbuf, errlen, "time zone path too long");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			return tzfile_err(errbuf, errlen, "unknown time zone "
			    "'%s'", tz);
		return tzfile_err(errbuf, errlen, "time zone '%s': %s: %s", tz,
		    path, strerror(errno));
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		tzfile_err(errbuf, errlen, "unknown time zone '%s'", tz);
		goto out_close;
	}
	if (st.st_size < 44 || st.st_size > TZFILE_SIZE_MAX) {
		tzfile_err(errbuf, errlen, "time zone '%s': not a TZif file",
		    tz);
		goto out_close;
	}
	buf = xmalloc((size_t)st.st_size);
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			tzfile_err(errbuf, errlen, "time zone '%s': short read",
			    tz);
			goto out_close;
		}
		got += (size_t)r;
	}
	if (tzfile_parse(z, buf, got, errbuf, errlen) == -1) {
		char	why[128] = "";

		if (errlen > 0)
			str_lcpy(why, errbuf, sizeof(why));
		tzfile_err(errbuf, errlen, "time zone '%s': %s", tz, why);
		goto out_close;
	}
	z->z_buf = buf;		/* z points into it */
	buf = NULL;
	rc = 0;
 out_close:
	close(fd);
	free(buf);
	return rc;
}

int
tzfile_parse(struct tzfile *z, const uint8_t *buf, size_t size,
    char *errbuf, size_t errlen)
{
	memset(z, 0, sizeof(*z));
	if (tzfile_decode(z, buf, size, errbuf, errlen) == -1) {
		memset(z, 0, sizeof(*z));
		return -1;
	}
	return 0;
}

void
tzfile_free(struct tzfile *z)
{
	if (z == NULL)
		return;
	free(z->z_buf);
	z->z_buf = NULL;
}

/* The instant of a rule date in year y, its time read with offset off. */
static int64_t
tzfile_rule_instant(const struct tzfile_date *d, int64_t y, int32_t off)
{
	int64_t	day;
	int	dd;

	switch (d->d_kind) {
	case 'J':
		day = civil_days_from(y, 1, 1) + d->d_n - 1 +
		    (civil_is_leap(y) && d->d_n >= 60);
		break;
	case 'D':
		day = civil_days_from(y, 1, 1) + d->d_n;
		break;
	default:
		day = civil_days_from(y, (unsigned)d->d_month, 1);
		dd = (d->d_wday - civil_weekday(day) + 7) % 7 +
		    (d->d_week - 1) * 7;
		while (dd >= (int)civil_mdays(y, (unsigned)d->d_month))
			dd -= 7;
		day += dd;
		break;
	}
	return day * TZFILE_DAY + d->d_time - off;
}

/*
 * The last transition at or before t: 1 with its instant and the offset
 * after it, or 0 if there is none.  Of rule transitions at the same
 * instant, a DST start counts as after a DST end (all-year DST rules).
 */
static int
tzfile_last_event(const struct tzfile *z, int64_t t, int64_t *at,
    int32_t *off)
{
	int64_t		 y, ev, best = 0, last;
	uint32_t	 lo, hi, mid;
	unsigned	 m, d;
	int		 k, found = 0, bestk = 0;

	last = z->z_timecnt > 0 ? tzfile_trans(z, z->z_timecnt - 1) : INT64_MIN;
	if (z->z_rule && t >= last) {
		civil_from_days(civil_floordiv(t, TZFILE_DAY), &y, &m, &d);
		for (y -= 1, k = 0; k < 6; k++) {
			if (k % 2 == 0)
				ev = tzfile_rule_instant(&z->z_end, y + k / 2,
				    z->z_dst);
			else
				ev = tzfile_rule_instant(&z->z_start,
				    y + k / 2, z->z_std);
			if (ev <= last || ev > t)
				continue;
			if (!found || ev > best || (ev == best && k % 2 == 1)) {
				best = ev;
				bestk = k;
				found = 1;
			}
		}
		if (found) {
			*at = best;
			*off = bestk % 2 == 1 ? z->z_dst : z->z_std;
			return 1;
		}
	}
	if (z->z_timecnt == 0 || tzfile_trans(z, 0) > t)
		return 0;
	lo = 0;
	hi = z->z_timecnt - 1;
	while (lo < hi) {		/* largest i with trans(i) <= t */
		mid = lo + (hi - lo + 1) / 2;
		if (tzfile_trans(z, mid) <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	*at = tzfile_trans(z, lo);
	*off = tzfile_type_off(z, z->z_idx[lo]);
	return 1;
}

/* The first transition after t, or INT64_MAX. */
static int64_t
tzfile_next_event(const struct tzfile *z, int64_t t)
{
	int64_t		 y, ev, best = INT64_MAX, last;
	uint32_t	 lo, hi, mid;
	unsigned	 m, d;
	int		 k;

	last = z->z_timecnt > 0 ? tzfile_trans(z, z->z_timecnt - 1) : INT64_MIN;
	if (z->z_timecnt > 0 && t < last) {
		lo = 0;
		hi = z->z_timecnt - 1;
		while (lo < hi) {	/* smallest i with trans(i) > t */
			mid = lo + (hi - lo) / 2;
			if (tzfile_trans(z, mid) > t)
				hi = mid;
			else
				lo = mid + 1;
		}
		return tzfile_trans(z, lo);
	}
	if (!z->z_rule)
		return INT64_MAX;
	civil_from_days(civil_floordiv(t, TZFILE_DAY), &y, &m, &d);
	for (y -= 1, k = 0; k < 8; k++) {
		ev = k % 2 == 0 ?
		    tzfile_rule_instant(&z->z_end, y + k / 2, z->z_dst) :
		    tzfile_rule_instant(&z->z_start, y + k / 2, z->z_std);
		if (ev > t && ev > last && ev < best)
			best = ev;
	}
	return best;
}

int32_t
tzfile_offset(const struct tzfile *z, int64_t t)
{
	int64_t	at;
	int32_t	off;

	if (tzfile_last_event(z, t, &at, &off))
		return off;
	return z->z_off0;
}

void
tzfile_segment(const struct tzfile *z, int64_t t, struct tzfile_seg *g)
{
	/* A transition at INT64_MIN (only a crafted file has one) has no
	 * instant before it: its segment keeps the initial offset. */
	if (tzfile_last_event(z, t, &g->g_start, &g->g_off))
		g->g_prev = g->g_start == INT64_MIN ? z->z_off0 :
		    tzfile_offset(z, g->g_start - 1);
	else {
		g->g_start = INT64_MIN;
		g->g_off = g->g_prev = z->z_off0;
	}
	g->g_end = tzfile_next_event(z, t);
}
