/*
 * test_cron.c — cron expressions (jobs/cron.c): parse errors, next fire
 * times, daylight-saving transitions, zone names, RFC 3339 instants, and
 * a brute-force cross-check against libc's localtime_r.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jobs/cron.h"
#include "lib/tzfile.h"
#include "check.h"

static time_t	at(const char *);
static int	parse_fails(const char *, const char *);
static int	next_is(const char *, const char *, const char *,
		    const char *);
static void	test_parse_errors(void);
static void	test_parse_ok(void);
static void	test_next_utc(void);
static void	test_next_dst(void);
static void	test_zones(void);
static void	test_time(void);
static void	test_slim_zone(void);
static int	naive_match(const struct cron *, const struct tm *);
static void	test_brute(const char *, unsigned);

static time_t
at(const char *s)
{
	time_t	t = 0;

	if (cron_time_parse(s, &t) == -1) {
		fprintf(stderr, "bad test instant %s\n", s);
		exit(2);
	}
	return t;
}

/* True if expr is rejected with an error containing want. */
static int
parse_fails(const char *expr, const char *want)
{
	struct cron	c;
	char		err[256] = "";

	if (cron_parse(expr, &c, err, sizeof(err)) == 0) {
		fprintf(stderr, "  '%s' parsed, expected \"%s\"\n", expr, want);
		return 0;
	}
	if (strstr(err, want) == NULL) {
		fprintf(stderr, "  '%s': \"%s\", expected \"%s\"\n", expr, err,
		    want);
		return 0;
	}
	return 1;
}

/* True if the first fire of expr in tz after 'after' is 'want'. */
static int
next_is(const char *expr, const char *tz, const char *after,
    const char *want)
{
	struct cron	c;
	struct tzfile	z;
	char		err[256] = "", got[CRON_TIME_MAX];
	time_t		t, tz_t;
	int		same;

	if (cron_parse(expr, &c, err, sizeof(err)) == -1) {
		fprintf(stderr, "  '%s': %s\n", expr, err);
		return 0;
	}
	if (cron_next(&c, tz, at(after), &t, err, sizeof(err)) == -1) {
		fprintf(stderr, "  '%s' %s after %s: %s\n", expr, tz, after,
		    err);
		return 0;
	}
	/* The preloaded-zone form (the calendar's) answers the same. */
	if (tzfile_load(&z, tz, err, sizeof(err)) == -1)
		return 0;
	same = cron_next_zone(&c, &z, at(after), &tz_t, err,
	    sizeof(err)) == 0 && tz_t == t;
	tzfile_free(&z);
	if (!same) {
		fprintf(stderr, "  '%s' %s after %s: cron_next_zone differs\n",
		    expr, tz, after);
		return 0;
	}
	cron_time_format(t, got, sizeof(got));
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "  '%s' %s after %s: got %s, want %s\n", expr,
		    tz, after, got, want);
		return 0;
	}
	return 1;
}

static void
test_parse_errors(void)
{
	CHECK(parse_fails("60 * * * *", "minute: 60 is out of range 0-59"));
	CHECK(parse_fails("* 24 * * *", "hour: 24 is out of range 0-23"));
	CHECK(parse_fails("* * 32 * *",
	    "day-of-month: 32 is out of range 1-31"));
	CHECK(parse_fails("* * 0 * *",
	    "day-of-month: 0 is out of range 1-31"));
	CHECK(parse_fails("* * * 13 *", "month: 13 is out of range 1-12"));
	CHECK(parse_fails("* * * 0 *", "month: 0 is out of range 1-12"));
	CHECK(parse_fails("* * * * 8",
	    "day-of-week: 8 is out of range 0-7"));
	CHECK(parse_fails("99999 * * * *", "minute: 99999 is out of range"));
	CHECK(parse_fails("*/0 * * * *", "minute: step 0 is out of range"));
	CHECK(parse_fails("*/61 * * * *", "minute: step 61 is out of range"));
	CHECK(parse_fails("* */25 * * *", "hour: step 25 is out of range"));
	CHECK(parse_fails("*/x * * * *", "minute: bad step 'x'"));
	CHECK(parse_fails("*/ * * * *", "minute: missing step"));
	CHECK(parse_fails("1-30/0 * * * *", "minute: step 0"));
	CHECK(parse_fails("* * * FOO *", "month: unknown name 'FOO'"));
	CHECK(parse_fails("* * * JANUARY *", "month: unknown name"));
	CHECK(parse_fails("* * * * FUN", "day-of-week: unknown name 'FUN'"));
	CHECK(parse_fails("JAN * * * *", "minute: 'JAN' is not a number"));
	CHECK(parse_fails("* MON * * *", "hour: 'MON' is not a number"));
	CHECK(parse_fails("1x * * * *", "minute: '1x' is not a number"));
	CHECK(parse_fails("30-10 * * * *", "minute: range 30-10 is backwards"));
	CHECK(parse_fails("* * * * SAT-MON", "day-of-week: range 6-1"));
	CHECK(parse_fails("1,,2 * * * *", "minute: empty item"));
	CHECK(parse_fails("1, * * * *", "minute: empty item"));
	CHECK(parse_fails("-5 * * * *", "minute: missing value"));
	CHECK(parse_fails("5- * * * *", "minute: missing value"));
	CHECK(parse_fails("", "empty expression"));
	CHECK(parse_fails("   \t ", "empty expression"));
	CHECK(parse_fails(NULL, "empty expression"));
	CHECK(parse_fails("* * * *", "expected 5 fields"));
	CHECK(parse_fails("* * * *", "got 4"));
	CHECK(parse_fails("* * * * * *", "got 6"));
	CHECK(parse_fails("0 0 31 2 *", "never fires"));
	CHECK(parse_fails("0 0 31 2 *", "February has no day 31"));
	CHECK(parse_fails("0 0 30 2 *", "February has no day 30"));
	CHECK(parse_fails("0 0 30,31 FEB *", "February has no day 30"));
	CHECK(parse_fails("0 0 31 4,6,9,11 *", "at most 30 days"));
	CHECK(parse_fails("0 0 31 2 */2", "never fires"));	/* AND */
	CHECK(parse_fails("* * * * *\n", "invalid character"));
	CHECK(parse_fails("* * * * \xc3\xa9", "invalid character"));
	CHECK(parse_fails("@reboot", "unknown macro '@reboot'"));
	CHECK(parse_fails("@daily 1", "a macro takes no fields"));
	CHECK(parse_fails("L * * * *", "minute: 'L' is not a number"));
	CHECK(parse_fails("0 0 ? * *", "day-of-month: '?' is not a number"));
	{
		char	long_expr[CRON_EXPR_MAX + 10];

		memset(long_expr, '1', sizeof(long_expr) - 1);
		long_expr[sizeof(long_expr) - 1] = '\0';
		CHECK(parse_fails(long_expr, "too long"));
	}
}

static void
test_parse_ok(void)
{
	struct cron	c, d;
	char		err[256];

	CHECK(cron_parse("*/15 * * * *", &c, err, sizeof(err)) == 0);
	CHECK(c.c_minute == (1ull << 0 | 1ull << 15 | 1ull << 30 |
	    1ull << 45));
	CHECK(cron_parse("0 0 29 2 *", &c, err, sizeof(err)) == 0);
	CHECK(cron_parse("0 0 31 2 1", &c, err, sizeof(err)) == 0); /* OR */
	CHECK(cron_parse(" 0\t0  1 1 * ", &c, err, sizeof(err)) == 0);
	CHECK(cron_parse("0 0 * * 7", &c, err, sizeof(err)) == 0);
	CHECK(c.c_wday == 1);
	CHECK(cron_parse("0 0 * * sun", &d, err, sizeof(err)) == 0);
	CHECK(d.c_wday == 1);
	CHECK(cron_parse("0 0 * * FRI-SUN", &c, err, sizeof(err)) == 0);
	CHECK(c.c_wday == (1 << 5 | 1 << 6 | 1 << 0));
	CHECK(cron_parse("0 0 * * 5-7", &d, err, sizeof(err)) == 0);
	CHECK(d.c_wday == c.c_wday);
	CHECK(cron_parse("0 0 * * */2", &c, err, sizeof(err)) == 0);
	CHECK(c.c_wday == (1 << 0 | 1 << 2 | 1 << 4 | 1 << 6));
	CHECK(cron_parse("0 0 * jan-MAR,Dec *", &c, err, sizeof(err)) == 0);
	CHECK(c.c_month == (1 << 1 | 1 << 2 | 1 << 3 | 1 << 12));
	CHECK(cron_parse("5/20 * * * *", &c, err, sizeof(err)) == 0);
	CHECK(c.c_minute == (1ull << 5 | 1ull << 25 | 1ull << 45));
	CHECK(cron_parse("1-30/5 * * * *", &c, err, sizeof(err)) == 0);
	CHECK(c.c_minute == (1ull << 1 | 1ull << 6 | 1ull << 11 | 1ull << 16 |
	    1ull << 21 | 1ull << 26));
	CHECK(cron_parse("@daily", &c, err, sizeof(err)) == 0);
	CHECK(cron_parse("0 0 * * *", &d, err, sizeof(err)) == 0);
	CHECK(memcmp(&c, &d, sizeof(c)) == 0);
	CHECK(cron_parse("@HOURLY", &c, err, sizeof(err)) == 0);
	CHECK(c.c_minute == 1 && c.c_hour == 0xffffff);
	CHECK(cron_parse("0 0 13 * 5", &c, err, sizeof(err)) == 0);
	CHECK(!c.c_mday_star && !c.c_wday_star);
	CHECK(cron_parse("0 0 */2 * 5", &c, err, sizeof(err)) == 0);
	CHECK(c.c_mday_star && !c.c_wday_star);
}

static void
test_next_utc(void)
{
	/* every 15 minutes, strictly after */
	CHECK(next_is("*/15 * * * *", "UTC", "2026-01-01T00:00:00Z",
	    "2026-01-01T00:15:00Z"));
	CHECK(next_is("*/15 * * * *", "UTC", "2026-01-01T00:14:59Z",
	    "2026-01-01T00:15:00Z"));
	CHECK(next_is("*/15 * * * *", "UTC", "2026-01-01T23:59:00Z",
	    "2026-01-02T00:00:00Z"));
	CHECK(next_is("*/15 * * * *", "UTC", "2026-12-31T23:45:00Z",
	    "2027-01-01T00:00:00Z"));
	CHECK(next_is("* * * * *", "UTC", "2026-01-01T00:00:58Z",
	    "2026-01-01T00:01:00Z"));
	CHECK(next_is("0 0 * * *", "UTC", "2026-01-01T00:00:00Z",
	    "2026-01-02T00:00:00Z"));
	CHECK(next_is("1-30/5 * * * *", "UTC", "2026-01-01T00:26:00Z",
	    "2026-01-01T01:01:00Z"));
	/* 29 February */
	CHECK(next_is("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z",
	    "2028-02-29T00:00:00Z"));
	CHECK(next_is("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z",
	    "2104-02-29T00:00:00Z"));		/* 2100 is not leap */
	/* last days of months */
	CHECK(next_is("0 0 31 * *", "UTC", "2026-04-01T00:00:00Z",
	    "2026-05-31T00:00:00Z"));
	CHECK(next_is("0 0 31 * *", "UTC", "2026-05-31T00:00:00Z",
	    "2026-07-31T00:00:00Z"));
	CHECK(next_is("0 0 31 * *", "UTC", "2026-07-31T00:00:00Z",
	    "2026-08-31T00:00:00Z"));
	CHECK(next_is("0 0 28-31 * *", "UTC", "2026-02-27T12:00:00Z",
	    "2026-02-28T00:00:00Z"));
	CHECK(next_is("0 0 28-31 * *", "UTC", "2026-02-28T00:00:00Z",
	    "2026-03-28T00:00:00Z"));
	CHECK(next_is("0 0 28-31 * *", "UTC", "2026-04-30T00:00:00Z",
	    "2026-05-28T00:00:00Z"));
	CHECK(next_is("0 0 30 * *", "UTC", "2026-01-30T00:00:00Z",
	    "2026-03-30T00:00:00Z"));
	/* weekday names and ranges (2026-01-01 is a Thursday) */
	CHECK(next_is("0 9 * * MON-FRI", "UTC", "2026-01-02T09:00:00Z",
	    "2026-01-05T09:00:00Z"));
	CHECK(next_is("0 9 * * 1-5", "UTC", "2026-01-01T08:00:00Z",
	    "2026-01-01T09:00:00Z"));
	CHECK(next_is("0 0 * * SUN", "UTC", "2026-01-01T00:00:00Z",
	    "2026-01-04T00:00:00Z"));
	CHECK(next_is("0 0 * * 7", "UTC", "2026-01-01T00:00:00Z",
	    "2026-01-04T00:00:00Z"));
	CHECK(next_is("0 0 * * 0", "UTC", "2026-01-01T00:00:00Z",
	    "2026-01-04T00:00:00Z"));
	CHECK(next_is("0 0 * * FRI-SUN", "UTC", "2026-01-03T00:00:00Z",
	    "2026-01-04T00:00:00Z"));
	CHECK(next_is("0 0 * * sat,tue", "UTC", "2026-01-03T00:00:00Z",
	    "2026-01-06T00:00:00Z"));
	CHECK(next_is("0 0 1 JUL *", "UTC", "2026-01-01T00:00:00Z",
	    "2026-07-01T00:00:00Z"));
	/* Vixie: both restricted, either matches */
	CHECK(next_is("0 0 13 * FRI", "UTC", "2026-01-01T00:00:00Z",
	    "2026-01-02T00:00:00Z"));
	CHECK(next_is("0 0 13 * FRI", "UTC", "2026-01-09T00:00:00Z",
	    "2026-01-13T00:00:00Z"));
	CHECK(next_is("0 0 31 2 MON", "UTC", "2026-01-01T00:00:00Z",
	    "2026-02-02T00:00:00Z"));	/* Mondays of February */
	/* ... but a field starting with '*' makes it AND */
	CHECK(next_is("0 0 */2 * MON", "UTC", "2026-01-01T00:00:00Z",
	    "2026-01-05T00:00:00Z"));
	CHECK(next_is("0 0 */2 * MON", "UTC", "2026-01-05T00:00:00Z",
	    "2026-01-19T00:00:00Z"));
	CHECK(next_is("0 0 13 * *", "UTC", "2026-01-01T00:00:00Z",
	    "2026-01-13T00:00:00Z"));
	CHECK(next_is("0 0 * * FRI", "UTC", "2026-01-02T00:00:00Z",
	    "2026-01-09T00:00:00Z"));
	/* rare AND: 29 February on a Sunday */
	CHECK(next_is("0 0 29 2 */7", "UTC", "2026-01-01T00:00:00Z",
	    "2032-02-29T00:00:00Z"));
	CHECK(next_is("@yearly", "UTC", "2026-06-01T00:00:00Z",
	    "2027-01-01T00:00:00Z"));
}

static void
test_next_dst(void)
{
	/* Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z);
	 * 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z). */
	CHECK(next_is("30 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z",
	    "2026-03-28T01:30:00Z"));
	/* 02:30 does not exist: fires at the end of the gap, 03:00 CEST */
	CHECK(next_is("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
	    "2026-03-29T01:00:00Z"));
	CHECK(next_is("30 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00Z",
	    "2026-03-30T00:30:00Z"));
	CHECK(next_is("0 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
	    "2026-03-29T01:00:00Z"));
	CHECK(next_is("0 3 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
	    "2026-03-29T01:00:00Z"));
	CHECK(next_is("0,30 2,3 * * *", "Europe/Berlin",
	    "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"));
	/* 02:30 occurs twice: the first (CEST, 00:30Z) only */
	CHECK(next_is("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z",
	    "2026-10-25T00:30:00Z"));
	CHECK(next_is("30 2 * * *", "Europe/Berlin", "2026-10-25T00:30:00Z",
	    "2026-10-26T01:30:00Z"));
	CHECK(next_is("30 2 * * *", "Europe/Berlin", "2026-10-25T01:10:00Z",
	    "2026-10-26T01:30:00Z"));
	CHECK(next_is("*/20 2 * * *", "Europe/Berlin",
	    "2026-10-25T00:40:00Z", "2026-10-26T01:00:00Z"));
	/* interval-like (every hour matches): real time */
	CHECK(next_is("30 * * * *", "Europe/Berlin", "2026-10-25T00:30:00Z",
	    "2026-10-25T01:30:00Z"));
	CHECK(next_is("30 * * * *", "Europe/Berlin", "2026-03-29T00:30:00Z",
	    "2026-03-29T01:30:00Z"));
	CHECK(next_is("*/15 * * * *", "Europe/Berlin",
	    "2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z"));
	CHECK(next_is("*/15 * * * *", "Europe/Berlin",
	    "2026-10-25T00:45:00Z", "2026-10-25T01:00:00Z"));
	/* beyond the explicit transitions of fat tz files: the footer rule */
	CHECK(next_is("30 2 * * *", "Europe/Berlin", "2040-03-24T12:00:00Z",
	    "2040-03-25T01:00:00Z"));
	CHECK(next_is("30 2 * * *", "Europe/Berlin", "2040-10-27T12:00:00Z",
	    "2040-10-28T00:30:00Z"));
	CHECK(next_is("0 12 * * *", "Europe/Berlin", "2040-07-01T00:00:00Z",
	    "2040-07-01T10:00:00Z"));

	/* America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z);
	 * 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z). */
	CHECK(next_is("30 2 * * *", "America/New_York",
	    "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z"));
	CHECK(next_is("30 2 * * *", "America/New_York",
	    "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"));
	CHECK(next_is("30 1 * * *", "America/New_York",
	    "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"));
	CHECK(next_is("30 1 * * *", "America/New_York",
	    "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"));
	CHECK(next_is("30 2 * * *", "America/New_York",
	    "2026-10-31T12:00:00Z", "2026-11-01T07:30:00Z"));
	CHECK(next_is("0 * * * *", "America/New_York",
	    "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z"));
	CHECK(next_is("0 0 * * *", "America/New_York",
	    "2026-07-01T00:00:00Z", "2026-07-01T04:00:00Z"));

	/* southern hemisphere: Australia/Sydney, DST ends 2026-04-05
	 * 03:00 AEDT -> 02:00 AEST (16:00Z on the 4th) */
	CHECK(next_is("30 2 * * *", "Australia/Sydney",
	    "2026-04-04T12:00:00Z", "2026-04-04T15:30:00Z"));
	CHECK(next_is("30 2 * * *", "Australia/Sydney",
	    "2026-04-04T15:30:00Z", "2026-04-05T16:30:00Z"));

	/* no DST: Africa/Dar_es_Salaam is UTC+3 */
	CHECK(next_is("0 8 * * *", "Africa/Dar_es_Salaam",
	    "2026-06-01T00:00:00Z", "2026-06-01T05:00:00Z"));
	CHECK(next_is("0 0 1 1 *", "Africa/Dar_es_Salaam",
	    "2026-06-01T00:00:00Z", "2026-12-31T21:00:00Z"));
	CHECK(next_is("30 2 * * *", "Africa/Dar_es_Salaam",
	    "2026-03-28T12:00:00Z", "2026-03-28T23:30:00Z"));
	/* a zone east of UTC by a fraction of an hour */
	CHECK(next_is("0 9 * * *", "Asia/Kolkata", "2026-06-01T00:00:00Z",
	    "2026-06-01T03:30:00Z"));
}

static void
test_zones(void)
{
	struct cron	c;
	char		err[256] = "";
	time_t		t;

	CHECK(cron_tz_valid("Europe/Berlin"));
	CHECK(cron_tz_valid("America/Argentina/Buenos_Aires"));
	CHECK(cron_tz_valid("Etc/GMT+5"));
	CHECK(cron_tz_valid("UTC"));
	CHECK(cron_tz_valid("Etc/UTC"));
	CHECK(!cron_tz_valid("Europe/Berln"));
	CHECK(!cron_tz_valid("Europe"));
	CHECK(!cron_tz_valid("../../etc/passwd"));
	CHECK(!cron_tz_valid("/etc/passwd"));
	CHECK(!cron_tz_valid("Europe/../Europe/Berlin"));
	CHECK(!cron_tz_valid("zone.tab"));
	CHECK(!cron_tz_valid("Europe/Berlin "));
	CHECK(!cron_tz_valid(""));
	CHECK(!cron_tz_valid(NULL));
	if (access("/usr/share/zoneinfo/leapseconds", F_OK) == 0)
		CHECK(!cron_tz_valid("leapseconds"));
	if (access("/usr/share/zoneinfo/right/UTC", F_OK) == 0)
		CHECK(!cron_tz_valid("right/UTC"));
	CHECK(cron_tz_check("Mars/Olympus_Mons", err, sizeof(err)) == -1);
	CHECK(strstr(err, "unknown time zone 'Mars/Olympus_Mons'") != NULL);
	CHECK(cron_parse("* * * * *", &c, err, sizeof(err)) == 0);
	CHECK(cron_next(&c, "No/Such_Zone", 1767225600, &t, err,
	    sizeof(err)) == -1);
	CHECK(strstr(err, "unknown time zone") != NULL);
	CHECK(cron_next(&c, "UTC", -5, &t, err, sizeof(err)) == -1);
	CHECK(cron_next(&c, "UTC", (time_t)40000000000LL, &t, err,
	    sizeof(err)) == -1);
}

static void
test_time(void)
{
	char	buf[CRON_TIME_MAX];
	time_t	t;

	CHECK(cron_time_parse("1970-01-01T00:00:00Z", &t) == 0 && t == 0);
	CHECK(cron_time_parse("2026-03-29T01:00:00Z", &t) == 0 &&
	    t == 1774746000);
	CHECK(cron_time_parse("2026-03-29T03:00:00+02:00", &t) == 0 &&
	    t == 1774746000);
	CHECK(cron_time_parse("2026-03-28T20:00:00-05:00", &t) == 0 &&
	    t == 1774746000);
	CHECK(cron_time_parse("2026-03-29t01:00:00.123456z", &t) == 0 &&
	    t == 1774746000);
	CHECK(cron_time_parse("2026-03-29 01:00:00Z", &t) == 0);
	CHECK(cron_time_parse("2026-02-29T00:00:00Z", &t) == -1);
	CHECK(cron_time_parse("2026-13-01T00:00:00Z", &t) == -1);
	CHECK(cron_time_parse("2026-01-01T24:00:00Z", &t) == -1);
	CHECK(cron_time_parse("2026-01-01T00:00:00", &t) == -1);
	CHECK(cron_time_parse("2026-01-01T00:00:00Zx", &t) == -1);
	CHECK(cron_time_parse("2026-01-01T00:00:00+0200", &t) == -1);
	CHECK(cron_time_parse("2026-01-01", &t) == -1);
	CHECK(cron_time_parse("", &t) == -1);
	cron_time_format(1774746000, buf, sizeof(buf));
	CHECK(strcmp(buf, "2026-03-29T01:00:00Z") == 0);
	cron_time_format(951782400, buf, sizeof(buf));
	CHECK(strcmp(buf, "2000-02-29T00:00:00Z") == 0);
}

/* A TZif file with no transitions at all, only the footer rule, as zic
 * -b slim writes for a zone whose rules have not changed: the footer
 * alone must give Berlin's DST. */
static void
test_slim_zone(void)
{
	static const char	 rule[] = "\nCET-1CEST,M3.5.0,M10.5.0/3\n";
	static const unsigned char hdr[44] = { 'T', 'Z', 'i', 'f', '2',
		[35] = 0, [39] = 1, [43] = 4 };
	static const unsigned char data[10] = { 0, 0, 0x0e, 0x10, 0, 0,
		'C', 'E', 'T', 0 };
	char			 dir[] = "/tmp/test_cron.XXXXXX", path[256];
	const char		*old;
	FILE			*fp;

	if (mkdtemp(dir) == NULL) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/Slim", dir);
	if ((fp = fopen(path, "wb")) == NULL) {
		CHECK(!"fopen");
		return;
	}
	fwrite(hdr, 1, sizeof(hdr), fp);
	fwrite(data, 1, sizeof(data), fp);
	fwrite(hdr, 1, sizeof(hdr), fp);
	fwrite(data, 1, sizeof(data), fp);
	fwrite(rule, 1, sizeof(rule) - 1, fp);
	fclose(fp);
	old = getenv("TZDIR");
	setenv("TZDIR", dir, 1);
	CHECK(cron_tz_valid("Slim"));
	CHECK(next_is("30 2 * * *", "Slim", "2026-03-28T12:00:00Z",
	    "2026-03-29T01:00:00Z"));
	CHECK(next_is("30 2 * * *", "Slim", "2026-10-24T12:00:00Z",
	    "2026-10-25T00:30:00Z"));
	CHECK(next_is("30 2 * * *", "Slim", "2026-10-25T00:30:00Z",
	    "2026-10-26T01:30:00Z"));
	CHECK(next_is("0 12 * * *", "Slim", "2026-01-10T00:00:00Z",
	    "2026-01-10T11:00:00Z"));
	CHECK(next_is("0 12 * * *", "Slim", "2026-07-10T00:00:00Z",
	    "2026-07-10T10:00:00Z"));
	if (old != NULL)
		setenv("TZDIR", old, 1);
	else
		unsetenv("TZDIR");
	unlink(path);
	rmdir(dir);
}

static int
naive_match(const struct cron *c, const struct tm *tm)
{
	int	dom = (c->c_mday >> tm->tm_mday) & 1;
	int	dow = (c->c_wday >> tm->tm_wday) & 1;
	int	day;

	day = (!c->c_mday_star && !c->c_wday_star) ? dom || dow : dom && dow;
	return ((c->c_minute >> tm->tm_min) & 1) &&
	    ((c->c_hour >> tm->tm_hour) & 1) &&
	    ((c->c_month >> (tm->tm_mon + 1)) & 1) && day;
}

/*
 * Random expressions against a minute-by-minute scan with libc's
 * localtime_r (TZ set: this test is single-threaded).  With every hour
 * matching, cron.h's rules equal "every real minute whose local time
 * matches", which is exactly the scan; in UTC any expression does.
 */
static void
test_brute(const char *tz, unsigned seed)
{
	static const char *const mins[] = { "*", "0", "*/7", "5,35",
		"10-40/15", "59", "0-5" };
	static const char *const hours[] = { "*", "2", "1-3", "*/5", "23" };
	static const char *const mdays[] = { "*", "1", "*/3", "13",
		"28-31", "15-20" };
	static const char *const months[] = { "*", "3", "*/2", "OCT-DEC",
		"1,7" };
	static const char *const wdays[] = { "*", "0", "MON-FRI", "6,7",
		"*/3" };
	struct cron	 c;
	char		 expr[128], err[256];
	char		 a[CRON_TIME_MAX], b[CRON_TIME_MAX];
	struct tm	 tm;
	time_t		 start, after, t, want, got;
	int		 i, bad = 0, utc = strcmp(tz, "UTC") == 0;
	const time_t	 horizon = 40 * 86400;

	setenv("TZ", tz, 1);
	tzset();
	srand(seed);
	start = at("2026-01-01T00:00:00Z");
	for (i = 0; i < 150; i++) {
		snprintf(expr, sizeof(expr), "%s %s %s %s %s",
		    mins[rand() % 7], utc ? hours[rand() % 5] : "*",
		    mdays[rand() % 6], months[rand() % 5], wdays[rand() % 5]);
		if (cron_parse(expr, &c, err, sizeof(err)) == -1)
			continue;
		after = start + (time_t)(rand() % (365 * 86400)) +
		    (rand() % 2 ? 0 : 30);
		want = 0;
		for (t = (after / 60 + 1) * 60; t <= after + horizon; t += 60) {
			localtime_r(&t, &tm);
			if (naive_match(&c, &tm)) {
				want = t;
				break;
			}
		}
		if (cron_next(&c, tz, after, &got, err, sizeof(err)) == -1) {
			fprintf(stderr, "  brute %s '%s': %s\n", tz, expr, err);
			bad++;
			continue;
		}
		if ((want != 0 && got != want) ||
		    (want == 0 && got <= after + horizon)) {
			cron_time_format(after, a, sizeof(a));
			cron_time_format(got, b, sizeof(b));
			fprintf(stderr, "  brute %s '%s' after %s: got %s, "
			    "want %lld\n", tz, expr, a, b, (long long)want);
			bad++;
		}
	}
	CHECK(bad == 0);
	unsetenv("TZ");
	tzset();
}

int
main(void)
{
	test_parse_errors();
	test_parse_ok();
	test_next_utc();
	test_next_dst();
	test_zones();
	test_time();
	test_slim_zone();
	test_brute("UTC", 1);
	test_brute("Europe/Berlin", 2);
	test_brute("America/New_York", 3);
	test_brute("Australia/Lord_Howe", 4);	/* 30-minute DST */
	return CHECK_DONE();
}
