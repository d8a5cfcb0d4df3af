/*
 * scope.h — SMART system scopes (AUTH-SC-01..05): parsing, granting and
 * the checks the bulk endpoints make.
 *
 * A scope set is a fixed array (SCOPE_MAX_ITEMS) of items, each a type
 * (an R4 resource type or "*") with a permission mask of c r u d s, and
 * the form it was written in: v1 (".read", ".write", ".*") or v2 (the
 * letters, in that order, each at most once).  A v2 "?param=..." suffix
 * is accepted only with SCOPE_PARSE_CONSTRAINED and then ignored: the
 * scope counts for the whole type (issue 13); registrations parse without
 * the flag, so an operator cannot believe a constraint is enforced.
 *
 * Anything else makes the whole string invalid (invalid_scope): launch,
 * fhirUser, openid, patient/ and user/ scopes, unknown types, unknown or
 * out-of-order actions, an empty string.
 *
 * Reading a type for export needs both r and s (".read", ".rs"); writing
 * (import) needs both c and u (".write", ".cu", ".cud", ...).
 * Errors: 0 / -1 with a reason in err[errlen].  Nothing allocates.
 */
#ifndef AUTH_SCOPE_H
#define AUTH_SCOPE_H

#include <stddef.h>

#define SCOPE_MAX_LEN	4096	/* a scope string, bytes */
#define SCOPE_MAX_ITEMS	64
#define SCOPE_TYPE_MAX	64	/* resource type name, bytes with NUL */

#define SCOPE_C		0x01
#define SCOPE_R		0x02
#define SCOPE_U		0x04
#define SCOPE_D		0x08
#define SCOPE_S		0x10
#define SCOPE_READ	(SCOPE_R | SCOPE_S)		/* v1 .read */
#define SCOPE_WRITE	(SCOPE_C | SCOPE_U | SCOPE_D)	/* v1 .write */
#define SCOPE_ALL	(SCOPE_READ | SCOPE_WRITE)	/* v1 .* */

#define SCOPE_PARSE_CONSTRAINED	0x01	/* accept and drop "?..." */

struct scope_item {
	char		si_type[SCOPE_TYPE_MAX];	/* type or "*" */
	unsigned	si_perms;			/* SCOPE_C ... */
	int		si_v2;				/* written as letters */
};

struct scope_set {
	struct scope_item ss_items[SCOPE_MAX_ITEMS];
	size_t		  ss_n;
};

/* Parses a space-separated scope string (runs of spaces allowed). */
int	 scope_parse(const char *s, int flags, struct scope_set *,
	    char *err, size_t errlen);
/*
 * AUTH-V-06: granted = requested ∩ registered.  Each requested item is
 * narrowed to the permissions the registration gives its type (a "*"
 * registration covers every type); a "*" request against per-type
 * registrations becomes those types.  Each granted item keeps the form it
 * was asked in (v1 when expressible).  -1 (invalid_scope) if nothing is
 * left to grant.
 */
int	 scope_grant(const struct scope_set *requested,
	    const struct scope_set *registered, struct scope_set *granted,
	    char *err, size_t errlen);
/* Formats the set as space-separated scopes ("system/Patient.read
 * system/Claim.rs"), duplicates left out; -1 if dst is too small. */
int	 scope_format(const struct scope_set *, char *dst, size_t dstsz);

/* 1 if the set allows exporting (reading) resources of type. */
int	 scope_can_read(const struct scope_set *, const char *type);
/* 1 if the set allows importing (writing) resources of type. */
int	 scope_can_write(const struct scope_set *, const char *type);
/* AUTH-BE-05: the readable ones of candidates[0..n) (e.g. the types the
 * store holds), in their order, into out[0..max); returns the count. */
size_t	 scope_readable_types(const struct scope_set *,
	    const char *const *candidates, size_t n, const char **out,
	    size_t max);

#endif
