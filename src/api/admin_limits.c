/*
 * admin_limits.c — the admin API's limits routes: GET and PUT
 * /admin/api/limits, and GET /admin/api/limits/fields, what each limit
 * means and its unit, for the console (see admin_api.h; the row and its
 * checks are jobs/limits.c's, the meanings those of jobs/limits.h).  A change runs with the audit triggers armed
 * (admin_auth.h).  libmicrohttpd threads, the thread's connection.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "api/admin_api.h"
#include "api/admin_auth.h"
#include "http/http_route.h"
#include "jobs/limits.h"
#include "lib/buf.h"
#include "lib/log.h"

#define ADMIN_LIMITS_MAX	(64 * 1024)	/* GET /admin/api/limits body */

static void	 admin_limits_reply(struct admin_ctx *);

/* One limit as the console shows it: limits.h's table in words. */
static const struct {
	const char	*lf_name;
	const char	*lf_type;	/* "integer", "boolean", "map" */
	const char	*lf_unit;	/* or NULL */
	long		 lf_min, lf_max;
	const char	*lf_text;
} admin_limits_fields[] = {
	{ "max_jobs_total", "integer", "jobs", 0, 1000,
	  "Jobs running at once, all kinds together (0: no limit)." },
	{ "max_jobs_per_kind", "map", "jobs", 0, 1000,
	  "Jobs of a kind running at once, per kind (0: the kind does not "
	  "run; a kind not listed: only the total applies)." },
	{ "rows_per_second", "integer", "rows/s", 0, 0,
	  "Rows a job reads or writes per second (0: unlimited)." },
	{ "bytes_per_second", "integer", "bytes/s", 0, 0,
	  "Bytes a job reads or writes per second (0: unlimited)." },
	{ "import_batch_lines", "integer", "lines", 0, 10000000,
	  "Lines per import transaction: 0, or 100 to 10,000,000 (0: the "
	  "configured default); with a row rate, at most 10 s of rows." },
	{ "statement_timeout_ms", "integer", "ms", 0, 86400000,
	  "Statement timeout of the workers' bulk sessions (0: none; not "
	  "applied while a rate is set)." },
	{ "worker_nice", "integer", "nice", 0, 19,
	  "CPU priority of the worker processes and, where permitted, their "
	  "database backends (0 normal, 19 lowest)." },
	{ "worker_idle", "boolean", NULL, 0, 1,
	  "Run the worker processes in the SCHED_IDLE class (1: they only "
	  "use CPU nothing else wants)." },
	{ "kind_timeout_s", "map", "s", 0, 604800,
	  "An attempt of the kind running longer than this fails for good, "
	  "per kind (0 or not listed: no timeout)." },
	{ "kind_max_attempts", "map", "attempts", 1, 100,
	  "Attempts before a job of the kind fails for good, per kind (caps "
	  "the job's own)." },
};

static void
admin_limits_reply(struct admin_ctx *ax)
{
	struct buf	b;
	char		err[ADMIN_ERR_MAX];

	buf_init(&b, ADMIN_LIMITS_MAX);
	if (limits_get_json(ax->ax_conn, &b, err, sizeof(err)) == -1)
		admin_auth_db_fail(ax, "limits", err);
	else
		(void)http_reply_buf(ax->ax_req, 200, "application/json", &b);
	buf_free(&b);
}

void
admin_api_limits_get(struct http_req *req)
{
	struct admin_ctx	ax;

	if (admin_auth_open(req, &ax, 1) == -1)
		return;
	admin_limits_reply(&ax);
}

void
admin_api_limits_put(struct http_req *req)
{
	struct admin_ctx	 ax;
	const cJSON		*body;
	const char		*text;
	char			 err[ADMIN_ERR_MAX];
	size_t			 len;
	int			 rc;

	if (admin_auth_open(req, &ax, 1) == -1)
		return;
	body = http_req_body_json(req);
	text = http_req_body(req, &len);
	if (body == NULL) {
		(void)http_reply_outcome(req, 400, "invalid", "%s", len > 0 ?
		    "the body is not valid JSON" : "a JSON body is required: "
		    "an object with the limits to change");
		return;
	}
	if (!cJSON_IsObject(body)) {
		(void)http_reply_outcome(req, 400, "invalid", "the body must "
		    "be a JSON object with the limits to change");
		return;
	}
	if (strlen(text) != len) {
		(void)http_reply_outcome(req, 400, "invalid", "the body "
		    "contains a NUL byte");
		return;
	}
	if (admin_auth_audit_begin(&ax, "limits.put", "limits", "limits") == -1)
		return;
	rc = limits_put_json(ax.ax_conn, text, err, sizeof(err));
	admin_auth_audit_end(&ax);
	if (rc == -1) {
		(void)http_reply_outcome(req, 400, "invalid", "%s", err);
		return;
	}
	if (rc != 0) {
		admin_auth_db_fail(&ax, "limits put", err);
		return;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "limits put: audit reset "
		    "failed");
		return;
	}
	log_info("limits changed by %s (%s)", ax.ax_who.aa_actor,
	    ax.ax_who.aa_addr);
	admin_limits_reply(&ax);
}

/* GET /admin/api/limits/fields: {"fields":[{name, type, unit, min, max
 * (null: none), description}]}, in the order the page shows them. */
void
admin_api_limits_fields(struct http_req *req)
{
	struct admin_ctx	 ax;
	cJSON			*o, *arr, *f;
	size_t			 i;

	if (admin_auth_open(req, &ax, 0) == -1)
		return;
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "fields");
	for (i = 0; i < sizeof(admin_limits_fields) /
	    sizeof(admin_limits_fields[0]); i++) {
		f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "name",
		    admin_limits_fields[i].lf_name);
		cJSON_AddStringToObject(f, "type",
		    admin_limits_fields[i].lf_type);
		if (admin_limits_fields[i].lf_unit != NULL)
			cJSON_AddStringToObject(f, "unit",
			    admin_limits_fields[i].lf_unit);
		else
			cJSON_AddNullToObject(f, "unit");
		cJSON_AddNumberToObject(f, "min",
		    (double)admin_limits_fields[i].lf_min);
		if (admin_limits_fields[i].lf_max > 0)
			cJSON_AddNumberToObject(f, "max",
			    (double)admin_limits_fields[i].lf_max);
		else
			cJSON_AddNullToObject(f, "max");
		cJSON_AddStringToObject(f, "description",
		    admin_limits_fields[i].lf_text);
		cJSON_AddItemToArray(arr, f);
	}
	(void)http_reply_json(req, 200, o);
	cJSON_Delete(o);
}
