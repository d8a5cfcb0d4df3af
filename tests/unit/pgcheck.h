/*
 * pgcheck.h — what the unit tests that run against PostgreSQL share.
 */
#ifndef TESTS_PGCHECK_H
#define TESTS_PGCHECK_H

#include <stdio.h>
#include <unistd.h>
#include <libpq-fe.h>

#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/migrate.h"

/* A migrated database of its own for one test binary. */
struct pgcheck_scratch {
	PGconn	*admin;		/* owned */
	char	 name[64];
};

/* Creates PREFIX_PID on the cluster of admin_url, applies the migrations
 * and returns a connection to it, or NULL with the reason printed.
 * Always pair with pgcheck_scratch_close. */
static inline PGconn *
pgcheck_scratch_open(struct pgcheck_scratch *sc, const char *admin_url,
    const char *prefix)
{
	char	 sql[128], conninfo[1024], err[512];
	PGconn	*conn;

	snprintf(sc->name, sizeof(sc->name), "%s_%ld", prefix,
	    (long)getpid());
	if ((sc->admin = db_connect(admin_url, "test", err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "connect: %s\n", err);
		return NULL;
	}
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", sc->name);
	if (db_exec(sc->admin, sql, 0, NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", sql, err);
		return NULL;
	}
	snprintf(conninfo, sizeof(conninfo), "%s dbname=%s", admin_url,
	    sc->name);
	if ((conn = db_connect(conninfo, "test", err, sizeof(err))) == NULL ||
	    migrate_apply(conn, err, sizeof(err)) == -1) {
		fprintf(stderr, "scratch database: %s\n", err);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Closes conn (may be NULL) and drops the scratch database. */
static inline void
pgcheck_scratch_close(struct pgcheck_scratch *sc, PGconn *conn)
{
	char	sql[128], err[512];

	PQfinish(conn);
	if (sc->admin == NULL)
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
	    sc->name);
	if (db_exec(sc->admin, sql, 0, NULL, err, sizeof(err)) == -1)
		fprintf(stderr, "%s: %s\n", sql, err);
	PQfinish(sc->admin);
	sc->admin = NULL;
}

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
