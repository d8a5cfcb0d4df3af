/*
 * audit.h — the audit trail of operator changes (schemas/005_audit.sql).
 *
 * Rows are written by triggers on the changed tables, in the same
 * transaction as the change, so that no code path (ours, or the
 * transaction-owning schedule_* and limits_put_json) can change a row
 * without its audit row or leave an audit row for a change that rolled
 * back.  This module arms those triggers on one connection:
 *
 *	audit_begin(conn, &who, "job.pause", "jobs", id, ...);
 *	... the statement(s) that change the row ...
 *	audit_end(conn, ...);
 *
 * Between the two, every row changed in 'table' through conn is recorded
 * with the action, target and actor given; changes to other tables are
 * not.  The settings are per session: audit_end must run on every path,
 * and a connection whose audit_end failed must be discarded (it could
 * record someone else's change later).
 *
 * Errors: -1 with the reason (libpq's) in a caller-supplied errbuf.
 */
#ifndef ADMIN_AUDIT_H
#define ADMIN_AUDIT_H

#include <stddef.h>
#include <libpq-fe.h>

#define AUDIT_ACTOR_MAX		32	/* "token:" + 16 hex digits */
#define AUDIT_ADDR_MAX		64	/* an IPv6 address fits */
#define AUDIT_REQUEST_MAX	24	/* a request id (16 hex digits) */
#define AUDIT_ACTION_MAX	32	/* "schedule.resume" */
#define AUDIT_TARGET_MAX	128	/* a job id or schedule name */
#define AUDIT_PRINCIPAL_MAX	64	/* an admin principal's name */
#define AUDIT_ROLE_MAX		16	/* "operator" */

/* Who made a change.  Plain data; no heap. */
struct audit_actor {
	char	aa_actor[AUDIT_ACTOR_MAX];	/* hash of the token */
	char	aa_addr[AUDIT_ADDR_MAX];	/* client address, or "" */
	char	aa_request[AUDIT_REQUEST_MAX];	/* request id, or "" */
	/* The admin principal (store/admins.h) and its role, or "": the
	 * audit table's principal and role columns (014_admins.sql). */
	char	aa_principal[AUDIT_PRINCIPAL_MAX];
	char	aa_role[AUDIT_ROLE_MAX];
};

/*
 * Fills *who: the actor is "token:" and the first 8 bytes of the SHA-256
 * of the toklen bytes at token, in hex, so that audit rows tell tokens
 * apart without storing one.  addr and request (may be NULL) are copied,
 * truncated to fit.  The principal and role are left empty: the caller
 * sets them (audit_actor_principal) once it knows who the token is.
 */
void	audit_actor_init(struct audit_actor *who, const char *token,
	    size_t toklen, const char *addr, const char *request);

/* Sets the principal's name and role in *who (copied, truncated). */
void	audit_actor_principal(struct audit_actor *who, const char *name,
	    const char *role);

/* Arms the audit trigger of table for conn (see above).  0 or -1. */
int	audit_begin(PGconn *conn, const struct audit_actor *who,
	    const char *action, const char *table, const char *target,
	    char *errbuf, size_t errlen);
/* Disarms it.  0, or -1: discard the connection. */
int	audit_end(PGconn *conn, char *errbuf, size_t errlen);

/*
 * The audit rows about job id, newest first, at most limit, as a JSON
 * array in *json (caller frees with free()): the rows whose target is
 * the job (job.pause, job.cancel, delivery.retry ...), and those that
 * created it under another target: its submission (target: kind) and
 * the retry that made it (target: retry_of, may be NULL).  Each:
 * {"id", "at", "action", "actor", "principal", "role", "client_addr",
 * "request_id", "job" (the row's id), "created", "deleted", "changes":
 * [{"field", "before", "after"}]}.  0 or -1.
 */
int	audit_job_json(PGconn *conn, const char *id, const char *kind,
	    const char *retry_of, int limit, char **json, char *errbuf,
	    size_t errlen);

#endif
