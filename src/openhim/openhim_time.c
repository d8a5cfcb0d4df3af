/*
 * openhim_time.c — parsing the instants of X-OpenHIM-LastRunAt (see
 * openhim_time.h).  A bounded cursor over the text; every field is
 * range-checked; the calendar is lib/civil's.  Fuzzed by
 * tests/fuzz/fuzz_openhim_time.c.
 */
#include <stdio.h>
#include <string.h>

#include "lib/civil.h"
#include "openhim/openhim_time.h"

struct ot_cur {
	const char	*c_p;
	const char	*c_end;
};

static int	ot_num(struct ot_cur *, int, int64_t *);
static int	ot_lit(struct ot_cur *, char);
static int	ot_month(struct ot_cur *, unsigned *);
static int	ot_weekday(struct ot_cur *);
static int	ot_hms(struct ot_cur *, int64_t *, int64_t *, int64_t *);
static int	ot_epoch(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
		    int64_t, int64_t *);
static int	ot_rfc3339(struct ot_cur *, int64_t *);
static int	ot_jsdate(struct ot_cur *, int64_t *);
static int	ot_httpdate(struct ot_cur *, int64_t *);

static const char *const ot_months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char *const ot_days[7] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};

/* Exactly n decimal digits. */
static int
ot_num(struct ot_cur *c, int n, int64_t *v)
{
	int	i;

	if (c->c_end - c->c_p < n)
		return -1;
	*v = 0;
	for (i = 0; i < n; i++) {
		if (c->c_p[i] < '0' || c->c_p[i] > '9')
			return -1;
		*v = *v * 10 + (c->c_p[i] - '0');
	}
	c->c_p += n;
	return 0;
}

static int
ot_lit(struct ot_cur *c, char ch)
{
	if (c->c_p >= c->c_end || *c->c_p != ch)
		return -1;
	c->c_p++;
	return 0;
}

/* "Jan" .. "Dec" into 1..12. */
static int
ot_month(struct ot_cur *c, unsigned *m)
{
	unsigned	i;

	if (c->c_end - c->c_p < 3)
		return -1;
	for (i = 0; i < 12; i++)
		if (memcmp(c->c_p, ot_months[i], 3) == 0) {
			*m = i + 1;
			c->c_p += 3;
			return 0;
		}
	return -1;
}

/* A weekday name, "Sun" .. "Sat" (not checked against the date). */
static int
ot_weekday(struct ot_cur *c)
{
	unsigned	i;

	if (c->c_end - c->c_p < 3)
		return -1;
	for (i = 0; i < 7; i++)
		if (memcmp(c->c_p, ot_days[i], 3) == 0) {
			c->c_p += 3;
			return 0;
		}
	return -1;
}

/* "HH:MM:SS". */
static int
ot_hms(struct ot_cur *c, int64_t *h, int64_t *mi, int64_t *s)
{
	return ot_num(c, 2, h) == -1 || ot_lit(c, ':') == -1 ||
	    ot_num(c, 2, mi) == -1 || ot_lit(c, ':') == -1 ||
	    ot_num(c, 2, s) == -1 ? -1 : 0;
}

/* The fields, checked, minus off seconds, as microseconds. */
static int
ot_epoch(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi,
    int64_t s, int64_t off, int64_t *usec)
{
	int64_t	secs;

	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
	    d > (int64_t)civil_mdays(y, (unsigned)mo) || h > 23 || mi > 59 ||
	    s > 60)
		return -1;
	if (s == 60)
		s = 59;		/* a leap second: the one before will do */
	secs = civil_days_from(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + s - off;
	if (secs < 0 || secs >= civil_days_from(10000, 1, 1) * 86400)
		return -1;	/* the offset moved it out of 1970..9999 */
	*usec = secs * 1000000;
	return 0;
}

/* YYYY-MM-DD[T ]HH:MM:SS[.f+](Z|+hh:mm|-hh:mm) */
static int
ot_rfc3339(struct ot_cur *c, int64_t *usec)
{
	int64_t	y, mo, d, h, mi, s, oh, om, off = 0, frac = 0, scale = 100000;
	char	sign;

	if (ot_num(c, 4, &y) == -1 || ot_lit(c, '-') == -1 ||
	    ot_num(c, 2, &mo) == -1 || ot_lit(c, '-') == -1 ||
	    ot_num(c, 2, &d) == -1 || c->c_p >= c->c_end ||
	    (*c->c_p != 'T' && *c->c_p != 't' && *c->c_p != ' '))
		return -1;
	c->c_p++;
	if (ot_hms(c, &h, &mi, &s) == -1)
		return -1;
	if (c->c_p < c->c_end && *c->c_p == '.') {
		c->c_p++;
		if (c->c_p >= c->c_end || *c->c_p < '0' || *c->c_p > '9')
			return -1;
		while (c->c_p < c->c_end && *c->c_p >= '0' &&
		    *c->c_p <= '9') {
			frac += (*c->c_p - '0') * scale;	/* beyond µs:
								   dropped */
			scale /= 10;
			c->c_p++;
		}
	}
	if (c->c_p >= c->c_end)
		return -1;
	sign = *c->c_p++;
	if (sign == '+' || sign == '-') {
		if (ot_num(c, 2, &oh) == -1 || ot_lit(c, ':') == -1 ||
		    ot_num(c, 2, &om) == -1 || oh > 23 || om > 59)
			return -1;
		off = (oh * 3600 + om * 60) * (sign == '-' ? -1 : 1);
	} else if (sign != 'Z' && sign != 'z')
		return -1;
	if (c->c_p != c->c_end || ot_epoch(y, mo, d, h, mi, s, off,
	    usec) == -1)
		return -1;
	*usec += frac;
	return 0;
}

/* Www Mmm DD YYYY HH:MM:SS GMT(+|-)hhmm[ (zone name)] */
static int
ot_jsdate(struct ot_cur *c, int64_t *usec)
{
	int64_t		y, d, h, mi, s, oh, om;
	unsigned	mo;
	char		sign;

	if (ot_weekday(c) == -1 || ot_lit(c, ' ') == -1 ||
	    ot_month(c, &mo) == -1 || ot_lit(c, ' ') == -1 ||
	    ot_num(c, 2, &d) == -1 || ot_lit(c, ' ') == -1 ||
	    ot_num(c, 4, &y) == -1 || ot_lit(c, ' ') == -1 ||
	    ot_hms(c, &h, &mi, &s) == -1 || ot_lit(c, ' ') == -1 ||
	    ot_lit(c, 'G') == -1 || ot_lit(c, 'M') == -1 ||
	    ot_lit(c, 'T') == -1 || c->c_p >= c->c_end)
		return -1;
	sign = *c->c_p++;
	if ((sign != '+' && sign != '-') || ot_num(c, 2, &oh) == -1 ||
	    ot_num(c, 2, &om) == -1 || oh > 23 || om > 59)
		return -1;
	if (c->c_p < c->c_end) {	/* " (Coordinated Universal Time)" */
		if (ot_lit(c, ' ') == -1 || ot_lit(c, '(') == -1 ||
		    c->c_end[-1] != ')' ||
		    memchr(c->c_p, ')', (size_t)(c->c_end - c->c_p)) !=
		    c->c_end - 1)
			return -1;
		c->c_p = c->c_end;
	}
	return ot_epoch(y, mo, d, h, mi, s, (oh * 3600 + om * 60) *
	    (sign == '-' ? -1 : 1), usec);
}

/* Www, DD Mmm YYYY HH:MM:SS GMT */
static int
ot_httpdate(struct ot_cur *c, int64_t *usec)
{
	int64_t		y, d, h, mi, s;
	unsigned	mo;

	if (ot_weekday(c) == -1 || ot_lit(c, ',') == -1 ||
	    ot_lit(c, ' ') == -1 || ot_num(c, 2, &d) == -1 ||
	    ot_lit(c, ' ') == -1 || ot_month(c, &mo) == -1 ||
	    ot_lit(c, ' ') == -1 || ot_num(c, 4, &y) == -1 ||
	    ot_lit(c, ' ') == -1 || ot_hms(c, &h, &mi, &s) == -1 ||
	    ot_lit(c, ' ') == -1 || ot_lit(c, 'G') == -1 ||
	    ot_lit(c, 'M') == -1 || ot_lit(c, 'T') == -1 ||
	    c->c_p != c->c_end)
		return -1;
	return ot_epoch(y, mo, d, h, mi, s, 0, usec);
}

int
openhim_time_parse(const char *s, size_t len, int64_t *usec)
{
	struct ot_cur	c;

	*usec = 0;
	if (len == 0 || len > OPENHIM_TIME_MAX)
		return -1;
	c.c_end = s + len;
	c.c_p = s;
	if (ot_rfc3339(&c, usec) == 0)
		return 0;
	c.c_p = s;
	if (ot_jsdate(&c, usec) == 0)
		return 0;
	c.c_p = s;
	if (ot_httpdate(&c, usec) == 0)
		return 0;
	*usec = 0;
	return -1;
}

void
openhim_time_format(int64_t usec, char *out, size_t outlen)
{
	int64_t		secs = usec / 1000000, days, y;
	unsigned	mo, d;
	int64_t		rem;

	days = civil_floordiv(secs, 86400);
	rem = secs - days * 86400;
	civil_from_days(days, &y, &mo, &d);
	snprintf(out, outlen, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ",
	    (long long)y, mo, d, (long long)(rem / 3600),
	    (long long)(rem / 60 % 60), (long long)(rem % 60),
	    (long long)(usec % 1000000));
}
