/*
 * openhim_poll.c — GET /openhim/poll/{schedule}, the route of an OpenHIM
 * polling channel.  OpenHIM's polling app sends a GET on each cron tick
 * with X-OpenHIM-LastRunAt and X-OpenHIM-TransactionID (core-js
 * src/polling.js, src/middleware/router.js); the answer is a mediator
 * response, Content-Type application/json+openhim (router.js parses it
 * when the type contains that string; docs/dev-guide/mediators.md):
 * status "Processing", response 202 with the job's status URL,
 * properties with the job id, one orchestration for the kick-off.
 *
 * Each tick runs the schedule once (schedule_run_now); the transaction
 * id is claimed first (store/deliveries.h), so a replayed transaction
 * (rerun, auto-retry) answers with the job it started, never a second
 * one.  Infrastructure failures answer with "error" set, which makes
 * OpenHIM queue the transaction for auto-retry (B6 of OPENIMIS.md);
 * client errors answer status "Failed" with an OperationOutcome body.
 * Authentication: an admin principal of role operator (Bearer token).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "api/admin_auth.h"
#include "api/openhim_poll.h"
#include "core/cfg.h"
#include "http/http_route.h"
#include "jobs/schedule.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "openhim/openhim_mediator.h"
#include "store/deliveries.h"
#include "store/job_files.h"
#include "store/jobq.h"

#define OPENHIM_POLL_TYPE	"application/json+openhim"

static void	openhim_poll_outcome(struct http_req *, int, const char *);
static void	openhim_poll_reply(struct http_req *, const char *status,
		    int code, const char *body, const char *location,
		    cJSON *props, const char *error);

/* Answers a mediator response; takes props. */
static void
openhim_poll_reply(struct http_req *req, const char *status, int code,
    const char *body, const char *location, cJSON *props, const char *error)
{
	cJSON		*o, *r, *h, *orch, *e;
	struct buf	 b;
	char		 ts[32], *text;
	time_t		 now = time(NULL);
	struct tm	 tm;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "x-mediator-urn", OPENHIM_MEDIATOR_URN);
	cJSON_AddStringToObject(o, "status", status);
	r = cJSON_AddObjectToObject(o, "response");
	cJSON_AddNumberToObject(r, "status", code);
	h = cJSON_AddObjectToObject(r, "headers");
	cJSON_AddStringToObject(h, "content-type", code == 202 ?
	    "application/json" : "application/fhir+json");
	if (location != NULL)
		cJSON_AddStringToObject(h, "location", location);
	cJSON_AddStringToObject(r, "body", body);
	cJSON_AddStringToObject(r, "timestamp", ts);
	orch = cJSON_AddArrayToObject(o, "orchestrations");
	if (code == 202) {
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", "schedule run (kick-off)");
		r = cJSON_AddObjectToObject(e, "request");
		cJSON_AddStringToObject(r, "method", "POST");
		cJSON_AddStringToObject(r, "path", http_req_path(req));
		cJSON_AddStringToObject(r, "timestamp", ts);
		r = cJSON_AddObjectToObject(e, "response");
		cJSON_AddNumberToObject(r, "status", 202);
		cJSON_AddStringToObject(r, "body", body);
		cJSON_AddStringToObject(r, "timestamp", ts);
		cJSON_AddItemToArray(orch, e);
	}
	cJSON_AddItemToObject(o, "properties", props != NULL ? props :
	    cJSON_CreateObject());
	if (error != NULL) {
		e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(e, "message", error);
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	buf_init(&b, 1 << 20);
	(void)buf_puts(&b, text != NULL ? text : "{}");
	free(text);
	/* A mediator response is 200 to OpenHIM; the client's status is
	 * response.status.  Infrastructure errors are 500, with "error". */
	(void)http_reply_buf(req, error != NULL ? 500 : 200,
	    OPENHIM_POLL_TYPE, &b);
}

static void
openhim_poll_outcome(struct http_req *req, int code, const char *msg)
{
	cJSON	*oo, *issue, *arr;
	char	*text;

	oo = cJSON_CreateObject();
	cJSON_AddStringToObject(oo, "resourceType", "OperationOutcome");
	arr = cJSON_AddArrayToObject(oo, "issue");
	issue = cJSON_CreateObject();
	cJSON_AddStringToObject(issue, "severity", "error");
	cJSON_AddStringToObject(issue, "code", code == 404 ? "not-found" :
	    "invalid");
	cJSON_AddStringToObject(issue, "diagnostics", msg);
	cJSON_AddItemToArray(arr, issue);
	text = cJSON_PrintUnformatted(oo);
	cJSON_Delete(oo);
	openhim_poll_reply(req, "Failed", code, text != NULL ? text : "",
	    NULL, NULL, NULL);
	free(text);
}

void
openhim_poll_get(struct http_req *req)
{
	struct admin_ctx	 ax;
	const char		*name, *tid, *last;
	char			 err[ADMIN_ERR_MAX], job[JOBQ_ID_MAX] = "";
	char			 url[ADMIN_URL_MAX], body[ADMIN_URL_MAX + 128];
	cJSON			*props;
	int			 r, claimed = 0;

	if (admin_auth_open(req, &ax, 1) == -1 ||
	    admin_auth_require(&ax, ADMINS_OPERATOR) == -1)
		return;
	name = http_req_param(req, "schedule");
	tid = http_req_header(req, "X-OpenHIM-TransactionID");
	last = http_req_header(req, "X-OpenHIM-LastRunAt");
	if (name == NULL || strlen(name) > 64) {
		openhim_poll_outcome(req, 404, "no such schedule");
		return;
	}
	if (tid != NULL && (tid[0] == '\0' || strlen(tid) > 128)) {
		openhim_poll_outcome(req, 400, "X-OpenHIM-TransactionID: "
		    "1 to 128 characters");
		return;
	}
	if (tid != NULL) {
		r = deliveries_poll_claim(ax.ax_conn, tid, name, job,
		    sizeof(job), err, sizeof(err));
		if (r == -1) {
			openhim_poll_reply(req, "Failed", 500, "", NULL, NULL,
			    "database unavailable");
			return;
		}
		claimed = r;
	}
	if (tid == NULL || claimed) {
		if (admin_auth_audit_begin(&ax, "schedule.run", "jobs",
		    name) == -1)
			return;
		r = schedule_run_now(ax.ax_conn, name, job, sizeof(job), err,
		    sizeof(err));
		admin_auth_audit_end(&ax);
		if (ax.ax_conn == NULL) {
			openhim_poll_reply(req, "Failed", 500, "", NULL, NULL,
			    "audit reset failed");
			return;
		}
		if (tid != NULL)
			(void)deliveries_poll_done(ax.ax_conn, tid, r == 0 ?
			    job : NULL, err, sizeof(err));
		if (r == SCHEDULE_R_NOTFOUND || r == SCHEDULE_R_INVALID) {
			openhim_poll_outcome(req, r == SCHEDULE_R_NOTFOUND ?
			    404 : 400, err);
			return;
		}
		if (r != 0) {
			openhim_poll_reply(req, "Failed", 500, "", NULL, NULL,
			    "the schedule's run could not be submitted");
			return;
		}
		log_info("schedule %s: run by an OpenHIM polling tick (%s, "
		    "last run at %s): job %s", name, tid != NULL ? tid : "-",
		    last != NULL ? last : "-", job);
	}
	props = cJSON_CreateObject();
	cJSON_AddStringToObject(props, "schedule", name);
	if (job[0] != '\0')
		cJSON_AddStringToObject(props, "jobId", job);
	if (last != NULL)
		cJSON_AddStringToObject(props, "lastRunAt", last);
	cJSON_AddStringToObject(props, "replayed", claimed || tid == NULL ?
	    "false" : "true");
	(void)job_files_status_url(ax.ax_cfg->base_url, job, url,
	    sizeof(url));
	snprintf(body, sizeof(body), "{\"jobId\":\"%.64s\",\"status\":"
	    "\"%.2000s\"}", job, url);
	openhim_poll_reply(req, "Processing", 202, body, job[0] != '\0' ?
	    url : NULL, props, NULL);
}
