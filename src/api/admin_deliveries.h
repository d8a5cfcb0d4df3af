/*
 * admin_deliveries.h — OpenHIM deliveries in the admin API (issue 15):
 * listed in GET /admin/api/jobs/{id} ("deliveries"), replayed by
 * POST /admin/api/jobs/{id}/deliveries/{n}/retry (role operator, as
 * every job action).  The workers send; the API only marks the row due.
 */
#ifndef API_ADMIN_DELIVERIES_H
#define API_ADMIN_DELIVERIES_H

#include <cjson/cJSON.h>

struct admin_ctx;
struct buf;
struct http_req;

/* Adds "deliveries" to o.  0, or -1 after answering. */
int	admin_deliveries_add(struct admin_ctx *, const char *job, cJSON *o);
void	admin_api_delivery_retry(struct http_req *);

#endif
