/*
 * http_db.h — the database connection of each API worker thread.
 *
 * Thread-pool mode lets every libmicrohttpd worker thread keep one
 * synchronous PGconn of its own (STYLE §10): opened on first use, with
 * statement_timeout = cfg->db_statement_timeout, replaced when libpq
 * reports it broken, closed when the thread exits.  A connection is never
 * shared between threads.
 *
 * Errors: NULL and a reason in errbuf (libpq's text: log it, do not send
 * it to clients).
 */
#ifndef HTTP_DB_H
#define HTTP_DB_H

#include <stddef.h>
#include <libpq-fe.h>

struct cfg;

/* Main thread, before the daemon starts.  cfg is borrowed and must
 * outlive all API threads.  Connection attempts give up after 2 s unless
 * database_url sets connect_timeout.  Returns 0 or -1. */
int	 http_db_init(const struct cfg *cfg, char *errbuf, size_t errlen);
/* Main thread, after the daemon (and so every worker thread) stopped. */
void	 http_db_shutdown(void);
/* The calling thread's connection, connected now if it has none or its
 * last one broke.  Borrowed: valid until the next http_db_* call on this
 * thread. */
PGconn	*http_db_conn(char *errbuf, size_t errlen);
/*
 * Runs SELECT 1 on the calling thread's connection with a client-side
 * deadline of timeout_ms (statement_timeout cannot help when the server or
 * the network stops answering).  A reused connection found broken is
 * replaced and tried once more; one that times out is closed.  Returns 0,
 * or -1 with the reason in errbuf.  At most about timeout_ms plus the 2 s
 * connect timeout.
 */
int	 http_db_ping(int timeout_ms, char *errbuf, size_t errlen);
/* 1 when the calling thread's connection was lost (the server restarted
 * or went away under a query), even if discarded since, until it
 * connects again: its error is the database's absence, not a fault of
 * ours. */
int	 http_db_lost(void);
/* Closes the calling thread's connection (after an error that leaves it
 * in an unknown state); the next http_db_conn reconnects. */
void	 http_db_discard(void);

#endif
