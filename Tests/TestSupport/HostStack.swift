import Foundation

/// The host stack: the one `make test` assembled (SLIPWAY_TEST_STACK), or one assembled once
/// per test run by scripts/make-stack.sh.
public enum HostStack {
    public static let directory: String = {
        if let given = ProcessInfo.processInfo.environment["SLIPWAY_TEST_STACK"], FileManager.default.fileExists(atPath: given + "/build/usr/bin/bash") {
            return given
        }
        let dir = NSTemporaryDirectory() + "slipway-test-stack-\(getpid())"
        let r = try! sh("'\(Repo.root.path)/scripts/make-stack.sh' '\(dir)'")
        precondition(r.status == 0, "make-stack.sh failed: \(r.err)")
        return dir
    }()
    public static var build: String { directory + "/build" }
    public static var run: String { directory + "/run" }
}

extension HostStack {
    /// Makes an OCI layout at `layout` holding the host stack's build and run images (tags
    /// `build` and `run`) with umoci, labelled with `stackID`.
    public static func ociLayout(at layout: String, stackID: String) async throws {
        for (tag, dir) in [("build", build), ("run", run)] {
            let r = try await sh("""
                set -e
                [ -d '\(layout)' ] || umoci init --layout '\(layout)'
                umoci new --image '\(layout):\(tag)'
                # umoci --rootless changes folder modes while it reads them: give it a copy, so
                # that tests reading the shared stack at the same time never see that.
                copy="$(mktemp -d)"
                cp -a '\(dir)/.' "$copy/"
                umoci insert --rootless --image '\(layout):\(tag)' "$copy" /
                rm -rf "$copy"
                umoci config --image '\(layout):\(tag)' --config.label io.buildpacks.stack.id=\(stackID) \\
                  --config.env CNB_USER_ID=1000 --config.env CNB_GROUP_ID=1000 --config.env PATH=/usr/bin:/bin
                """)
            guard r.status == 0 else { throw TestFailure("umoci: \(r.err)") }
        }
    }

    /// A fresh folder holding the host stack as an OCI layout at `oci` (tags `build`, `run`):
    /// a base image for Dockerfile builds.
    public static func baseLayout() async throws -> TempDir {
        let dir = TempDir("base")
        try await ociLayout(at: dir.path + "/oci", stackID: "io.slipway.test")
        return dir
    }
}
