/*
 * jobq_int.h — what jobq.c, jobq_ops.c and jobq_console.c share; not for
 * other modules.
 */
#ifndef STORE_JOBQ_INT_H
#define STORE_JOBQ_INT_H

#include <libpq-fe.h>

/* A copy of the value at (row, col), NULL when SQL NULL; caller frees. */
char	*jobq_dup(const PGresult *, int, int);
/* The value at (row, col) as an int, 0 when NULL. */
int	 jobq_int(const PGresult *, int, int);

/*
 * Rows a job of row j has processed, the one definition the job JSON and
 * the metrics share: an import's loaded resources (its progress), an
 * export's rows in finished output files (job_outputs), any other
 * kind's progress "done"; NULL if nothing is known yet.
 */
#define JOBQ_ROWS(j) \
	"CASE WHEN " j ".kind = 'import' THEN " JOBQ_PROGRESS_N(j, "loaded") \
	" WHEN " j ".kind IN ('export', 'renewal-export') THEN " \
	"(SELECT coalesce(sum(o.count), 0) FROM job_outputs o " \
	"WHERE o.job_id = " j ".id AND o.channel = 'output') " \
	"ELSE " JOBQ_PROGRESS_N(j, "done") " END"
/* A number of the progress JSON as bigint, NULL if it is not one (a
 * hand-edited row must not break every listing). */
#define JOBQ_PROGRESS_N(j, key) \
	"(CASE WHEN jsonb_typeof(" j ".progress -> '" key "') = 'number' " \
	"THEN trunc((" j ".progress ->> '" key "')::numeric) END)::bigint"

#endif
