/*
 * cron_text.h — a cron expression in words, for the operator's console
 * ("every day at 02:00 Africa/Dar_es_Salaam", "at 02:30 on Monday and
 * Friday", "every 15 minutes").
 *
 * A pure function of a parsed expression (jobs/cron.h) and its zone: no
 * database, no globals, any thread.  English only; the words describe
 * what cron_next computes, not the text the operator typed (so "0 2 * *
 * 1-5" and "0 2 * * MON-FRI" read alike).  The zone is named after a
 * time of day ("at 02:00 UTC"), not after intervals ("every 15
 * minutes"), whose meaning does not depend on it.
 */
#ifndef JOBS_CRON_TEXT_H
#define JOBS_CRON_TEXT_H

#include <stddef.h>

struct cron;

#define CRON_TEXT_MAX	512	/* longest description, with NUL */

/*
 * Writes the description of c in zone tz (may be NULL: not named) into
 * out (len bytes; CRON_TEXT_MAX always suffices).  0, or -1 if it did
 * not fit (out then holds a truncated, NUL-terminated text).
 */
int	cron_text(const struct cron *c, const char *tz, char *out,
	    size_t len);

#endif
