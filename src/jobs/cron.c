/*
 * cron.c — cron expressions: parsing, matching in local time, and the
 * next fire time across a zone's offset changes (zones: lib/tzfile).
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
 * The segments come from lib/tzfile (TZif files, RFC 8536, and their
 * POSIX TZ footer rule), loaded once per call; nothing is cached, so
 * nothing needs a lock.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jobs/cron.h"
#include "lib/civil.h"
#include "lib/str.h"
#include "lib/tzfile.h"

_Static_assert(sizeof(time_t) >= 8, "cron needs a 64-bit time_t");
_Static_assert(CRON_TZ_MAX == TZFILE_NAME_MAX,
    "cron.h promises tzfile's bound");

#define CRON_TOKEN_SHOW		32	/* bytes of a bad token quoted */
#define CRON_DAY		86400
#define CRON_AFTER_MIN		((time_t)0)		/* 1970-01-01 */
#define CRON_AFTER_MAX		((time_t)32503680000LL)	/* 3000-01-01 */
#define CRON_MAX_SEGMENTS	100000	/* cron_next loop guard */

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

static void	cron_civil_from_days(int64_t, int64_t *, int *, int *);
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

/* ---- calendar (lib/civil) ------------------------------------------ */

static void
cron_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	unsigned	um, ud;

	civil_from_days(z, y, &um, &ud);
	*m = (int)um;
	*d = (int)ud;
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
	int		 lo = 0, hi = 0, step = 1, v, span, show;

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
			if ((int)civil_mdays(2000, (unsigned)m) > maxd)
				maxd = (int)civil_mdays(2000, (unsigned)m);
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
	dow = (c->c_wday >> civil_weekday(days)) & 1;
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
	day = civil_floordiv(from, CRON_DAY);
	secs = from - day * CRON_DAY;
	h = (int)(secs / 3600);
	mi = (int)((secs % 3600) / 60);
	cron_civil_from_days(day, &y, &m, &d);
	for (;;) {
		if (day * CRON_DAY + h * 3600 + mi * 60 >= limit)
			return -1;
		if (!((c->c_month >> m) & 1)) {
			day += (int)civil_mdays(y, (unsigned)m) - d + 1;
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
			if (++d > (int)civil_mdays(y, (unsigned)m)) {
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
				if (++d > (int)civil_mdays(y, (unsigned)m)) {
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

/* ---- the public functions ------------------------------------------- */

int
cron_next(const struct cron *c, const char *tz, time_t after, time_t *next,
    char *errbuf, size_t errlen)
{
	struct tzfile	z;
	int		rc;

	if (tzfile_load(&z, tz, errbuf, errlen) == -1)
		return -1;
	rc = cron_next_zone(c, &z, after, next, errbuf, errlen);
	tzfile_free(&z);
	return rc;
}

int
cron_next_zone(const struct cron *c, const struct tzfile *z, time_t after,
    time_t *next, char *errbuf, size_t errlen)
{
	struct tzfile_seg	 g;
	int64_t			 cur, tmax, lo, hi, l;
	int			 interval, n;

	if (after < CRON_AFTER_MIN || after > CRON_AFTER_MAX)
		return cron_err(errbuf, errlen, "time %lld is out of range "
		    "(1970..2999)", (long long)after);
	/* Every hour matches: follow real time across transitions. */
	interval = (c->c_hour & 0xffffffu) == 0xffffffu;
	tmax = (int64_t)after + (int64_t)CRON_SEARCH_YEARS * 366 * CRON_DAY;
	cur = (int64_t)after + 1;
	for (n = 0; n < CRON_MAX_SEGMENTS && cur <= tmax; n++) {
		tzfile_segment(z, cur, &g);
		if (!interval && g.g_start != INT64_MIN && g.g_start > after &&
		    g.g_off > g.g_prev &&
		    cron_local_next(c, civil_floordiv(g.g_start + g.g_prev + 59,
		    60) * 60, g.g_start + g.g_off, &l) == 0) {
			*next = (time_t)g.g_start;	/* a fire in the gap */
			return 0;
		}
		lo = civil_floordiv(cur + g.g_off + 59, 60) * 60;
		if (!interval && g.g_start != INT64_MIN && g.g_prev > g.g_off &&
		    lo < g.g_start + g.g_prev)
			lo = g.g_start + g.g_prev;	/* skip the repeat */
		hi = (g.g_end < tmax ? g.g_end : tmax + 1) + g.g_off;
		if (cron_local_next(c, lo, hi, &l) == 0) {
			*next = (time_t)(l - g.g_off);
			return 0;
		}
		if (g.g_end == INT64_MAX)
			break;
		cur = g.g_end;
	}
	return cron_err(errbuf, errlen, "no fire time within %d years",
	    CRON_SEARCH_YEARS);
}

int
cron_tz_check(const char *tz, char *errbuf, size_t errlen)
{
	struct tzfile	z;

	if (tzfile_load(&z, tz, errbuf, errlen) == -1)
		return -1;
	tzfile_free(&z);
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
	if (m < 1 || m > 12 || d < 1 ||
	    d > (int)civil_mdays(y, (unsigned)m) || v[3] > 23 ||
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
	days = civil_days_from(y, (unsigned)m, (unsigned)d);
	t = days * CRON_DAY + v[3] * 3600 + v[4] * 60 + v[5] - off;
	*out = (time_t)t;
	return 0;
}

void
cron_time_format(time_t t, char *buf, size_t size)
{
	int64_t	days = civil_floordiv((int64_t)t, CRON_DAY), secs, y;
	int	m, d;

	secs = (int64_t)t - days * CRON_DAY;
	cron_civil_from_days(days, &y, &m, &d);
	snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y,
	    m, d, (int)(secs / 3600), (int)(secs % 3600 / 60),
	    (int)(secs % 60));
}
