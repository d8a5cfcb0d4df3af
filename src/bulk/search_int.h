/*
 * search_int.h — private to the search compiler (bulk/search*.c): the
 * parameter table's types, a decoded query part, the compile state, and
 * the few functions one part of the compiler lends another.
 *
 *   search.c         the compiler: a query's parts, tokens, strings and
 *                    references, the SQL and its parameters (search.h)
 *   search_param.c   the parameter table: types, parameters, strategies
 *   search_decode.c  URL and FHIR value decoding (percent, escapes, ',')
 *   search_date.c    dates: parsing, ranges, prefixes and the date SQL
 *
 * Errors follow search.h: 0 or -1, the reason in the compile state's
 * errbuf through search_fail().  Not for use outside bulk/search*.c.
 */
#ifndef BULK_SEARCH_INT_H
#define BULK_SEARCH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "bulk/search.h"
#include "lib/buf.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define PATH_MAX_SEGS	8
#define SHOW_MAX	64	/* bytes of user text quoted in an error */

enum how_kind {
	HOW_ID,		/* token on the id column */
	HOW_UPDATED,	/* date on the last_updated column */
	HOW_CODE,	/* token on code (or string/uri) elements */
	HOW_BOOL,	/* token on boolean elements */
	HOW_IDENT,	/* token on Identifier elements */
	HOW_CONCEPT,	/* token on CodeableConcept elements */
	HOW_STRING,	/* string elements */
	HOW_REF,	/* Reference elements */
	HOW_DATE,	/* date, dateTime or instant elements */
	HOW_PERIOD	/* Period elements */
};

struct search_how {
	enum how_kind		 h_kind;
	const char		*h_path;	/* member path, or NULL */
	const char *const	*h_targets;	/* HOW_REF: NULL-ended */
};

struct search_type {
	const char			*st_name;
	const struct search_param	*st_params;
	size_t				 st_nparams;
};

struct val {
	const char	*v_p;		/* raw: FHIR escapes intact */
	size_t		 v_n;
};

/* One name=value part, decoded. */
struct term {
	const struct search_param *t_param;
	const char	*t_mod;		/* after ':', or NULL */
	const char	*t_value;	/* the decoded value */
	struct val	 t_vals[SEARCH_MAX_VALUES]; /* split on ',' */
	size_t		 t_nvals;
};

/* Compile state. */
struct sc {
	const struct search_type *c_type;
	struct search_sql	*c_out;
	int			 c_first;	/* number of the first $N */
	int			 c_full;	/* an append hit its bound */
	char			*c_err;
	size_t			 c_errlen;
};

/* search.c: the compile state's output and errors. */
int	 search_fail(struct sc *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
const char *search_show(char *, size_t, const char *, size_t);
void	 search_sql_add(struct sc *, const char *);
void	 search_sql_addf(struct sc *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
int	 search_bind(struct sc *, struct buf *);
void	 search_path_jsonpath(struct sc *, const char *);

/* search_param.c: the table. */
const struct search_type *search_type_find(const char *);
const struct search_param *search_param_find(const struct search_type *,
		    const char *);

/* search_decode.c: values. */
int	 search_pct_decode(struct sc *, const char *, size_t, struct buf *);
int	 search_split_values(struct sc *, struct term *);
char	*search_unescape(const char *, size_t);
const char *search_find_bar(const char *, size_t);

/* search_date.c: date parameters. */
int	 search_compile_date(struct sc *, struct term *);

#endif
