#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for berth's tests.
#
#   scripts/pg.sh start  [STATE_DIR]       prints the superuser DSN on stdout
#   scripts/pg.sh dsn    [STATE_DIR]       prints it again (fails if not running)
#   scripts/pg.sh createdb NAME [STATE_DIR]  creates database NAME, prints its DSN
#   scripts/pg.sh stop   [STATE_DIR]       stops the cluster and removes it
#
# The cluster listens on 127.0.0.1 only, on a free port, with trust auth for
# the superuser "postgres" (it is for tests on loopback; nothing else can
# reach it) and durability switched off for speed: what the tests prove is
# berth's behaviour when berth dies, not PostgreSQL's. Run as root, the
# cluster belongs to the "postgres" user and lives in a private /tmp dir
# (a clone under /root is not reachable by that user); STATE_DIR (default
# .tmp/pg) keeps its location and the server log. Diagnostics go to stderr.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cmd=${1:-}
shift || true
dbname=""
if [[ $cmd == createdb ]]; then
	dbname=${1:-}
	shift || true
	[[ $dbname =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "pg.sh: createdb needs a database name matching [a-z_][a-z0-9_]*" >&2; exit 2; }
fi
state=${1:-${BERTH_PG_DIR:-$repo_root/.tmp/pg}}

log() { echo "pg.sh: $*" >&2; }
die() { log "$*"; exit 1; }

pg_bindir() {
	local d
	if [[ -n ${PG_BINDIR:-} ]]; then
		echo "$PG_BINDIR"
		return 0
	fi
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	if [[ -n $d && -x $d/initdb ]]; then
		echo "$d"
		return 0
	fi
	d=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
	[[ -x $d/initdb ]] && echo "$d" && return 0
	return 1
}

# as_owner runs a command as the cluster's owner: "postgres" when we are
# root (PostgreSQL refuses to run as root), ourselves otherwise.
as_owner() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

running() {
	[[ -f $state/datadir && -f $state/port ]] || return 1
	local bindir
	bindir=$(pg_bindir) || return 1
	as_owner "$bindir/pg_isready" -q -h 127.0.0.1 -p "$(cat "$state/port")" -t 2
}

dsn_for() {
	echo "postgres://postgres@127.0.0.1:$(cat "$state/port")/$1?sslmode=disable"
}

start() {
	local bindir
	bindir=$(pg_bindir) || die "PostgreSQL server binaries not found; run 'make deps' (Debian package postgresql)"
	mkdir -p "$state"
	state=$(cd "$state" && pwd)
	if running; then
		log "already running on port $(cat "$state/port")"
		dsn_for postgres
		return 0
	fi
	local data
	if [[ $(id -u) -eq 0 ]]; then
		id postgres >/dev/null 2>&1 || die "user 'postgres' missing; run 'make deps' (Debian package postgresql)"
		data=$(mktemp -d /tmp/berth-pg.XXXXXX)
		chown postgres: "$data"
		chmod 700 "$data"
	else
		data=$state/data
		rm -rf "$data"
		mkdir -p "$data"
	fi
	echo "$data" >"$state/datadir"
	log "initdb in $data"
	as_owner "$bindir/initdb" -D "$data/cluster" -U postgres --auth=trust \
		--encoding=UTF8 --locale=C --no-sync >"$state/initdb.log" 2>&1 ||
		{ cat "$state/initdb.log" >&2; die "initdb failed"; }

	local try port
	for try in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 40000))
		port_in_use "$port" && continue
		echo "$port" >"$state/port"
		log "starting postgres on 127.0.0.1:$port, log in $state/postgres.log"
		# The log file is opened here, as us; postgres inherits the descriptor.
		if as_owner "$bindir/pg_ctl" -D "$data/cluster" -w -t 60 start \
			-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data \
			-c fsync=off -c synchronous_commit=off -c full_page_writes=off \
			-c max_connections=300 -c shared_buffers=128MB" \
			>>"$state/postgres.log" 2>&1 </dev/null; then
			log "ready"
			dsn_for postgres
			return 0
		fi
		log "start on port $port failed (try $try), retrying"
		tail -n 5 "$state/postgres.log" >&2 || true
	done
	die "could not start postgres; see $state/postgres.log"
}

stop() {
	if [[ ! -d $state ]]; then
		log "nothing to stop in $state"
		return 0
	fi
	state=$(cd "$state" && pwd)
	if [[ -f $state/datadir ]]; then
		local data bindir
		data=$(cat "$state/datadir")
		if [[ -f $data/cluster/postmaster.pid ]] && bindir=$(pg_bindir); then
			log "stopping postgres in $data"
			as_owner "$bindir/pg_ctl" -D "$data/cluster" -m fast -w -t 60 stop >>"$state/postgres.log" 2>&1 ||
				log "pg_ctl stop failed; see $state/postgres.log"
		fi
		if [[ $data == /tmp/berth-pg.* || $data == "$state/data" ]]; then
			rm -rf "$data"
		fi
		rm -f "$state/datadir" "$state/port"
	fi
	log "stopped (log kept in $state/postgres.log)"
}

createdb() {
	[[ -d $state ]] || die "not running (no $state)"
	state=$(cd "$state" && pwd)
	running || die "not running; use: $0 start"
	local bindir
	bindir=$(pg_bindir)
	as_owner "$bindir/createdb" -h 127.0.0.1 -p "$(cat "$state/port")" -U postgres "$dbname" ||
		die "createdb $dbname failed"
	dsn_for "$dbname"
}

case $cmd in
start) start ;;
stop) stop ;;
createdb) createdb ;;
dsn)
	[[ -d $state ]] || die "not running (no $state)"
	state=$(cd "$state" && pwd)
	running || die "not running"
	dsn_for postgres
	;;
*)
	echo "usage: $0 start|stop|dsn [STATE_DIR] | createdb NAME [STATE_DIR]" >&2
	exit 2
	;;
esac
