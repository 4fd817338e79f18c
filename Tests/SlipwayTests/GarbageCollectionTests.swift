import Foundation
import JSONRPC
import Testing
import TestSupport

/// Nothing in the state directory outlives what uses it: deleted images and their builds go
/// whole, what is reachable is never lost (not even to a collection killed half way), and
/// `system/df` says where the space is.
@Suite struct GarbageCollectionTests {
    static let helloApp = HelloApp.path

    /// Bytes under the state directory, each file once, not counting the SQLite files (their
    /// free pages are reused), the engine's log and its socket.
    static func stateBytes(_ state: String) async throws -> Int64 {
        let r = try await sh("""
            cd '\(state)' && find . -type f ! -name 'state.db*' ! -name 'engine.log*' ! -name 'engine*.lock' -printf '%i %s\\n' | sort -u | awk '{s+=$2} END {print s+0}'
            """)
        guard let n = Int64(r.out.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw TestFailure("du: \(r.err)") }
        return n
    }

    /// An app folder of its own: the example plus a file no other image has.
    static func uniqueApp(_ root: String, _ i: Int) async throws -> String {
        let dir = root + "/app\(i)"
        let r = try await sh("cp -r '\(helloApp)' '\(dir)' && head -c 300000 /dev/urandom > '\(dir)/data.bin'")
        guard r.status == 0 else { throw TestFailure(r.err) }
        return dir
    }

    /// 20 images built twice and deleted: the state directory returns to within 5% of its size
    /// before them, and the image that stays still builds and runs.
    @Test func deletedImagesLeaveNothingBehind() async throws {
        let state = TempDir("state"), apps = TempDir("apps")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--max-concurrent-builds", "4"])
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "keep", "source": ["local": ["path": .string(Self.helloApp)]]])
        #expect(try await c.call("build/wait", ["image": "keep", "build": 1])["status"] == "SUCCESS")
        _ = try await c.call("system/gc")
        let before = try await Self.stateBytes(state.path)

        for i in 0..<20 {
            _ = try await c.call("image/create", ["name": .string("app\(i)"), "source": ["local": ["path": .string(try await Self.uniqueApp(apps.path, i))]]])
        }
        for i in 0..<20 { #expect(try await c.call("build/wait", ["image": .string("app\(i)"), "build": 1])["status"] == "SUCCESS") }
        for i in 0..<20 { _ = try await c.call("image/trigger", ["name": .string("app\(i)")]) }
        for i in 0..<20 { #expect(try await c.call("build/wait", ["image": .string("app\(i)"), "build": 2])["status"] == "SUCCESS") }
        let full = try await Self.stateBytes(state.path)
        #expect(full > before + 20 * 300_000, "the 20 images took \(full - before) bytes")
        for i in 0..<20 { _ = try await c.call("image/delete", ["name": .string("app\(i)")]) }
        let collected = try await c.call("system/gc")
        let after = try await Self.stateBytes(state.path)
        let change = Double(after - before) / Double(before)
        #expect(abs(change) <= 0.05, "before \(before), with the images \(full), after \(after) bytes (\(Int(change * 100))%); \(collected)")

        // What stays still builds and runs.
        _ = try await c.call("image/trigger", ["name": "keep"])
        #expect(try await c.call("build/wait", ["image": "keep", "build": 2])["status"] == "SUCCESS")
        let out = try await UnpackedImage.runProcess(layout: state.path + "/layouts/default/keep")
        #expect(out.contains(HelloApp.expectedLine))
    }

    /// The fresh cache a build fills while it saves (`cache/<ns>/<image>.new`) is the image's as
    /// much as its cache is: a collection keeps it however old its folder is (a chaos run saw
    /// "cannot replace the build cache" when one was swept mid-save); one of no image goes.
    @Test func aCacheBeingSavedIsKept() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "app", "source": ["local": ["path": .string(Self.helloApp)]]])
        try await c.call("build/wait", ["image": "app", "build": 1]).expectStatus("SUCCESS")
        let cache = state.path + "/cache/default/"
        for name in ["app.new", "gone.new"] {
            let r = try await sh("mkdir -p '\(cache)\(name)/bp' && echo layer > '\(cache)\(name)/bp/l.toml' && touch -d '2 hours ago' '\(cache)\(name)/bp/l.toml' '\(cache)\(name)/bp' '\(cache)\(name)'")
            #expect(r.status == 0, "\(r.err)")
        }
        _ = try await c.call("system/gc")
        #expect(FileManager.default.fileExists(atPath: cache + "app.new/bp/l.toml"))
        #expect(!FileManager.default.fileExists(atPath: cache + "gone.new"))
    }

    /// `system/df` says what the state directory holds; a dry run counts and removes nothing;
    /// a collection gives the unreferenced bytes back.
    @Test func diskUsageAndADryRun() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "keep", "source": ["local": ["path": .string(Self.helloApp)]]])
        _ = try await c.call("build/wait", ["image": "keep", "build": 1])
        func rows() async throws -> [String: JSONValue] {
            let kinds = try await c.call("system/df")["kinds"]?.arrayValue ?? []
            return Dictionary(uniqueKeysWithValues: kinds.compactMap { r in r["kind"]?.stringValue.map { ($0, r) } })
        }
        let df = try await rows()
        #expect(df["images"]?["count"] == 1)
        for kind in ["images", "layers", "sources", "stacks", "buildpacks", "logs"] { #expect((df[kind]?["bytes"]?.int ?? 0) > 0, "\(kind): \(df)") }
        #expect((df["events"]?["count"]?.int ?? 0) > 0)
        #expect(df["buildpacks"]?["count"] == 2)

        let junk = try await Self.plantUnreferencedBlobs(state.path, count: 50, size: 10_000)
        let withJunk = try await rows()
        #expect((withJunk["unreferenced"]?["bytes"]?.int ?? 0) >= junk && (withJunk["unreferenced"]?["reclaimable"]?.int ?? 0) >= junk)
        let bytes = try await Self.stateBytes(state.path)
        let dry = try await c.call("system/gc", ["dryRun": true])
        #expect(dry["dryRun"] == true && (dry["totalBytes"]?.int ?? 0) >= junk, "\(dry)")
        #expect(try await Self.stateBytes(state.path) == bytes)
        let real = try await c.call("system/gc")
        #expect(real["totalBytes"] == dry["totalBytes"], "\(dry) \(real)")
        #expect(try await rows()["unreferenced"]?["bytes"] == 0)
        #expect(try await Self.stateBytes(state.path) == bytes - (real["totalBytes"]?.int.map(Int64.init) ?? 0))
    }

    /// The engine killed with SIGKILL while it collects: what was reachable is all there, and
    /// the next collection finishes the job.
    @Test func aKilledCollectionLosesNothingReachable() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "keep", "source": ["local": ["path": .string(Self.helloApp)]]])
        _ = try await c.call("build/wait", ["image": "keep", "build": 1])
        _ = try await Self.plantUnreferencedBlobs(state.path, count: 3000, size: 4096)
        let engine = try #require(SharedEngine.enginePID(state.path))
        c.send(.object(JSONObject([("jsonrpc", "2.0"), ("id", 900), ("method", "system/gc")])))
        // Killed as soon as it has begun to remove files (or right away, if it is quicker).
        let blobs = state.path + "/blobs/sha256"
        let start = try FileManager.default.contentsOfDirectory(atPath: blobs).count
        let deadline = Date().addingTimeInterval(30)
        while try FileManager.default.contentsOfDirectory(atPath: blobs).count == start && Date() < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        kill(engine, SIGKILL)
        _ = try await c.waitForExit()

        let d = try SlipwayClient(stateDir: state.path)
        let inspect = try await sh("skopeo inspect 'oci:\(state.path)/layouts/default/keep:latest'")
        #expect(inspect.status == 0, "\(inspect.err)")
        #expect(try await UnpackedImage.runProcess(layout: state.path + "/layouts/default/keep").contains(HelloApp.expectedLine))
        _ = try await d.call("image/trigger", ["name": "keep"])
        #expect(try await d.call("build/wait", ["image": "keep", "build": 2])["status"] == "SUCCESS")
        _ = try await d.call("system/gc")
        let rows = try await d.call("system/df")["kinds"]?.arrayValue ?? []
        #expect(rows.first { $0["kind"] == "unreferenced" }?["bytes"] == 0)
    }

    /// Blobs no root reaches, written straight into the content store (as a crashed or older
    /// engine could have left them), dated an hour back; returns their bytes.
    static func plantUnreferencedBlobs(_ state: String, count: Int, size: Int) async throws -> Int64 {
        let r = try await sh("""
            python3 -c '
            import os, sys, hashlib, time
            d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
            old = time.time() - 3600
            for i in range(n):
                data = os.urandom(size)
                p = os.path.join(d, hashlib.sha256(data).hexdigest())
                with open(p, "wb") as f: f.write(data)
                os.utime(p, (old, old))
            ' '\(state)/blobs/sha256' \(count) \(size)
            """)
        guard r.status == 0 else { throw TestFailure(r.err) }
        return Int64(count * size)
    }
}
