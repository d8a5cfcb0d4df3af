#!/bin/sh
# build.sh — configure and build build/ (the binary make run serves), then
# each variant named:
#   asan   build-asan/  gcc, ASan + UBSan (the one make test runs)
#   clang  build-clang/ clang, -Werror (warnings gcc does not give)
#   tsan   build-tsan/  clang, ThreadSanitizer (make test runs the tests
#                       labelled tsan against it)
#   scripts/build.sh [asan] [clang] [tsan]
set -eu
jobs=$(nproc 2>/dev/null || echo 2)
werror=ON
cmake -S . -B build -DBULKHEAD_WERROR=$werror >/dev/null
cmake --build build -j "$jobs"
for v in "$@"; do
	case $v in
	asan)
		cmake -S . -B build-asan -DBULKHEAD_WERROR=$werror \
		    -DBULKHEAD_SANITIZE=address,undefined \
		    -DCMAKE_BUILD_TYPE=Debug >/dev/null
		;;
	clang)
		CC=clang cmake -S . -B build-clang -DCMAKE_C_COMPILER=clang \
		    -DBULKHEAD_WERROR=$werror >/dev/null
		;;
	tsan)
		# -O1: TSan at -O0 is several times slower for no gain here.
		CC=clang cmake -S . -B build-tsan -DCMAKE_C_COMPILER=clang \
		    -DBULKHEAD_WERROR=$werror -DBULKHEAD_SANITIZE=thread \
		    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g" >/dev/null
		;;
	*) echo "usage: scripts/build.sh [asan] [clang] [tsan]" >&2; exit 2 ;;
	esac
	cmake --build "build-$v" -j "$jobs"
done
