#!/bin/sh
# deps.sh — install the Debian packages a target needs, if missing.
#
#   scripts/deps.sh run|test|bench
#
# As root it runs apt-get (update once, then install); otherwise it prints
# the exact command to run and fails, so nothing is half set up.
set -eu
build="cmake make gcc pkg-config libmicrohttpd-dev libpq-dev libcjson-dev
libcurl4-openssl-dev libzstd-dev libssl-dev zlib1g-dev postgresql tzdata
postgresql-client"
# clang: fuzz smoke, the clang -Werror and TSan builds; clang-tidy (with
# run-clang-tidy) and clang-format: the lint tests; perl: checksrc.sh;
# python3-cryptography: the SMART tests sign client assertions;
# chromium, chromium-driver, python3-selenium: the console page's test;
# docker-compose: 'docker-compose config' checks docker/compose.yml (no
# engine needed).
test="python3 python3-pytest python3-requests python3-psycopg2
python3-cryptography clang libclang-rt-14-dev clang-tidy clang-format perl
zstd curl chromium chromium-driver python3-selenium docker-compose"
bench="wrk"

case "${1:-run}" in
run) want="$build" ;;
test) want="$build $test" ;;
bench) want="$build $test $bench" ;;
*) echo "usage: scripts/deps.sh run|test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "missing packages:$missing" >&2
	echo "run: sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
