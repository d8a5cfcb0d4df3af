#!/bin/sh
# pg.sh — the private PostgreSQL cluster under var/pg, used when no
# BULKHEAD_DATABASE_URL is configured.
#
#   scripts/pg.sh start   create on first use, start, print the conninfo
#   scripts/pg.sh stop    stop it (if this script started it)
#   scripts/pg.sh status  exit 0 if it is running
#   scripts/pg.sh url     print the conninfo
#
# The server listens on a Unix socket in var/pg/run only (no TCP port to
# collide with), trusts local connections, and runs as the 'postgres'
# user when we are root, since PostgreSQL refuses to run as root.
#
# When we are root and 'postgres' cannot enter the checkout (a clone under
# /root, mode 0700, as on a fresh VM), the cluster lives in a directory of
# its own, $BULKHEAD_PG_HOME/<name>-<hash of the checkout's path> (default
# /var/lib/bulkhead/pg), owned by postgres, mode 0700, and var/pg is a
# symbolic link to it.  The user's home is not opened to anyone.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
pg_home=${BULKHEAD_PG_HOME:-/var/lib/bulkhead/pg}
port=${BULKHEAD_PG_PORT:-5433}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bindir" ] || { echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
	if [ "$(id -u)" = 0 ]; then
		# From /: postgres may not be able to enter the caller's directory.
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# True when the 'postgres' user can enter the checkout.
pg_reaches_top() {
	runuser -u postgres -- sh -c 'cd "$1"' sh "$top" 2>/dev/null
}

# Sets pgdir: var/pg (or where its link points), or, for a root whose
# checkout postgres cannot enter, the per-clone directory under $pg_home.
# Creates nothing.
where() {
	pgdir="$top/var/pg"
	if [ -L "$pgdir" ]; then
		pgdir=$(readlink -m "$pgdir")
	elif [ "$(id -u)" = 0 ] && [ ! -f "$pgdir/data/PG_VERSION" ] &&
	    ! pg_reaches_top; then
		key=$(printf '%s' "$top" | sha256sum | cut -c1-12)
		name=$(basename "$top" | tr -c 'A-Za-z0-9_.\n-' _ | cut -c1-24)
		pgdir="$pg_home/$name-$key"
	fi
	data="$pgdir/data"
	run="$pgdir/run"
}

# Creates the per-clone directory and links var/pg to it (root only, when
# where() chose it).  A var/pg left empty by an earlier failed start goes.
place() {
	[ "$pgdir" = "$top/var/pg" ] && return 0
	[ -L "$top/var/pg" ] && [ -d "$pgdir" ] && return 0
	if ! mkdir -p "$pgdir" 2>/dev/null; then
		echo "pg.sh: postgres cannot enter $top and $pg_home is not writable: set BULKHEAD_PG_HOME to a directory postgres can reach, or BULKHEAD_DATABASE_URL" >&2
		exit 1
	fi
	chown postgres:postgres "$pgdir"
	chmod 0700 "$pgdir"
	mkdir -p "$top/var"
	if [ -d "$top/var/pg" ] && [ ! -L "$top/var/pg" ]; then
		rmdir "$top/var/pg" 2>/dev/null || {
			echo "pg.sh: $top/var/pg is in the way (postgres cannot enter $top): move it aside and start again" >&2
			exit 1; }
	fi
	ln -sfn "$pgdir" "$top/var/pg"
}

url() {
	echo "host=$run port=$port user=bulkhead dbname=bulkhead"
}

start() {
	place
	mkdir -p "$pgdir"
	if [ "$(id -u)" = 0 ]; then
		chown postgres:postgres "$pgdir"
	fi
	if [ ! -f "$data/PG_VERSION" ]; then
		as_pg mkdir -p "$data" "$run"
		as_pg "$bindir/initdb" -D "$data" -U bulkhead --auth=trust \
		    -E UTF8 --locale=C.UTF-8 >"$pgdir/initdb.log" 2>&1 || {
			cat "$pgdir/initdb.log" >&2; exit 1; }
		cat >>"$data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$run'
port = $port
max_connections = 200
max_wal_size = 4GB
checkpoint_timeout = 15min
wal_level = minimal
max_wal_senders = 0
synchronous_commit = off
fsync = on
CONF
	fi
	as_pg mkdir -p "$run"
	tune
	if ! as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		as_pg "$bindir/pg_ctl" -D "$data" -l "$pgdir/server.log" -w \
		    -t 60 start >/dev/null || {
			tail -n 20 "$pgdir/server.log" >&2; exit 1; }
	fi
	if ! "$bindir/psql" "$(url)" -Atqc 'select 1' >/dev/null 2>&1; then
		"$bindir/createdb" -h "$run" -p "$port" -U bulkhead bulkhead
	fi
	url
}

# Settings that follow the machine, rewritten at every start (they take
# effect when the server starts).  shared_buffers: a quarter of the
# memory, 128MB to 8GB, as PostgreSQL's documentation suggests for a
# dedicated server.  With the old fixed 512MB a 5M-claim import's primary
# key and indexes outgrew the cache: 1.67 times a raw COPY, against 1.56
# with 6GB on the 24GB machine (tests/bench/import.py).
tune() {
	mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
	sb_mb=$(( ${mem_kb:-524288} / 4096 ))
	[ "$sb_mb" -lt 128 ] && sb_mb=128
	[ "$sb_mb" -gt 8192 ] && sb_mb=8192
	as_pg sh -c "cat > '$data/bulkhead-tuning.conf'" <<CONF
# written by scripts/pg.sh at every start: do not edit
shared_buffers = ${sb_mb}MB
CONF
	if ! grep -q "^include_if_exists = 'bulkhead-tuning.conf'" \
	    "$data/postgresql.conf"; then
		echo "include_if_exists = 'bulkhead-tuning.conf'" |
		    as_pg sh -c "cat >> '$data/postgresql.conf'"
	fi
}

stop() {
	if [ -f "$data/PG_VERSION" ]; then
		as_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
	fi
}

status() {
	[ -f "$data/PG_VERSION" ] && as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

where
case "${1:-}" in
start) start ;;
status) status ;;
stop) stop ;;
url) url ;;
*) echo "usage: scripts/pg.sh start|stop|status|url" >&2; exit 2 ;;
esac
