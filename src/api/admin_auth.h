/*
 * admin_auth.h — what every admin API handler does first and around its
 * change: the bearer-token check (admin_api.h, AUTHENTICATION), the
 * admin principal and role it yields (store/admins.h), the role check,
 * the audit actor, the thread's database connection, and the audit
 * triggers armed around a change (store/audit.h).
 *
 * Shared by the admin_*.c handlers only.  Every function that can fail
 * has answered the request when it returns -1; the handler then only
 * cleans up.  libmicrohttpd threads.
 *
 * ROLES: admin_auth_open already refuses (403) a principal whose role is
 * below what the route needs by default: viewer for GET and HEAD,
 * operator for the other methods under /admin/api/jobs and
 * /admin/api/schedules, admin for every other method and path (limits,
 * clients, anything added later).  A handler that needs more than that
 * default calls admin_auth_require after admin_auth_open.
 */
#ifndef API_ADMIN_AUTH_H
#define API_ADMIN_AUTH_H

#include <libpq-fe.h>

#include "store/admins.h"
#include "store/audit.h"

#define ADMIN_ERR_MAX		512	/* reasons from lower layers */
#define ADMIN_MSG_MAX		384	/* 409 messages */
#define ADMIN_URL_MAX		2048	/* status, download, Location URLs */

struct cfg;
struct http_req;

/* What every handler has after admin_auth_open. */
struct admin_ctx {
	struct http_req		*ax_req;
	const struct cfg	*ax_cfg;	/* borrowed, process lifetime */
	PGconn			*ax_conn;	/* the thread's; borrowed; NULL
						   once dropped */
	struct audit_actor	 ax_who;	/* aa_principal: the name */
	enum admins_role	 ax_role;
};

/*
 * Authenticates the request (an admin principal's token, or the legacy
 * admin_token as principal "config" with role admin), checks the
 * route's default role (ROLES above) and, with need_db, gets the
 * thread's connection.  0, or -1 after answering (401, 403, 503).
 */
int	admin_auth_open(struct http_req *, struct admin_ctx *, int need_db);
/* 0 if the authenticated principal has at least role; else answers 403
 * (and logs the refusal, never the token) and returns -1. */
int	admin_auth_require(struct admin_ctx *, enum admins_role role);
/* Gets the thread's connection.  0, or -1 after answering 503. */
int	admin_auth_connect(struct admin_ctx *);
/* A statement failed: drops the connection (its state is unknown) and
 * answers 500 with what and err. */
void	admin_auth_db_fail(struct admin_ctx *, const char *what,
	    const char *err);
/* Arms the audit triggers of table for action on target.  0, or -1
 * after answering. */
int	admin_auth_audit_begin(struct admin_ctx *, const char *action,
	    const char *table, const char *target);
/* Disarms them.  A connection that cannot be disarmed is dropped and
 * replaced; ax_conn is NULL if that fails too (the handler answers). */
void	admin_auth_audit_end(struct admin_ctx *);

#endif
