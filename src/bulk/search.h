/*
 * search.h — compiles one FHIR search query (a `_typeFilter` entry after
 * its "Type?" prefix) into a parameterised SQL boolean expression over
 * the columns of the resources table (schemas/001_resources.sql).
 *
 * No value from the query ever reaches the SQL text: every value goes
 * into a parameter array and the SQL refers to it as $N.  The SQL text is
 * built only from constant fragments (column names, casts, constant
 * jsonpath strings), so the expression can be pasted into any statement
 * that has the row columns id, last_updated and content in scope.
 *
 * Errors: functions that can fail return 0 or -1 and put a one-line
 * reason into a caller-supplied errbuf (R5), suitable for an
 * OperationOutcome diagnostics string (400, issue.code "not-supported"
 * or "invalid").
 *
 * Pure code: no I/O, no global state; any thread or process may call it.
 */
#ifndef BULK_SEARCH_H
#define BULK_SEARCH_H

#include <stddef.h>

#include "lib/buf.h"

#define SEARCH_MAX_QUERY	8192		/* bytes of one raw query */
#define SEARCH_MAX_TERMS	64		/* name=value parts */
#define SEARCH_MAX_PARAMS	64		/* $N one query may bind */
#define SEARCH_MAX_VALUES	256		/* OR values in one part */
#define SEARCH_MAX_SQL		(256 * 1024)	/* ss_where bytes */
#define SEARCH_MAX_PARAM_LEN	(256 * 1024)	/* per parameter */
#define SEARCH_MAX_FIRST	(65535 - SEARCH_MAX_PARAMS) /* PG's limit */

enum search_ptype {
	SEARCH_TOKEN,
	SEARCH_DATE,
	SEARCH_STRING,
	SEARCH_REFERENCE
};

/* Opaque: how search.c compiles a parameter. */
struct search_how;

/* One supported search parameter, for CapabilityStatement
 * rest.resource.searchParam. */
struct search_param {
	const char		*sp_name;	/* "birthdate" */
	enum search_ptype	 sp_type;	/* search_ptype_name() */
	const char		*sp_definition;	/* canonical URL; NULL
						 * for Bulkhead's own */
	const char		*sp_doc;	/* one or two sentences */
	const struct search_how	*sp_how;	/* private to search.c */
};

/* The compiled expression and its parameters. */
struct search_sql {
	struct buf	  ss_where;	/* boolean SQL expression */
	char		**ss_params;	/* owned strings for $first.. */
	int		  ss_nparams;	/* entries in ss_params */
};

/* Makes 'ss' empty; search_sql_free() on it is then a no-op. */
void	 search_sql_init(struct search_sql *ss);

/* Frees what 'ss' holds and leaves it empty (as after init).  Safe on an
 * empty 'ss'. */
void	 search_sql_free(struct search_sql *ss);

/*
 * Compiles 'query' (raw, still percent-encoded as in the URL, without the
 * leading "Type?") for resource type 'type' into 'out', which must have
 * been initialised with search_sql_init(); whatever it held is freed
 * first.  Parameters are numbered from $first_param (1 to
 * SEARCH_MAX_FIRST), so the expressions of several _typeFilter entries
 * can share one statement: pass the previous entry's first_param +
 * ss_nparams.
 *
 * The result is an expression that can be combined with AND, OR or NOT
 * without extra parentheses; an empty query gives "TRUE".  Parts joined by
 * '&' are ANDed, comma-separated values are ORed ("\," is a literal
 * comma).  Parameter values are text that PostgreSQL casts in the SQL
 * (text[], jsonb[], timestamptz), so PQexecParams needs no paramTypes.
 *
 * Returns 0, or -1 with the reason in errbuf (out is then empty).  The
 * caller frees out with search_sql_free() in both cases.
 */
int	 search_compile(const char *type, const char *query, int first_param,
	    struct search_sql *out, char *errbuf, size_t errlen);

/* The search parameters _typeFilter supports on 'type' (including _id and
 * _lastUpdated), in a static array of *n entries; NULL and *n = 0 for an
 * unsupported type.  The array lives as long as the program. */
const struct search_param *search_params(const char *type, size_t *n);

/* 1 if _typeFilter queries can be compiled for 'type', else 0. */
int	 search_type_supported(const char *type);

/* "token", "date", "string" or "reference" (static strings). */
const char *search_ptype_name(enum search_ptype t);

#endif
