/*
 * search_date.c — date parameters: a query date becomes the range
 * [ps, pe) of its precision, computed here on lib/civil day numbers; a
 * stored date is checked by shape and day arithmetic in the SQL (so a
 * malformed one such as "1990-02-30" does not match instead of aborting
 * the export) and becomes its own range [rs, re); the prefixes (eq ne gt
 * lt ge le sa eb) compare the two ranges as FHIR R4 search.html#prefix
 * says.  A Period is [start, end + its precision); _lastUpdated compares
 * the last_updated column as a point, so its index works.  Values
 * without a zone are UTC; the SQL never depends on the session TimeZone.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulk/search.h"
#include "bulk/search_int.h"
#include "lib/buf.h"
#include "lib/civil.h"
#include "lib/xmalloc.h"

enum prefix {
	PFX_EQ, PFX_NE, PFX_GT, PFX_LT, PFX_GE, PFX_LE, PFX_SA, PFX_EB
};

static const char *const prefixes[] = {
	[PFX_EQ] = "eq", [PFX_NE] = "ne", [PFX_GT] = "gt", [PFX_LT] = "lt",
	[PFX_GE] = "ge", [PFX_LE] = "le", [PFX_SA] = "sa", [PFX_EB] = "eb",
};

/*
 * Prefix semantics.  The target is [%S, %E) (a point: %S alone), the
 * query value's range is [%a, %b).  Range rules per R4 search.html#prefix:
 * eq: the value's range contains the target; gt: the target reaches past
 * the value's end; ge: gt or eq; sa: starts at or after the end; eb: ends
 * at or before the start.
 */
static const char *const range_tmpl[] = {
	[PFX_EQ] = "(%S >= %a AND %E <= %b)",
	[PFX_NE] = "NOT (%S >= %a AND %E <= %b)",
	[PFX_GT] = "%E > %b",
	[PFX_LT] = "%S < %a",
	[PFX_GE] = "(%E > %b OR %S >= %a)",
	[PFX_LE] = "(%S < %a OR %E <= %b)",
	[PFX_SA] = "%S >= %b",
	[PFX_EB] = "%E <= %a",
};
static const char *const point_tmpl[] = {
	[PFX_EQ] = "(%S >= %a AND %S < %b)",
	[PFX_NE] = "(%S < %a OR %S >= %b)",
	[PFX_GT] = "%S >= %b",
	[PFX_LT] = "%S < %a",
	[PFX_GE] = "%S >= %a",
	[PFX_LE] = "%S < %b",
	[PFX_SA] = "%S >= %b",
	[PFX_EB] = "%S < %a",
};

/*
 * Stored date shapes (PostgreSQL ARE syntax): YYYY, YYYY-MM, YYYY-MM-DD,
 * then an optional time and zone.  The day is checked against its month
 * and year by arithmetic in emit_shape(): a leap-year regular expression
 * costs three times as much per row.
 */
#define RE_STORED						\
	"^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01])"		\
	"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,9})?)?"	\
	"(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?)?)?)?$"
#define RE_ZONE		"(Z|[+-][0-9]{2}:[0-9]{2})$"

#define US_SEC	INT64_C(1000000)
#define US_DAY	(86400 * US_SEC)

static int	 digits(const char *, size_t, size_t, unsigned *);
static int	 parse_date(const char *, size_t, int64_t *, int64_t *);
static void	 fmt_instant(int64_t, char *, size_t);
static void	 emit_shape(struct sc *, const char *);
static void	 emit_stored_start(struct sc *, const char *, const char *,
		    int);
static void	 emit_stored_end(struct sc *, const char *, const char *,
		    int);
static void	 emit_range_from(struct sc *, const struct search_how *);
static void	 emit_tmpl(struct sc *, const char *, const char *,
		    const char *, int, int);

/* Reads exactly 'w' decimal digits at s[0..) (n bytes available). */
static int
digits(const char *s, size_t n, size_t w, unsigned *v)
{
	size_t	i;

	if (n < w)
		return -1;
	*v = 0;
	for (i = 0; i < w; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return 0;
}

/*
 * Parses a FHIR search date (no prefix): YYYY, YYYY-MM, YYYY-MM-DD,
 * YYYY-MM-DDThh:mm[:ss[.f{1,6}]] and an optional Z or +-hh:mm after a
 * time (a space stands for '+', as an unencoded '+' arrives decoded).
 * No zone means UTC.  Sets [*lo, *hi) in microseconds since the epoch to
 * the range the value's precision denotes.  Returns 0 or -1.
 */
static int
parse_date(const char *s, size_t n, int64_t *lo, int64_t *hi)
{
	unsigned	y, mo = 1, d = 1, hh = 0, mi = 0, ss = 0, f = 0;
	unsigned	th, tm, dim, fd;
	int64_t		base, span, off = 0;
	size_t		i = 0, k;

	if (digits(s, n, 4, &y) == -1 || y == 0)
		return -1;
	i = 4;
	if (i == n) {
		*lo = civil_days_from(y, 1, 1) * US_DAY;
		*hi = civil_days_from((int64_t)y + 1, 1, 1) * US_DAY;
		return 0;
	}
	if (s[i] != '-' || digits(s + i + 1, n - i - 1, 2, &mo) == -1 ||
	    mo < 1 || mo > 12)
		return -1;
	i += 3;
	if (i == n) {
		*lo = civil_days_from(y, mo, 1) * US_DAY;
		*hi = (mo == 12 ? civil_days_from((int64_t)y + 1, 1, 1) :
		    civil_days_from(y, mo + 1, 1)) * US_DAY;
		return 0;
	}
	dim = civil_mdays(y, mo);
	if (s[i] != '-' || digits(s + i + 1, n - i - 1, 2, &d) == -1 ||
	    d < 1 || d > dim)
		return -1;
	i += 3;
	base = civil_days_from(y, mo, d) * US_DAY;
	if (i == n) {
		*lo = base;
		*hi = base + US_DAY;
		return 0;
	}
	if (s[i] != 'T' || digits(s + i + 1, n - i - 1, 2, &hh) == -1 ||
	    hh > 23 || i + 3 >= n || s[i + 3] != ':' ||
	    digits(s + i + 4, n - i - 4, 2, &mi) == -1 || mi > 59)
		return -1;
	i += 6;
	span = 60 * US_SEC;
	if (i < n && s[i] == ':') {
		if (digits(s + i + 1, n - i - 1, 2, &ss) == -1 || ss > 59)
			return -1;
		i += 3;
		span = US_SEC;
		if (i < n && s[i] == '.') {
			k = i + 1;
			while (k < n && s[k] >= '0' && s[k] <= '9')
				k++;
			fd = (unsigned)(k - i - 1);
			if (fd < 1 || fd > 6 ||
			    digits(s + i + 1, fd, fd, &f) == -1)
				return -1;
			i += 1 + fd;
			for (; fd > 0; fd--)
				span /= 10;
			f *= (unsigned)span;
		}
	}
	if (i < n) {
		if (s[i] == 'Z')
			i++;
		else if (s[i] == '+' || s[i] == '-' || s[i] == ' ') {
			if (digits(s + i + 1, n - i - 1, 2, &th) == -1 ||
			    i + 3 >= n || s[i + 3] != ':' ||
			    digits(s + i + 4, n - i - 4, 2, &tm) == -1 ||
			    tm > 59 || th > 14 || (th == 14 && tm != 0))
				return -1;
			off = ((int64_t)th * 3600 + tm * 60) * US_SEC;
			if (s[i] == '-')
				off = -off;
			i += 6;
		} else
			return -1;
	}
	if (i != n)
		return -1;
	*lo = base + ((int64_t)hh * 3600 + mi * 60 + ss) * US_SEC + f - off;
	*hi = *lo + span;
	return 0;
}

/* Formats an instant for a timestamptz parameter; outside years
 * 0001..9999 it is -infinity or infinity, which compare the same way for
 * every stored value. */
static void
fmt_instant(int64_t us, char *dst, size_t size)
{
	int64_t		days, rem, y;
	unsigned	m, d;

	if (us < civil_days_from(1, 1, 1) * US_DAY) {
		snprintf(dst, size, "-infinity");
		return;
	}
	if (us >= civil_days_from(10000, 1, 1) * US_DAY) {
		snprintf(dst, size, "infinity");
		return;
	}
	days = civil_floordiv(us, US_DAY);
	rem = us - days * US_DAY;
	civil_from_days(days, &y, &m, &d);
	snprintf(dst, size, "%04d-%02u-%02uT%02d:%02d:%02d", (int)y, m, d,
	    (int)(rem / (3600 * US_SEC)), (int)(rem / (60 * US_SEC) % 60),
	    (int)(rem / US_SEC % 60));
	if (rem % US_SEC != 0)
		snprintf(dst + strlen(dst), size - strlen(dst), ".%06d",
		    (int)(rem % US_SEC));
	snprintf(dst + strlen(dst), size - strlen(dst), "Z");
}

/*
 * The shape of a stored date text x: 1 year, 2 year-month, 3 date,
 * 4 date and time without zone, 5 date and time with zone; NULL when x
 * is NULL or malformed (including year 0000 and days past the end of
 * their month).  The casts in emit_stored_* run only on these shapes,
 * which are all valid input for them, so a bad stored value does not
 * match instead of aborting the export.
 */
static void
emit_shape(struct sc *c, const char *x)
{
	search_sql_addf(c,
	    "CASE WHEN %s IS NULL OR %s !~ '" RE_STORED "' OR left(%s, 4)"
	    " = '0000' THEN NULL WHEN length(%s) = 4 THEN 1 WHEN length(%s) = 7"
	    " THEN 2", x, x, x, x, x);
	search_sql_addf(c,
	    " WHEN substr(%s, 9, 2) > CASE substr(%s, 6, 2) WHEN '02' THEN"
	    " CASE WHEN left(%s, 4)::int %% 4 = 0 AND (left(%s, 4)::int %% 100"
	    " <> 0 OR left(%s, 4)::int %% 400 = 0) THEN '29' ELSE '28' END",
	    x, x, x, x, x);
	search_sql_add(c,
	    " WHEN '04' THEN '30' WHEN '06' THEN '30' WHEN '09' THEN '30'"
	    " WHEN '11' THEN '30' ELSE '31' END THEN NULL");
	search_sql_addf(c,
	    " WHEN length(%s) = 10 THEN 3 WHEN %s ~ '" RE_ZONE "' THEN 5"
	    " ELSE 4 END", x, x);
}

/*
 * The start of the range a stored date text x of shape k denotes, as
 * timestamptz; NULL when malformed.  With 'open', an absent x (a Period
 * without start) is -infinity.
 */
static void
emit_stored_start(struct sc *c, const char *x, const char *k, int open)
{
	search_sql_add(c, "CASE");
	if (open)
		search_sql_addf(c,
		    " WHEN %s IS NULL THEN '-infinity'::timestamptz", x);
	search_sql_addf(c,
	    " WHEN %s = 1 THEN (%s || '-01-01')::timestamp AT TIME ZONE"
	    " 'UTC'", k, x);
	search_sql_addf(c,
	    " WHEN %s = 2 THEN (%s || '-01')::timestamp AT TIME ZONE"
	    " 'UTC'", k, x);
	search_sql_addf(c,
	    " WHEN %s IN (3, 4) THEN %s::timestamp AT TIME ZONE 'UTC'",
	    k, x);
	search_sql_addf(c, " WHEN %s = 5 THEN %s::timestamptz END", k, x);
}

/* The end (exclusive) of that range: the start plus the precision, and
 * one microsecond for a date and time.  With 'open', an absent x (a
 * Period without end) is infinity. */
static void
emit_stored_end(struct sc *c, const char *x, const char *k, int open)
{
	search_sql_add(c, "CASE");
	if (open)
		search_sql_addf(c,
		    " WHEN %s IS NULL THEN 'infinity'::timestamptz", x);
	search_sql_addf(c,
	    " WHEN %s = 1 THEN ((%s || '-01-01')::timestamp + interval"
	    " '1 year') AT TIME ZONE 'UTC'", k, x);
	search_sql_addf(c,
	    " WHEN %s = 2 THEN ((%s || '-01')::timestamp + interval"
	    " '1 month') AT TIME ZONE 'UTC'", k, x);
	search_sql_addf(c,
	    " WHEN %s = 3 THEN (%s::timestamp + interval '1 day') AT TIME"
	    " ZONE 'UTC'", k, x);
	search_sql_addf(c,
	    " WHEN %s = 4 THEN (%s::timestamp + interval '1 microsecond')"
	    " AT TIME ZONE 'UTC'", k, x);
	search_sql_addf(c,
	    " WHEN %s = 5 THEN %s::timestamptz + interval '1 microsecond'"
	    " END", k, x);
}

/*
 * The FROM items that give, per element value, its range as r.rs and
 * r.re.  "OFFSET 0" keeps the planner from flattening the sub-selects,
 * which would paste the shape expression (and its regular expression)
 * into every reference to it: measured 7x slower.
 */
static void
emit_range_from(struct sc *c, const struct search_how *h)
{
	int	period = h->h_kind == HOW_PERIOD;

	search_sql_add(c, "jsonb_path_query(content::jsonb, '");
	search_path_jsonpath(c, h->h_path);
	search_sql_add(c,
	    period ? " ? (@.type() == \"object\")') AS e(j), LATERAL"
	    " (SELECT " : " ? (@.type() == \"string\")') AS e(j), LATERAL"
	    " (SELECT ");
	emit_stored_start(c, "k.sv", "k.ks", period);
	search_sql_add(c, " AS rs, ");
	emit_stored_end(c, period ? "k.ev" : "k.sv", period ? "k.ke" : "k.ks",
	    period);
	search_sql_add(c, " AS re FROM (SELECT s.*, ");
	emit_shape(c, "s.sv");
	search_sql_add(c, " AS ks");
	if (period) {
		search_sql_add(c, ", ");
		emit_shape(c, "s.ev");
		search_sql_add(c, " AS ke");
	}
	search_sql_add(c,
	    period ? " FROM (SELECT e.j ->> 'start' AS sv, e.j ->> 'end'"
	    " AS ev) AS s OFFSET 0) AS k OFFSET 0) AS r" : " FROM (SELECT"
	    " e.j #>> '{}' AS sv) AS s OFFSET 0) AS k OFFSET 0) AS r");
}

/* Expands a prefix template: %S and %E become the target's start and
 * end, %a and %b the parameters $a and $b. */
static void
emit_tmpl(struct sc *c, const char *tmpl, const char *s, const char *e,
    int a, int b)
{
	const char	*p;

	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			if (buf_putc(&c->c_out->ss_where, *p) == -1)
				c->c_full = 1;
			continue;
		}
		switch (*++p) {
		case 'S':
			search_sql_add(c, s);
			break;
		case 'E':
			search_sql_add(c, e);
			break;
		case 'a':
			search_sql_addf(c, "$%d::timestamptz", a);
			break;
		case 'b':
			search_sql_addf(c, "$%d::timestamptz", b);
			break;
		default:
			abort();
		}
	}
}

int
search_compile_date(struct sc *c, struct term *t)
{
	const struct search_how	*h = t->t_param->sp_how;
	const char		*name = t->t_param->sp_name;
	const char *const	*tmpls;
	const char		*p, *tmpl;
	struct buf		 pb;
	char			*v = NULL, tmp[SHOW_MAX + 8], ts[40];
	int64_t			 lo, hi;
	size_t			 i, k, n;
	int			 pfx, a, b, rc = -1;

	buf_init(&pb, SEARCH_MAX_PARAM_LEN);
	tmpls = h->h_kind == HOW_UPDATED ? point_tmpl : range_tmpl;
	/* Parse every value before emitting anything. */
	for (i = 0; i < t->t_nvals; i++) {
		free(v);
		v = search_unescape(t->t_vals[i].v_p, t->t_vals[i].v_n);
		n = strlen(v);
		p = v;
		if (n >= 2 && v[0] >= 'a' && v[0] <= 'z' && v[1] >= 'a' &&
		    v[1] <= 'z') {
			if (strncmp(v, "ap", 2) == 0) {
				search_fail(c,
				    "%s: prefix 'ap' (approximately) is"
				    " not supported", name);
				goto out;
			}
			for (k = 0; k < NELEM(prefixes); k++)
				if (strncmp(v, prefixes[k], 2) == 0)
					break;
			if (k == NELEM(prefixes)) {
				search_fail(c,
				    "%s: unknown prefix '%.2s' in '%s'",
				    name, v, search_show(tmp, sizeof(tmp), v,
				    n));
				goto out;
			}
			p += 2;
		}
		if (parse_date(p, strlen(p), &lo, &hi) == -1) {
			search_fail(c, "%s: '%s' is not a date", name,
			    search_show(tmp, sizeof(tmp), v, n));
			goto out;
		}
	}

	if (h->h_kind != HOW_UPDATED) {
		search_sql_add(c, "EXISTS (SELECT 1 FROM ");
		emit_range_from(c, h);
		search_sql_add(c,
		    " WHERE r.rs IS NOT NULL AND r.re IS NOT NULL AND ");
	}
	if (t->t_nvals > 1)
		search_sql_add(c, "(");
	for (i = 0; i < t->t_nvals; i++) {
		free(v);
		v = search_unescape(t->t_vals[i].v_p, t->t_vals[i].v_n);
		pfx = PFX_EQ;
		p = v;
		for (k = 0; k < NELEM(prefixes); k++)
			if (strncmp(v, prefixes[k], 2) == 0) {
				pfx = (int)k;
				p += 2;
				break;
			}
		(void)parse_date(p, strlen(p), &lo, &hi);
		tmpl = tmpls[pfx];
		a = b = 0;
		if (strstr(tmpl, "%a") != NULL) {
			fmt_instant(lo, ts, sizeof(ts));
			if (buf_puts(&pb, ts) == -1 ||
			    (a = search_bind(c, &pb)) == -1)
				goto out;
		}
		if (strstr(tmpl, "%b") != NULL) {
			fmt_instant(hi, ts, sizeof(ts));
			if (buf_puts(&pb, ts) == -1 ||
			    (b = search_bind(c, &pb)) == -1)
				goto out;
		}
		if (i > 0)
			search_sql_add(c, " OR ");
		if (h->h_kind == HOW_UPDATED)
			emit_tmpl(c, tmpl, "last_updated", "last_updated", a,
			    b);
		else
			emit_tmpl(c, tmpl, "r.rs", "r.re", a, b);
	}
	if (t->t_nvals > 1)
		search_sql_add(c, ")");
	if (h->h_kind != HOW_UPDATED)
		search_sql_add(c, ")");
	rc = 0;
 out:
	free(v);
	buf_free(&pb);
	return rc;
}
