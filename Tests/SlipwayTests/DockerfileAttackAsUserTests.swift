import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// The attack suite again, as a user that is not root (with a subordinate id range, as Dockerfile
/// builds need): what a step may reach differs (its ids map onto the user's range, and the host
/// files it aims at belong to that user), so the boundary is checked from there too. Run as root
/// (as CI is), the test makes the user and runs the built suite as them with
/// `scripts/test-as-user.sh`; as another user, the suite above already ran as that user.
@Suite(.enabled(if: getuid() == 0, "as another user than root, DockerfileAttackTests already ran as that user"),
        .enabled(if: DockerfileSteps.othersCanRead(Repo.binDir.appendingPathComponent("SlipwayPackageTests.xctest").path)
                     && DockerfileSteps.othersCanRead(Repo.fixtures.path),
                 "another user cannot read the checkout (make its folders readable to others)"))
struct DockerfileAttackAsUserTests {
    static let user = "slipway-attack"

    @Test func theAttackSuitePassesAsAUserWithoutRoot() async throws {
        // A user with a range of 65,536 ids after every range /etc/subuid and /etc/subgid hold.
        let made = try await sh("""
            set -e
            id -u \(Self.user) >/dev/null 2>&1 || useradd --create-home --shell /bin/bash \(Self.user)
            for f in /etc/subuid /etc/subgid; do
              touch "$f"
              if ! grep -q '^\(Self.user):' "$f"; then
                start=$(awk -F: 'BEGIN {m = 100000} {if ($2 + $3 > m) m = $2 + $3} END {print m}' "$f")
                echo "\(Self.user):$start:65536" >> "$f"
              fi
            done
            """)
        #expect(made.status == 0, "cannot make the user \(Self.user): \(made.err)")
        let r = try await sh("'\(Repo.root.path)/scripts/test-as-user.sh' \(Self.user) --filter 'DockerfileAttackTests/' 2>&1")
        #expect(r.status == 0 && !r.out.contains("✘"), "the attack suite failed as \(Self.user):\n\(r.out.suffix(6000))")
        // Every test of the suite ran, as the user, and none was skipped for want of a range.
        #expect(r.out.contains("✔ Test bindMountSourcesThatAreSymlinksStayInsideTheirRoot() passed") && !r.out.contains("skipped"), "\(r.out.suffix(3000))")
    }
}
