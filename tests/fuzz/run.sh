#!/bin/sh
# run.sh OUTDIR [RUNS] — build each tests/fuzz/fuzz_*.c with clang's
# libFuzzer, ASan and UBSan, and run it for RUNS inputs (default 50000)
# from its seed corpus tests/fuzz/corpus/NAME/ when there is one.
# A target lists the sources it needs in a line "fuzz-sources: a.c b.c",
# and may cap its runs with "fuzz-runs: N" when one input costs much more
# than the others' (a decoder that sets up a large window per input).
set -eu
out=${1:-build-asan/fuzz}
runs=${2:-50000}
mkdir -p "$out"
flags=$(pkg-config --cflags libcjson libpq)
pass=0 fail=0
for f in tests/fuzz/fuzz_*.c; do
	name=$(basename "$f" .c)
	srcs=$(sed -n 's/.*fuzz-sources: *\([^*]*\).*/\1/p' "$f")
	clang -g -O1 -std=c11 -D_GNU_SOURCE -Isrc $flags \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o "$out/$name" "$f" $srcs src/lib/*.c \
	    $(pkg-config --libs libcjson) \
	    $(pkg-config --libs libzstd zlib libcrypto) \
	    || { fail=$((fail+1)); continue; }
	cap=$(sed -n 's/.*fuzz-runs: *\([0-9][0-9]*\).*/\1/p' "$f")
	n=$runs
	[ -n "$cap" ] && [ "$cap" -lt "$n" ] && n=$cap
	corpus="$out/corpus-$name"
	mkdir -p "$corpus"
	[ -d "tests/fuzz/corpus/$name" ] && cp tests/fuzz/corpus/$name/* "$corpus/" 2>/dev/null || true
	if "$out/$name" -runs="$n" -max_len=4096 -artifact_prefix="$out/" "$corpus" \
	    >"$out/$name.log" 2>&1; then
		echo "fuzz $name: ok ($n runs)"
		pass=$((pass+1))
	else
		tail -n 40 "$out/$name.log"
		echo "fuzz $name: FAILED"
		fail=$((fail+1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
