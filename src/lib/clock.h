/*
 * clock.h — monotonic time for intervals, timeouts and rates.
 */
#ifndef LIB_CLOCK_H
#define LIB_CLOCK_H

/* Seconds on CLOCK_MONOTONIC (arbitrary origin), fractional. */
double	clock_mono(void);

#endif
