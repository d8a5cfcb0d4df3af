/*
 * civil.h — proleptic Gregorian calendar arithmetic on day numbers
 * (days since 1970-01-01), after H. Hinnant's civil algorithms.
 */
#ifndef LIB_CIVIL_H
#define LIB_CIVIL_H

#include <stdint.h>

int64_t	civil_days_from(int64_t y, unsigned m, unsigned d);
void	civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
