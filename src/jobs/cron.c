/*
 * cron.c — cron expressions, and local time in IANA zones without libc's
 * process-global TZ state.
 *
 * DESIGN.  cron_next works on two time lines: instants (UTC seconds) and
 * local "civil seconds" (seconds since 1970-01-01 00:00 of the local
 * calendar).  A zone is a sequence of segments between offset changes;
 * within a segment [s, e) with UTC offset o, local time is instant + o,
 * so the first matching local minute L in [s + o, e + o) is the earliest
 * fire in that segment, at instant L - o.  cron_next walks the segments
 * from 'after' on.  At a transition where the offset grows (spring
 * forward) the local times [s + po, s + o) do not exist; at one where it
 * shrinks (fall back) the local times [s + o, s + po) occur a second
 * time.  cron.h says what each kind of schedule does with them.
 *
 * Zones come from TZif files (RFC 8536): the explicit transitions, then
 * the footer's POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3") for the
 * years after them, which matters with "slim" tz data where the explicit
 * list stops early.  The file is read into one bounded buffer per call
 * and decoded in place; nothing is cached, so nothing needs a lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobs/cron.h"
#include "lib/civil.h"
#include "lib/str.h"
#include "lib/xmalloc.h"

_Static_assert(sizeof(time_t) >= 8, "cron needs a 64-bit time_t");

#define CRON_TZDIR		"/usr/share/zoneinfo"
#define CRON_TZIF_MAX		(256 * 1024)	/* largest zone file read */
#define CRON_TOKEN_SHOW		32	/* bytes of a bad token quoted */
#define CRON_DAY		86400
#define CRON_AFTER_MIN		((time_t)0)		/* 1970-01-01 */
#define CRON_AFTER_MAX		((time_t)32503680000LL)	/* 3000-01-01 */
#define CRON_MAX_SEGMENTS	100000	/* cron_next loop guard */
#define CRON_OFF_MAX		(26 * 3600)	/* |UTC offset| bound */

/* ---- fields ---------------------------------------------------------- */

struct cron_field {
	const char		*f_name;	/* for messages */
	int			 f_min;
	int			 f_max;		/* largest value written */
	int			 f_top;		/* '*' and "a/n" end here */
	const char *const	*f_names;	/* or NULL */
	int			 f_names_base;	/* value of f_names[0] */
};

static const char *const cron_month_names[] = {
	"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
	"NOV", "DEC", NULL
};
static const char *const cron_wday_names[] = {
	"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL
};

enum { CRON_F_MINUTE, CRON_F_HOUR, CRON_F_MDAY, CRON_F_MONTH, CRON_F_WDAY,
	CRON_NFIELDS };

static const struct cron_field cron_fields[CRON_NFIELDS] = {
	{ "minute", 0, 59, 59, NULL, 0 },
	{ "hour", 0, 23, 23, NULL, 0 },
	{ "day-of-month", 1, 31, 31, NULL, 0 },
	{ "month", 1, 12, 12, cron_month_names, 1 },
	{ "day-of-week", 0, 7, 6, cron_wday_names, 0 },
};

static const struct {
	const char	*m_name;
	const char	*m_expr;
} cron_macros[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

/* A local time zone, decoded from a TZif file in z_buf. */
struct cron_tzdate {
	char		 d_kind;	/* 'J' (1-365, no 29 Feb), 'D' (0-365),
					   'M' (month.week.weekday) */
	int		 d_n;		/* J, D: the day number */
	int		 d_month, d_week, d_wday;	/* M */
	int32_t		 d_time;	/* seconds after local midnight */
};

struct cron_zone {
	uint8_t			*z_buf;		/* owned; NULL: built-in UTC */
	const uint8_t		*z_trans;	/* z_timecnt times, BE */
	const uint8_t		*z_idx;		/* type index per transition */
	const uint8_t		*z_types;	/* z_typecnt 6-byte records */
	uint32_t		 z_timecnt;
	uint32_t		 z_typecnt;
	int			 z_tsize;	/* 4 (v1) or 8 bytes per time */
	int32_t			 z_off0;	/* before any transition */
	int			 z_rule;	/* footer has a DST rule */
	int32_t			 z_std;		/* rule: standard offset */
	int32_t			 z_dst;		/* rule: daylight offset */
	struct cron_tzdate	 z_start;	/* rule: DST begins (std) */
	struct cron_tzdate	 z_end;		/* rule: DST ends (DST time) */
};

/* The part of a zone around one instant. */
struct cron_seg {
	int64_t		 g_start;	/* last transition <= t, or INT64_MIN */
	int64_t		 g_end;		/* first transition > t, or INT64_MAX */
	int32_t		 g_off;		/* offset within */
	int32_t		 g_prev;	/* offset just before g_start */
};

static int64_t	cron_floordiv(int64_t, int64_t);
static int	cron_is_leap(int64_t);
static int	cron_mdays(int64_t, int);
static int64_t	cron_days_from_civil(int64_t, int, int);
static void	cron_civil_from_days(int64_t, int64_t *, int *, int *);
static int	cron_weekday(int64_t);
static int	cron_err(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	cron_number(const char *, size_t, int *);
static int	cron_value(const struct cron_field *, const char *, size_t,
		    int *, char *, size_t);
static int	cron_item(const struct cron_field *, int, const char *,
		    size_t, uint64_t *, char *, size_t);
static int	cron_field_parse(int, const char *, size_t, uint64_t *,
		    char *, size_t);
static int	cron_possible(const struct cron *, char *, size_t);
static int	cron_day_match(const struct cron *, int64_t, int);
static int	cron_local_next(const struct cron *, int64_t, int64_t,
		    int64_t *);
static int	cron_tz_name_ok(const char *);
static uint32_t	cron_be32(const uint8_t *);
static int64_t	cron_trans(const struct cron_zone *, uint32_t);
static int32_t	cron_type_off(const struct cron_zone *, uint32_t);
static int	cron_rule_num(const char **, const char *, int, int *);
static int	cron_rule_name(const char **, const char *);
static int	cron_rule_off(const char **, const char *, int, int32_t *);
static int	cron_rule_date(const char **, const char *,
		    struct cron_tzdate *);
static int	cron_rule_parse(struct cron_zone *, const char *, size_t);
static int	cron_tzif_parse(struct cron_zone *, size_t, char *, size_t);
static int	cron_zone_load(struct cron_zone *, const char *, char *,
		    size_t);
static void	cron_zone_free(struct cron_zone *);
static int64_t	cron_rule_instant(const struct cron_tzdate *, int64_t,
		    int32_t);
static int	cron_last_event(const struct cron_zone *, int64_t, int64_t *,
		    int32_t *);
static int64_t	cron_next_event(const struct cron_zone *, int64_t);
static int32_t	cron_offset(const struct cron_zone *, int64_t);
static void	cron_segment(const struct cron_zone *, int64_t,
		    struct cron_seg *);

/* ---- calendar (proleptic Gregorian, H. Hinnant's algorithms) -------- */

static int64_t
cron_floordiv(int64_t a, int64_t b)
{
	int64_t	q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int
cron_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
cron_mdays(int64_t y, int m)
{
	static const int	 days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && cron_is_leap(y) ? 29 : days[m - 1];
}

static int64_t
cron_days_from_civil(int64_t y, int m, int d)
{
	return civil_days_from(y, (unsigned)m, (unsigned)d);
}

static void
cron_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	unsigned	um, ud;

	civil_from_days(z, y, &um, &ud);
	*m = (int)um;
	*d = (int)ud;
}

/* 0 = Sunday; day 0 (1970-01-01) was a Thursday. */
static int
cron_weekday(int64_t days)
{
	int64_t	w = (days + 4) % 7;

	return (int)(w < 0 ? w + 7 : w);
}

/* ---- parsing --------------------------------------------------------- */

static int
cron_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Decimal digits, the whole token, at most 4 of them: 0 and *out, or -1. */
static int
cron_number(const char *s, size_t len, int *out)
{
	size_t	i;
	int	v = 0;

	if (len == 0 || len > 4)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* A value of field f: a number within range, or a name. */
static int
cron_value(const struct cron_field *f, const char *s, size_t len, int *out,
    char *errbuf, size_t errlen)
{
	int	show = len > CRON_TOKEN_SHOW ? CRON_TOKEN_SHOW : (int)len;
	int	i;

	if (len == 0)
		return cron_err(errbuf, errlen, "%s: missing value", f->f_name);
	if (s[0] >= '0' && s[0] <= '9') {
		if (cron_number(s, len, out) == -1) {
			if (strspn(s, "0123456789") >= len)
				return cron_err(errbuf, errlen, "%s: %.*s is "
				    "out of range %d-%d", f->f_name, show, s,
				    f->f_min, f->f_max);
			return cron_err(errbuf, errlen, "%s: '%.*s' is not "
			    "a number", f->f_name, show, s);
		}
		if (*out < f->f_min || *out > f->f_max)
			return cron_err(errbuf, errlen, "%s: %d is out of "
			    "range %d-%d", f->f_name, *out, f->f_min,
			    f->f_max);
		return 0;
	}
	if (f->f_names == NULL)
		return cron_err(errbuf, errlen, "%s: '%.*s' is not a number",
		    f->f_name, show, s);
	for (i = 0; len == 3 && f->f_names[i] != NULL; i++)
		if (str_ncaseeq(s, f->f_names[i], 3)) {
			*out = f->f_names_base + i;
			return 0;
		}
	return cron_err(errbuf, errlen, "%s: unknown name '%.*s' (%s..%s)",
	    f->f_name, show, s, f->f_names[0],
	    f->f_names[f == &cron_fields[CRON_F_MONTH] ? 11 : 6]);
}

/* One comma-separated item: '*', a value or a range, then "/step". */
static int
cron_item(const struct cron_field *f, int wday, const char *s, size_t len,
    uint64_t *bits, char *errbuf, size_t errlen)
{
	const char	*slash, *dash;
	size_t		 blen, slen;
	int		 lo, hi, step = 1, v, span, show;

	slash = memchr(s, '/', len);
	blen = slash != NULL ? (size_t)(slash - s) : len;
	if (slash != NULL) {
		slen = len - blen - 1;
		show = slen > CRON_TOKEN_SHOW ? CRON_TOKEN_SHOW : (int)slen;
		span = f->f_top - f->f_min + 1;
		if (slen == 0)
			return cron_err(errbuf, errlen, "%s: missing step "
			    "after '/'", f->f_name);
		if (cron_number(slash + 1, slen, &step) == -1) {
			if (strspn(slash + 1, "0123456789") >= slen)
				return cron_err(errbuf, errlen, "%s: step %.*s "
				    "is out of range 1-%d", f->f_name, show,
				    slash + 1, span);
			return cron_err(errbuf, errlen, "%s: bad step '%.*s'",
			    f->f_name, show, slash + 1);
		}
		if (step < 1 || step > span)
			return cron_err(errbuf, errlen, "%s: step %d is out of "
			    "range 1-%d", f->f_name, step, span);
	}
	if (blen == 1 && s[0] == '*') {
		lo = f->f_min;
		hi = f->f_top;
	} else {
		dash = memchr(s, '-', blen);
		if (cron_value(f, s, dash != NULL ? (size_t)(dash - s) : blen,
		    &lo, errbuf, errlen) == -1)
			return -1;
		if (dash == NULL)
			hi = slash != NULL ? f->f_top : lo;
		else {
			if (cron_value(f, dash + 1, blen -
			    (size_t)(dash - s) - 1, &hi, errbuf, errlen) == -1)
				return -1;
			/* "FRI-SUN": Sunday as 7 at the end of a range. */
			if (wday && hi == 0 && lo > 0)
				hi = 7;
			if (hi < lo)
				return cron_err(errbuf, errlen, "%s: range "
				    "%d-%d is backwards", f->f_name, lo, hi);
		}
		if (hi < lo)	/* "7/2": the implicit end is before 7 */
			hi = lo;
	}
	for (v = lo; v <= hi; v += step)
		*bits |= (uint64_t)1 << (wday && v == 7 ? 0 : v);
	return 0;
}

static int
cron_field_parse(int idx, const char *s, size_t len, uint64_t *bits,
    char *errbuf, size_t errlen)
{
	const struct cron_field	*f = &cron_fields[idx];
	const char		*end = s + len, *comma;
	size_t			 n;

	*bits = 0;
	for (;;) {
		comma = memchr(s, ',', (size_t)(end - s));
		n = comma != NULL ? (size_t)(comma - s) : (size_t)(end - s);
		if (n == 0)
			return cron_err(errbuf, errlen, "%s: empty item in "
			    "list", f->f_name);
		if (cron_item(f, idx == CRON_F_WDAY, s, n, bits, errbuf,
		    errlen) == -1)
			return -1;
		if (comma == NULL)
			break;
		s = comma + 1;
	}
	return 0;
}

/* Some (month, day) pair must exist; 29 February does. */
static int
cron_possible(const struct cron *c, char *errbuf, size_t errlen)
{
	static const char *const mon[13] = { "", "January", "February",
		"March", "April", "May", "June", "July", "August", "September",
		"October", "November", "December" };
	int	m, d, maxd = 0, mind = 0, nmon = 0, onlym = 0;

	if (!c->c_mday_star && !c->c_wday_star)
		return 0;	/* either field may match: any weekday will */
	for (m = 1; m <= 12; m++)
		if (c->c_month & (1u << m)) {
			nmon++;
			onlym = m;
			if (cron_mdays(2000, m) > maxd)
				maxd = cron_mdays(2000, m);
		}
	for (d = 1; d <= 31 && mind == 0; d++)
		if (c->c_mday & (1u << d))
			mind = d;
	if (mind <= maxd)
		return 0;
	if (nmon == 1)
		return cron_err(errbuf, errlen, "day-of-month: never fires: "
		    "%s has no day %d (at most %d)", mon[onlym], mind, maxd);
	return cron_err(errbuf, errlen, "day-of-month: never fires: the "
	    "months selected have at most %d days, the earliest day "
	    "selected is %d", maxd, mind);
}

int
cron_parse(const char *expr, struct cron *out, char *errbuf, size_t errlen)
{
	const char	*p, *start[CRON_NFIELDS], *q;
	size_t		 len[CRON_NFIELDS], i, n, elen;
	uint64_t	 bits[CRON_NFIELDS];
	int		 nf = 0;

	memset(out, 0, sizeof(*out));
	if (expr == NULL)
		return cron_err(errbuf, errlen, "empty expression");
	elen = strnlen(expr, CRON_EXPR_MAX);
	if (elen >= CRON_EXPR_MAX)
		return cron_err(errbuf, errlen, "expression too long (at most "
		    "%d bytes)", CRON_EXPR_MAX - 1);
	for (i = 0; i < elen; i++)
		if (((unsigned char)expr[i] < 0x20 && expr[i] != '\t') ||
		    (unsigned char)expr[i] >= 0x7f)
			return cron_err(errbuf, errlen, "invalid character "
			    "(byte 0x%02x) at offset %zu",
			    (unsigned char)expr[i], i);
	p = expr + strspn(expr, " \t");
	if (*p == '@') {
		n = strcspn(p, " \t");
		if (p[n + strspn(p + n, " \t")] != '\0')
			return cron_err(errbuf, errlen, "%.*s: a macro takes "
			    "no fields", (int)(n > CRON_TOKEN_SHOW ?
			    CRON_TOKEN_SHOW : n), p);
		for (i = 0; i < sizeof(cron_macros) / sizeof(cron_macros[0]);
		    i++)
			if (strlen(cron_macros[i].m_name) == n &&
			    str_ncaseeq(p, cron_macros[i].m_name, n))
				return cron_parse(cron_macros[i].m_expr, out,
				    errbuf, errlen);
		return cron_err(errbuf, errlen, "unknown macro '%.*s' (@yearly "
		    "@monthly @weekly @daily @hourly)", (int)(n >
		    CRON_TOKEN_SHOW ? CRON_TOKEN_SHOW : n), p);
	}
	while (*p != '\0') {
		q = p + strcspn(p, " \t");
		if (nf < CRON_NFIELDS) {
			start[nf] = p;
			len[nf] = (size_t)(q - p);
		}
		nf++;
		p = q + strspn(q, " \t");
	}
	if (nf == 0)
		return cron_err(errbuf, errlen, "empty expression");
	if (nf != CRON_NFIELDS)
		return cron_err(errbuf, errlen, "expected 5 fields (minute "
		    "hour day-of-month month day-of-week), got %d", nf);
	for (i = 0; i < CRON_NFIELDS; i++)
		if (cron_field_parse((int)i, start[i], len[i], &bits[i],
		    errbuf, errlen) == -1)
			return -1;
	out->c_minute = bits[CRON_F_MINUTE];
	out->c_hour = (uint32_t)bits[CRON_F_HOUR];
	out->c_mday = (uint32_t)bits[CRON_F_MDAY];
	out->c_month = (uint16_t)bits[CRON_F_MONTH];
	out->c_wday = (uint8_t)bits[CRON_F_WDAY];
	out->c_mday_star = start[CRON_F_MDAY][0] == '*';
	out->c_wday_star = start[CRON_F_WDAY][0] == '*';
	if (cron_possible(out, errbuf, errlen) == -1) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

/* ---- matching in local time ----------------------------------------- */

static int
cron_day_match(const struct cron *c, int64_t days, int d)
{
	int	dom, dow;

	dom = (c->c_mday >> d) & 1;
	dow = (c->c_wday >> cron_weekday(days)) & 1;
	if (!c->c_mday_star && !c->c_wday_star)
		return dom || dow;
	return dom && dow;
}

/*
 * The first matching local minute L with from <= L < limit (civil
 * seconds; from a multiple of 60): 0 and *out, or -1.
 */
static int
cron_local_next(const struct cron *c, int64_t from, int64_t limit,
    int64_t *out)
{
	int64_t	day, y, secs, l;
	int	m, d, h, mi, hh, mm;

	if (from >= limit)
		return -1;
	day = cron_floordiv(from, CRON_DAY);
	secs = from - day * CRON_DAY;
	h = (int)(secs / 3600);
	mi = (int)((secs % 3600) / 60);
	cron_civil_from_days(day, &y, &m, &d);
	for (;;) {
		if (day * CRON_DAY + h * 3600 + mi * 60 >= limit)
			return -1;
		if (!((c->c_month >> m) & 1)) {
			day += cron_mdays(y, m) - d + 1;
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
			h = mi = 0;
			continue;
		}
		hh = -1;
		if (cron_day_match(c, day, d))
			for (hh = h; hh < 24 && !((c->c_hour >> hh) & 1); hh++)
				;
		if (hh < 0 || hh >= 24) {
			day++;
			if (++d > cron_mdays(y, m)) {
				d = 1;
				if (++m > 12) {
					m = 1;
					y++;
				}
			}
			h = mi = 0;
			continue;
		}
		if (hh != h)
			mi = 0;
		for (mm = mi; mm < 60 && !((c->c_minute >> mm) & 1); mm++)
			;
		if (mm >= 60) {
			h = hh + 1;
			mi = 0;
			if (h >= 24) {
				h = 0;
				day++;
				if (++d > cron_mdays(y, m)) {
					d = 1;
					if (++m > 12) {
						m = 1;
						y++;
					}
				}
			}
			continue;
		}
		l = day * CRON_DAY + hh * 3600 + mm * 60;
		if (l >= limit)
			return -1;
		*out = l;
		return 0;
	}
}

/* ---- zones ----------------------------------------------------------- */

static int
cron_tz_name_ok(const char *tz)
{
	size_t	i, n;

	if (tz == NULL || (n = strnlen(tz, CRON_TZ_MAX)) == 0 ||
	    n >= CRON_TZ_MAX || tz[0] == '/' || tz[0] == '-' ||
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
cron_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int64_t
cron_trans(const struct cron_zone *z, uint32_t i)
{
	const uint8_t	*p = z->z_trans + (size_t)i * (size_t)z->z_tsize;
	uint64_t	 v;

	if (z->z_tsize == 4)
		return (int32_t)cron_be32(p);
	v = (uint64_t)cron_be32(p) << 32 | cron_be32(p + 4);
	return (int64_t)v;
}

static int32_t
cron_type_off(const struct cron_zone *z, uint32_t type)
{
	return (int32_t)cron_be32(z->z_types + (size_t)type * 6);
}

/* Up to maxd digits at *pp into *out. */
static int
cron_rule_num(const char **pp, const char *end, int maxd, int *out)
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
cron_rule_name(const char **pp, const char *end)
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
cron_rule_off(const char **pp, const char *end, int maxh, int32_t *out)
{
	const char	*p = *pp;
	int		 sign = 1, h, m = 0, s = 0;

	if (p < end && (*p == '+' || *p == '-'))
		sign = *p++ == '-' ? -1 : 1;
	if (cron_rule_num(&p, end, 3, &h) == -1 || h > maxh)
		return -1;
	if (p < end && *p == ':') {
		p++;
		if (cron_rule_num(&p, end, 2, &m) == -1 || m > 59)
			return -1;
		if (p < end && *p == ':') {
			p++;
			if (cron_rule_num(&p, end, 2, &s) == -1 || s > 59)
				return -1;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	*pp = p;
	return 0;
}

static int
cron_rule_date(const char **pp, const char *end, struct cron_tzdate *d)
{
	const char	*p = *pp;

	memset(d, 0, sizeof(*d));
	if (p < end && *p == 'J') {
		p++;
		d->d_kind = 'J';
		if (cron_rule_num(&p, end, 3, &d->d_n) == -1 || d->d_n < 1 ||
		    d->d_n > 365)
			return -1;
	} else if (p < end && *p == 'M') {
		p++;
		d->d_kind = 'M';
		if (cron_rule_num(&p, end, 2, &d->d_month) == -1 ||
		    d->d_month < 1 || d->d_month > 12 || p >= end ||
		    *p++ != '.' || cron_rule_num(&p, end, 1, &d->d_week) ==
		    -1 || d->d_week < 1 || d->d_week > 5 || p >= end ||
		    *p++ != '.' || cron_rule_num(&p, end, 1, &d->d_wday) ==
		    -1 || d->d_wday > 6)
			return -1;
	} else {
		d->d_kind = 'D';
		if (cron_rule_num(&p, end, 3, &d->d_n) == -1 || d->d_n > 365)
			return -1;
	}
	d->d_time = 2 * 3600;
	if (p < end && *p == '/') {
		p++;
		if (cron_rule_off(&p, end, 167, &d->d_time) == -1)
			return -1;
	}
	*pp = p;
	return 0;
}

/* The TZif footer, a POSIX TZ string (RFC 8536 §3.3). */
static int
cron_rule_parse(struct cron_zone *z, const char *s, size_t len)
{
	const char	*p = s, *end = s + len;
	int32_t		 off;

	z->z_rule = 0;
	if (len == 0)
		return 0;
	if (cron_rule_name(&p, end) == -1 ||
	    cron_rule_off(&p, end, 24, &off) == -1)
		return -1;
	z->z_std = -off;
	if (z->z_std <= -CRON_OFF_MAX || z->z_std >= CRON_OFF_MAX)
		return -1;
	if (p == end) {
		if (z->z_timecnt == 0)
			z->z_off0 = z->z_std;
		return 0;
	}
	if (cron_rule_name(&p, end) == -1)
		return -1;
	z->z_dst = z->z_std + 3600;
	if (p < end && *p != ',') {
		if (cron_rule_off(&p, end, 24, &off) == -1)
			return -1;
		z->z_dst = -off;
	}
	if (p == end) {
		/* POSIX leaves the default rule to the implementation;
		 * glibc and tzcode use the US one. */
		z->z_start = (struct cron_tzdate){ 'M', 0, 3, 2, 0, 7200 };
		z->z_end = (struct cron_tzdate){ 'M', 0, 11, 1, 0, 7200 };
	} else if (*p++ != ',' || cron_rule_date(&p, end, &z->z_start) ==
	    -1 || p >= end || *p++ != ',' ||
	    cron_rule_date(&p, end, &z->z_end) == -1 || p != end)
		return -1;
	if (z->z_dst <= -CRON_OFF_MAX || z->z_dst >= CRON_OFF_MAX)
		return -1;
	z->z_rule = 1;
	return 0;
}

static int
cron_tzif_parse(struct cron_zone *z, size_t size, char *errbuf,
    size_t errlen)
{
	const uint8_t	*b = z->z_buf, *h, *p, *nl;
	uint64_t	 isut, isstd, leap, timecnt, typecnt, charcnt, blen;
	uint64_t	 off = 0, i;
	int		 pass, tsize = 4;

	for (pass = 0; pass < 2; pass++) {
		if (size < off + 44 || memcmp(b + off, "TZif", 4) != 0)
			return cron_err(errbuf, errlen, "not a TZif file");
		h = b + off;
		isut = cron_be32(h + 20);
		isstd = cron_be32(h + 24);
		leap = cron_be32(h + 28);
		timecnt = cron_be32(h + 32);
		typecnt = cron_be32(h + 36);
		charcnt = cron_be32(h + 40);
		blen = timecnt * (uint64_t)tsize + timecnt + typecnt * 6 +
		    charcnt + leap * (uint64_t)(tsize + 4) + isstd + isut;
		if (size - (off + 44) < blen)
			return cron_err(errbuf, errlen, "truncated TZif file");
		if (pass == 1 || h[4] < '2')
			break;
		off += 44 + blen;	/* skip the 32-bit block */
		tsize = 8;
	}
	if (leap != 0)
		return cron_err(errbuf, errlen, "zones with leap seconds are "
		    "not supported");
	if (typecnt < 1 || typecnt > 256 || (isstd != 0 && isstd != typecnt) ||
	    (isut != 0 && isut != typecnt))
		return cron_err(errbuf, errlen, "corrupt TZif file");
	p = b + off + 44;
	z->z_tsize = tsize;
	z->z_timecnt = (uint32_t)timecnt;
	z->z_typecnt = (uint32_t)typecnt;
	z->z_trans = p;
	z->z_idx = p + timecnt * (uint64_t)tsize;
	z->z_types = z->z_idx + timecnt;
	for (i = 0; i < typecnt; i++) {
		int32_t	o = cron_type_off(z, (uint32_t)i);

		if (o <= -CRON_OFF_MAX || o >= CRON_OFF_MAX)
			return cron_err(errbuf, errlen, "corrupt TZif file");
	}
	for (i = 0; i < timecnt; i++)
		if (z->z_idx[i] >= typecnt || (i > 0 &&
		    cron_trans(z, (uint32_t)i) <=
		    cron_trans(z, (uint32_t)i - 1)))
			return cron_err(errbuf, errlen, "corrupt TZif file");
	z->z_off0 = cron_type_off(z, 0);
	if (tsize == 8) {
		p = b + off + 44 + blen;
		if (p < b + size) {
			if (*p != '\n' || (nl = memchr(p + 1, '\n',
			    (size_t)(b + size - p - 1))) == NULL)
				return cron_err(errbuf, errlen, "corrupt TZif "
				    "footer");
			if (cron_rule_parse(z, (const char *)p + 1,
			    (size_t)(nl - p - 1)) == -1)
				return cron_err(errbuf, errlen, "unsupported "
				    "TZ rule '%.*s'", (int)(nl - p - 1 > 64 ?
				    64 : nl - p - 1), (const char *)p + 1);
		}
	}
	return 0;
}

/* Loads zone tz into *z; release with cron_zone_free. */
static int
cron_zone_load(struct cron_zone *z, const char *tz, char *errbuf,
    size_t errlen)
{
	const char	*dir;
	char		 path[4096];
	struct stat	 st;
	ssize_t		 r;
	size_t		 got = 0;
	int		 fd = -1, rc = -1;

	memset(z, 0, sizeof(*z));
	if (!cron_tz_name_ok(tz))
		return cron_err(errbuf, errlen, "invalid time zone name "
		    "'%.*s'", CRON_TZ_MAX, tz != NULL ? tz : "");
	if (strcmp(tz, "UTC") == 0 || strcmp(tz, "Etc/UTC") == 0)
		return 0;	/* built in: no transitions, offset 0 */
	if ((dir = getenv("TZDIR")) == NULL || dir[0] != '/')
		dir = CRON_TZDIR;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, tz) >=
	    sizeof(path))
		return cron_err(errbuf, errlen, "time zone path too long");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			return cron_err(errbuf, errlen, "unknown time zone "
			    "'%s'", tz);
		return cron_err(errbuf, errlen, "time zone '%s': %s: %s", tz,
		    path, strerror(errno));
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		cron_err(errbuf, errlen, "unknown time zone '%s'", tz);
		goto out_close;
	}
	if (st.st_size < 44 || st.st_size > CRON_TZIF_MAX) {
		cron_err(errbuf, errlen, "time zone '%s': not a TZif file", tz);
		goto out_close;
	}
	z->z_buf = xmalloc((size_t)st.st_size);
	while (got < (size_t)st.st_size) {
		r = read(fd, z->z_buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			cron_err(errbuf, errlen, "time zone '%s': short read",
			    tz);
			goto out_close;
		}
		got += (size_t)r;
	}
	if (cron_tzif_parse(z, got, errbuf, errlen) == -1) {
		char	why[128] = "";

		if (errlen > 0)
			str_lcpy(why, errbuf, sizeof(why));
		cron_err(errbuf, errlen, "time zone '%s': %s", tz, why);
		goto out_close;
	}
	rc = 0;
 out_close:
	close(fd);
	if (rc == -1)
		cron_zone_free(z);
	return rc;
}

static void
cron_zone_free(struct cron_zone *z)
{
	free(z->z_buf);
	z->z_buf = NULL;
}

/* The instant of a rule date in year y, its time read with offset off. */
static int64_t
cron_rule_instant(const struct cron_tzdate *d, int64_t y, int32_t off)
{
	int64_t	day;
	int	dd;

	switch (d->d_kind) {
	case 'J':
		day = cron_days_from_civil(y, 1, 1) + d->d_n - 1 +
		    (cron_is_leap(y) && d->d_n >= 60);
		break;
	case 'D':
		day = cron_days_from_civil(y, 1, 1) + d->d_n;
		break;
	default:
		day = cron_days_from_civil(y, d->d_month, 1);
		dd = (d->d_wday - cron_weekday(day) + 7) % 7 +
		    (d->d_week - 1) * 7;
		while (dd >= cron_mdays(y, d->d_month))
			dd -= 7;
		day += dd;
		break;
	}
	return day * CRON_DAY + d->d_time - off;
}

/*
 * The last transition at or before t: 1 with its instant and the offset
 * after it, or 0 if there is none.  Of rule transitions at the same
 * instant, a DST start counts as after a DST end (all-year DST rules).
 */
static int
cron_last_event(const struct cron_zone *z, int64_t t, int64_t *at,
    int32_t *off)
{
	int64_t		 y, ev, best = 0, last;
	uint32_t	 lo, hi, mid;
	int		 m, d, k, found = 0, bestk = 0;

	last = z->z_timecnt > 0 ? cron_trans(z, z->z_timecnt - 1) : INT64_MIN;
	if (z->z_rule && t >= last) {
		cron_civil_from_days(cron_floordiv(t, CRON_DAY), &y, &m, &d);
		for (y -= 1, k = 0; k < 6; k++) {
			ev = k % 2 == 0 ?
			    cron_rule_instant(&z->z_end, y + k / 2, z->z_dst) :
			    cron_rule_instant(&z->z_start, y + k / 2, z->z_std);
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
	if (z->z_timecnt == 0 || cron_trans(z, 0) > t)
		return 0;
	lo = 0;
	hi = z->z_timecnt - 1;
	while (lo < hi) {		/* largest i with trans(i) <= t */
		mid = lo + (hi - lo + 1) / 2;
		if (cron_trans(z, mid) <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	*at = cron_trans(z, lo);
	*off = cron_type_off(z, z->z_idx[lo]);
	return 1;
}

/* The first transition after t, or INT64_MAX. */
static int64_t
cron_next_event(const struct cron_zone *z, int64_t t)
{
	int64_t		 y, ev, best = INT64_MAX, last;
	uint32_t	 lo, hi, mid;
	int		 m, d, k;

	last = z->z_timecnt > 0 ? cron_trans(z, z->z_timecnt - 1) : INT64_MIN;
	if (z->z_timecnt > 0 && t < last) {
		lo = 0;
		hi = z->z_timecnt - 1;
		while (lo < hi) {	/* smallest i with trans(i) > t */
			mid = lo + (hi - lo) / 2;
			if (cron_trans(z, mid) > t)
				hi = mid;
			else
				lo = mid + 1;
		}
		return cron_trans(z, lo);
	}
	if (!z->z_rule)
		return INT64_MAX;
	cron_civil_from_days(cron_floordiv(t, CRON_DAY), &y, &m, &d);
	for (y -= 1, k = 0; k < 8; k++) {
		ev = k % 2 == 0 ?
		    cron_rule_instant(&z->z_end, y + k / 2, z->z_dst) :
		    cron_rule_instant(&z->z_start, y + k / 2, z->z_std);
		if (ev > t && ev > last && ev < best)
			best = ev;
	}
	return best;
}

static int32_t
cron_offset(const struct cron_zone *z, int64_t t)
{
	int64_t	at;
	int32_t	off;

	if (cron_last_event(z, t, &at, &off))
		return off;
	return z->z_off0;
}

static void
cron_segment(const struct cron_zone *z, int64_t t, struct cron_seg *g)
{
	if (cron_last_event(z, t, &g->g_start, &g->g_off))
		g->g_prev = cron_offset(z, g->g_start - 1);
	else {
		g->g_start = INT64_MIN;
		g->g_off = g->g_prev = z->z_off0;
	}
	g->g_end = cron_next_event(z, t);
}

/* ---- the public functions ------------------------------------------- */

int
cron_next(const struct cron *c, const char *tz, time_t after, time_t *next,
    char *errbuf, size_t errlen)
{
	struct cron_zone	 z;
	struct cron_seg		 g;
	int64_t			 cur, tmax, lo, hi, l;
	int			 interval, rc = -1, n;

	if (after < CRON_AFTER_MIN || after > CRON_AFTER_MAX)
		return cron_err(errbuf, errlen, "time %lld is out of range "
		    "(1970..2999)", (long long)after);
	if (cron_zone_load(&z, tz, errbuf, errlen) == -1)
		return -1;
	/* Every hour matches: follow real time across transitions. */
	interval = (c->c_hour & 0xffffffu) == 0xffffffu;
	tmax = (int64_t)after + (int64_t)CRON_SEARCH_YEARS * 366 * CRON_DAY;
	cur = (int64_t)after + 1;
	for (n = 0; n < CRON_MAX_SEGMENTS && cur <= tmax; n++) {
		cron_segment(&z, cur, &g);
		if (!interval && g.g_start != INT64_MIN && g.g_start > after &&
		    g.g_off > g.g_prev &&
		    cron_local_next(c, cron_floordiv(g.g_start + g.g_prev + 59,
		    60) * 60, g.g_start + g.g_off, &l) == 0) {
			*next = (time_t)g.g_start;	/* a fire in the gap */
			rc = 0;
			goto out_free;
		}
		lo = cron_floordiv(cur + g.g_off + 59, 60) * 60;
		if (!interval && g.g_start != INT64_MIN && g.g_prev > g.g_off &&
		    lo < g.g_start + g.g_prev)
			lo = g.g_start + g.g_prev;	/* skip the repeat */
		hi = (g.g_end < tmax ? g.g_end : tmax + 1) + g.g_off;
		if (cron_local_next(c, lo, hi, &l) == 0) {
			*next = (time_t)(l - g.g_off);
			rc = 0;
			goto out_free;
		}
		if (g.g_end == INT64_MAX)
			break;
		cur = g.g_end;
	}
	cron_err(errbuf, errlen, "no fire time within %d years",
	    CRON_SEARCH_YEARS);
 out_free:
	cron_zone_free(&z);
	return rc;
}

int
cron_tz_check(const char *tz, char *errbuf, size_t errlen)
{
	struct cron_zone	z;

	if (cron_zone_load(&z, tz, errbuf, errlen) == -1)
		return -1;
	cron_zone_free(&z);
	return 0;
}

int
cron_tz_valid(const char *tz)
{
	char	err[256];

	return cron_tz_check(tz, err, sizeof(err)) == 0;
}

int
cron_time_parse(const char *s, time_t *out)
{
	static const char	 shape[] = "dddd-dd-ddTdd:dd:dd";
	int64_t			 y, days, t;
	int			 v[6], m, d, i, k, off = 0, sign;

	if (s == NULL || strnlen(s, 64) < sizeof(shape) - 1)
		return -1;
	for (i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' :
		    shape[i] == 'T' ? strchr("Tt ", s[i]) == NULL ||
		    s[i] == '\0' : s[i] != shape[i])
			return -1;
	for (k = 0, i = 0; k < 6; k++) {
		int	w = k == 0 ? 4 : 2;

		v[k] = 0;
		while (w-- > 0)
			v[k] = v[k] * 10 + (s[i++] - '0');
		i++;			/* the separator */
	}
	y = v[0];
	m = v[1];
	d = v[2];
	if (m < 1 || m > 12 || d < 1 || d > cron_mdays(y, m) || v[3] > 23 ||
	    v[4] > 59 || v[5] > 60)
		return -1;
	s += sizeof(shape) - 1;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		sign = *s == '-' ? -1 : 1;
		if (s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' ||
		    s[3] != ':' || s[4] < '0' || s[4] > '9' || s[5] < '0' ||
		    s[5] > '9')
			return -1;
		off = ((s[1] - '0') * 10 + (s[2] - '0')) * 3600 +
		    ((s[4] - '0') * 10 + (s[5] - '0')) * 60;
		if (off >= 24 * 3600 || (s[4] - '0') * 10 + (s[5] - '0') > 59)
			return -1;
		off *= sign;
		s += 6;
	} else
		return -1;
	if (*s != '\0')
		return -1;
	days = cron_days_from_civil(y, m, d);
	t = days * CRON_DAY + v[3] * 3600 + v[4] * 60 + v[5] - off;
	*out = (time_t)t;
	return 0;
}

void
cron_time_format(time_t t, char *buf, size_t size)
{
	int64_t	days = cron_floordiv((int64_t)t, CRON_DAY), secs, y;
	int	m, d;

	secs = (int64_t)t - days * CRON_DAY;
	cron_civil_from_days(days, &y, &m, &d);
	snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y,
	    m, d, (int)(secs / 3600), (int)(secs % 3600 / 60),
	    (int)(secs % 60));
}
