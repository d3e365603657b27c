#!/usr/bin/env bash
# Install the Debian packages that berth's tests need, when missing.
#
#   scripts/deps.sh          install what is missing (root, apt-get); no-op when all present
#   scripts/deps.sh --check  only report; exit 1 when something is missing
#
# The tests start their own services from these packages (scripts/pg.sh,
# scripts/dockerd.sh, ldaptest's slapd); installing must not start the system's instances,
# so a policy-rc.d that forbids service starts is in place while apt runs.
set -euo pipefail

packages=(
	postgresql # server binaries for scripts/pg.sh and internal/testutil/pgtest
	docker.io  # dockerd and the docker CLI for test/e2e
	skopeo     # copy/inspect in test/e2e
	curl       # health checks in scripts/conformance.sh
	util-linux # runuser, setsid, findmnt
	iproute2   # ip netns/veth for the TLS test that docker must refuse (test/tlse2e)
	slapd      # the LDAP server internal/testutil/ldaptest starts per test
	ldap-utils # ldapadd, with which ldaptest loads LDIF
	chromium   # /usr/bin/chromium for the web UI's end-to-end tests (scripts/ui-test.sh)
)

installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]
}

missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	echo "deps: all present (${packages[*]})"
	exit 0
fi
echo "deps: missing: ${missing[*]}"
if [[ ${1:-} == --check ]]; then
	exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "deps: need root to install them: sudo $0 (or apt-get install ${missing[*]})" >&2
	exit 1
fi

policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\n# berth deps.sh: do not start services while installing\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	made_policy=1
fi
cleanup() { ((made_policy)) && rm -f "$policy"; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
echo "deps: apt-get update"
apt-get update -q
echo "deps: apt-get install -y ${missing[*]}"
apt-get install -y -q "${missing[@]}"

for p in "${missing[@]}"; do
	installed "$p" || { echo "deps: $p is still not installed" >&2; exit 1; }
done
echo "deps: installed ${missing[*]}"
