/*
 * test_db_pg.c — db_alive and db_errmsg against a real PostgreSQL
 * (issue 14: processes must notice a restarted server by themselves).
 *
 * A session ended by the server (pg_terminate_backend, as a restart or a
 * fast shutdown ends every session) must be seen dead by db_alive before
 * any statement is sent on it, and its error text must be one line.  A
 * live session with a notification waiting stays alive, and keeps the
 * notification.
 *
 * Runs only when BULKHEAD_TEST_PG holds a libpq conninfo.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libpq-fe.h"

#include "check.h"
#include "store/db.h"

int
main(void)
{
	const char	*url = getenv("BULKHEAD_TEST_PG");
	PGconn		*a = NULL, *b = NULL;
	PGresult	*res;
	PGnotify	*n;
	char		 err[512], pid[32];
	const char	*params[1];
	int		 i, alive = 1;

	if (url == NULL || url[0] == '\0') {
		printf("skipped: BULKHEAD_TEST_PG not set\n");
		return 0;
	}
	CHECK(db_alive(NULL) == 0);
	a = db_connect(url, "test a", err, sizeof(err));
	b = db_connect(url, "test b", err, sizeof(err));
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		goto out;
	CHECK(db_alive(a) == 1);

	/* A notification waiting on a live session: alive, and kept. */
	CHECK(db_exec(a, "LISTEN test_db_pg", 0, NULL, err,
	    sizeof(err)) == 0);
	CHECK(db_exec(b, "NOTIFY test_db_pg", 0, NULL, err,
	    sizeof(err)) == 0);
	usleep(100 * 1000);
	CHECK(db_alive(a) == 1);
	n = PQnotifies(a);
	CHECK(n != NULL && strcmp(n->relname, "test_db_pg") == 0);
	PQfreemem(n);

	/* The server ends a's session, as a restart does. */
	snprintf(pid, sizeof(pid), "%d", PQbackendPID(a));
	params[0] = pid;
	res = db_query(b, "SELECT pg_terminate_backend($1::int)", 1, params,
	    err, sizeof(err));
	CHECK(res != NULL);
	PQclear(res);
	/* The FATAL and the EOF arrive within moments. */
	for (i = 0; i < 50 && (alive = db_alive(a)) == 1; i++)
		usleep(20 * 1000);
	CHECK(alive == 0);
	CHECK(PQstatus(a) == CONNECTION_BAD);
	db_errmsg(a, err, sizeof(err));
	CHECK(err[0] != '\0');
	CHECK(strchr(err, '\n') == NULL && strchr(err, '\t') == NULL);
	printf("error text: %s\n", err);

	/* b is untouched. */
	CHECK(db_alive(b) == 1);
	CHECK(db_exec(b, "SELECT 1", 0, NULL, err, sizeof(err)) == 0);

	/* A small buffer still ends in NUL. */
	db_errmsg(a, err, 8);
	CHECK(strlen(err) <= 7);
 out:
	PQfinish(a);
	PQfinish(b);
	return CHECK_DONE();
}
