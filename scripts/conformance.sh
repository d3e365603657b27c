#!/usr/bin/env bash
# Run the OCI distribution-spec conformance suite against berth.
#
#   scripts/conformance.sh                      berth on SQLite
#   scripts/conformance.sh --db postgres        berth on PostgreSQL: a fresh database
#                                               on the cluster of scripts/pg.sh (started
#                                               here, and stopped again, if not running)
#   scripts/conformance.sh --database DSN       berth on that PostgreSQL database
#   scripts/conformance.sh --target-url URL     test a registry that is already running
#                                               (e.g. http://127.0.0.1:5000); berth is not started
#
# Other options: --bin PATH (berth binary; default: build bin/berth),
# --results DIR (default .tmp/conformance-<db>), --name NAME (label used in the
# default results dir and the summary), --allow-skip (do not count skipped
# tests as failures; for testing other registries).
#
# Every API and data area of the suite is enabled, including the optional
# ones (upload cancel, required Docker-Content-Digest headers, tags as
# parameters of a push by digest), except OCI_DATA_SPARSE: manifests whose
# blobs were never pushed, which berth must reject with MANIFEST_BLOB_UNKNOWN.
# Any OCI_* variable already in the environment wins over these defaults.
#
# berth is started with BERTH_ADMIN_PASSWORD (default Conformance-Admin-Pw1)
# and the suite logs in as admin; the project of each test repository
# ("conformance") is created first through /api/v2.0/projects, since
# repositories live in projects.
#
# Exits non-zero when any test failed, errored or (without --allow-skip) was
# skipped, when the suite did not run, or when berth did not stop cleanly on
# SIGTERM.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

CONFORMANCE_MODULE=github.com/opencontainers/distribution-spec/conformance
CONFORMANCE_VERSION=v0.0.0-20260831232431-97274622c111

db=sqlite
dsn=""
target_url=""
bin=${BERTH_BIN:-}
results=""
name=""
allow_skip=0
password=${BERTH_ADMIN_PASSWORD:-Conformance-Admin-Pw1}
suite_timeout=${BERTH_CONFORMANCE_TIMEOUT:-20m}

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while (($#)); do
	case $1 in
	--db) db=${2:?}; shift 2 ;;
	--database) dsn=${2:?}; db=postgres; shift 2 ;;
	--target-url) target_url=${2:?}; shift 2 ;;
	--bin) bin=${2:?}; shift 2 ;;
	--results) results=${2:?}; shift 2 ;;
	--name) name=${2:?}; shift 2 ;;
	--allow-skip) allow_skip=1; shift ;;
	-h | --help) usage ;;
	*) echo "conformance.sh: unknown argument $1" >&2; usage ;;
	esac
done
case $db in sqlite | postgres) ;; *) echo "conformance.sh: --db must be sqlite or postgres" >&2; exit 2 ;; esac
if [[ -z $name ]]; then
	if [[ -n $target_url ]]; then name=target; else name=$db; fi
fi
results=${results:-$repo_root/.tmp/conformance-$name}

say() { echo "==> conformance[$name]: $*"; }
die() { echo "conformance[$name]: $*" >&2; exit 1; }

berth_pid=""
started_pg=0
work=""
cleanup() {
	local rc=$?
	if [[ -n $berth_pid ]] && kill -0 "$berth_pid" 2>/dev/null; then
		kill -KILL "$berth_pid" 2>/dev/null || true
		wait "$berth_pid" 2>/dev/null || true
	fi
	if ((started_pg)); then
		scripts/pg.sh stop "$results/pg" >/dev/null 2>&1 || true
	fi
	[[ -n $work ]] && rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$results"
mkdir -p "$results"

# The suite: pinned as a tool dependency in go.mod, built from the module cache.
suite=${CONFORMANCE_BIN:-$repo_root/.tmp/bin/conformance}
if [[ -z ${CONFORMANCE_BIN:-} ]]; then
	say "building the conformance suite $CONFORMANCE_MODULE@$CONFORMANCE_VERSION"
	mkdir -p "$(dirname "$suite")"
	go build -ldflags "-X main.Version=$CONFORMANCE_VERSION" -o "$suite" "$CONFORMANCE_MODULE"
fi

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_berth starts berth on a free loopback port and waits for /healthz.
start_berth() {
	local args=(serve --data-dir "$work/data" --tls=off)
	[[ -n $dsn ]] && args+=(--database "$dsn")
	local try port
	for try in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		port_in_use "$port" && continue
		registry=127.0.0.1:$port
		say "starting $bin ${args[*]/$dsn/<dsn>} --addr $registry (log: $results/berth.log)"
		BERTH_ADMIN_PASSWORD=$password "$bin" "${args[@]}" --addr "$registry" >>"$results/berth.log" 2>&1 </dev/null &
		berth_pid=$!
		local deadline=$((SECONDS + 60))
		while ((SECONDS < deadline)); do
			if ! kill -0 "$berth_pid" 2>/dev/null; then
				wait "$berth_pid" 2>/dev/null || true
				berth_pid=""
				break
			fi
			if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$registry/healthz" || true) == 200 ]]; then
				say "berth is up (pid $berth_pid)"
				return 0
			fi
			sleep 0.2
		done
		if [[ -n $berth_pid ]]; then
			tail -n 30 "$results/berth.log" >&2 || true
			die "berth did not answer 200 on http://$registry/healthz within 60s"
		fi
		echo "conformance[$name]: berth exited during start-up (try $try):" >&2
		tail -n 10 "$results/berth.log" >&2 || true
	done
	die "could not start berth"
}

# stop_berth sends SIGTERM and expects a clean exit.
stop_berth() {
	[[ -n $berth_pid ]] || return 0
	say "stopping berth (SIGTERM)"
	kill -TERM "$berth_pid" 2>/dev/null || true
	local deadline=$((SECONDS + 30)) rc=0
	while kill -0 "$berth_pid" 2>/dev/null; do
		if ((SECONDS > deadline)); then
			kill -KILL "$berth_pid" 2>/dev/null || true
			wait "$berth_pid" 2>/dev/null || true
			berth_pid=""
			echo "conformance[$name]: berth did not exit within 30s of SIGTERM" >&2
			return 1
		fi
		sleep 0.2
	done
	wait "$berth_pid" || rc=$?
	berth_pid=""
	if ((rc != 0)); then
		echo "conformance[$name]: berth exited with status $rc after SIGTERM (want 0)" >&2
		return 1
	fi
}

tls=disabled
if [[ -n $target_url ]]; then
	case $target_url in
	http://*) tls=disabled ;;
	https://*) tls=insecure ;;
	*) die "--target-url must start with http:// or https://" ;;
	esac
	registry=${target_url#*://}
	registry=${registry%%/*}
	say "testing the running registry at $target_url"
else
	if [[ -z $bin ]]; then
		say "building berth (make build)"
		make --no-print-directory build >&2
		bin=$repo_root/bin/berth
	fi
	[[ -x $bin ]] || die "berth binary $bin not found"
	work=$(mktemp -d "${TMPDIR:-/tmp}/berth-conformance.XXXXXX")
	if [[ $db == postgres && -z $dsn ]]; then
		if ! scripts/pg.sh dsn >/dev/null 2>&1; then
			say "starting a throwaway PostgreSQL (scripts/pg.sh)"
			scripts/pg.sh start "$results/pg" >/dev/null
			started_pg=1
			pgstate=$results/pg
		else
			pgstate=$repo_root/.tmp/pg
		fi
		dbname=berth_conformance_$(date +%s)_$RANDOM
		dsn=$(scripts/pg.sh createdb "$dbname" "$pgstate")
		say "using PostgreSQL database $dbname"
	fi
	start_berth
fi

# Repositories live in projects (Harbor's model): create the projects of
# the two test repositories through the management API, as an admin would.
# A registry without that API (404/405) needs no projects.
create_projects() {
	local scheme=http project code
	[[ $tls == disabled ]] || scheme=https
	for project in $(printf '%s\n' "${OCI_REPO1:-conformance/repo1}" "${OCI_REPO2:-conformance/repo2}" | cut -d/ -f1 | sort -u); do
		code=$(curl -sk -o "$results/project-$project.json" -w '%{http_code}' --max-time 10 \
			-u "${OCI_USERNAME:-admin}:${OCI_PASSWORD:-$password}" -H 'Content-Type: application/json' \
			-d "{\"project_name\":\"$project\",\"metadata\":{\"public\":\"false\"}}" \
			"$scheme://$registry/api/v2.0/projects" || true)
		case $code in
		201) say "created project $project" ;;
		409) say "project $project exists" ;;
		404 | 405) say "no project API (HTTP $code); not creating project $project" ;;
		*) cat "$results/project-$project.json" >&2 || true; die "create project $project: HTTP $code" ;;
		esac
	done
}
create_projects

say "running the suite against $registry (results in $results)"
suite_rc=0
(
	cd "$results"
	export OCI_REGISTRY=$registry
	export OCI_TLS=${OCI_TLS:-$tls}
	export OCI_RESULTS_DIR=$results
	export OCI_USERNAME=${OCI_USERNAME:-admin}
	export OCI_PASSWORD=${OCI_PASSWORD:-$password}
	export OCI_VERSION=${OCI_VERSION:-1.1}
	export OCI_LOG=${OCI_LOG:-warn}
	export OCI_REPO1=${OCI_REPO1:-conformance/repo1}
	export OCI_REPO2=${OCI_REPO2:-conformance/repo2}
	for v in \
		OCI_API_PING OCI_API_PULL OCI_API_PUSH \
		OCI_API_BLOBS_ATOMIC OCI_API_BLOBS_DELETE OCI_API_BLOBS_DIGEST_HEADER \
		OCI_API_BLOBS_MOUNT_ANONYMOUS OCI_API_BLOBS_UPLOAD_CANCEL \
		OCI_API_MANIFESTS_ATOMIC OCI_API_MANIFESTS_DELETE OCI_API_MANIFESTS_DIGEST_HEADER \
		OCI_API_MANIFESTS_TAG_PARAM \
		OCI_API_TAGS_ATOMIC OCI_API_TAGS_DELETE OCI_API_TAGS_LIST OCI_API_REFERRER \
		OCI_DATA_IMAGE OCI_DATA_INDEX OCI_DATA_INDEX_LIST OCI_DATA_ARTIFACT \
		OCI_DATA_SUBJECT OCI_DATA_SUBJECT_MISSING OCI_DATA_ARTIFACT_LIST \
		OCI_DATA_SUBJECT_LIST OCI_DATA_DATA_FIELD OCI_DATA_NONDISTRIBUTABLE \
		OCI_DATA_CUSTOM_FIELDS OCI_DATA_NO_LAYERS OCI_DATA_EMPTY_BLOB OCI_DATA_SHA512; do
		export "$v=${!v:-true}"
	done
	export OCI_DATA_SPARSE=${OCI_DATA_SPARSE:-false}
	exec timeout "$suite_timeout" "$suite"
) >"$results/suite.log" 2>&1 || suite_rc=$?

stop_rc=0
stop_berth || stop_rc=1

# The suite's own exit status is not enough (it exits 0 when it cannot load
# its configuration): count the leaf test cases of junit.xml (the numbers
# people quote, e.g. distribution 2.8's 556 passed / 98 failed) and list the
# failing ones with their errors from the suite's log.
junit=$results/junit.xml
count() {
	[[ -f $junit ]] || { echo 0; return; }
	grep '<testcase ' "$junit" | grep -c "status=\"$1\"" || true
}
pass=$(count passed)
fail=$(count failure)
errors=$(count error)
skip=$(count skipped)
result=$(sed -n 's/^OCI Conformance Result: //p' "$results/suite.log" | tail -n 1)

echo
say "suite log: $results/suite.log; report: $results/report.html, $results/junit.xml"
if [[ -z $result || ! -f $junit ]]; then
	tail -n 40 "$results/suite.log" >&2 || true
	die "the suite did not report results (exit status $suite_rc)"
fi
if ((fail + errors > 0)); then
	echo "Failed tests (leaves, with the suite's errors):"
	awk '
		/^ *OCI Conformance Test.*: (FAIL|Error)$/ { cand = $0; sub(/^ */, "", cand); next_is_err = 1; next }
		next_is_err && /^ *- / { if (cand != "") { print "  " cand; cand = "" } e = $0; sub(/^ *- /, "", e); if (e == "") next; if (length(e) > 400) e = substr(e, 1, 400) "..."; print "      " e; next }
		{ next_is_err = 0; cand = "" }
	' "$results/suite.log"
fi
if ((skip > 0)); then
	echo "Skipped tests:"
	grep '<testcase ' "$junit" | grep 'status="skipped"' | sed 's/.*name="\([^"]*\)".*/  \1/' | head -n 60
fi
echo "OCI Conformance Result: $result (leaf tests: $pass passed, $fail failed, $errors errors, $skip skipped or disabled)"
echo "conformance-$name: $pass passed, $((fail + errors)) failed, $skip skipped"

rc=0
((fail + errors == 0)) || rc=1
((allow_skip || skip == 0)) || { echo "conformance[$name]: $skip tests were skipped or disabled (use --allow-skip for other registries)" >&2; rc=1; }
((pass > 0)) || rc=1
((suite_rc == 0 || rc != 0)) || { echo "conformance[$name]: the suite exited with status $suite_rc" >&2; rc=1; }
((stop_rc == 0)) || rc=1
exit "$rc"
