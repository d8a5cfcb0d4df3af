/*
 * schedule_cfg.c — schedules declared in the config file: checked like
 * an admin API PUT, with errors naming the file line, and upserted by
 * the scheduler leader (see schedule_cfg.h for the precedence rules).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "store/audit.h"
#include "core/cfg.h"
#include "jobs/job_kinds.h"
#include "jobs/schedule.h"
#include "jobs/schedule_cfg.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"

#define SCHEDULE_CFG_ACTOR	"config"
#define SCHEDULE_CFG_ACTION	"schedule.config"

static void		 schedule_cfg_spec(const struct cfg_schedule *,
			    struct schedule_spec *);
static const char	*schedule_cfg_src(const struct cfg_schedule *,
			    enum cfg_sched_field);
static void		 schedule_cfg_stale(PGconn *, const struct cfg *);

static void
schedule_cfg_spec(const struct cfg_schedule *cs, struct schedule_spec *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->sp_name = cs->cs_name;
	sp->sp_cron = cs->cs_value[CFG_SF_CRON];
	sp->sp_timezone = cs->cs_value[CFG_SF_TIMEZONE];
	sp->sp_enabled = cs->cs_value[CFG_SF_ENABLED] == NULL ||
	    strcmp(cs->cs_value[CFG_SF_ENABLED], "true") == 0;
	sp->sp_misfire = cs->cs_value[CFG_SF_MISFIRE];
	sp->sp_job_kind = cs->cs_value[CFG_SF_KIND];
	sp->sp_job_params = cs->cs_value[CFG_SF_PARAMS];
	sp->sp_source = "config";
}

/* Where a field was set, else where the schedule was first declared. */
static const char *
schedule_cfg_src(const struct cfg_schedule *cs, enum cfg_sched_field f)
{
	return cs->cs_src[f] != NULL ? cs->cs_src[f] : cs->cs_first;
}

int
schedule_cfg_check(const struct cfg *c, char *errbuf, size_t errlen)
{
	static const struct {
		const char		*p_prefix;	/* of its message */
		enum cfg_sched_field	 p_field;
	} prefixes[] = {
		{ "cron: ", CFG_SF_CRON },
		{ "timezone: ", CFG_SF_TIMEZONE },
		{ "misfire: ", CFG_SF_MISFIRE },
		{ "job: ", CFG_SF_KIND },
	};
	const struct cfg_schedule	*cs;
	struct schedule_spec		 sp;
	enum cfg_sched_field		 f;
	const char			*why;
	char				 err[512];
	size_t				 i, k;

	for (i = 0; i < c->nschedules; i++) {
		cs = &c->schedules[i];
		for (k = 0; k < 2; k++) {
			f = k == 0 ? CFG_SF_CRON : CFG_SF_KIND;
			if (cs->cs_value[f] == NULL) {
				snprintf(errbuf, errlen, "%s: schedule %s: "
				    "schedule.%s.%s is required", cs->cs_first,
				    cs->cs_name, cs->cs_name,
				    cfg_sched_field_name(f));
				return -1;
			}
		}
		schedule_cfg_spec(cs, &sp);
		if (schedule_spec_check(&sp, err, sizeof(err)) == 0)
			continue;
		f = CFG_SF_KIND;
		why = err;
		for (k = 0; k < sizeof(prefixes) / sizeof(prefixes[0]); k++) {
			if (strncmp(err, prefixes[k].p_prefix,
			    strlen(prefixes[k].p_prefix)) == 0) {
				f = prefixes[k].p_field;
				why = err + strlen(prefixes[k].p_prefix);
				break;
			}
		}
		/* A known kind with bad params: the params line. */
		if (f == CFG_SF_KIND && job_kind_find(sp.sp_job_kind) != NULL &&
		    cs->cs_value[CFG_SF_PARAMS] != NULL)
			f = CFG_SF_PARAMS;
		snprintf(errbuf, errlen, "%s: schedule.%s.%s: %s",
		    schedule_cfg_src(cs, f), cs->cs_name,
		    cfg_sched_field_name(f), why);
		return -1;
	}
	return 0;
}

/* Warns about schedules an earlier config file declared and this one
 * does not: they stay until deleted through the admin API. */
static void
schedule_cfg_stale(PGconn *conn, const struct cfg *c)
{
	cJSON		*names = cJSON_CreateArray();
	const char	*p[1];
	char		*json, err[512];
	PGresult	*res;
	size_t		 i;
	int		 r;

	for (i = 0; i < c->nschedules; i++)
		cJSON_AddItemToArray(names, cJSON_CreateString(
		    c->schedules[i].cs_name));
	json = cJSON_PrintUnformatted(names);
	cJSON_Delete(names);
	p[0] = json;
	res = db_query(conn, "SELECT name FROM schedules WHERE source = "
	    "'config' AND NOT name IN (SELECT jsonb_array_elements_text("
	    "$1::jsonb)) ORDER BY name", 1, p, err, sizeof(err));
	cJSON_free(json);
	if (res == NULL) {
		log_warnx("looking for schedules no longer declared: %s", err);
		return;
	}
	for (r = 0; r < PQntuples(res); r++)
		log_warnx("schedule %s came from a config file but is not "
		    "declared in this one; it stays until deleted "
		    "('bulkhead schedules delete %s')", PQgetvalue(res, r, 0),
		    PQgetvalue(res, r, 0));
	PQclear(res);
}

int
schedule_cfg_apply(PGconn *conn, const struct cfg *c, int *napplied,
    char *errbuf, size_t errlen)
{
	struct audit_actor		 who;
	struct schedule_spec		 sp;
	const struct cfg_schedule	*cs;
	char				 err[512], aerr[512];
	size_t				 i;
	int				 rc, created, n = 0;

	if (napplied != NULL)
		*napplied = 0;
	memset(&who, 0, sizeof(who));
	str_lcpy(who.aa_actor, SCHEDULE_CFG_ACTOR, sizeof(who.aa_actor));
	for (i = 0; i < c->nschedules; i++) {
		cs = &c->schedules[i];
		schedule_cfg_spec(cs, &sp);
		if (audit_begin(conn, &who, SCHEDULE_CFG_ACTION, "schedules",
		    cs->cs_name, errbuf, errlen) == -1)
			return -1;
		created = 0;
		rc = schedule_put(conn, &sp, &created, err, sizeof(err));
		/* Disarmed on every path: armed, this session would record
		 * the leader's own fires as the config's changes. */
		if (audit_end(conn, aerr, sizeof(aerr)) == -1) {
			snprintf(errbuf, errlen, "schedule %s: resetting the "
			    "audit settings: %s", cs->cs_name, aerr);
			return -1;
		}
		if (rc == -1) {
			snprintf(errbuf, errlen, "schedule %s (%s): %s",
			    cs->cs_name, cs->cs_first, err);
			return -1;
		}
		if (rc != 0) {
			/* Checked at start-up, so only a kind this binary
			 * lost could get here: skip it, keep the others. */
			log_warnx("schedule %s (%s): not applied: %s",
			    cs->cs_name, cs->cs_first, err);
			continue;
		}
		log_info("schedule %s: %s from %s", cs->cs_name, created ?
		    "created" : "applied", cs->cs_first);
		n++;
	}
	schedule_cfg_stale(conn, c);
	/* The built-in openimis-pull schedule (schemas/017) comes on once
	 * openIMIS is configured, unless someone changed it since. */
	if (c->openimis_url[0] != '\0' && db_exec(conn, "UPDATE schedules "
	    "SET enabled = true, next_fire = date_trunc('minute', now()) + "
	    "interval '1 minute', updated = now() WHERE name = "
	    "'openimis-pull' AND source = 'builtin' AND NOT enabled AND "
	    "last_fire IS NULL AND updated = created", 0, NULL, err,
	    sizeof(err)) == -1)
		log_warnx("schedule openimis-pull: %s", err);
	if (napplied != NULL)
		*napplied = n;
	return 0;
}
