/*
 * procstats.c — the metric_counters and processes tables of
 * schemas/019_process_metrics.sql (see procstats.h).  One statement per
 * call; the counters are increments (value = value + $n), so processes
 * never overwrite each other's counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/str.h"
#include "store/db.h"
#include "store/procstats.h"

static const char *const procstats_causes[PROCSTATS_NCAUSES] = {
	[PROCSTATS_LIMIT] = "limit",
	[PROCSTATS_INTERACTIVE] = "interactive",
};

const char *
procstats_cause_name(enum procstats_cause c)
{
	return (unsigned int)c < PROCSTATS_NCAUSES ? procstats_causes[c] : "";
}

void
procstats_node(char *out, size_t outlen)
{
	char	*p;

	if (outlen == 0)
		return;
	if (gethostname(out, outlen) == -1)
		str_lcpy(out, "localhost", outlen);
	out[outlen - 1] = '\0';
	for (p = out; *p != '\0'; p++)
		if (*p == ':')
			*p = '-';
}

int
procstats_add_waits(PGconn *conn, enum procstats_cause c, int64_t n,
    double secs, char *errbuf, size_t errlen)
{
	const char	*params[3];
	char		 ns[32], ss[64];

	if (n <= 0 && secs <= 0)
		return 0;
	snprintf(ns, sizeof(ns), "%lld", (long long)n);
	snprintf(ss, sizeof(ss), "%.6f", secs);
	params[0] = procstats_cause_name(c);
	params[1] = ns;
	params[2] = ss;
	return db_exec(conn, "UPDATE metric_counters SET value = value + "
	    "CASE name WHEN 'throttle_waits' THEN $2::float8 "
	    "ELSE $3::float8 END WHERE label = $1 AND name IN "
	    "('throttle_waits', 'throttle_wait_seconds')", 3, params, errbuf,
	    errlen);
}

int
procstats_beat(PGconn *conn, const char *id, const char *node,
    const char *role, int leader, char *errbuf, size_t errlen)
{
	const char	*params[4];

	params[0] = id;
	params[1] = node;
	params[2] = role;
	params[3] = leader ? "t" : "f";
	return db_exec(conn, "WITH gone AS (DELETE FROM processes WHERE "
	    "seen < now() - interval '1 minute') "
	    "INSERT INTO processes (id, node, role, leader, backend_pid, seen) "
	    "VALUES ($1, $2, $3, $4::boolean, pg_backend_pid(), now()) "
	    "ON CONFLICT (id) DO UPDATE SET node = EXCLUDED.node, "
	    "role = EXCLUDED.role, leader = EXCLUDED.leader, "
	    "backend_pid = EXCLUDED.backend_pid, seen = EXCLUDED.seen", 4,
	    params, errbuf, errlen);
}

int
procstats_gone(PGconn *conn, const char *id, char *errbuf, size_t errlen)
{
	const char	*params[1];

	params[0] = id;
	return db_exec(conn, "DELETE FROM processes WHERE id = $1", 1, params,
	    errbuf, errlen);
}

int
procstats_read(PGconn *conn, const char *node, long long lock_key,
    struct procstats *out, char *errbuf, size_t errlen)
{
	const char	*params[3];
	char		 key[32], fresh[16];
	PGresult	*res;
	int		 i, c;

	memset(out, 0, sizeof(*out));
	snprintf(key, sizeof(key), "%lld", lock_key);
	snprintf(fresh, sizeof(fresh), "%d", PROCSTATS_FRESH_S);
	params[0] = node;
	params[1] = key;
	params[2] = fresh;
	/*
	 * Counter rows, then one row for the leader: a fresh scheduler row
	 * on node flagged leader whose session still holds the advisory
	 * lock (a bigint key: classid is its high half, objid its low half,
	 * objsubid 1), so a killed leader stops counting at once.
	 */
	res = db_query(conn, "SELECT name, label, value FROM metric_counters "
	    "UNION ALL SELECT 'leader', '', count(*)::float8 FROM processes p "
	    "WHERE p.role = 'scheduler' AND p.leader AND p.node = $1 "
	    "AND p.seen > now() - make_interval(secs => $3::int) "
	    "AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = p.backend_pid "
	    "AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
	    "AND l.classid = ($2::bigint >> 32)::oid "
	    "AND l.objid = ($2::bigint & 4294967295)::oid)", 3, params,
	    errbuf, errlen);
	if (res == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		const char	*name = PQgetvalue(res, i, 0);
		const char	*label = PQgetvalue(res, i, 1);
		double		 v = strtod(PQgetvalue(res, i, 2), NULL);

		if (strcmp(name, "lease_rescues") == 0)
			out->ps_rescues = v;
		else if (strcmp(name, "leader") == 0)
			out->ps_leader = v > 0;
		for (c = 0; c < PROCSTATS_NCAUSES; c++) {
			if (strcmp(label, procstats_causes[c]) != 0)
				continue;
			if (strcmp(name, "throttle_waits") == 0)
				out->ps_waits[c] = v;
			else if (strcmp(name, "throttle_wait_seconds") == 0)
				out->ps_wait_s[c] = v;
		}
	}
	PQclear(res);
	return 0;
}
