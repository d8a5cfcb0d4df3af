#!/bin/sh
# test.sh — 'make test': dependencies, both builds, database, then every
# test (unit, end-to-end, conformance, fuzz smoke) under ctest, against
# the ASan + UBSan build.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh test
scripts/build.sh asan
. scripts/db.sh
top=$(pwd)
trap '[ "$PG_STARTED" = 1 ] && "$top/scripts/pg.sh" stop' EXIT

BULKHEAD_TEST_PG=$BULKHEAD_DATABASE_URL
BULKHEAD_BIN=$(pwd)/build-asan/bulkhead
# Tests create their own databases; the service under test gets its URL
# from them, never from the caller's environment.
unset BULKHEAD_DATABASE_URL
export BULKHEAD_TEST_PG BULKHEAD_BIN
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(pwd)/tests/lsan.supp}
cd build-asan
ctest --output-on-failure --timeout 900 "$@"
