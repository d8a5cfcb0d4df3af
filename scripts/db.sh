# db.sh — sourced by run.sh, test.sh and bench.sh: sets BULKHEAD_DATABASE_URL,
# starting the private cluster under var/pg when none is configured, and
# PG_STARTED=1 when this shell started it (so it is stopped again).
PG_STARTED=0
if [ -z "${BULKHEAD_DATABASE_URL:-}" ]; then
	if ! scripts/pg.sh status >/dev/null 2>&1; then
		PG_STARTED=1
	fi
	BULKHEAD_DATABASE_URL=$(scripts/pg.sh start) || exit 1
	export BULKHEAD_DATABASE_URL
fi
