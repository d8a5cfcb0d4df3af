/*
 * pgcheck.h — what the unit tests that run against PostgreSQL share.
 */
#ifndef TESTS_PGCHECK_H
#define TESTS_PGCHECK_H

#include <stdio.h>
#include <libpq-fe.h>

#include "lib/xmalloc.h"
#include "store/db.h"

/* The first column of the first row of sql with at most one parameter,
 * or NULL (SQL NULL or an error, which is printed); caller frees. */
static inline char *
pgcheck_sql1(PGconn *conn, const char *sql, const char *p)
{
	const char	*params[1] = { p };
	char		 err[512], *v = NULL;
	PGresult	*res;

	res = db_query(conn, sql, p != NULL ? 1 : 0, p != NULL ? params : NULL,
	    err, sizeof(err));
	if (res == NULL) {
		fprintf(stderr, "  %s: %s\n", sql, err);
		return NULL;
	}
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

#endif
