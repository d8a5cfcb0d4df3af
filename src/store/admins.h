/*
 * admins.h — the named admin principals of /admin/api
 * (schemas/014_admins.sql): the only code on the admins table.
 *
 * A principal is a name, a role and a token.  The token is 32 random
 * bytes, base64url, behind the prefix "bha_"; it is returned once by
 * admins_add and admins_rotate and never stored: the table keeps its
 * SHA-256, which admins_lookup finds with one indexed equality.  Roles
 * are ordered: each one may do what the ones below it may.
 *
 * Every function is one statement on the given connection (admins_lookup
 * included: it also notes last_used, at most once a minute).  Changes are
 * audited when the caller armed audit_begin for table "admins"; the
 * token hash and last_used are never part of an audit row.
 *
 * Errors: -1 with the reason (libpq's or ours) in a caller-supplied
 * errbuf; 1 where a named principal does not exist (or, for admins_add,
 * already does).  Rows from admins_list are the caller's to free with
 * admins_rows_free.
 */
#ifndef STORE_ADMINS_H
#define STORE_ADMINS_H

#include <stddef.h>
#include <libpq-fe.h>

#define ADMINS_NAME_MAX		64	/* 63 characters and the NUL */
#define ADMINS_TOKEN_MAX	64	/* "bha_" + 43 base64url + NUL */
#define ADMINS_HASH_LEN		32	/* SHA-256 */
#define ADMINS_TIME_MAX		32	/* "2026-01-01T00:00:00Z" */
#define ADMINS_CONFIG_NAME	"config" /* the legacy admin_token */

/* Ordered: a higher role may do everything a lower one may. */
enum admins_role {
	ADMINS_VIEWER = 1,	/* reads */
	ADMINS_OPERATOR,	/* and controls jobs and schedules */
	ADMINS_ADMIN		/* and changes limits and clients */
};

/* One principal, as admins_list shows it.  Plain data. */
struct admins_row {
	char			ar_name[ADMINS_NAME_MAX];
	enum admins_role	ar_role;
	int			ar_disabled;
	char			ar_created[ADMINS_TIME_MAX];
	char			ar_rotated[ADMINS_TIME_MAX];	/* "" never */
	char			ar_last_used[ADMINS_TIME_MAX];	/* "" never */
};

/* "viewer", "operator", "admin" (never NULL). */
const char	*admins_role_name(enum admins_role);
/* 0 and *role, or -1 if s names no role. */
int		 admins_role_parse(const char *s, enum admins_role *role);
/* 0 if name may name a principal; else -1 with the reason. */
int		 admins_name_check(const char *name, char *errbuf,
		    size_t errlen);
/* SHA-256 of the len bytes at token into hash.  0 or -1. */
int		 admins_token_hash(const char *token, size_t len,
		    unsigned char hash[ADMINS_HASH_LEN]);

/* Creates name with role and a new token, written into tok (at least
 * ADMINS_TOKEN_MAX bytes).  0, 1 if name exists, or -1. */
int	 admins_add(PGconn *, const char *name, enum admins_role,
	    char *tok, size_t toksz, char *errbuf, size_t errlen);
/* Gives name a new token (into tok); the old one stops working at once.
 * 0, 1 if no such principal, or -1. */
int	 admins_rotate(PGconn *, const char *name, char *tok, size_t toksz,
	    char *errbuf, size_t errlen);
/* Disables (disabled != 0) or enables name.  0, 1 if none, or -1. */
int	 admins_set_disabled(PGconn *, const char *name, int disabled,
	    char *errbuf, size_t errlen);
/* Deletes name.  0, 1 if none, or -1. */
int	 admins_delete(PGconn *, const char *name, char *errbuf,
	    size_t errlen);
/* Every principal, by name, into *rows (n of them, owned by the
 * caller).  0 or -1. */
int	 admins_list(PGconn *, struct admins_row **rows, size_t *n,
	    char *errbuf, size_t errlen);
void	 admins_rows_free(struct admins_row *);

/*
 * The principal whose token hashes to hash: its name (ADMINS_NAME_MAX
 * bytes), role and disabled flag.  0 if found, 1 if no principal has
 * that token, -1 on error.  One indexed query, which also sets last_used
 * of an enabled principal when it is older than a minute.
 */
int	 admins_lookup(PGconn *, const unsigned char hash[ADMINS_HASH_LEN],
	    char *name, enum admins_role *role, int *disabled,
	    char *errbuf, size_t errlen);

#endif
