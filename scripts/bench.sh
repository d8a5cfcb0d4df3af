#!/bin/sh
# bench.sh — 'make bench': every tests/bench/*.py, printing figures and
# ratios against the physical limit measured in the same run.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh bench
scripts/build.sh
. scripts/db.sh
top=$(pwd)
trap '[ "$PG_STARTED" = 1 ] && "$top/scripts/pg.sh" stop' EXIT
export BULKHEAD_BIN=$(pwd)/build/bulkhead
for b in ${BENCH:-tests/bench/load.py tests/bench/export.py tests/bench/import.py tests/bench/isolation.py tests/bench/auth.py}; do
	echo "== $b"
	/usr/bin/python3 "$b"
done
