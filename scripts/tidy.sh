#!/bin/sh
# tidy.sh — clang-tidy (.clang-tidy) over every src/ file in BUILD's
# compile_commands.json, in parallel.  Fails on any warning not in
# tests/tidy.baseline ("path:check" a line, with a reason; shrink only).
#
#   scripts/tidy.sh [BUILD]     default build-clang
set -eu
top=$(cd "$(dirname "$0")/.." && pwd -P)
build=${1:-$top/build-clang}
jobs=$(nproc 2>/dev/null || echo 2)
[ -f "$build/compile_commands.json" ] || {
	echo "tidy: no $build/compile_commands.json" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out" "$out.new"' EXIT
RCT=${RUN_CLANG_TIDY:-run-clang-tidy}
"$RCT" -quiet -p "$build" -j "$jobs" "$top/src/" >"$out" 2>&1 || true
# path:line:col: warning: text [check]  ->  src/path:check
sed 's/\x1b\[[0-9;]*m//g' "$out" |
    sed -n "s,^$top/\([^:]*\):[0-9]*:[0-9]*: \(warning\|error\): .*\[\([^]]*\)\]\$,\1:\3,p" |
    sort -u >"$out.new"
bad=0
while read -r k; do
	grep -v '^#' "$top/tests/tidy.baseline" | cut -d' ' -f1 | grep -qxF "$k" &&
	    continue
	bad=1
	sed 's/\x1b\[[0-9;]*m//g' "$out" | grep -F "$top/${k%%:*}:" |
	    grep -F "[${k#*:}]" | sed "s,^$top/,,"
done <"$out.new"
if grep -q 'error:' "$out"; then
	sed 's/\x1b\[[0-9;]*m//g' "$out" | grep 'error:' | head -5; bad=1
fi
n=$(wc -l <"$out.new")
[ "$bad" = 0 ] && echo "tidy: ok ($n baseline finding(s) tolerated)"
exit "$bad"
