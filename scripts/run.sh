#!/bin/sh
# run.sh — 'make run': dependencies, build, database, demo data, serve.
#
# Serves on BULKHEAD_LISTEN (default 127.0.0.1:8080) until Ctrl-C, then
# stops everything it started, the private PostgreSQL cluster included.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh run
scripts/build.sh
. scripts/db.sh

bin=build/bulkhead
families=${BULKHEAD_DEMO_FAMILIES:-2000}
$bin migrate
if [ "$(psql "$BULKHEAD_DATABASE_URL" -Atqc \
    'SELECT EXISTS (SELECT 1 FROM resources)')" = f ]; then
	echo "store is empty: generating the demo dataset ($families families)"
	rm -rf var/demo
	$bin generate --families "$families" --seed 1 --out var/demo
	$bin load var/demo
fi

pid=""
cleanup() {
	trap - INT TERM EXIT
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [ "$PG_STARTED" = 1 ]; then
		scripts/pg.sh stop
		echo "stopped the private PostgreSQL cluster"
	fi
}
trap cleanup INT TERM EXIT
echo "serving ${BULKHEAD_BASE_URL:-http://${BULKHEAD_LISTEN:-127.0.0.1:8080}/fhir} (Ctrl-C stops)"
# The console: an admin principal "demo" (a new token each run).
tok=$($bin admins add demo --role admin 2>/dev/null ||
    $bin admins rotate demo 2>/dev/null) || tok="(bulkhead admins add NAME --role admin)"
echo "console: http://${BULKHEAD_LISTEN:-127.0.0.1:8080}/admin  demo admin token: $tok"
$bin run &
pid=$!
wait "$pid" || true
pid=""
