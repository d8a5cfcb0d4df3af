/*
 * admin_limits.c — the admin API's limits routes: GET and PUT
 * /admin/api/limits (see admin_api.h; the row and its checks are
 * jobs/limits.c's).  A change runs with the audit triggers armed
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
