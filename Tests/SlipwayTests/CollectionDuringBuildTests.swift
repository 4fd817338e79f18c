import Foundation
import JSONRPC
import Testing
import TestSupport

/// A collection that runs while builds export (`system/gc`, and the one `image/delete`
/// starts) takes nothing a running build wrote, linked or read: every image the builds
/// report as made is whole afterwards.
@Suite struct CollectionDuringBuildTests {
    /// An app whose build writes `megabytes` of its own into the app layer, so that its export
    /// (run-image layers linked into the layout first, then the app layer written, then the
    /// layout's index) takes a while.
    static func bigApp(_ root: String, _ name: String, megabytes: Int) async throws -> String {
        let dir = root + "/" + name
        let r = try await sh("""
            set -e
            cp -r '\(HelloApp.path)' '\(dir)'
            printf '\\nhead -c \(megabytes)M /dev/zero > big.bin\\necho \(name) >> big.bin\\n' >> '\(dir)/build.sh'
            """)
        guard r.status == 0 else { throw TestFailure(r.err) }
        return dir
    }

    /// Every blob the image at `layout:latest` names (index, manifest, config, layers) is in
    /// the layout with the content its digest says; returns what is wrong, or nil.
    static func damage(inLayout layout: String) async throws -> String? {
        let r = try await sh("""
            python3 -c '
            import hashlib, json, os, sys
            root = sys.argv[1]
            def blob(d):
                p = os.path.join(root, "blobs", *d.split(":"))
                if not os.path.isfile(p): return None, "missing " + d
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""): h.update(chunk)
                if "sha256:" + h.hexdigest() != d: return None, "damaged " + d
                with open(p, "rb") as f: return f.read(1 << 16), None
            index = json.load(open(os.path.join(root, "index.json")))
            problems = []
            for m in index["manifests"]:
                data, why = blob(m["digest"])
                if why: problems.append(why); continue
                manifest = json.loads(data)
                for d in [manifest["config"]] + manifest["layers"]:
                    _, why = blob(d["digest"])
                    if why: problems.append(why)
            print("; ".join(problems))
            ' '\(layout)'
            """)
        guard r.status == 0 else { throw TestFailure("checking \(layout): \(r.err)") }
        let out = r.out.trimmingCharacters(in: .whitespacesAndNewlines)
        return out.isEmpty ? nil : out
    }

    /// Collections in a loop while the first builds of three images export (their run-image
    /// layers linked from blobs older than any collection), and an image deleted meanwhile:
    /// every build succeeds, every blob its layout names is there, and umoci unpacks each.
    @Test func collectionsDuringExportsLoseNothing() async throws {
        let state = TempDir("state"), apps = TempDir("apps")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--max-concurrent-builds", "3"])
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "doomed", "source": ["local": ["path": .string(HelloApp.path)]]])
        try await c.call("build/wait", ["image": "doomed", "build": 1]).expectStatus("SUCCESS")

        let names = ["big0", "big1", "big2"]
        for name in names {
            let app = try await Self.bigApp(apps.path, name, megabytes: 96)
            _ = try await c.call("image/create", ["name": .string(name), "source": ["local": ["path": .string(app)]]])
        }
        // Collect over and over until every build has ended; delete an image after the first
        // collection (its deletion starts a collection of its own).
        var collections = 0
        var deleted = false
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline {
            _ = try await c.call("system/gc")
            collections += 1
            if !deleted {
                _ = try await c.call("image/delete", ["name": "doomed"])
                deleted = true
            }
            var finished = 0
            for name in names where try await c.call("build/status", ["image": .string(name), "build": 1])["status"].map({ $0 == "SUCCESS" || $0 == "FAILURE" }) == true {
                finished += 1
            }
            if finished == names.count { break }
        }
        for name in names {
            try await c.call("build/wait", ["image": .string(name), "build": 1], timeout: 300).expectStatus("SUCCESS")
            let layout = state.path + "/layouts/default/" + name
            let damage = try await Self.damage(inLayout: layout)
            #expect(damage == nil, "\(name), after \(collections) collections: \(damage ?? "")")
            await #expect(throws: Never.self, "\(name)") { _ = try await UnpackedImage(layout: layout) }
        }
        // And what the images are made of stays through a collection after the builds.
        _ = try await c.call("system/gc")
        for name in names { #expect(try await Self.damage(inLayout: state.path + "/layouts/default/" + name) == nil, "\(name)") }
    }
}
