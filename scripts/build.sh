#!/bin/sh
# build.sh — configure and build: build/ (the binary make run serves) and,
# with "asan", build-asan/ (ASan + UBSan, the one make test runs).
set -eu
jobs=$(nproc 2>/dev/null || echo 2)
werror=ON
cmake -S . -B build -DBULKHEAD_WERROR=$werror >/dev/null
cmake --build build -j "$jobs"
if [ "${1:-}" = asan ]; then
	cmake -S . -B build-asan -DBULKHEAD_WERROR=$werror \
	    -DBULKHEAD_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-asan -j "$jobs"
fi
