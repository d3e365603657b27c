#!/usr/bin/env bash
# The web UI's checks (scripts/test.sh runs this after go test):
#   1. src/api/schema.d.ts is up to date with the OpenAPI document
#   2. TypeScript type check (strict)
#   3. Vitest component and API-client tests (jsdom)
#   4. end-to-end: playwright-core drives /usr/bin/chromium against
#      bin/berth (BERTH_BIN) and the docker daemon at BERTH_TEST_DOCKER_HOST;
#      screenshots go to .tmp/ui-screenshots, berth's log to .tmp/ui-e2e.
# Every step runs; the exit status is non-zero when any failed.
set -uo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
failures=()
step() { echo; echo "--> ui: $*"; }
fail() { failures+=("$1"); echo "!!! ui: $1" >&2; }

make --no-print-directory ui-deps || { echo "ui: npm ci failed" >&2; exit 1; }
export BERTH_BIN=${BERTH_BIN:-$repo_root/bin/berth}
cd web

step "API types match internal/http/api/openapi/berth.yaml"
npm run --silent check:api || fail "API types out of date (npm run gen:api)"

step "type check (tsc -b)"
npm run --silent typecheck || fail "type check"

step "Vitest (component and client tests)"
npx vitest run || fail "Vitest"

step "end-to-end in Chromium against $BERTH_BIN"
if [[ ! -x /usr/bin/chromium ]]; then
	fail "end-to-end: /usr/bin/chromium is missing (scripts/deps.sh installs it)"
elif [[ -z ${BERTH_TEST_DOCKER_HOST:-} ]]; then
	fail "end-to-end: BERTH_TEST_DOCKER_HOST is not set"
else
	# Fresh screenshots each run; every e2e file adds its own.
	rm -rf "${BERTH_UI_SCREENSHOTS:-$repo_root/.tmp/ui-screenshots}"
	npx vitest run --config vitest.e2e.config.ts || fail "end-to-end"
fi

if ((${#failures[@]})); then
	printf 'ui: FAILED: %s\n' "${failures[@]}" >&2
	exit 1
fi
echo "ui: all checks passed"
