/*
 * admin_deliveries.c — OpenHIM deliveries in the admin API (see
 * admin_deliveries.h).  A retry resets the attempts and makes the
 * delivery due now, whatever its state (a delivered one is sent again:
 * the operator asked for it); it is audited like the other job actions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admin_auth.h"
#include "api/admin_deliveries.h"
#include "api/admin_jobs.h"
#include "http/http_db.h"
#include "http/http_outcome.h"
#include "http/http_route.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "store/deliveries.h"
#include "store/jobq.h"
#include "store/ndjson.h"

int
admin_deliveries_add(struct admin_ctx *ax, const char *job, cJSON *o)
{
	char	 err[ADMIN_ERR_MAX], *text = NULL;
	cJSON	*arr;

	if (deliveries_list_json(ax->ax_conn, job, &text, err,
	    sizeof(err)) == -1) {
		admin_auth_db_fail(ax, "job deliveries", err);
		return -1;
	}
	if ((arr = cJSON_Parse(text)) == NULL)
		arr = cJSON_CreateArray();
	cJSON_AddItemToObject(o, "deliveries", arr);
	free(text);
	return 0;
}

void
admin_api_delivery_retry(struct http_req *req)
{
	struct admin_ctx	 ax;
	const char		*id, *ns, *errstr;
	char			 err[ADMIN_ERR_MAX];
	int64_t			 n;
	int			 r;

	if (admin_auth_open(req, &ax, 1) == -1)
		return;
	id = http_req_param(req, "id");
	ns = http_req_param(req, "n");
	if (id == NULL || strlen(id) >= JOBQ_ID_MAX ||
	    !ndjson_valid_id(id, strlen(id)) || ns == NULL ||
	    str_to_i64(ns, 1, 1000, &n, &errstr) == -1) {
		(void)http_reply_outcome(req, 404, "not-found",
		    "no such delivery");
		return;
	}
	if (admin_auth_audit_begin(&ax, "delivery.retry", "openhim_deliveries",
	    id) == -1)
		return;
	r = deliveries_retry(ax.ax_conn, id, (int)n, err, sizeof(err));
	admin_auth_audit_end(&ax);
	if (r == -1) {
		admin_auth_db_fail(&ax, "delivery retry", err);
		return;
	}
	if (ax.ax_conn == NULL) {
		(void)http_reply_internal(req, "retry: audit reset failed");
		return;
	}
	if (r == 0) {
		(void)http_reply_outcome(req, 404, "not-found",
		    "no such delivery");
		return;
	}
	log_info("job %s: delivery %lld re-queued by %s (%s)", id,
	    (long long)n, ax.ax_who.aa_actor, ax.ax_who.aa_addr);
	admin_jobs_reply(&ax, 200, id, 0);
}

