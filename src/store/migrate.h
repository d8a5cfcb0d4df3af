/*
 * migrate.h — numbered SQL migrations from schemas/ (compiled in).
 *
 * Each schemas/NNN_name.sql not yet recorded in schema_migrations runs in
 * its own transaction, in order, under an advisory lock so that processes
 * starting together do not race.  Running it twice changes nothing.
 * Returns the number applied (>= 0), or -1 with the reason in errbuf.
 */
#ifndef STORE_MIGRATE_H
#define STORE_MIGRATE_H

#include <stddef.h>
#include <libpq-fe.h>

int	migrate_apply(PGconn *, char *errbuf, size_t errlen);
/*
 * Readiness (GET /readyz): how many of the compiled-in migrations the
 * database has not recorded (0: current); the first such file name
 * ("015_console.sql") goes into first.  Read-only, no lock.  -1 with
 * the reason in errbuf.
 */
int	migrate_pending(PGconn *, char *first, size_t firstlen,
	    char *errbuf, size_t errlen);

#endif
