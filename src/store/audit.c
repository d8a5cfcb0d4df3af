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
#include <string.h>

#include <openssl/evp.h>

#include "store/audit.h"
#include "lib/str.h"
#include "store/db.h"

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
