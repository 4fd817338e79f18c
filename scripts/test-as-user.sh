#!/usr/bin/env bash
# Runs the whole test suite, already built by `make test` (or `swift build --build-tests`), as
# another user: `sudo scripts/test-as-user.sh someone [--filter PATTERN]` (what follows the
# user goes to the test binary). The stack the tests use is made by that user, as it would be on
# their machine. The checkout must be readable by them.
set -euo pipefail
user="${1:?usage: scripts/test-as-user.sh USER [TEST-ARGS...]}"
shift
root="$(cd "$(dirname "$0")/.." && pwd)"
tests="$root/.build/debug/SlipwayPackageTests.xctest"
[ -x "$tests" ] || { echo "test-as-user: build the tests first (swift build --build-tests)"; exit 1; }
stack="$(runuser -u "$user" -- mktemp -d /tmp/slipway-test-stack.XXXXXX)"
trap 'rm -rf "$stack"' EXIT
runuser -u "$user" -- "$root/scripts/make-stack.sh" "$stack" >/dev/null
cd "$root"
runuser -u "$user" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$(getent passwd "$user" | cut -d: -f6)" \
  SLIPWAY_TEST_STACK="$stack" "$tests" --testing-library swift-testing "$@"
