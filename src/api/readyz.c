/*
 * readyz.c — GET /readyz, readiness beside /healthz's liveness: 200 when
 * this process reaches PostgreSQL (http_db_ping, with its deadline) and
 * the database has every migration compiled into this binary
 * (migrate_pending); else 503 with a JSON reason, so that a load
 * balancer sends no traffic to a node whose schema is behind it (a
 * rolling upgrade) or whose database is gone.  Never cached.
 */
#include <stdio.h>

#include <cjson/cJSON.h>

#include "api/readyz.h"
#include "http/http_db.h"
#include "http/http_route.h"
#include "lib/log.h"
#include "store/migrate.h"

#define READYZ_PING_MS	2000	/* the database's deadline */

void
readyz_get(struct http_req *req)
{
	PGconn	*conn;
	cJSON	*o = cJSON_CreateObject();
	char	 err[512], first[128], reason[768];
	int	 n;

	(void)http_resp_header(req, "Cache-Control", "no-store");
	if (http_db_ping(READYZ_PING_MS, err, sizeof(err)) == -1 ||
	    (conn = http_db_conn(err, sizeof(err))) == NULL) {
		snprintf(reason, sizeof(reason), "database unreachable");
		log_warnx("readyz: request %s: database: %s",
		    http_req_id(req), err);
		goto unready;
	}
	if ((n = migrate_pending(conn, first, sizeof(first), err,
	    sizeof(err))) == -1) {
		http_db_discard();
		snprintf(reason, sizeof(reason), "migrations unreadable");
		log_warnx("readyz: request %s: %s", http_req_id(req), err);
		goto unready;
	}
	if (n > 0) {
		snprintf(reason, sizeof(reason), "%d migration%s not applied "
		    "(first: %s)", n, n > 1 ? "s" : "", first);
		goto unready;
	}
	cJSON_AddStringToObject(o, "status", "ready");
	cJSON_AddStringToObject(o, "database", "ok");
	cJSON_AddStringToObject(o, "migrations", "current");
	(void)http_reply_json(req, 200, o);
	cJSON_Delete(o);
	return;
 unready:
	cJSON_AddStringToObject(o, "status", "unready");
	cJSON_AddStringToObject(o, "reason", reason);
	(void)http_reply_json(req, 503, o);
	cJSON_Delete(o);
}
