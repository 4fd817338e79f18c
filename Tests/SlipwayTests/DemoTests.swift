import Foundation
import Testing
import TestSupport

/// The README's demo, as most users run it: without root. Run as root (as CI is), the test makes
/// an unprivileged user and runs the demo as that user from a copy of what the demo needs
/// (scripts, buildpacks, the example and the built binaries), so that a checkout in a folder
/// only root can read does not matter.
@Suite struct DemoTests {
    static let user = "slipway-demo"

    @Test func theDemoRunsAsAUserWithoutRoot() async throws {
        let copy = TempDir("demo-tree")
        let bin = Repo.binDir.path
        let prepare = try await sh("""
            set -e
            mkdir -p '\(copy.path)/.build/debug'
            cp -r '\(Repo.root.path)/scripts' '\(Repo.root.path)/buildpacks' '\(Repo.root.path)/examples' '\(copy.path)/'
            cp '\(bin)/slipway' '\(bin)/slipway-engine' '\(bin)/slipway-launcher' '\(bin)/slipway-userns' '\(copy.path)/.build/debug/'
            """)
        #expect(prepare.status == 0, "\(prepare.err)")
        let demo = "env -i PATH=/usr/local/bin:/usr/bin:/bin '\(copy.path)/scripts/demo.sh'"
        let r: (status: Int32, out: String, err: String)
        if getuid() == 0 {
            let made = try await sh("""
                id -u \(Self.user) >/dev/null 2>&1 || useradd --create-home --shell /bin/bash \(Self.user)
                chown -R \(Self.user): '\(copy.path)' && chmod 755 '\(copy.path)'
                """)
            #expect(made.status == 0, "cannot make the user \(Self.user): \(made.err)")
            r = try await sh("runuser -u \(Self.user) -- env HOME=/home/\(Self.user) \(demo)")
            #expect(try await sh("id -u \(Self.user)").out != "0\n")
        } else {
            print("DemoTests: already running as uid \(getuid()); the demo runs as this user")
            r = try await sh(demo)
        }
        #expect(r.status == 0, "demo failed (\(r.status)):\n\(r.out)\n\(r.err)")
        #expect(r.out.contains("build 1: SUCCESS"), "\(r.out)")
        #expect(r.out.contains("image/status: Ready"), "\(r.out)")
        #expect(r.out.contains(HelloApp.expectedLine), "the image did not run: \(r.out)\n\(r.err)")
        #expect(r.out.contains("stopped"), "\(r.out)")
        // The demo leaves its work folder for the user to look at; the test does not.
        if let line = r.out.split(separator: "\n").last(where: { $0.contains("everything is in /tmp/slipway-demo.") }),
           let start = line.range(of: "/tmp/slipway-demo.") {
            _ = try await sh("rm -rf '\(line[start.lowerBound...].dropLast())'")
        }
    }
}
