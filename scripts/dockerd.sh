#!/usr/bin/env bash
# Start or stop a private Docker daemon for berth's end-to-end tests.
#
#   scripts/dockerd.sh start [STATE_DIR]   prints the DOCKER_HOST value on stdout
#   scripts/dockerd.sh stop  [STATE_DIR]   stops the daemon, removes its state (keeps dockerd.log)
#   scripts/dockerd.sh status [STATE_DIR]  exits 0 when the daemon answers
#
# The daemon is isolated from any system daemon: its own data root, exec
# root, pid file and unix socket, all under STATE_DIR (default
# .tmp/dockerd in the repository). Only the flags below work in the
# sandboxes we run in (no iptables, no bridge, vfs storage), which is
# enough for login/import/tag/push/pull/save. Diagnostics go to stderr so
# that `export DOCKER_HOST=$(scripts/dockerd.sh start)` works.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cmd=${1:-}
state=${2:-${BERTH_DOCKERD_DIR:-$repo_root/.tmp/dockerd}}
start_timeout=${BERTH_DOCKERD_TIMEOUT:-60}

log() { echo "dockerd.sh: $*" >&2; }
die() { log "$*"; exit 1; }

dockerd_bin() {
	local b
	for b in "${DOCKERD:-}" "$(command -v dockerd 2>/dev/null || true)" /usr/sbin/dockerd /usr/bin/dockerd; do
		if [[ -n $b && -x $b ]]; then
			echo "$b"
			return 0
		fi
	done
	return 1
}

docker_bin() {
	local b
	for b in "${DOCKER:-}" "$(command -v docker 2>/dev/null || true)" /usr/bin/docker; do
		if [[ -n $b && -x $b ]]; then
			echo "$b"
			return 0
		fi
	done
	return 1
}

# The socket path must fit in sun_path (108 bytes); fall back to a short
# directory in /tmp when STATE_DIR is deep.
sock_path() {
	if [[ -f $state/sock-path ]]; then
		cat "$state/sock-path"
		return
	fi
	local s=$state/docker.sock
	if ((${#s} > 100)); then
		s=$(mktemp -d /tmp/berth-dockerd.XXXXXX)/docker.sock
	fi
	echo "$s" >"$state/sock-path"
	echo "$s"
}

answers() {
	local docker sock
	docker=$(docker_bin) || return 1
	sock=$(sock_path)
	[[ -S $sock ]] && timeout 10 "$docker" -H "unix://$sock" info >/dev/null 2>&1
}

pid_alive() {
	[[ -f $state/dockerd.pid ]] || return 1
	local pid
	pid=$(cat "$state/dockerd.pid" 2>/dev/null || true)
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

start() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (dockerd needs it)"
	local dockerd
	dockerd=$(dockerd_bin) || die "dockerd not found; run 'make deps' (Debian package docker.io)"
	docker_bin >/dev/null || die "docker CLI not found; run 'make deps' (Debian package docker.io)"
	mkdir -p "$state"
	state=$(cd "$state" && pwd)
	local sock
	sock=$(sock_path)
	if pid_alive && answers; then
		log "already running (pid $(cat "$state/dockerd.pid"))"
		echo "unix://$sock"
		return 0
	fi
	mkdir -p "$state/data" "$state/exec"
	rm -f "$sock"
	log "starting $dockerd, state in $state, log in $state/dockerd.log"
	# setsid: the daemon must outlive the shell (and make) that started it.
	setsid "$dockerd" \
		--iptables=false --ip6tables=false --bridge=none \
		--storage-driver=vfs \
		--data-root "$state/data" \
		--exec-root "$state/exec" \
		--pidfile "$state/dockerd.pid" \
		-H "unix://$sock" \
		>>"$state/dockerd.log" 2>&1 </dev/null &
	local launcher=$!
	echo "$launcher" >"$state/launcher.pid"
	local deadline=$((SECONDS + start_timeout))
	until answers; do
		if ! kill -0 "$launcher" 2>/dev/null; then
			tail -n 30 "$state/dockerd.log" >&2 || true
			die "dockerd exited during start-up"
		fi
		if ((SECONDS > deadline)); then
			tail -n 30 "$state/dockerd.log" >&2 || true
			kill "$launcher" 2>/dev/null || true
			die "dockerd did not answer within ${start_timeout}s"
		fi
		sleep 0.5
	done
	log "ready (pid $(cat "$state/dockerd.pid"))"
	echo "unix://$sock"
}

stop() {
	if [[ ! -d $state ]]; then
		log "nothing to stop in $state"
		return 0
	fi
	state=$(cd "$state" && pwd)
	local pid="" f
	for f in dockerd.pid launcher.pid; do
		if [[ -f $state/$f ]]; then
			pid=$(cat "$state/$f" 2>/dev/null || true)
			[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && break
			pid=""
		fi
	done
	if [[ -n $pid ]]; then
		log "stopping dockerd (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		local deadline=$((SECONDS + 30))
		while kill -0 "$pid" 2>/dev/null; do
			if ((SECONDS > deadline)); then
				log "dockerd did not stop; killing it"
				kill -KILL "$pid" 2>/dev/null || true
				break
			fi
			sleep 0.2
		done
	fi
	# The daemon's own containerd is its child and exits with it; anything
	# still mounted below the state dir (netns files, vfs layers) goes now.
	if command -v findmnt >/dev/null 2>&1; then
		local m
		for m in $(findmnt -rn -o TARGET | grep -F "$state/" | sort -r || true); do
			umount -l "$m" 2>/dev/null || true
		done
	fi
	local sock=""
	[[ -f $state/sock-path ]] && sock=$(cat "$state/sock-path")
	if [[ -n $sock && $(dirname "$sock") == /tmp/berth-dockerd.* ]]; then
		rm -rf "$(dirname "$sock")"
	fi
	# Keep the daemon's log for post-mortems; everything else goes.
	find "$state" -mindepth 1 -maxdepth 1 ! -name dockerd.log -exec rm -rf {} +
	log "stopped; removed its state, kept $state/dockerd.log"
}

case $cmd in
start) start ;;
stop) stop ;;
status)
	[[ -d $state ]] || exit 1
	state=$(cd "$state" && pwd)
	answers
	;;
*)
	echo "usage: $0 start|stop|status [STATE_DIR]" >&2
	exit 2
	;;
esac
