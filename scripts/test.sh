#!/usr/bin/env bash
# Everything `make test` runs after deps and build: start PostgreSQL and a
# private dockerd, run `go test ./...` against them, the web UI's tests
# (scripts/ui-test.sh), then the OCI
# conformance suite against bin/berth on SQLite and on PostgreSQL. Every
# step runs even when an earlier one failed, so that one CI run shows all
# failures; the exit status is non-zero when any step failed. The services
# are stopped on exit; their logs stay in .tmp/.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
mkdir -p .tmp

step() { echo; echo "==> $*"; }
failures=()
fail() { failures+=("$1"); echo "!!! $1" >&2; }

started_pg=0
started_docker=0
cleanup() {
	local rc=$?
	if ((started_docker)); then scripts/dockerd.sh stop || true; fi
	if ((started_pg)); then scripts/pg.sh stop || true; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bin=${BERTH_BIN:-$repo_root/bin/berth}
if [[ ! -x $bin ]]; then
	step "building berth"
	make --no-print-directory build
fi
export BERTH_BIN=$bin

step "starting PostgreSQL (scripts/pg.sh; log .tmp/pg/postgres.log)"
if ! scripts/pg.sh dsn >/dev/null 2>&1; then started_pg=1; fi
if dsn=$(scripts/pg.sh start); then
	export BERTH_TEST_POSTGRES=$dsn
	echo "BERTH_TEST_POSTGRES=$dsn"
else
	fail "start PostgreSQL"
fi

step "starting dockerd (scripts/dockerd.sh; log .tmp/dockerd/dockerd.log)"
if ! scripts/dockerd.sh status >/dev/null 2>&1; then started_docker=1; fi
if host=$(scripts/dockerd.sh start); then
	export BERTH_TEST_DOCKER_HOST=$host
	echo "BERTH_TEST_DOCKER_HOST=$host"
else
	fail "start dockerd"
fi

# The interop test's Go clients (regctl, oras, helm, cosign) take minutes to
# build cold; build them here, visibly, so that test/interop reuses them.
step "building the interop clients (tools/interop; cached in .tmp/tools)"
mkdir -p .tmp/tools
(cd tools/interop && CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly \
	go build -o "$repo_root/.tmp/tools/" \
	github.com/regclient/regclient/cmd/regctl oras.land/oras/cmd/oras \
	helm.sh/helm/v4/cmd/helm github.com/sigstore/cosign/v3/cmd/cosign) || fail "build interop clients"

export BERTH_E2E_LOG_DIR=$repo_root/.tmp/e2e
step "go test ./... (timeout ${GO_TEST_TIMEOUT:-25m})"
# shellcheck disable=SC2086 # GOTESTFLAGS is a list of flags
go test -count=1 -timeout "${GO_TEST_TIMEOUT:-25m}" ${GOTESTFLAGS:-} ./... || fail "go test ./..."

step "web UI: API types, type check, Vitest, end-to-end in Chromium (scripts/ui-test.sh)"
scripts/ui-test.sh || fail "web UI tests"

if [[ -f .tmp/interop/matrix.md ]]; then
	step "client compatibility (test/interop)"
	cat .tmp/interop/matrix.md
fi

step "OCI conformance on SQLite"
scripts/conformance.sh --db sqlite --bin "$bin" || fail "conformance on SQLite"

step "OCI conformance on PostgreSQL"
scripts/conformance.sh --db postgres --bin "$bin" || fail "conformance on PostgreSQL"

echo
if ((${#failures[@]})); then
	echo "make test: FAILED steps:"
	printf '  %s\n' "${failures[@]}"
	exit 1
fi
echo "make test: all steps passed"
