/*
 * test_cron_text.c — cron expressions in words (jobs/cron_text.c): the
 * console's examples, intervals, lists and runs, the day rules, months,
 * the zone, and truncation.
 */
#include <stdio.h>
#include <string.h>

#include "jobs/cron.h"
#include "jobs/cron_text.h"
#include "check.h"

static int	says(const char *, const char *, const char *);

/* True if expr in zone tz reads want; prints what it read otherwise. */
static int
says(const char *expr, const char *tz, const char *want)
{
	struct cron	c;
	char		err[256], got[CRON_TEXT_MAX];

	if (cron_parse(expr, &c, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", expr, err);
		return 0;
	}
	if (cron_text(&c, tz, got, sizeof(got)) == -1) {
		fprintf(stderr, "%s: truncated\n", expr);
		return 0;
	}
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "%s: got \"%s\", want \"%s\"\n", expr, got,
		    want);
		return 0;
	}
	return 1;
}

int
main(void)
{
	struct cron	c;
	char		err[256], small[12];

	/* The examples. */
	CHECK(says("0 2 * * *", "Africa/Dar_es_Salaam",
	    "every day at 02:00 Africa/Dar_es_Salaam"));
	CHECK(says("30 2 * * 1,5", NULL, "at 02:30 on Monday and Friday"));
	CHECK(says("*/15 * * * *", "Europe/Berlin", "every 15 minutes"));
	/* Intervals. */
	CHECK(says("* * * * *", NULL, "every minute"));
	CHECK(says("0 * * * *", "UTC", "every hour"));
	CHECK(says("5 * * * *", NULL, "every hour at minute 5"));
	CHECK(says("0,20,45 * * * *", NULL, "every hour at minutes 0, 20 "
	    "and 45"));
	CHECK(says("0 */6 * * *", NULL, "every 6 hours"));
	CHECK(says("30 */2 * * *", NULL, "every 2 hours at minute 30"));
	CHECK(says("* 3 * * *", NULL, "every minute during hour 3"));
	/* Macros and names read like the numbers. */
	CHECK(says("@daily", "UTC", "every day at 00:00 UTC"));
	CHECK(says("@hourly", NULL, "every hour"));
	CHECK(says("0 2 * * MON-FRI", NULL, "at 02:00 on weekdays"));
	CHECK(says("0 2 * * 1-5", NULL, "at 02:00 on weekdays"));
	CHECK(says("0 9 * * SAT,SUN", NULL, "at 09:00 on weekends"));
	CHECK(says("0 9 * * 1-3", NULL, "at 09:00 on Monday to Wednesday"));
	CHECK(says("@weekly", NULL, "at 00:00 on Sunday"));
	/* Several times of day; too many to list. */
	CHECK(says("0,30 8,20 * * *", NULL, "every day at 08:00, 08:30, "
	    "20:00 and 20:30"));
	CHECK(says("0,10,20,30,40 8,9 * * *", NULL, "every day at minutes 0, "
	    "10, 20, "
	    "30 and 40 of hours 8 and 9"));
	/* Days of the month, months, and cron's either-or rule. */
	CHECK(says("0 3 1 * *", NULL, "at 03:00 on day 1 of the month"));
	CHECK(says("0 3 1,15 * *", NULL, "at 03:00 on days 1 and 15 of "
	    "the month"));
	CHECK(says("0 3 1-7 * *", NULL, "at 03:00 on days 1 to 7 of the "
	    "month"));
	CHECK(says("0 0 1 1 *", NULL, "at 00:00 on day 1 of the month in "
	    "January"));
	CHECK(says("0 4 1 * 1", NULL, "at 04:00 on day 1 of the month or "
	    "on Monday"));
	CHECK(says("0 4 */2 * 1", NULL, "at 04:00 on days 1, 3, 5, 7, 9, "
	    "11, 13, 15, 17, 19, 21, 23, 25, 27, 29 and 31 of the month if "
	    "it is Monday"));
	CHECK(says("15 6 * 3-5 *", "America/New_York", "every day at 06:15 "
	    "in March to May America/New_York"));
	/* Truncation is reported, the text still terminated. */
	CHECK(cron_parse("0 2 * * *", &c, err, sizeof(err)) == 0);
	CHECK(cron_text(&c, "Africa/Dar_es_Salaam", small, sizeof(small)) ==
	    -1);
	CHECK(strlen(small) == sizeof(small) - 1);
	CHECK(cron_text(&c, NULL, small, 0) == -1);
	return CHECK_DONE();
}
