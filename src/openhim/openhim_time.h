/*
 * openhim_time.h — the instants OpenHIM sends in X-OpenHIM-LastRunAt.
 *
 * Core's polling job sets that header to Agenda's job.attrs.lastRunAt, a
 * JavaScript Date, and axios 0.21 writes it with Date.prototype.toString
 * (core-js src/polling.js; a manual trigger, src/api/channels.js, sends
 * new Date() the same way):
 *
 *   Sat Dec 05 2026 02:00:00 GMT+0000 (Coordinated Universal Time)
 *
 * Note that Agenda sets lastRunAt to the start of the current run
 * before it runs the job, so the header is the time of this tick, not of
 * the previous one.  Also accepted: RFC 3339 (2026-12-05T02:00:00.250Z,
 * +hh:mm offsets; what the stand-in and people send) and the
 * toUTCString / HTTP-date form (Sat, 05 Dec 2026 02:00:00 GMT).
 *
 * Pure; any thread.
 */
#ifndef OPENHIM_TIME_H
#define OPENHIM_TIME_H

#include <stddef.h>
#include <stdint.h>

#define OPENHIM_TIME_MAX	128	/* longest text considered, bytes */
#define OPENHIM_TIME_TEXT	40	/* openhim_time_format's output */

/* Parses s[0..len) into microseconds since the epoch (years 1970 to
 * 9999).  0, or -1 if it is none of the forms above. */
int	openhim_time_parse(const char *s, size_t len, int64_t *usec);
/* usec as "YYYY-MM-DDTHH:MM:SS.ffffffZ" into out (>= OPENHIM_TIME_TEXT
 * bytes), a form PostgreSQL reads as timestamptz. */
void	openhim_time_format(int64_t usec, char *out, size_t outlen);

#endif
