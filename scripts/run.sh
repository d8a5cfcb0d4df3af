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
# auth = smart is the default (issue 13): a demo SMART client, its key
# pair made once under var/, registered by an admin principal of this
# script's own (its token lives in this shell only).
if [ "${BULKHEAD_AUTH:-smart}" = smart ]; then
	if [ ! -f var/demo-client.pem ]; then
		(umask 077 && openssl genpkey -algorithm RSA -pkeyopt \
		    rsa_keygen_bits:2048 -out var/demo-client.pem 2>/dev/null)
		openssl pkey -in var/demo-client.pem -pubout \
		    -out var/demo-client.pub
		$bin clients jwks --key var/demo-client.pub --kid demo \
		    >var/demo-client.jwks
	fi
	t=$($bin admins rotate run-sh 2>/dev/null ||
	    $bin admins add run-sh --role admin 2>/dev/null) || t=""
	i=0
	until curl -sf "http://${BULKHEAD_LISTEN:-127.0.0.1:8080}/healthz" \
	    >/dev/null 2>&1 || [ $((i += 1)) -gt 100 ]; do sleep 0.2; done
	BULKHEAD_ADMIN_TOKEN=$t $bin clients add demo --jwks-file \
	    var/demo-client.jwks --scope "system/*.read" >/dev/null &&
	    echo "demo SMART client 'demo'; an access token in one line:" &&
	    echo "  sh -c \"\$($bin clients token demo --key var/demo-client.pem --curl)\""
fi
wait "$pid" || true
pid=""
