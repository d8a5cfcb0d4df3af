/*
 * db.c — connection set-up and the query helpers every store and job
 * module uses, so that error text handling lives in one place.
 */
#include <poll.h>
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
#define DB_ALIVE_READS		4	/* db_alive's reads of pending input */

void
db_errmsg(PGconn *conn, char *errbuf, size_t errlen)
{
	const char	*m;
	size_t		 len = 0;

	if (errlen == 0)
		return;
	m = conn ? PQerrorMessage(conn) : "no connection";
	/* One line: libpq stacks messages ("FATAL: ...\nserver closed the
	 * connection unexpectedly\n\tThis probably means ..."), and job
	 * errors and log lines must not break. */
	while (*m != '\0' && len + 1 < errlen) {
		if (*m == '\n' || *m == '\r' || *m == '\t') {
			while (*m == '\n' || *m == '\r' || *m == '\t' ||
			    *m == ' ')
				m++;
			if (*m != '\0' && len + 3 < errlen) {
				errbuf[len++] = ';';
				errbuf[len++] = ' ';
			}
			continue;
		}
		errbuf[len++] = *m++;
	}
	while (len > 0 && errbuf[len - 1] == ' ')
		len--;
	errbuf[len] = '\0';
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

int
db_alive(PGconn *conn)
{
	struct pollfd	pfd;
	int		i;

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		return 0;
	/*
	 * Unread input on an idle connection: a FATAL and EOF from a server
	 * that restarted or is stopping, or a notification.  libpq sees the
	 * EOF only on the read after the one that took the FATAL message,
	 * hence the loop (bounded: a busy LISTEN session could feed it).
	 */
	for (i = 0; i < DB_ALIVE_READS; i++) {
		pfd.fd = PQsocket(conn);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (pfd.fd < 0)
			return 0;
		if (poll(&pfd, 1, 0) != 1)
			break;
		if (!PQconsumeInput(conn))
			return 0;
	}
	return PQstatus(conn) == CONNECTION_OK;
}
