/*
 * admin_console.c — the admin API's routes for the operator's console
 * (issue 16): who the caller is (GET /admin/api/whoami) and the calendar
 * of schedule fires and delayed jobs (GET /admin/api/calendar).  See
 * admin_api.h for the routes.
 *
 * The calendar computes fire instants as the scheduler does (cron_next
 * in the schedule's zone, jobs/cron.h's daylight-saving rules), merged
 * across schedules in time order and cut at ADMIN_CAL_MAX, and matches
 * each past fire to the job it started by jobs.fire_at (store/jobq.h,
 * jobq_fires).  Read-only; libmicrohttpd threads, the thread's
 * connection (admin_auth.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "api/admin_api.h"
#include "api/admin_auth.h"
#include "http/http_route.h"
#include "jobs/cron.h"
#include "jobs/schedule.h"
#include "lib/tzfile.h"
#include "lib/xmalloc.h"
#include "store/admins.h"
#include "store/jobq.h"

#define ADMIN_CAL_MAX		10000		/* fires in one answer */
#define ADMIN_CAL_SPAN		(62 * 86400)	/* longest from..to */
#define ADMIN_CAL_TIME		40		/* local instant + offset */

/* One enabled schedule being walked: its next fire, or 0 when done. */
struct admin_cal_walk {
	const struct schedule	*w_sched;
	struct cron		 w_cron;
	struct tzfile		 w_zone;
	int			 w_zone_ok;
	time_t			 w_next;
};

static int	 admin_console_instant(struct http_req *, const char *,
		    time_t *);
static void	 admin_console_local(const struct admin_cal_walk *, time_t,
		    char *, size_t);
static int	 admin_console_fire_cmp(const void *, const void *);
static void	 admin_console_advance(struct admin_cal_walk *, time_t);

void
admin_api_whoami(struct http_req *req)
{
	struct admin_ctx	 ax;
	cJSON			*o;

	if (admin_auth_open(req, &ax, 0) == -1)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", ax.ax_who.aa_principal);
	cJSON_AddStringToObject(o, "role", admins_role_name(ax.ax_role));
	/* What the page may offer (admin_api.h, ROLES). */
	cJSON_AddBoolToObject(o, "may_operate", ax.ax_role >= ADMINS_OPERATOR);
	cJSON_AddBoolToObject(o, "may_administer", ax.ax_role >= ADMINS_ADMIN);
	(void)http_reply_json(req, 200, o);
	cJSON_Delete(o);
}

/* Query parameter name as an instant.  0, or -1 after answering 400. */
static int
admin_console_instant(struct http_req *req, const char *name, time_t *t)
{
	const char	*v = http_req_query(req, name);

	if (v == NULL) {
		(void)http_reply_outcome(req, 400, "invalid", "%s: required, "
		    "an RFC 3339 instant with an offset "
		    "(2026-12-05T00:00:00+03:00)", name);
		return -1;
	}
	if (cron_time_parse(v, t) == -1) {
		(void)http_reply_outcome(req, 400, "invalid", "%s: \"%.40s\" "
		    "is not an RFC 3339 instant with an offset "
		    "(2026-12-05T00:00:00+03:00)", name, v);
		return -1;
	}
	return 0;
}

/* t as local time of the walk's zone with its offset
 * ("2026-03-29T03:00:00+02:00"), or UTC if the zone did not load. */
static void
admin_console_local(const struct admin_cal_walk *w, time_t t, char *out,
    size_t len)
{
	char	utc[CRON_TIME_MAX];
	int32_t	off = w->w_zone_ok ? tzfile_offset(&w->w_zone, t) : 0;
	int32_t	a = off < 0 ? -off : off;
	size_t	n;

	cron_time_format(t + off, utc, sizeof(utc));
	n = strlen(utc);
	if (n > 0 && off != 0)
		utc[n - 1] = '\0';	/* the "Z" */
	if (off == 0)
		snprintf(out, len, "%s", utc);
	else
		snprintf(out, len, "%s%c%02d:%02d", utc, off < 0 ? '-' : '+',
		    (int)(a / 3600), (int)(a % 3600 / 60));
}

/* Moves the walk to its first fire after 'after' (0: none before to). */
static void
admin_console_advance(struct admin_cal_walk *w, time_t after)
{
	char	err[256];

	if (w->w_next == 0 || !w->w_zone_ok || cron_next_zone(&w->w_cron,
	    &w->w_zone, after, &w->w_next, err, sizeof(err)) == -1)
		w->w_next = 0;
}

/* jobq_fire by schedule, then instant. */
static int
admin_console_fire_cmp(const void *a, const void *b)
{
	const struct jobq_fire	*x = a, *y = b;
	int			 c = strcmp(x->f_schedule, y->f_schedule);

	if (c != 0)
		return c;
	return (x->f_at > y->f_at) - (x->f_at < y->f_at);
}

void
admin_api_calendar(struct http_req *req)
{
	struct admin_ctx	  ax;
	struct schedule		**list = NULL;
	struct admin_cal_walk	 *walks = NULL, *w;
	struct jobq_fire	 *fires = NULL, key, *hit;
	struct jobq_delayed	 *delayed = NULL;
	cJSON			 *o = NULL, *arr, *item;
	char			  err[ADMIN_ERR_MAX], at[ADMIN_CAL_TIME];
	char			  tbuf[CRON_TIME_MAX];
	time_t			  from, to;
	size_t			  i, n = 0, nw = 0, nf = 0, nd = 0, count = 0;
	int			  truncated = 0;

	if (admin_auth_open(req, &ax, 0) == -1 ||
	    admin_console_instant(req, "from", &from) == -1 ||
	    admin_console_instant(req, "to", &to) == -1)
		return;
	if (to <= from) {
		(void)http_reply_outcome(req, 400, "invalid", "to: must be "
		    "after from");
		return;
	}
	if (to - from > ADMIN_CAL_SPAN) {
		(void)http_reply_outcome(req, 400, "invalid", "to: the span "
		    "from from to to is over %d days", ADMIN_CAL_SPAN / 86400);
		return;
	}
	if (admin_auth_connect(&ax) == -1)
		return;
	if (schedule_list(ax.ax_conn, &list, &n, err, sizeof(err)) != 0) {
		admin_auth_db_fail(&ax, "calendar schedules", err);
		goto out;
	}
	if (jobq_fires(ax.ax_conn, from, to, ADMIN_CAL_MAX * 2, &fires, &nf,
	    err, sizeof(err)) == -1 ||
	    jobq_delayed_list(ax.ax_conn, from, to, ADMIN_CAL_MAX, &delayed,
	    &nd, err, sizeof(err)) == -1) {
		admin_auth_db_fail(&ax, "calendar jobs", err);
		goto out;
	}
	qsort(fires, nf, sizeof(*fires), admin_console_fire_cmp);
	walks = xcalloc(n + 1, sizeof(*walks));
	for (i = 0; i < n; i++) {
		w = &walks[nw];
		if (!list[i]->sc_enabled || cron_parse(list[i]->sc_cron,
		    &w->w_cron, err, sizeof(err)) == -1)
			continue;
		w->w_sched = list[i];
		w->w_zone_ok = tzfile_load(&w->w_zone, list[i]->sc_timezone,
		    err, sizeof(err)) == 0;
		w->w_next = 1;
		/* Fires are whole minutes: the first at or after from. */
		admin_console_advance(w, from - 1);
		nw++;
	}
	o = cJSON_CreateObject();
	cron_time_format(from, tbuf, sizeof(tbuf));
	cJSON_AddStringToObject(o, "from", tbuf);
	cron_time_format(to, tbuf, sizeof(tbuf));
	cJSON_AddStringToObject(o, "to", tbuf);
	arr = cJSON_AddArrayToObject(o, "fires");
	/* Merge the walks in time order (ties by schedule name). */
	for (;;) {
		struct admin_cal_walk	*best = NULL;

		for (i = 0; i < nw; i++)
			if (walks[i].w_next != 0 && walks[i].w_next < to &&
			    (best == NULL || walks[i].w_next < best->w_next))
				best = &walks[i];
		if (best == NULL)
			break;
		if (count == ADMIN_CAL_MAX) {
			truncated = 1;
			break;
		}
		item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "schedule",
		    best->w_sched->sc_name);
		admin_console_local(best, best->w_next, at, sizeof(at));
		cJSON_AddStringToObject(item, "at", at);
		memset(&key, 0, sizeof(key));
		snprintf(key.f_schedule, sizeof(key.f_schedule), "%s",
		    best->w_sched->sc_name);
		key.f_at = best->w_next;
		hit = nf > 0 ? bsearch(&key, fires, nf, sizeof(*fires),
		    admin_console_fire_cmp) : NULL;
		if (hit != NULL) {
			cJSON_AddStringToObject(item, "job", hit->f_id);
			cJSON_AddStringToObject(item, "state", hit->f_state);
		} else {
			cJSON_AddNullToObject(item, "job");
			cJSON_AddNullToObject(item, "state");
		}
		cJSON_AddItemToArray(arr, item);
		count++;
		admin_console_advance(best, best->w_next);
	}
	arr = cJSON_AddArrayToObject(o, "delayed");
	for (i = 0; i < nd; i++) {
		item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "job", delayed[i].d_id);
		cJSON_AddStringToObject(item, "kind", delayed[i].d_kind);
		cron_time_format(delayed[i].d_not_before, tbuf, sizeof(tbuf));
		cJSON_AddStringToObject(item, "not_before", tbuf);
		cJSON_AddStringToObject(item, "state", delayed[i].d_state);
		cJSON_AddItemToArray(arr, item);
	}
	cJSON_AddBoolToObject(o, "truncated", truncated ||
	    nd == ADMIN_CAL_MAX);
	(void)http_reply_json(req, 200, o);
 out:
	for (i = 0; i < nw; i++)
		if (walks[i].w_zone_ok)
			tzfile_free(&walks[i].w_zone);
	free(walks);
	free(fires);
	free(delayed);
	cJSON_Delete(o);
	schedule_list_free(list, n);
}
