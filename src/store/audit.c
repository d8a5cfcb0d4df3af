/*
 * audit.c — arms and disarms the audit triggers of 005_audit.sql.
 *
 * The context travels as session settings (set_config(..., false)): the
 * change itself may run in a transaction this module does not see
 * (schedule_put, limits_put_json), and a transaction-local setting made
 * before that transaction began would be gone inside it.  The principal
 * and role settings reach the audit row through the column defaults of
 * 014_admins.sql, not through the trigger function.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "store/audit.h"
#include "lib/str.h"
#include "store/db.h"
#include "lib/xmalloc.h"

#define AUDIT_HASH_BYTES	8	/* of the SHA-256, shown as hex */

/* One statement, so that a half-armed session cannot happen. */
#define AUDIT_SET \
	"SELECT set_config('bulkhead.audit_actor', $1, false), " \
	"set_config('bulkhead.audit_client', $2, false), " \
	"set_config('bulkhead.audit_request', $3, false), " \
	"set_config('bulkhead.audit_action', $4, false), " \
	"set_config('bulkhead.audit_target', $5, false), " \
	"set_config('bulkhead.audit_table', $6, false), " \
	"set_config('bulkhead.audit_principal', $7, false), " \
	"set_config('bulkhead.audit_role', $8, false)"
#define AUDIT_NSET	8

void
audit_actor_init(struct audit_actor *who, const char *token, size_t toklen,
    const char *addr, const char *request)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0, i;
	size_t		n;

	memset(who, 0, sizeof(*who));
	n = (size_t)snprintf(who->aa_actor, sizeof(who->aa_actor), "token:");
	if (token != NULL && EVP_Digest(token, toklen, md, &mdlen,
	    EVP_sha256(), NULL) == 1 && mdlen >= AUDIT_HASH_BYTES) {
		for (i = 0; i < AUDIT_HASH_BYTES; i++, n += 2)
			snprintf(who->aa_actor + n, sizeof(who->aa_actor) - n,
			    "%02x", md[i]);
	} else
		str_lcpy(who->aa_actor + n, "unknown",
		    sizeof(who->aa_actor) - n);
	str_lcpy(who->aa_addr, addr != NULL ? addr : "", sizeof(who->aa_addr));
	str_lcpy(who->aa_request, request != NULL ? request : "",
	    sizeof(who->aa_request));
}

void
audit_actor_principal(struct audit_actor *who, const char *name,
    const char *role)
{
	str_lcpy(who->aa_principal, name != NULL ? name : "",
	    sizeof(who->aa_principal));
	str_lcpy(who->aa_role, role != NULL ? role : "", sizeof(who->aa_role));
}

static int
audit_set(PGconn *conn, const char *const *p, char *errbuf, size_t errlen)
{
	PGresult	*res;

	if ((res = db_query(conn, AUDIT_SET, AUDIT_NSET, p, errbuf, errlen)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
audit_begin(PGconn *conn, const struct audit_actor *who, const char *action,
    const char *table, const char *target, char *errbuf, size_t errlen)
{
	const char	*p[AUDIT_NSET];

	p[0] = who->aa_actor;
	p[1] = who->aa_addr;
	p[2] = who->aa_request;
	p[3] = action;
	p[4] = target;
	p[5] = table;
	p[6] = who->aa_principal;
	p[7] = who->aa_role;
	return audit_set(conn, p, errbuf, errlen);
}

int
audit_end(PGconn *conn, char *errbuf, size_t errlen)
{
	const char	*p[AUDIT_NSET] = { "", "", "", "", "", "", "", "" };

	/* A transaction left open by a failed change would roll the reset
	 * back with it: end it first. */
	if (PQtransactionStatus(conn) != PQTRANS_IDLE &&
	    db_exec(conn, "ROLLBACK", 0, NULL, errbuf, errlen) == -1)
		return -1;
	return audit_set(conn, p, errbuf, errlen);
}

int
audit_job_json(PGconn *conn, const char *id, const char *kind,
    const char *retry_of, int limit, char **json, char *errbuf,
    size_t errlen)
{
	const char	*params[4];
	char		 lim[16];
	PGresult	*res;

	*json = NULL;
	snprintf(lim, sizeof(lim), "%d", limit);
	params[0] = id;
	params[1] = kind;
	params[2] = retry_of;
	params[3] = lim;
	/* Both arms use the audit_target index; the changes leave out
	 * "updated", which every write moves. */
	res = db_query(conn, "SELECT coalesce(json_agg(json_build_object("
	    "'id', a.id, 'at', to_char(a.at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'action', a.action, "
	    "'actor', a.actor, 'principal', a.principal, 'role', a.role, "
	    "'client_addr', a.client_addr, 'request_id', a.request_id, "
	    "'job', coalesce(a.after->>'id', a.before->>'id'), "
	    "'created', a.before IS NULL, 'deleted', a.after IS NULL, "
	    "'changes', (SELECT coalesce(json_agg(json_build_object("
	    "'field', k, 'before', a.before->k, 'after', a.after->k) "
	    "ORDER BY k), '[]') FROM jsonb_object_keys(a.after) k "
	    "WHERE a.before IS NOT NULL AND k <> 'updated' "
	    "AND a.before->k IS DISTINCT FROM a.after->k)) "
	    "ORDER BY a.at DESC, a.id DESC), '[]') "
	    "FROM (SELECT * FROM audit WHERE (action LIKE 'job.%' "
	    "OR action LIKE 'delivery.%') AND (target = $1 "
	    "OR (target IN ($2, $3) AND after->>'id' = $1)) "
	    "ORDER BY at DESC, id DESC LIMIT $4::int) a", 4, params, errbuf,
	    errlen);
	if (res == NULL)
		return -1;
	*json = xstrdup(PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ?
	    PQgetvalue(res, 0, 0) : "[]");
	PQclear(res);
	return 0;
}
