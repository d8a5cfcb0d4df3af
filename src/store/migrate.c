/*
 * migrate.c — applies the embedded schemas/NNN_*.sql files in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/embed.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "store/db.h"
#include "store/migrate.h"

/* Arbitrary constant: the advisory lock key all migrators share. */
#define MIGRATE_LOCK_KEY "7431001"

static int
migrate_cmp(const void *a, const void *b)
{
	const struct embed_file *const *x = a, *const *y = b;

	return strcmp((*x)->ef_name, (*y)->ef_name);
}

/* Returns the migration number of "schemas/NNN_x.sql", or -1. */
static int64_t
migrate_number(const char *name)
{
	char		 num[16];
	const char	*p = name + strlen("schemas/"), *errstr;
	size_t		 n = strspn(p, "0123456789");
	int64_t		 v;

	if (n == 0 || n >= sizeof(num) || p[n] != '_')
		return -1;
	memcpy(num, p, n);
	num[n] = '\0';
	if (str_to_i64(num, 1, 1000000, &v, &errstr) == -1)
		return -1;
	return v;
}

int
migrate_apply(PGconn *conn, char *errbuf, size_t errlen)
{
	const struct embed_file	**list = NULL;
	const char		 *params[2];
	PGresult		 *res = NULL;
	char			  num[32], err[512];
	size_t			  i, n = 0;
	int			  applied = 0, rc = -1, locked = 0;

	list = xcalloc(embed_nfiles + 1, sizeof(*list));
	for (i = 0; i < embed_nfiles; i++)
		if (str_has_prefix(embed_files[i].ef_name, "schemas/") &&
		    migrate_number(embed_files[i].ef_name) > 0)
			list[n++] = &embed_files[i];
	qsort(list, n, sizeof(*list), migrate_cmp);

	if (db_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0,
	    NULL, errbuf, errlen) == -1)
		goto out;
	locked = 1;
	if (db_exec(conn, "SET client_min_messages = warning", 0, NULL,
	    errbuf, errlen) == -1 ||
	    db_exec(conn, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    "version integer PRIMARY KEY, name text NOT NULL, "
	    "applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL,
	    errbuf, errlen) == -1)
		goto out;

	for (i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%lld",
		    (long long)migrate_number(list[i]->ef_name));
		params[0] = num;
		res = db_query(conn, "SELECT 1 FROM schema_migrations "
		    "WHERE version = $1", 1, params, errbuf, errlen);
		if (res == NULL)
			goto out;
		if (PQntuples(res) > 0) {
			PQclear(res);
			res = NULL;
			continue;
		}
		PQclear(res);
		res = NULL;
		/* A simple query may hold several statements; BEGIN/COMMIT
		 * around it makes the file and its record one transaction. */
		if (db_exec(conn, "BEGIN", 0, NULL, errbuf, errlen) == -1)
			goto out;
		res = PQexec(conn, (const char *)list[i]->ef_data);
		if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		    PQresultStatus(res) != PGRES_TUPLES_OK) {
			db_errmsg(conn, err, sizeof(err));
			snprintf(errbuf, errlen, "%s: %s", list[i]->ef_name, err);
			PQclear(res);
			res = NULL;
			(void)db_exec(conn, "ROLLBACK", 0, NULL, err,
			    sizeof(err));
			goto out;
		}
		PQclear(res);
		res = NULL;
		params[1] = list[i]->ef_name + strlen("schemas/");
		if (db_exec(conn, "INSERT INTO schema_migrations (version, "
		    "name) VALUES ($1, $2)", 2, params, errbuf, errlen) == -1 ||
		    db_exec(conn, "COMMIT", 0, NULL, errbuf, errlen) == -1) {
			(void)db_exec(conn, "ROLLBACK", 0, NULL, err,
			    sizeof(err));
			goto out;
		}
		log_info("migration %s applied", list[i]->ef_name);
		applied++;
	}
	rc = applied;
 out:
	if (locked)
		(void)db_exec(conn, "SELECT pg_advisory_unlock("
		    MIGRATE_LOCK_KEY ")", 0, NULL, err, sizeof(err));
	free(list);
	return rc;
}

int
migrate_pending(PGconn *conn, char *first, size_t firstlen, char *errbuf,
    size_t errlen)
{
	PGresult	*res;
	const char	*name;
	size_t		 i;
	int		 n = 0, r, found;
	int64_t		 v;

	if (firstlen > 0)
		first[0] = '\0';
	/* to_regclass: a database never migrated is behind, not broken. */
	res = db_query(conn, "SELECT version FROM schema_migrations "
	    "WHERE to_regclass('schema_migrations') IS NOT NULL", 0, NULL,
	    errbuf, errlen);
	if (res == NULL) {
		/* The table is missing: the planner refused it. */
		res = db_query(conn, "SELECT to_regclass('schema_migrations') "
		    "IS NULL", 0, NULL, errbuf, errlen);
		if (res == NULL || strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
			PQclear(res);
			return -1;
		}
		PQclear(res);
		snprintf(first, firstlen, "no schema_migrations table");
		return 1;
	}
	for (i = 0; i < embed_nfiles; i++) {
		name = embed_files[i].ef_name;
		if (!str_has_prefix(name, "schemas/") ||
		    (v = migrate_number(name)) <= 0)
			continue;
		for (found = 0, r = 0; r < PQntuples(res) && !found; r++)
			found = strtoll(PQgetvalue(res, r, 0), NULL, 10) == v;
		if (found)
			continue;
		/* The lowest missing one names the state. */
		name += strlen("schemas/");
		if (n++ == 0 || strcmp(name, first) < 0)
			snprintf(first, firstlen, "%s", name);
	}
	PQclear(res);
	return n;
}
