#!/usr/bin/env bash
# The chaos loop: load, faults (kill -9 of the engine), protocol fuzzer, disk full, races.
#   bench/chaos/run.sh            full: 40 clients for 5 minutes, 100 kills, 100,000 fuzz inputs, ...
#   bench/chaos/run.sh --ci       short and seeded, a few minutes in all (what `make test` runs)
#   bench/chaos/run.sh --seed N   another seed (default 20261130, printed by each run)
# Each script prints its counts and exits 1 naming every invariant that broke; this runs them
# all, prints their summary lines, and exits 1 if any did. SLIPWAY_BIN_DIR picks the binaries
# (default .build/debug, else .build/release). Run one alone: python3 bench/chaos/fuzz.py --help.
set -uo pipefail
cd "$(dirname "$0")"
status=0
summary=()
for run in load faults fuzz diskfull race; do
  echo "==> chaos: $run $*"
  out=$(mktemp)
  python3 "$run.py" "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  summary+=("$(grep -E "^$run: (seed|BROKEN|OK|skipped)" "$out")")
  rm -f "$out"
  [ "$rc" -eq 0 ] || status=1
done
echo "==> chaos summary"
printf '%s\n' "${summary[@]}"
exit $status
