/*
 * job_export_since.c — an export's since: the alias _since, and
 * "last-success", the transactionTime of the newest completed export of
 * the same schedule (jobq_last_success), fixed on the first attempt and
 * kept in the checkpoint as "lastSuccess".  Also the submit-time check
 * that only a schedule's jobs ask for last-success.
 */
#include <stdio.h>
#include <string.h>

#include "jobs/job_export.h"
#include "jobs/job_export_int.h"
#include "jobs/schedule.h"
#include "lib/log.h"
#include "lib/str.h"
#include "store/jobq.h"

static enum job_status xp_last_success(struct xp *);

int
job_export_check_client(const cJSON *params, const char *client,
    char *errbuf, size_t errlen)
{
	const cJSON	*s;

	if ((s = cJSON_GetObjectItemCaseSensitive(params, "_since")) == NULL)
		s = cJSON_GetObjectItemCaseSensitive(params, "since");
	if (cJSON_IsString(s) && strcmp(s->valuestring,
	    EXPORT_SINCE_LAST_SUCCESS) == 0 &&
	    schedule_client_name(client) == NULL) {
		snprintf(errbuf, errlen, "export: _since \"last-success\" is "
		    "for jobs of a schedule: give --client schedule:NAME, or "
		    "a FHIR instant");
		return -1;
	}
	return 0;
}

/* Adds "lastSuccess": {job, transactionTime} (nulls when no earlier
 * success) to parent; returns the object. */
cJSON *
job_export_since_json(const struct xp *x, cJSON *parent)
{
	cJSON	*ls = cJSON_AddObjectToObject(parent, "lastSuccess");

	if (x->ls_job[0] != '\0') {
		cJSON_AddStringToObject(ls, "job", x->ls_job);
		cJSON_AddStringToObject(ls, "transactionTime", x->ls_since);
	} else {
		cJSON_AddNullToObject(ls, "job");
		cJSON_AddNullToObject(ls, "transactionTime");
	}
	return ls;
}

/*
 * Normalises since: the alias _since becomes since, and "last-success"
 * becomes the transactionTime of the last successful export of the same
 * schedule, or no since at all when there is none (xp_last_success).
 * x->params then points at a copy the job owns.  JOB_DONE to go on, or
 * how the job ends.
 */
enum job_status
job_export_since_resolve(struct xp *x)
{
	const cJSON	*s = cJSON_GetObjectItemCaseSensitive(x->params,
			    "since");
	const cJSON	*a = cJSON_GetObjectItemCaseSensitive(x->params,
			    "_since");
	char		 since[64] = "";
	enum job_status	 st;

	if (a != NULL)
		s = a;
	if (!cJSON_IsString(s) || (a == NULL && strcmp(s->valuestring,
	    EXPORT_SINCE_LAST_SUCCESS) != 0))
		return JOB_DONE;	/* none, or an instant already */
	x->own_params = cJSON_Duplicate(x->params, 1);
	if (strcmp(s->valuestring, EXPORT_SINCE_LAST_SUCCESS) != 0)
		str_lcpy(since, s->valuestring, sizeof(since));
	else {
		x->last_success = 1;
		if ((st = xp_last_success(x)) != JOB_DONE)
			return st;
		str_lcpy(since, x->ls_since, sizeof(since));
	}
	cJSON_DeleteItemFromObjectCaseSensitive(x->own_params, "_since");
	cJSON_DeleteItemFromObjectCaseSensitive(x->own_params, "since");
	if (since[0] != '\0')
		cJSON_AddStringToObject(x->own_params, "since", since);
	x->params = x->own_params;
	return JOB_DONE;
}

/*
 * _since=last-success: the transactionTime of the most recent completed
 * export of the job's schedule (jobs.client = "schedule:<name>"), fixed
 * when the job first starts, not when the schedule fired: a run still
 * going at the fire may well have finished by the time this one starts,
 * and its transactionTime is then the better bound.  Either way windows
 * of consecutive runs overlap rather than leave gaps, since only
 * completed runs count and the latest transactionTime of them is taken.
 * Kept in the checkpoint, so a rescued or resumed job keeps the window
 * it started with.  No earlier success (or it was pruned from the
 * history): everything, said so in the result and the manifest.
 */
static enum job_status
xp_last_success(struct xp *x)
{
	const cJSON	*cp = job_ctx_checkpoint(x->ctx), *ls, *v;
	const char	*client = job_ctx_client(x->ctx);
	const char	*sched;

	if ((sched = schedule_client_name(client)) == NULL) {
		job_ctx_error(x->ctx, "export: _since \"last-success\" is "
		    "for jobs that a schedule submits (client \"schedule:"
		    "NAME\"); this job's client is %s", client != NULL ?
		    client : "none");
		return JOB_FAIL;
	}
	ls = cp != NULL ? cJSON_GetObjectItemCaseSensitive(cp,
	    "lastSuccess") : NULL;
	if (cJSON_IsObject(ls)) {
		if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(ls,
		    "job")))
			str_lcpy(x->ls_job, v->valuestring, sizeof(x->ls_job));
		if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(ls,
		    "transactionTime")))
			str_lcpy(x->ls_since, v->valuestring,
			    sizeof(x->ls_since));
	} else {
		if (jobq_last_success(x->conn, "export", client,
		    job_ctx_id(x->ctx), x->ls_job, sizeof(x->ls_job),
		    x->ls_since, sizeof(x->ls_since), x->err,
		    sizeof(x->err)) == -1) {
			job_ctx_error(x->ctx, "export: finding the last "
			    "success: %s", x->err);
			return JOB_RETRY;
		}
	}
	if (x->ls_job[0] != '\0' && x->ls_since[0] != '\0')
		snprintf(x->ls_note, sizeof(x->ls_note), "_since=last-success "
		    "of schedule %s: resources changed after %s, the "
		    "transactionTime of its last successful export (job %s)",
		    sched, x->ls_since, x->ls_job);
	else {
		x->ls_job[0] = x->ls_since[0] = '\0';
		snprintf(x->ls_note, sizeof(x->ls_note), "_since=last-success "
		    "of schedule %s: no earlier successful export, so this one "
		    "holds everything (no _since)", sched);
	}
	log_info("job %s: %s", job_ctx_id(x->ctx), x->ls_note);
	return JOB_DONE;
}
