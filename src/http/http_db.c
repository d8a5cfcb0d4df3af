/*
 * http_db.c — one lazily opened PGconn per API worker thread, held in
 * thread-specific data so that its destructor closes it when libmicrohttpd
 * joins the thread at shutdown.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/cfg.h"
#include "http/http_db.h"
#include "lib/log.h"
#include "store/db.h"

/* Seconds a connection attempt may take unless database_url says. */
#define HTTP_DB_CONNECT_TIMEOUT	"2"

static const struct cfg	*http_db_cfg;	/* borrowed, read-only */
static pthread_key_t	 http_db_key;	/* PGconn * per thread */
static int		 http_db_have_key;
/* The calling thread's last connection died under it (http_db_lost);
 * cleared when it connects again. */
static _Thread_local int http_db_was_lost;

static void	 http_db_destroy(void *);
static int	 http_db_wait(PGconn *, const struct timespec *, int);
static int	 http_db_ping_once(PGconn *, int, int *, char *, size_t);

/* Thread-exit destructor of the key. */
static void
http_db_destroy(void *conn)
{
	PQfinish(conn);
}

int
http_db_init(const struct cfg *cfg, char *errbuf, size_t errlen)
{
	int	rc;

	http_db_cfg = cfg;
	if ((rc = pthread_key_create(&http_db_key, http_db_destroy)) != 0) {
		snprintf(errbuf, errlen, "pthread_key_create: error %d", rc);
		return -1;
	}
	http_db_have_key = 1;
	/*
	 * /healthz must answer within about 2 s when the database is gone.
	 * db_connect takes no timeout, and libpq reads PGCONNECT_TIMEOUT
	 * only when the conninfo has no connect_timeout, so this is a
	 * default the operator can still override.  Set before any thread
	 * starts.
	 */
	if (setenv("PGCONNECT_TIMEOUT", HTTP_DB_CONNECT_TIMEOUT, 0) == -1) {
		snprintf(errbuf, errlen, "setenv PGCONNECT_TIMEOUT failed");
		return -1;
	}
	return 0;
}

void
http_db_shutdown(void)
{
	PGconn	*conn;

	if (!http_db_have_key)
		return;
	/* The main thread never serves requests, but be safe. */
	if ((conn = pthread_getspecific(http_db_key)) != NULL) {
		pthread_setspecific(http_db_key, NULL);
		PQfinish(conn);
	}
	pthread_key_delete(http_db_key);
	http_db_have_key = 0;
}

PGconn *
http_db_conn(char *errbuf, size_t errlen)
{
	PGconn	*conn;
	char	 sql[64];

	conn = pthread_getspecific(http_db_key);
	if (conn != NULL && db_alive(conn))
		return conn;
	http_db_discard();
	if ((conn = db_connect(http_db_cfg->database_url, "api", errbuf,
	    errlen)) == NULL)
		return NULL;
	snprintf(sql, sizeof(sql), "SET statement_timeout = %d",
	    http_db_cfg->db_statement_timeout);
	if (db_exec(conn, sql, 0, NULL, errbuf, errlen) == -1) {
		PQfinish(conn);
		return NULL;
	}
	if (pthread_setspecific(http_db_key, conn) != 0) {
		snprintf(errbuf, errlen, "pthread_setspecific failed");
		PQfinish(conn);
		return NULL;
	}
	http_db_was_lost = 0;
	log_debug("api thread connected to the database");
	return conn;
}

int
http_db_lost(void)
{
	PGconn	*conn;

	if (http_db_was_lost)
		return 1;
	if (!http_db_have_key ||
	    (conn = pthread_getspecific(http_db_key)) == NULL)
		return 0;
	return PQstatus(conn) != CONNECTION_OK;
}

void
http_db_discard(void)
{
	PGconn	*conn;

	if ((conn = pthread_getspecific(http_db_key)) == NULL)
		return;
	if (PQstatus(conn) != CONNECTION_OK)
		http_db_was_lost = 1;
	pthread_setspecific(http_db_key, NULL);
	PQfinish(conn);
}

/* Waits until conn has a complete result, at most timeout_ms after
 * start.  Returns 0, -1 on a connection error, -2 on timeout. */
static int
http_db_wait(PGconn *conn, const struct timespec *start, int timeout_ms)
{
	struct pollfd	pfd;
	struct timespec	now;
	long		left;

	while (PQisBusy(conn)) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms - ((now.tv_sec - start->tv_sec) * 1000L +
		    (now.tv_nsec - start->tv_nsec) / 1000000L);
		if (left <= 0)
			return -2;
		pfd.fd = PQsocket(conn);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (pfd.fd < 0)
			return -1;
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR)
			return -1;
		if (pfd.revents != 0 && !PQconsumeInput(conn))
			return -1;
	}
	return 0;
}

/* One SELECT 1 with a deadline.  *timed_out tells a timeout apart. */
static int
http_db_ping_once(PGconn *conn, int timeout_ms, int *timed_out,
    char *errbuf, size_t errlen)
{
	struct timespec	 start;
	PGresult	*res;
	int		 ok = 0, w;

	*timed_out = 0;
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (!PQsendQuery(conn, "SELECT 1")) {
		db_errmsg(conn, errbuf, errlen);
		return -1;
	}
	for (;;) {
		if ((w = http_db_wait(conn, &start, timeout_ms)) != 0) {
			if (w == -2) {
				*timed_out = 1;
				snprintf(errbuf, errlen, "no answer to "
				    "SELECT 1 within %d ms", timeout_ms);
			} else
				db_errmsg(conn, errbuf, errlen);
			return -1;
		}
		if ((res = PQgetResult(conn)) == NULL)
			break;
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			ok = 1;
		else
			db_errmsg(conn, errbuf, errlen);
		PQclear(res);
	}
	return ok ? 0 : -1;
}

int
http_db_ping(int timeout_ms, char *errbuf, size_t errlen)
{
	PGconn	*conn;
	int	 reused, timed_out, broken, attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		reused = pthread_getspecific(http_db_key) != NULL;
		if ((conn = http_db_conn(errbuf, errlen)) == NULL)
			return -1;
		if (http_db_ping_once(conn, timeout_ms, &timed_out, errbuf,
		    errlen) == 0)
			return 0;
		broken = PQstatus(conn) != CONNECTION_OK;
		/* A connection in an unknown state is not kept. */
		if (timed_out || broken ||
		    PQtransactionStatus(conn) != PQTRANS_IDLE)
			http_db_discard();
		/* Only a connection that died while idle deserves a retry;
		 * never double the wait of a timeout. */
		if (timed_out || !reused || !broken)
			break;
	}
	return -1;
}
