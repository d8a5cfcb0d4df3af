/*
 * cron_text.c — cron expressions in words (see cron_text.h).
 *
 * The parsed bit sets are read field by field: the time of day (minute
 * and hour), then the days (day of month, weekday, with cron's either-or
 * rule when both are restricted), then the months.  Lists collapse runs
 * of three or more into "a to b"; a field that is a step from its first
 * value ("*" + "/15") reads "every 15 minutes".
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jobs/cron.h"
#include "jobs/cron_text.h"

#define CRON_TEXT_TIMES	8	/* list at most this many times of day */

/* The output under construction: bounded, truncation remembered. */
struct ct {
	char	*ct_out;
	size_t	 ct_len;
	size_t	 ct_used;
	int	 ct_over;
};

static const char *const cron_text_wdays[7] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday",
};
static const char *const cron_text_months[13] = {
	"", "January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December",
};

static void	 ct_printf(struct ct *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	 ct_has(uint64_t, int);
static int	 ct_count(uint64_t, int, int);
static int	 ct_full(uint64_t, int, int);
static int	 ct_step(uint64_t, int, int, int *);
static void	 ct_list(struct ct *, uint64_t, int, int,
		    const char *const *);

static void
ct_printf(struct ct *t, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (t->ct_over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->ct_out + t->ct_used, t->ct_len - t->ct_used, fmt,
	    ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->ct_len - t->ct_used) {
		t->ct_over = 1;
		t->ct_used = t->ct_len - 1;
		return;
	}
	t->ct_used += (size_t)n;
}

static int
ct_has(uint64_t bits, int v)
{
	return (bits >> v) & 1;
}

static int
ct_count(uint64_t bits, int lo, int hi)
{
	int	v, n = 0;

	for (v = lo; v <= hi; v++)
		n += ct_has(bits, v);
	return n;
}

static int
ct_full(uint64_t bits, int lo, int hi)
{
	return ct_count(bits, lo, hi) == hi - lo + 1;
}

/* True if bits are lo, lo+k, lo+2k ... up to hi (k >= 2): sets *k. */
static int
ct_step(uint64_t bits, int lo, int hi, int *k)
{
	int	v, first = -1, second = -1;

	for (v = lo; v <= hi; v++) {
		if (!ct_has(bits, v))
			continue;
		if (first < 0)
			first = v;
		else if (second < 0)
			second = v;
	}
	if (first != lo || second < 0 || second - first < 2)
		return 0;
	*k = second - first;
	for (v = lo; v <= hi; v++)
		if (ct_has(bits, v) != ((v - lo) % *k == 0))
			return 0;
	return 1;
}

/* "a, b and c", runs of 3+ as "a to c"; names[v] or the number. */
static void
ct_list(struct ct *t, uint64_t bits, int lo, int hi,
    const char *const *names)
{
	int	v, end, items = 0, i;
	int	start[64], stop[64];

	for (v = lo; v <= hi; v = end + 1) {
		end = v;
		if (!ct_has(bits, v))
			continue;
		while (end + 1 <= hi && ct_has(bits, end + 1))
			end++;
		if (end - v >= 2) {
			start[items] = v;
			stop[items++] = end;
		} else
			for (i = v; i <= end; i++) {
				start[items] = i;
				stop[items++] = i;
			}
	}
	for (i = 0; i < items; i++) {
		if (i > 0)
			ct_printf(t, "%s", i == items - 1 ? " and " : ", ");
		if (names != NULL)
			ct_printf(t, "%s", names[start[i]]);
		else
			ct_printf(t, "%d", start[i]);
		if (stop[i] != start[i]) {
			if (names != NULL)
				ct_printf(t, " to %s", names[stop[i]]);
			else
				ct_printf(t, " to %d", stop[i]);
		}
	}
}

int
cron_text(const struct cron *c, const char *tz, char *out, size_t len)
{
	struct ct	 t = { out, len, 0, 0 };
	uint64_t	 wday = c->c_wday & 0x7f;
	int		 allmin, allhour, nmin, nhour, k, fixed, h, m, n;
	int		 mday_r, wday_r, month_r, either;

	if (len == 0)
		return -1;
	out[0] = '\0';
	allmin = ct_full(c->c_minute, 0, 59);
	allhour = ct_full(c->c_hour, 0, 23);
	nmin = ct_count(c->c_minute, 0, 59);
	nhour = ct_count(c->c_hour, 0, 23);
	mday_r = !ct_full(c->c_mday, 1, 31);
	wday_r = !ct_full(wday, 0, 6);
	month_r = !ct_full(c->c_month, 1, 12);
	/* Vixie cron: both restricted and neither a '*' field: either. */
	either = mday_r && wday_r && !c->c_mday_star && !c->c_wday_star;
	fixed = !allhour && !allmin;

	/* Every day at a fixed time: say so first, as people do. */
	if (fixed && !mday_r && !wday_r && ct_step(c->c_hour, 0, 23, &k) == 0)
		ct_printf(&t, "every day ");
	if (allmin && allhour)
		ct_printf(&t, "every minute");
	else if (allhour && ct_step(c->c_minute, 0, 59, &k))
		ct_printf(&t, "every %d minutes", k);
	else if (allhour && nmin == 1) {
		for (m = 0; !ct_has(c->c_minute, m); m++)
			;
		ct_printf(&t, m == 0 ? "every hour" : "every hour at "
		    "minute %d", m);
	} else if (allhour) {
		ct_printf(&t, "every hour at minutes ");
		ct_list(&t, c->c_minute, 0, 59, NULL);
	} else if (allmin) {
		ct_printf(&t, "every minute during hour%s ", nhour > 1 ?
		    "s" : "");
		ct_list(&t, c->c_hour, 0, 23, NULL);
	} else if (nmin == 1 && ct_step(c->c_hour, 0, 23, &k)) {
		for (m = 0; !ct_has(c->c_minute, m); m++)
			;
		ct_printf(&t, "every %d hours", k);
		if (m != 0)
			ct_printf(&t, " at minute %d", m);
	} else if (nmin * nhour <= CRON_TEXT_TIMES) {
		ct_printf(&t, "at ");
		n = 0;
		for (h = 0; h < 24; h++)
			for (m = 0; m < 60; m++) {
				if (!ct_has(c->c_hour, h) ||
				    !ct_has(c->c_minute, m))
					continue;
				if (n > 0)
					ct_printf(&t, "%s", n == nmin * nhour -
					    1 ? " and " : ", ");
				ct_printf(&t, "%02d:%02d", h, m);
				n++;
			}
	} else {
		ct_printf(&t, "at minute%s ", nmin > 1 ? "s" : "");
		ct_list(&t, c->c_minute, 0, 59, NULL);
		ct_printf(&t, " of hour%s ", nhour > 1 ? "s" : "");
		ct_list(&t, c->c_hour, 0, 23, NULL);
	}
	if (mday_r) {
		ct_printf(&t, " on day%s ", ct_count(c->c_mday, 1, 31) > 1 ?
		    "s" : "");
		ct_list(&t, c->c_mday, 1, 31, NULL);
		ct_printf(&t, " of the month");
	}
	if (wday_r) {
		ct_printf(&t, "%s", !mday_r ? " on " : either ? " or on " :
		    " if it is ");
		if (wday == 0x3e)
			ct_printf(&t, "weekdays");
		else if (wday == 0x41)
			ct_printf(&t, "weekends");
		else
			ct_list(&t, wday, 0, 6, cron_text_wdays);
	}
	if (month_r) {
		ct_printf(&t, " in ");
		ct_list(&t, c->c_month, 1, 12, cron_text_months);
	}
	/* A time of day is local to the zone; an interval is not. */
	if (tz != NULL && tz[0] != '\0' && !allhour)
		ct_printf(&t, " %s", tz);
	return t.ct_over ? -1 : 0;
}
