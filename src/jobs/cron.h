/*
 * cron.h — cron expressions and the time zone arithmetic behind them.
 *
 * A pure module: no database, no globals, no logging.  Safe to call from
 * any thread (the API's MHD threads validate schedules with it, the
 * scheduler computes fire times with it).  Time zones are read from the
 * system tz database (TZif files under $TZDIR or /usr/share/zoneinfo,
 * Debian package tzdata) by lib/tzfile: it never touches TZ, tzset() or
 * localtime(), so it changes no process-global state.
 *
 * Expressions: standard 5-field cron, "minute hour day-of-month month
 * day-of-week", fields separated by blanks.  Each field is a comma list
 * of items; an item is '*', a value, a range "a-b", each optionally with
 * a step "/n" ("*" + "/15", "1-30/5"); "a/n" means "a-max/n".  Months
 * take JAN..DEC, weekdays SUN..SAT (case-insensitive); 0 and 7 are both
 * Sunday, and a weekday range may end in 7 or SUN ("FRI-SUN").  The
 * macros @yearly @annually @monthly @weekly @daily @midnight @hourly are
 * accepted.  Day matching follows Vixie cron (crontab(5)): when both
 * day-of-month and day-of-week are restricted (neither field starts with
 * '*'), a day matches if EITHER matches; otherwise both must.
 * cron_parse rejects schedules that can never fire ("0 0 30 2 *").
 *
 * Fire times are whole minutes of local wall-clock time in an IANA zone.
 * Daylight-saving transitions (DESIGN):
 *  - A schedule whose hour field covers every hour ("*", "0-23") is
 *    interval-like and follows real time: local times inside a
 *    spring-forward gap do not exist and are skipped; local times that
 *    occur twice at fall-back fire at both instants.
 *  - Any other schedule ("30 2 * * *") fires once per matching local
 *    time: a time inside a spring-forward gap fires at the first instant
 *    after the gap (the transition itself, 03:00 local in Europe/Berlin
 *    on 2026-03-29), so a daily job never loses a day; a time that
 *    occurs twice fires at its first occurrence only.
 * This is Vixie cron's rule for wildcard versus fixed-time jobs.
 *
 * Errors: -1 with a one-line reason in the caller's bounded errbuf,
 * naming the field: "day-of-month: 32 is out of range 1-31".
 */
#ifndef JOBS_CRON_H
#define JOBS_CRON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct tzfile;

#define CRON_EXPR_MAX		256	/* longest expression, bytes */
#define CRON_TZ_MAX		64	/* longest zone name, bytes */
#define CRON_SEARCH_YEARS	50	/* cron_next looks this far ahead */
#define CRON_TIME_MAX		32	/* "2026-03-29T01:00:00Z" + NUL fits */

/* A parsed expression: one bit per allowed value. */
struct cron {
	uint64_t	c_minute;	/* bits 0-59 */
	uint32_t	c_hour;		/* bits 0-23 */
	uint32_t	c_mday;		/* bits 1-31 */
	uint16_t	c_month;	/* bits 1-12 */
	uint8_t		c_wday;		/* bits 0-6, Sunday = 0 */
	uint8_t		c_mday_star;	/* day-of-month field starts with '*' */
	uint8_t		c_wday_star;	/* day-of-week field starts with '*' */
};

/*
 * Parses expr into *out.  0, or -1 with the reason ("minute: step 0 is
 * out of range 1-60", "expected 5 fields ... got 4", "never fires: ...").
 */
int	cron_parse(const char *expr, struct cron *out, char *errbuf,
	    size_t errlen);

/*
 * Sets *next to the first fire time strictly after 'after', in the zone
 * tz (an IANA name such as "Europe/Berlin"; "UTC" works without tz
 * files), following the DST rules above.  Returns 0, or -1 with the
 * reason: unknown or unreadable zone, 'after' outside 1970..2999, or no
 * fire within CRON_SEARCH_YEARS (cannot happen for an expression
 * cron_parse accepted).  Reads the zone file on every call.
 */
int	cron_next(const struct cron *, const char *tz, time_t after,
	    time_t *next, char *errbuf, size_t errlen);
/* As cron_next, in a zone the caller loaded once (tzfile_load) for many
 * calls, e.g. a calendar's thousands of fires. */
int	cron_next_zone(const struct cron *, const struct tzfile *,
	    time_t after, time_t *next, char *errbuf, size_t errlen);

/*
 * True (1) if tz names a usable zone: syntax [A-Za-z0-9_+-/], no "..",
 * no leading '/', at most CRON_TZ_MAX-1 bytes, and a readable TZif file
 * without leap seconds under the zone directory.  0 otherwise.
 */
int	cron_tz_valid(const char *tz);
/* As cron_tz_valid, 0 or -1 with the reason ("unknown time zone
 * 'Europe/Berln'"). */
int	cron_tz_check(const char *tz, char *errbuf, size_t errlen);

/* RFC 3339 instants.  cron_time_parse accepts "YYYY-MM-DDTHH:MM:SS"
 * with an optional fraction (ignored) and "Z" or "+hh:mm"/"-hh:mm"
 * ('t'/'z'/' ' also accepted); 0 or -1.  cron_time_format writes UTC
 * "YYYY-MM-DDTHH:MM:SSZ" (size >= CRON_TIME_MAX). */
int	cron_time_parse(const char *, time_t *out);
void	cron_time_format(time_t, char *buf, size_t size);

#endif
