/*
 * jobq_int.h — what jobq.c and jobq_ops.c share; not for other modules.
 */
#ifndef STORE_JOBQ_INT_H
#define STORE_JOBQ_INT_H

#include <libpq-fe.h>

/* A copy of the value at (row, col), NULL when SQL NULL; caller frees. */
char	*jobq_dup(const PGresult *, int, int);
/* The value at (row, col) as an int, 0 when NULL. */
int	 jobq_int(const PGresult *, int, int);

#endif
