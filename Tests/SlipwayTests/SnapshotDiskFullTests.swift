import Foundation
import JSONRPC
import Testing
import TestSupport

/// A state directory whose disk fills while a source is snapshotted: the request fails with
/// Unavailable (1006, free some space and try again), not an internal error, whether the disk
/// filled while copying a folder or while unpacking an archive; what the snapshot had written
/// is gone, and a source that fits is snapshotted after it.
@Suite(.enabled(if: getuid() == 0, "needs root to mount a small tmpfs as the state directory"))
struct SnapshotDiskFullTests {
    @Test func aFullDiskWhileSnapshottingIsUnavailable() async throws {
        let state = TempDir("state"), sources = TempDir("sources")
        let mounted = try await sh("mount -t tmpfs -o size=24m,mode=700 tmpfs '\(state.path)'")
        try #require(mounted.status == 0, "mount: \(mounted.err)")
        defer { _ = try? sh("umount -l '\(state.path)'") }  // the test's own mount; nothing else uses it
        let made = try await sh("""
            set -e
            cd '\(sources.path)'
            mkdir big small
            head -c 40M /dev/zero > big/data.bin
            echo 'FROM scratch' > big/Dockerfile
            tar -cf big.tar -C big .
            echo 'FROM scratch' > small/Dockerfile
            """)
        try #require(made.status == 0, "\(made.err)")
        let c = try SlipwayClient(stateDir: state.path, arguments: Repo.hostPathArguments + ["--embedded"])

        for (i, path) in [sources.path + "/big", sources.path + "/big.tar"].enumerated() {
            let r = try await c.request("image/create", ["name": .string("big\(i)"), "strategy": "dockerfile", "dryRun": true,
                                                         "source": ["local": ["path": .string(path)]]])
            #expect(r["error"]?["code"] == 1006, "\(path): \(JSONWriter.string(r))")
            #expect(r["error"]?["data"]?["reason"] == "Unavailable", "\(path): \(JSONWriter.string(r))")
            #expect(r["error"]?["message"]?.stringValue?.contains("no space left on device") == true, "\(path): \(JSONWriter.string(r))")
        }
        // The failed snapshots left nothing that fills the disk: a source that fits goes in.
        let small = try await c.request("image/create", ["name": "small", "strategy": "dockerfile", "dryRun": true,
                                                         "source": ["local": ["path": .string(sources.path + "/small")]]])
        #expect(small["result"]?["image"]?["name"] == "small", "\(JSONWriter.string(small))")
        c.closeInput()
        _ = try await c.waitForExit()
    }
}
