#!/usr/bin/env bash
# Run every Go fuzz target of the module for a short while.
#
#   scripts/fuzz.sh              FUZZTIME per target (default 10s)
#   FUZZTIME=1m scripts/fuzz.sh
#
# `go test -fuzz` takes one target of one package at a time, so the targets
# are found here (func FuzzXxx in *_test.go) and run one by one. A failing
# input is written by Go to the package's testdata/fuzz/ and then runs in
# every plain `go test` as a regression case.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
fuzztime=${FUZZTIME:-10s}

failed=()
ran=0
while IFS='|' read -r pkg dir; do
	shopt -s nullglob
	files=("$dir"/*_test.go)
	shopt -u nullglob
	((${#files[@]})) || continue
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "${files[@]}" | sort -u); do
		echo "==> fuzz $pkg $target ($fuzztime)"
		ran=$((ran + 1))
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
			failed+=("$pkg $target")
		fi
	done
done < <(go list -f '{{.ImportPath}}|{{.Dir}}' ./...)

echo
if ((ran == 0)); then
	echo "fuzz: no fuzz targets found"
	exit 0
fi
if ((${#failed[@]})); then
	echo "fuzz: failing targets:"
	printf '  %s\n' "${failed[@]}"
fi
echo "fuzz: $((ran - ${#failed[@]})) passed, ${#failed[@]} failed"
((${#failed[@]} == 0))
