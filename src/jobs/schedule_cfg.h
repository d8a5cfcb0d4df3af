/*
 * schedule_cfg.h — schedules declared in the config file (cfg.h:
 * "schedule.NAME.FIELD = value" lines): their checks and how the
 * scheduler applies them.
 *
 * Precedence.  The file declares; the database runs.  When a scheduler
 * process first becomes the leader (on one node: when it starts), it
 * upserts every declared schedule (schedule_put with source "config"),
 * so a restart re-applies the file.  An admin API change to such a
 * schedule (PUT, pause, resume) holds until then and is overwritten at
 * the next start; a schedule taken out of the file is left in the
 * database, with a warning, until it is deleted through the admin API.
 * Re-applying an unchanged declaration changes nothing: a pending fire
 * keeps its time, and no audit row is written.
 *
 * Errors: -1 with the reason in the caller's bounded errbuf; reasons
 * from schedule_cfg_check name the line ("file x.conf:12: ...").
 */
#ifndef JOBS_SCHEDULE_CFG_H
#define JOBS_SCHEDULE_CFG_H

#include <stddef.h>
#include <libpq-fe.h>

struct cfg;

/*
 * Checks every declared schedule as the admin API's PUT would (cron,
 * time zone, misfire, job kind and params; cron and kind required), and
 * names the line of the offending field.  0 or -1.  No database.
 */
int	schedule_cfg_check(const struct cfg *, char *errbuf, size_t errlen);

/*
 * Upserts the declared schedules through conn, one transaction each,
 * audited with actor "config" and action "schedule.config".  *napplied
 * (may be NULL): how many it put.  0, or -1 at the first failure (the
 * ones before it stay applied; calling again is harmless).  For the
 * scheduler leader.
 */
int	schedule_cfg_apply(PGconn *, const struct cfg *, int *napplied,
	    char *errbuf, size_t errlen);

#endif
