/*
 * db.c — connection set-up and the query helpers every store and job
 * module uses, so that error text handling lives in one place.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/sigstop.h"
#include "lib/str.h"
#include "store/db.h"

#define DB_RETRY_FIRST_MS	500	/* db_connect_retry's backoff */
#define DB_RETRY_MAX_MS		10000

void
db_errmsg(PGconn *conn, char *errbuf, size_t errlen)
{
	size_t	len;

	str_lcpy(errbuf, conn ? PQerrorMessage(conn) : "no connection",
	    errlen);
	len = strlen(errbuf);
	while (len > 0 && (errbuf[len - 1] == '\n' || errbuf[len - 1] == ' '))
		errbuf[--len] = '\0';
}

PGconn *
db_connect(const char *conninfo, const char *role, char *errbuf,
    size_t errlen)
{
	const char	*keys[] = { "dbname", "application_name",
			    "client_encoding", NULL };
	const char	*vals[4];
	char		 app[64];
	PGconn		*conn;

	snprintf(app, sizeof(app), "bulkhead %s", role);
	vals[0] = conninfo;
	vals[1] = app;
	vals[2] = "UTF8";
	vals[3] = NULL;
	/* expand_dbname=1: dbname may be a full conninfo string or URI. */
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		db_errmsg(conn, errbuf, errlen);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

PGconn *
db_connect_retry(const char *conninfo, const char *role, int max_wait,
    char *errbuf, size_t errlen)
{
	PGconn		*conn = NULL;
	char		 last[512] = "";
	long long	 waited = 0;
	int		 delay = DB_RETRY_FIRST_MS;

	while (!sigstop_flag) {
		conn = db_connect(conninfo, role, errbuf, errlen);
		if (conn != NULL) {
			if (last[0] != '\0')
				log_info("database reachable again");
			return conn;
		}
		if (max_wait > 0 && waited >= (long long)max_wait * 1000)
			return NULL;
		if (strcmp(last, errbuf) != 0) {
			log_warnx("database unreachable, retrying: %s", errbuf);
			str_lcpy(last, errbuf, sizeof(last));
		}
		sigstop_pause(delay);
		waited += delay;
		delay = delay * 2 > DB_RETRY_MAX_MS ? DB_RETRY_MAX_MS :
		    delay * 2;
	}
	snprintf(errbuf, errlen, "stopping");
	return NULL;
}

int
db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
    char *errbuf, size_t errlen)
{
	PGresult	*res;
	int		 rc = 0;

	res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_errmsg(conn, errbuf, errlen);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

PGresult *
db_query(PGconn *conn, const char *sql, int nparams,
    const char *const *params, char *errbuf, size_t errlen)
{
	PGresult	*res;

	res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_errmsg(conn, errbuf, errlen);
		PQclear(res);
		return NULL;
	}
	return res;
}

int
db_ensure(PGconn *conn)
{
	if (conn == NULL)
		return 0;
	if (PQstatus(conn) == CONNECTION_OK)
		return 1;
	PQreset(conn);
	return PQstatus(conn) == CONNECTION_OK;
}
