/*
 * civil.h — proleptic Gregorian calendar arithmetic on day numbers
 * (days since 1970-01-01), after H. Hinnant's civil algorithms.
 *
 * The one place the calendar's rules are written (leap years, month
 * lengths, weekdays): every other file asks here.  Pure functions, exact
 * for any year that fits; no state, any thread.
 */
#ifndef LIB_CIVIL_H
#define LIB_CIVIL_H

#include <stdint.h>

int64_t	civil_days_from(int64_t y, unsigned m, unsigned d);
void	civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* 1 if y is a leap year (divisible by 4, and not by 100 unless by 400),
 * else 0. */
int	civil_is_leap(int64_t y);

/* The number of days in month m (1-12) of year y: 28 to 31. */
unsigned civil_mdays(int64_t y, unsigned m);

/* The weekday of day number z, 0 = Sunday (day 0, 1970-01-01, was a
 * Thursday). */
int	civil_weekday(int64_t z);

/* a / b rounded toward minus infinity (b > 0): the day number of a
 * second count is civil_floordiv(secs, 86400), before 1970 too. */
int64_t	civil_floordiv(int64_t a, int64_t b);

#endif
