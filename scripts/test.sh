#!/bin/sh
# test.sh — 'make test': dependencies, the builds (plain, ASan + UBSan,
# clang -Werror, TSan), database, then every test (lint, unit, end-to-end,
# conformance, fuzz smoke) under ctest against the ASan + UBSan build, and
# then the tests labelled tsan against the ThreadSanitizer build.
# Arguments go to the first ctest; with any, the TSan pass is skipped
# unless BULKHEAD_TSAN=1.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh test
scripts/build.sh asan clang tsan
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
(cd build-asan && ctest --output-on-failure --timeout 900 "$@")
[ $# -gt 0 ] && [ "${BULKHEAD_TSAN:-0}" != 1 ] && exit 0

# TSan: every process (unit test, server, its workers, CLI) writes its
# reports under $tsandir; any report fails the step, whatever the test
# thought.  Suppressions (tests/tsan.supp) are for library internals only.
tsandir=$(mktemp -d)
trap 'rm -rf "$tsandir"; [ "$PG_STARTED" = 1 ] && "$top/scripts/pg.sh" stop' EXIT
BULKHEAD_BIN=$top/build-tsan/bulkhead
export TSAN_OPTIONS="log_path=$tsandir/tsan second_deadlock_stack=1 suppressions=$top/tests/tsan.supp"
rc=0
(cd build-tsan && ctest --output-on-failure --timeout 900 -L tsan) || rc=$?
if ls "$tsandir"/tsan.* >/dev/null 2>&1; then
	cat "$tsandir"/tsan.*
	echo "test.sh: ThreadSanitizer reported the above" >&2
	rc=1
fi
exit "$rc"
