/*
 * api_routes.c — THE ROUTE TABLE: one row per (methods, pattern), and
 * the hooks that start and stop what the handlers need (the
 * CapabilityStatement, the status cache).
 *
 * Keep FHIR routes under /fhir, JSON administration under /admin/api.
 * The CapabilityStatement declares an operation of fhir/operations.json
 * only when its row is here (http_route_exists).  The framework checks
 * the table at start (http_route_init): a malformed row stops the API.
 */
#include <stddef.h>

#include "api/api_interactive.h"
#include "api/admin_api.h"
#include "api/admin_clients.h"
#include "api/admin_deliveries.h"
#include "api/admin_page.h"
#include "api/api_routes.h"
#include "api/auth_token.h"
#include "api/export_api.h"
#include "api/export_files.h"
#include "api/export_status.h"
#include "api/http_fhir.h"
#include "api/import_api.h"
#include "api/openhim_poll.h"
#include "api/queue_metrics.h"
#include "api/readyz.h"
#include "core/cfg.h"
#include "http/http_metrics.h"
#include "http/http_route.h"
#include "http/http_server.h"
#include "lib/buf.h"
#include "lib/log.h"

#define API_ROUTES_METRICS_TYPE	"text/plain; version=0.0.4; charset=utf-8"

static void	 api_routes_metrics(struct http_req *);
static int	 api_routes_start(const struct cfg *, char *, size_t);
static void	 api_routes_stop(void);

static const struct http_route api_routes_table[] = {
	{ HTTP_GET, "/healthz", 0, http_fhir_healthz },
	{ HTTP_GET, "/metrics", 0, api_routes_metrics },
	{ HTTP_GET, "/readyz", 0, readyz_get },
	{ HTTP_GET, "/openhim/poll/{schedule}", 0, openhim_poll_get },
	{ HTTP_GET, "/openhim/poll/{schedule}/outputs", 0,
	    openhim_poll_outputs_get },
	{ HTTP_GET, "/fhir/metadata", HTTP_ROUTE_FHIR, http_fhir_metadata },
	{ HTTP_GET | HTTP_POST, "/fhir/$export", HTTP_ROUTE_FHIR,
	    export_api_kickoff_system },
	{ HTTP_GET | HTTP_POST, "/fhir/Patient/$export", HTTP_ROUTE_FHIR,
	    export_api_kickoff_patient },
	{ HTTP_GET | HTTP_POST, "/fhir/Group/{id}/$export", HTTP_ROUTE_FHIR,
	    export_api_kickoff_group },
	{ HTTP_POST, "/fhir/$import", HTTP_ROUTE_FHIR, import_api_kickoff },
	{ HTTP_GET, "/fhir/_jobs/{id}", HTTP_ROUTE_FHIR, export_status_get },
	{ HTTP_DELETE, "/fhir/_jobs/{id}", HTTP_ROUTE_FHIR,
	    export_status_delete },
	{ HTTP_GET, "/fhir/_jobs/{id}/files/{name}", 0, export_files_get },
	/* SMART Backend Services (src/api/auth_token.h); 404 with auth =
	 * none.  Discovery is JSON whatever Accept says (AUTH-D-02). */
	{ HTTP_GET, "/fhir/.well-known/smart-configuration", 0,
	    auth_token_discovery },
	{ HTTP_POST, "/auth/token", HTTP_ROUTE_BODY_ANY, auth_token_post },
	/* The operator's console (src/api/admin_page.h): static files. */
	{ HTTP_GET, "/admin", 0, admin_page_index },
	{ HTTP_GET, "/admin/", 0, admin_page_index },
	{ HTTP_GET, "/admin/{asset}", 0, admin_page_asset },
	/* Operator API (src/api/admin_api.h): bearer token, JSON. */
	{ HTTP_GET, "/admin/api/jobs", 0, admin_api_jobs_list },
	{ HTTP_POST, "/admin/api/jobs", 0, admin_api_jobs_submit },
	{ HTTP_GET, "/admin/api/jobs/{id}", 0, admin_api_job_get },
	{ HTTP_GET, "/admin/api/jobs/{id}/errors", 0, admin_api_job_errors },
	{ HTTP_GET, "/admin/api/jobs/{id}/audit", 0, admin_api_job_audit },
	{ HTTP_POST, "/admin/api/jobs/{id}/pause", HTTP_ROUTE_BODY_ANY,
	    admin_api_job_pause },
	{ HTTP_POST, "/admin/api/jobs/{id}/resume", HTTP_ROUTE_BODY_ANY,
	    admin_api_job_resume },
	{ HTTP_POST, "/admin/api/jobs/{id}/cancel", HTTP_ROUTE_BODY_ANY,
	    admin_api_job_cancel },
	{ HTTP_POST, "/admin/api/jobs/{id}/retry", HTTP_ROUTE_BODY_ANY,
	    admin_api_job_retry },
	{ HTTP_POST, "/admin/api/jobs/{id}/deliveries/{n}/retry",
	    HTTP_ROUTE_BODY_ANY, admin_api_delivery_retry },
	{ HTTP_GET, "/admin/api/schedules", 0, admin_api_schedules_list },
	{ HTTP_GET, "/admin/api/schedules/{name}", 0, admin_api_schedule_get },
	{ HTTP_PUT, "/admin/api/schedules/{name}", 0, admin_api_schedule_put },
	{ HTTP_DELETE, "/admin/api/schedules/{name}", 0,
	    admin_api_schedule_delete },
	{ HTTP_POST, "/admin/api/schedules/{name}/run", HTTP_ROUTE_BODY_ANY,
	    admin_api_schedule_run },
	{ HTTP_POST, "/admin/api/schedules/{name}/pause", HTTP_ROUTE_BODY_ANY,
	    admin_api_schedule_pause },
	{ HTTP_POST, "/admin/api/schedules/{name}/resume",
	    HTTP_ROUTE_BODY_ANY, admin_api_schedule_resume },
	{ HTTP_GET, "/admin/api/whoami", 0, admin_api_whoami },
	{ HTTP_GET, "/admin/api/calendar", 0, admin_api_calendar },
	{ HTTP_GET, "/admin/api/limits", 0, admin_api_limits_get },
	{ HTTP_PUT, "/admin/api/limits", 0, admin_api_limits_put },
	{ HTTP_GET, "/admin/api/limits/fields", 0, admin_api_limits_fields },
	/* SMART clients (src/api/admin_clients.h). */
	{ HTTP_GET, "/admin/api/clients", 0, admin_clients_list },
	{ HTTP_POST, "/admin/api/clients", 0, admin_clients_put },
	{ HTTP_GET, "/admin/api/clients/{name}", 0, admin_clients_get },
	{ HTTP_PUT, "/admin/api/clients/{name}", 0, admin_clients_put },
	{ HTTP_DELETE, "/admin/api/clients/{name}", 0, admin_clients_delete },
	{ HTTP_POST, "/admin/api/clients/{name}/disable", HTTP_ROUTE_BODY_ANY,
	    admin_clients_disable },
	{ HTTP_POST, "/admin/api/clients/{name}/enable", HTTP_ROUTE_BODY_ANY,
	    admin_clients_enable },
};

const struct http_app api_routes = {
	.app_routes = api_routes_table,
	.app_nroutes = sizeof(api_routes_table) / sizeof(api_routes_table[0]),
	.app_start = api_routes_start,
	.app_stop = api_routes_stop,
};

/* GET /metrics: the framework's counters and the queue's
 * (api/queue_metrics.h), Prometheus text. */
static void
api_routes_metrics(struct http_req *req)
{
	struct buf	b;

	buf_init(&b, HTTP_METRICS_MAX_TEXT + QUEUE_METRICS_MAX_TEXT);
	if (http_metrics_render(&b, http_route_in_flight()) == -1 ||
	    api_interactive_metrics(&b) == -1 ||
	    queue_metrics_render(&b) == -1) {
		buf_free(&b);
		http_reply_internal(req, "metrics text over %d bytes",
		    HTTP_METRICS_MAX_TEXT + QUEUE_METRICS_MAX_TEXT);
		return;
	}
	http_reply_buf(req, 200, API_ROUTES_METRICS_TYPE, &b);
}

/*
 * After the router and the database pool: the CapabilityStatement (it
 * reads the route table) must build, the status cache may fail (polls
 * then read the database each time).
 */
static int
api_routes_start(const struct cfg *cfg, char *errbuf, size_t errlen)
{
	char	err[512];

	if (http_fhir_init(cfg, errbuf, errlen) == -1)
		return -1;
	queue_metrics_openhim(cfg->openhim_api_url[0] != '\0');
	if (export_status_start(cfg, err, sizeof(err)) == -1)
		log_warnx("%s; status polls read the database each time", err);
	if (api_interactive_start(cfg, err, sizeof(err)) == -1)
		log_warnx("%s; bulk jobs will not back off for this process",
		    err);
	return 0;
}

/* Safe whether or not start ran or succeeded. */
static void
api_routes_stop(void)
{
	api_interactive_stop();
	export_status_stop();
	queue_metrics_shutdown();
	http_fhir_shutdown();
}
