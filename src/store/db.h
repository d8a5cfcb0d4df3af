/*
 * db.h — PostgreSQL connections and small query helpers over libpq.
 *
 * Errors: functions return -1 (or NULL) and write the reason, copied out
 * of the connection, into errbuf.  PGresults handed to the caller are the
 * caller's to PQclear.  A PGconn is used by one thread at a time.
 */
#ifndef STORE_DB_H
#define STORE_DB_H

#include <stddef.h>
#include <libpq-fe.h>

struct cfg;

/* Connects with application_name set to "bulkhead <role>".  Caller closes
 * with PQfinish.  Returns NULL and fills errbuf on failure. */
PGconn	*db_connect(const char *conninfo, const char *role, char *errbuf,
	    size_t errlen);
/* As db_connect, retrying with backoff (0.5 s doubling to 10 s) for up to
 * max_wait seconds (0: forever), logging each new failure once and the
 * recovery after one.  The one place that waits for the database: the
 * pause is sigstop_pause (lib/sigstop.h), so a process with its handlers
 * installed gets NULL ("stopping" in errbuf) once SIGTERM or SIGINT came;
 * elsewhere it is a plain sleep. */
PGconn	*db_connect_retry(const char *conninfo, const char *role,
	    int max_wait, char *errbuf, size_t errlen);
/* Runs a command that returns no rows; params may be NULL. */
int	 db_exec(PGconn *, const char *sql, int nparams,
	    const char *const *params, char *errbuf, size_t errlen);
/* Runs a query expected to return rows (PGRES_TUPLES_OK).  Caller
 * PQclears the result. */
PGresult *db_query(PGconn *, const char *sql, int nparams,
	    const char *const *params, char *errbuf, size_t errlen);
/* Copies PQerrorMessage without the trailing newline. */
void	 db_errmsg(PGconn *, char *errbuf, size_t errlen);
/* True if an idle connection is still up: reads, without waiting, what
 * the server sent since (a restarted or stopping server ends its sessions
 * with a FATAL and EOF), so that a dead one is replaced before a
 * statement fails on it.  NULL is not alive.  Never blocks. */
int	 db_alive(PGconn *);
/* True if the connection is usable; tries one PQreset if it is not. */
int	 db_ensure(PGconn *);

#endif
