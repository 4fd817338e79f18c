import Foundation
import JSONRPC
import Testing
@testable import BuildRuntime
import TestSupport

/// A Dockerfile is hostile: these builds try, as an attacker would, to reach the host or another
/// tenant through what a Dockerfile names (mount sources and targets, FROM and COPY --from,
/// ADD URLs) and to crash or exhaust the engine. Each test runs the real builder, kernel,
/// overlayfs, bwrap and `slipway-userns`, as root and (with `scripts/test-as-user.sh`) as a user
/// with a subordinate id range, and checks from the host that nothing outside the build changed
/// and nothing of the host reached the image or the log.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileAttackTests {

    /// A folder on the host that a step must never reach: under /var/tmp, which (unlike /tmp)
    /// the helper's mount namespace shows, world-writable so that an escaped step could write
    /// there whatever its ids, with a world-readable secret.
    struct HostBait {
        let dir: String
        let secret = "host-secret-" + UUID().uuidString

        init() throws {
            dir = "/var/tmp/slipway-bait-" + UUID().uuidString.prefix(8).lowercased()
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            chmod(dir, 0o1777)
            try secret.write(toFile: dir + "/secret", atomically: false, encoding: .utf8)
            chmod(dir + "/secret", 0o644)
        }

        /// What the folder holds now: only the secret, unchanged, unless a step escaped.
        func untouched() -> Bool {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            return names == ["secret"] && (try? String(contentsOfFile: dir + "/secret", encoding: .utf8)) == secret
        }

        func remove() { try? FileManager.default.removeItem(atPath: dir) }  // test scratch
    }

    /// Builds `dockerfile` in `f`'s context into a fresh layout; returns the error, if any, the
    /// log, and every byte of the layout's blobs (to search for the host's secret).
    static func attempt(_ f: DockerfileBuilderFixture, _ dockerfile: String, layout name: String,
                        resolve: (@Sendable (String) async throws -> OCIImage)? = nil) async throws -> (error: String?, log: [String], layout: String) {
        try dockerfile.write(toFile: f.context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        let lines = LineCollector()
        let layout = f.state.path + "/" + name
        var request = f.request(layout)
        if let resolve { request.resolveBase = resolve }
        request.mountCacheDirectory = f.state.path + "/mounts"
        do {
            _ = try await f.builder.build(request) { _, _, line in lines.add(line) }
            return (nil, lines.all, layout)
        } catch {
            return ("\(error)", lines.all, layout)
        }
    }

    /// Whether any blob of the layout holds `text` (decompressing gzip layers).
    static func layout(_ layout: String, contains text: String) async throws -> Bool {
        guard FileManager.default.fileExists(atPath: layout + "/blobs") else { return false }
        let r = try await sh("for f in '\(layout)'/blobs/sha256/*; do (zcat -f \"$f\" 2>/dev/null || cat \"$f\") | grep -a -c -F '\(text)'; done | awk '{s+=$1} END {print s+0}'")
        return r.out.trimmingCharacters(in: .whitespacesAndNewlines) != "0"
    }

    // MARK: A1: bind mount sources

    /// A bind mount whose source is a symlink (in an earlier stage, in a base image, or in the
    /// context, where its target moves with the copy) resolves inside what it names, as in a
    /// container: never the host's root, which it would otherwise mount read-write.
    @Test func bindMountSourcesThatAreSymlinksStayInsideTheirRoot() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let bait = try HostBait()
        defer { bait.remove() }
        // The context: a link that points inside it, four folders up (its root).
        try FileManager.default.createDirectory(atPath: f.context.path + "/x/y/z/w", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: f.context.path + "/x/y/z/w/up", withDestinationPath: "../../../..")
        try FileManager.default.createSymbolicLink(atPath: f.context.path + "/rootlink", withDestinationPath: "/")
        let probe = "cat /h\(bait.dir)/secret > /leak 2>/dev/null; echo pwned > /h\(bait.dir)/pwned 2>/dev/null; ls /h > /listing; true"
        // From an earlier stage whose link points at /, and at ../../.. from a folder.
        let fromStage = try await Self.attempt(f, """
            FROM base AS a
            RUN ln -s / /hostroot && mkdir -p /deep/er && ln -s ../../.. /deep/er/up && echo stage-a > /marker
            FROM base
            RUN --mount=type=bind,from=a,source=hostroot,target=/h,rw \(probe)
            RUN --mount=type=bind,from=a,source=deep/er/up,target=/h2,rw cat /h2/marker > /seen-up
            """, layout: "stage")
        #expect(fromStage.error == nil, "\(fromStage.error ?? "")\n\(fromStage.log.joined(separator: "\n"))")
        // From a base image that carries such a link in its layer.
        let evil = f.state.path + "/evil"
        _ = try await Self.attempt(f, "FROM base\nRUN ln -s / /hostroot\n", layout: "evil")
        let base = f.baseLayout
        let fromImage = try await Self.attempt(f, """
            FROM base
            RUN --mount=type=bind,from=evil,source=hostroot,target=/h,rw \(probe)
            """, layout: "image") { name in
            try OCILayout(path: name == "evil" ? evil : base, create: false).image(tag: name == "evil" ? "latest" : "run")
        }
        #expect(fromImage.error == nil, "\(fromImage.error ?? "")")
        // From the context: its links, copied, would point out of the copy.
        let fromContext = try await Self.attempt(f, """
            FROM base
            RUN --mount=type=bind,source=x/y/z/w/up,target=/h,rw \(probe)
            RUN --mount=type=bind,source=rootlink,target=/h,rw ls /h > /listing-root
            """, layout: "context")
        #expect(fromContext.error == nil, "\(fromContext.error ?? "")")

        #expect(bait.untouched(), "a step reached the host folder \(bait.dir)")
        for attempt in [fromStage, fromImage, fromContext] {
            #expect(try await !Self.layout(attempt.layout, contains: bait.secret), "the host's secret is in \(attempt.layout)")
            #expect(!attempt.log.joined().contains(bait.secret))
        }
        // What the mounts showed: the stage's own root, and the context's.
        let stage = try await UnpackedImage(layout: fromStage.layout)
        #expect(try String(contentsOfFile: stage.rootfs + "/seen-up", encoding: .utf8) == "stage-a\n")
        #expect(try String(contentsOfFile: stage.rootfs + "/listing", encoding: .utf8).contains("marker"))
        let context = try await UnpackedImage(layout: fromContext.layout)
        for listing in ["/listing", "/listing-root"] {
            let seen = try String(contentsOfFile: context.rootfs + listing, encoding: .utf8)
            #expect(seen.contains("Dockerfile") && seen.contains("rootlink") && !seen.contains("proc"), "\(listing): \(seen)")
        }
    }

    // MARK: A2: mount targets

    /// A mount target that is a symlink in the stage (to where the helper's view shows the host,
    /// `/oldroot/…`, or to an absolute host path) resolves inside the stage: the folder or file
    /// the mount needs is made there, and nothing is made on the host. The same holds for the
    /// sandbox's own mount points, /proc and /dev.
    @Test func mountTargetsThatAreSymlinksStayInsideTheStage() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let bait = try HostBait()
        defer { bait.remove() }
        let attempt = try await Self.attempt(f, """
            FROM base
            RUN ln -s /oldroot\(bait.dir)/x /t && ln -s \(bait.dir) /td && ln -s /oldroot\(bait.dir)/file /tf
            RUN --mount=type=bind,source=data,target=/t touch /t/through-bind 2>/dev/null; true
            RUN --mount=type=tmpfs,target=/td/newdir touch /td/newdir/through-tmpfs
            RUN --mount=type=bind,source=data/x.txt,target=/tf cat /tf > /seen-file
            RUN --mount=type=cache,target=/td/cache touch /td/cache/through-cache
            """, layout: "targets")
        #expect(attempt.error == nil, "\(attempt.error ?? "")\n\(attempt.log.joined(separator: "\n"))")
        #expect(bait.untouched(), "a mount target was made on the host, in \(bait.dir)")
        let image = try await UnpackedImage(layout: attempt.layout)
        #expect(try String(contentsOfFile: image.rootfs + "/seen-file", encoding: .utf8) == "one\n")
        // The stubs made inside the stage for the mounts leave with them.
        #expect(!FileManager.default.fileExists(atPath: image.rootfs + "/oldroot\(bait.dir)/x"))
        #expect(!FileManager.default.fileExists(atPath: image.rootfs + bait.dir + "/newdir"))

        // A layer whose /proc is a symlink out: the step does not run over it.
        try FileManager.default.createDirectory(atPath: f.context.path + "/evilroot", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: f.context.path + "/evilroot/proc", withDestinationPath: "/oldroot" + bait.dir)
        let proc = try await Self.attempt(f, "FROM base\nCOPY evilroot/ /\nRUN true\n", layout: "proc")
        #expect(proc.error?.contains("/proc is not a folder") == true, "\(proc.error ?? "built")")
        #expect(bait.untouched(), "/proc was mounted on the host, in \(bait.dir)")
    }

    // MARK: A3: host paths and other namespaces

    /// Builds a Dockerfile image from `dockerfile` (in a fresh folder, or a git repository) in
    /// `namespace`, and waits for build 1.
    static func build(_ c: SlipwayClient, _ name: String, namespace: String = "default", dockerfile: String, files: [String: String] = [:],
                      git: Bool = false) async throws -> JSONValue {
        let app = TempDir("attack")
        try dockerfile.write(toFile: app.path + "/Dockerfile", atomically: true, encoding: .utf8)
        for (path, text) in files { try text.write(toFile: app.path + "/" + path, atomically: true, encoding: .utf8) }
        var source: JSONValue = ["local": ["path": .string(app.path)]]
        if git {
            let r = try await sh("cd '\(app.path)' && git init -q -b main && git add -A && git -c user.email=t@example.com -c user.name=t commit -qm x")
            #expect(r.status == 0, "\(r.err)")
            source = ["git": ["url": .string("file://" + app.path), "revision": "main"]]
        }
        _ = try await c.call("image/create", ["name": .string(name), "namespace": .string(namespace), "strategy": "dockerfile", "source": source])
        return try await c.call("build/wait", ["image": .string(name), "namespace": .string(namespace), "build": 1])
    }

    /// FROM and COPY --from take registry references, earlier stages and the namespace's own
    /// images by name; a host path only under --allow-source, and never another namespace's
    /// state. Without --allow-source, no host path at all, whatever the source (a folder or a
    /// git repository).
    @Test func aDockerfileNamesNoHostPathAndNoOtherNamespace() async throws {
        let base = try await HostStack.baseLayout()
        // A file only root may read, and a layout outside any allowed folder.
        let hidden = "/var/tmp/slipway-hidden-" + UUID().uuidString.prefix(8).lowercased()
        defer { try? FileManager.default.removeItem(atPath: hidden) }  // test scratch
        try FileManager.default.createDirectory(atPath: hidden + "/x", withIntermediateDirectories: true)
        let secret = "root-only-" + UUID().uuidString
        try secret.write(toFile: hidden + "/x/secret", atomically: false, encoding: .utf8)
        chmod(hidden + "/x/secret", 0o600)
        #expect(try await sh("cp -r '\(base.path)/oci' '\(hidden)/layout'").status == 0)

        let open = TempDir("state")
        do {
            let c = try SlipwayClient(stateDir: open.path)
            for (i, (dockerfile, git)) in [("FROM oci:\(base.path)/oci:run\n", false), ("FROM oci:\(base.path)/oci:run\n", true), ("FROM \(hidden)/x\n", false),
                                          ("FROM scratch\nCOPY --from=\(hidden)/x /secret /stolen\n", false),
                                          ("FROM scratch\nCOPY --from=oci:\(hidden)/layout:run /etc/passwd /stolen\n", true)].enumerated() {
                let b = try await Self.build(c, "nohost\(i)", dockerfile: dockerfile, git: git)
                #expect(b["status"] == "FAILURE", "\(dockerfile) built: \(JSONWriter.string(b))")
                #expect(b["message"]?.stringValue?.contains("a Dockerfile names no host path unless the engine is started with --allow-source") == true,
                        "\(JSONWriter.string(b))")
            }
        }

        // With --allow-source, paths inside it work, but not another namespace's images.
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: Repo.hostPathArguments)
        let made = try await Self.build(c, "private", namespace: "a", dockerfile: "FROM scratch\nCOPY secret.txt /secret.txt\n", files: ["secret.txt": secret])
        #expect(made["status"] == "SUCCESS", "\(JSONWriter.string(made))")
        let mine = try await Self.build(c, "mine", namespace: "a", dockerfile: "FROM private\nCOPY --from=private /secret.txt /copied.txt\n")
        #expect(mine["status"] == "SUCCESS", "the namespace's own image, by name: \(JSONWriter.string(mine))")
        let allowedPath = try await Self.build(c, "allowed", namespace: "b", dockerfile: "FROM oci:\(base.path)/oci:run\n")
        #expect(allowedPath["status"] == "SUCCESS", "\(JSONWriter.string(allowedPath))")
        for (i, (dockerfile, git)) in [("FROM oci:\(state.path)/layouts/a/private\n", false), ("FROM oci:\(state.path)/layouts/a/private\n", true),
                                      ("FROM scratch\nCOPY --from=oci:\(state.path)/layouts/a/private:latest /secret.txt /stolen\n", false),
                                      ("FROM \(state.path)/dockerfile\n", false)].enumerated() {
            let b = try await Self.build(c, "steal\(i)", namespace: "b", dockerfile: dockerfile, git: git)
            #expect(b["status"] == "FAILURE", "\(dockerfile) built: \(JSONWriter.string(b))")
            #expect(b["message"]?.stringValue?.contains("inside Slipway's state directory") == true, "\(JSONWriter.string(b))")
        }
        // Namespace b's `private` is not namespace a's (it is Docker Hub's, unreachable here).
        let byName = try await Self.build(c, "byname", namespace: "b", dockerfile: "FROM private\n")
        #expect(byName["status"] == "FAILURE", "\(JSONWriter.string(byName))")
        #expect(!JSONWriter.string(byName).contains(secret))
        let root = try await sh("grep -rl -a '\(secret)' '\(state.path)/layouts/b' '\(open.path)/layouts' 2>/dev/null | wc -l")
        #expect(root.out.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "a secret reached another namespace's layouts")
    }

    // MARK: A5: ADD of URLs

    /// ADD of a URL follows the build's network: refused with none; with public, loopback (and
    /// the host's own addresses) only when `--allow-add-host` names them, a redirect checked at
    /// every hop, and all of a build's downloads held to one cap together.
    @Test func addOfAURLFollowsTheBuildsNetworkAndReachesNoHostAddress() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let record = TempDir("peer")
        let a = try FixtureServer("add_url_peer.py", [record.path + "/a"]), b = try FixtureServer("add_url_peer.py", [record.path + "/b"])
        func asked(_ peer: String) -> [String] {
            ((try? String(contentsOfFile: record.path + "/" + peer, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        try "FROM base\nADD http://127.0.0.1:\(a.port)/bytes/10 /x\n".write(toFile: f.context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        func attempt(_ dockerfile: String, network: Bool, allow: [String] = [], cap: Int64 = 8 << 30) async -> String? {
            do {
                try dockerfile.write(toFile: f.context.path + "/Dockerfile", atomically: true, encoding: .utf8)
                var request = f.request(f.state.path + "/out-" + UUID().uuidString)
                request.publicNetwork = network
                request.addHostAllowList = allow
                request.maxAddBytes = cap
                _ = try await f.builder.build(request) { _, _, _ in }
                return nil
            } catch {
                return "\(error)"
            }
        }
        let direct = "FROM base\nADD http://127.0.0.1:\(a.port)/bytes/10 /x\n"
        let none = await attempt(direct, network: false)
        #expect(none?.contains("Dockerfile:2: ADD http://127.0.0.1:\(a.port)/bytes/10: the build's network is \"none\"") == true, "\(none ?? "built")")
        let refused = await attempt(direct, network: true)
        #expect(refused?.contains("127.0.0.1") == true && refused?.contains("--allow-add-host") == true, "\(refused ?? "built")")
        // A redirect from an allowed peer to one that is not.
        let redirect = "FROM base\nADD http://127.0.0.1:\(a.port)/redirect?to=http://127.0.0.1:\(b.port)/bytes/10 /x\n"
        let hop = await attempt(redirect, network: true, allow: ["127.0.0.1:\(a.port)"])
        #expect(hop?.contains("127.0.0.1:\(b.port)") == true || hop?.contains("redirected") == true, "\(hop ?? "built")")
        #expect(asked("b").isEmpty, "the refused peer was asked \(asked("b"))")
        #expect(await attempt(redirect, network: true, allow: ["127.0.0.1"]) == nil)
        // Two downloads under the cap each, over it together.
        let two = "FROM base\nADD http://127.0.0.1:\(a.port)/bytes/600 /one\nADD http://127.0.0.1:\(a.port)/bytes/600 /two\n"
        let capped = await attempt(two, network: true, allow: ["127.0.0.1"], cap: 1000)
        #expect(capped?.contains("Dockerfile:3") == true && capped?.contains("1000 bytes") == true, "\(capped ?? "built")")
    }

    // MARK: A4: caches across namespaces

    /// Step records, cache mounts and build contexts are a namespace's own: namespace b's clean
    /// build of the Dockerfile namespace a built over a planted cache runs afresh and gets none
    /// of it, and b's COPY --chown of the same source changes no inode a's layers hold.
    @Test func noCacheOrInodeIsSharedBetweenNamespaces() async throws {
        let base = try await HostStack.baseLayout()
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: Repo.hostPathArguments)
        let from = "FROM oci:\(base.path)/oci:run\n"
        let planted = try await Self.build(c, "planter", namespace: "a", dockerfile: from + "RUN --mount=type=cache,target=/c echo planted > /c/tool\n")
        #expect(planted["status"] == "SUCCESS", "\(JSONWriter.string(planted))")
        // One source for both namespaces: the same snapshot, so the same context digest.
        let app = TempDir("shared-app")
        try (from + "RUN --mount=type=cache,target=/c cat /c/tool > /tool 2>/dev/null || echo clean > /tool\nCOPY f.txt /f.txt\n")
            .write(toFile: app.path + "/Dockerfile", atomically: true, encoding: .utf8)
        try "shared\n".write(toFile: app.path + "/f.txt", atomically: true, encoding: .utf8)
        func build(_ name: String, _ ns: String) async throws -> JSONValue {
            _ = try await c.call("image/create", ["name": .string(name), "namespace": .string(ns), "strategy": "dockerfile", "source": ["local": ["path": .string(app.path)]]])
            return try await c.call("build/wait", ["image": .string(name), "namespace": .string(ns), "build": 1])
        }
        #expect(try await build("victim", "a")["status"] == "SUCCESS")
        let inA = try await UnpackedImage(layout: state.path + "/layouts/a/victim")
        #expect(try String(contentsOfFile: inA.rootfs + "/tool", encoding: .utf8) == "planted\n", "a's own cache mount is a's")
        // The inode a's COPY layer holds, in its layer folder.
        let layers = state.path + "/dockerfile/layers"
        let linked = try await sh("find '\(layers)' -name f.txt -printf '%i %U\\n' | sort -u")
        #expect(!linked.out.isEmpty, "\(linked)")

        let b = try await build("victim", "b")
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        let inB = try await UnpackedImage(layout: state.path + "/layouts/b/victim")
        #expect(try String(contentsOfFile: inB.rootfs + "/tool", encoding: .utf8) == "clean\n", "namespace a's planted cache reached namespace b")
        let logB = try await c.call("build/logs", ["image": "victim", "namespace": "b"])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(!logB.contains { $0.contains("CACHED") }, "b reused a step of a's: \(logB)")

        // b copies the same context file with another owner: a's inode keeps its owner.
        try (from + "COPY --chown=1000:1000 f.txt /f.txt\n").write(toFile: app.path + "/Dockerfile", atomically: true, encoding: .utf8)
        _ = try await c.call("image/trigger", ["name": "victim", "namespace": "b"])
        #expect(try await c.call("build/wait", ["image": "victim", "namespace": "b", "build": 2])["status"] == "SUCCESS")
        let after = try await sh("for i in \(linked.out.split(separator: "\n").map { String($0.split(separator: " ")[0]) }.joined(separator: " ")); do find '\(layers)' -inum $i -printf '%i %U\\n'; done | sort -u")
        #expect(after.out == linked.out, "an inode of a's layer changed owner: \(linked.out) then \(after.out)")
    }

    // MARK: B3: expansion bombs

    /// Variables that double with every line, and Dockerfiles of very many stages or
    /// instructions, fail the build at the line that goes over a cap, long before the engine's
    /// memory grows: a 1 KB Dockerfile took the engine from 28 MB to 1.6 GB.
    @Test func expansionBombsFailAtTheLineThatGoesOver() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let doubling = (1...19).map { _ in "ENV A=$A$A" }.joined(separator: "\n")
        let argDoubling = (1...19).map { _ in "ARG B=$B$B" }.joined(separator: "\n")
        let labels = (1...12).map { i in "ENV L\(i)=$L$L$L$L$L$L$L$L$L$L$L$L$L$L$L$L\nLABEL l\(i)=$L\(i)" }.joined(separator: "\n")
        let cases: [(String, String)] = [
            ("FROM scratch\nENV A=0123456789abcdefghijklmnopqrstuvwxyz\n" + doubling + "\n", "expands to more than 131072 bytes"),
            ("FROM scratch\nARG B=0123456789abcdefghijklmnopqrstuvwxyz\n" + argDoubling + "\n", "expands to more than 131072 bytes"),
            ("FROM scratch\nENV L=" + String(repeating: "x", count: 8000) + "\n" + labels + "\n", "more than 1048576; a stage may hold at most that much"),
            ((1...129).map { "FROM scratch AS s\($0)" }.joined(separator: "\n") + "\n", "Dockerfile:129: the Dockerfile has more than 128 stages"),
            ("FROM scratch\n" + String(repeating: "LABEL a=b\n", count: 4096), "Dockerfile:4097: the Dockerfile has more than 4096 instructions"),
        ]
        for (text, expected) in cases {
            let attempt = try await Self.attempt(f, text, layout: "bomb")
            #expect(attempt.error?.contains(expected) == true, "\(attempt.error ?? "built")")
            // The first two fail where the value first passes the cap, not at the last line.
            if expected.hasPrefix("expands"), let line = attempt.error?.split(separator: ":").dropFirst().first.flatMap({ Int($0) }) {
                #expect(line < 20, "failed at line \(line)")
            }
        }
    }

    // MARK: B2, B5: bytes a build writes, and whose they are

    /// A layer is held to `maxLayerBytes` and to what is left of the namespace's storage as it
    /// is written: a sparse file of a terabyte (no bytes on disk) fails at the cap, at once; a
    /// step that writes real bytes on and on (in its layer or a cache mount) is killed while it
    /// writes; and nothing is left behind, no step folder and no partial blob.
    @Test func aLayerIsHeldToItsCapsAsItIsWritten() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let lines = LineCollector()
        func attempt(_ dockerfile: String, maxLayerBytes: Int64 = 10 << 30, storage: Int64? = nil) async -> String? {
            lines.clear()
            do {
                try dockerfile.write(toFile: f.context.path + "/Dockerfile", atomically: true, encoding: .utf8)
                var request = f.request(f.state.path + "/out-" + UUID().uuidString)
                request.mountCacheDirectory = f.state.path + "/mounts"
                request.maxLayerBytes = maxLayerBytes
                request.storage = storage.map { ByteBudget(limit: $0) }
                _ = try await f.builder.build(request) { _, _, line in lines.add(line) }
                return nil
            } catch {
                return "\(error)"
            }
        }
        let sparse = await attempt("FROM base\nRUN truncate -s 1T /sparse\n", maxLayerBytes: 16 << 20)
        #expect(sparse?.contains("Dockerfile:2: a layer is larger than 16777216 bytes, the most one may hold (--max-layer-bytes)") == true, "\(sparse ?? "built")")
        let quota = await attempt("FROM base\nRUN head -c 3000000 /dev/zero > /f\n", storage: 2 << 20)
        #expect(quota?.contains("Dockerfile:2: the build's layers would take the namespace past its storage quota") == true, "\(quota ?? "built")")
        // Real bytes, written on and on, in the step's layer or in a cache mount: the step is
        // killed while it writes, not once it is done.
        let loop = "i=0; while [ $i -lt 400 ]; do head -c 1048576 /dev/zero >> TARGET; i=$((i+1)); sleep 0.05; done; echo wrote-it-all"
        for (mount, target) in [("", "/big"), ("--mount=type=cache,target=/c ", "/c/big")] {
            let dockerfile = "FROM base\nRUN \(mount)" + loop.replacingOccurrences(of: "TARGET", with: target) + "\n"
            let written = await attempt(dockerfile, maxLayerBytes: 32 << 20)
            #expect(written?.contains("Dockerfile:2: a layer is larger than 33554432 bytes") == true, "\(written ?? "built")")
            #expect(!lines.all.contains { $0 == "wrote-it-all" }, "the step was not stopped while it wrote")
        }
        let copied = await attempt("FROM base\nCOPY . /ctx/\n", storage: 1024)
        #expect(copied?.contains("Dockerfile:2: the build's layers would take the namespace past its storage quota") == true, "\(copied ?? "built")")
        // Nothing left: no step folder, no partial blob, no blob of the sparse file.
        let steps = (try? FileManager.default.contentsOfDirectory(atPath: f.state.path + "/dockerfile/layers/.steps")) ?? []
        #expect(steps.isEmpty, "\(steps)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: f.state.path + "/blobs/.tmp")) ?? []).isEmpty)
        let largest = try await sh("find '\(f.state.path)/blobs' -type f -size +15M | wc -l")
        #expect(largest.out.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    /// What Dockerfile builds keep (layer blobs and folders, contexts) is charged to the
    /// namespace that made them: once over its storage quota, a trigger and a build run are
    /// refused alike, a build's layers are held to what was left, and deleting the image lets
    /// a collection give the space back.
    @Test func dockerfileDataIsChargedToItsNamespace() async throws {
        let base = try await HostStack.baseLayout()
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--quota", "storage=50M"] + Repo.hostPathArguments)
        let from = "FROM oci:\(base.path)/oci:run\n"
        let big = try await Self.build(c, "big", dockerfile: from + "RUN head -c 30000000 /dev/urandom > /data\n")
        #expect(big["status"] == "SUCCESS", "\(JSONWriter.string(big))")
        let used = try await c.call("quota/get")["used"]?["storage"]?.int ?? 0
        #expect(used > 60_000_000, "the layer's blob and folder are not charged: \(used)")
        for (method, params) in [("image/trigger", ["name": "big"] as JSONValue),
                                 ("buildrun/submit", ["name": "more", "strategy": "dockerfile", "source": ["local": ["path": .string(base.path)]]])] {
            let r = try await c.request(method, params)
            #expect(r["error"]?["code"] == 1005 && r["error"]?["data"]?["resource"] == "storage", "\(method): \(JSONWriter.string(r))")
        }
        // Another namespace: its build is held to its own quota as it writes.
        let sparse = try await Self.build(c, "sparse", namespace: "other", dockerfile: from + "RUN truncate -s 1G /sparse\n")
        #expect(sparse["status"] == "FAILURE" && sparse["message"]?.stringValue?.contains("storage quota") == true, "\(JSONWriter.string(sparse))")

        _ = try await c.call("image/delete", ["name": "big"])
        _ = try await c.call("system/gc")
        let after = try await c.call("quota/get")["used"]?["storage"]?.int ?? 0
        #expect(after < 1_000_000, "\(after) bytes still charged after the image was deleted")
        let left = try await sh("find '\(state.path)' -type f -size +20M | wc -l")
        #expect(left.out.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "the deleted image's layer stays")
    }

    /// Through the engine, whose builds get network none here: an ADD of a loopback URL is
    /// refused, and the peer is never asked.
    @Test func theEngineFetchesNoURLForABuildWithoutNetwork() async throws {
        let record = TempDir("peer")
        let peer = try FixtureServer("add_url_peer.py", [record.path + "/asked"])
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        let b = try await Self.build(c, "fetch", dockerfile: "FROM scratch\nADD http://127.0.0.1:\(peer.port)/bytes/10 /x\n")
        #expect(b["status"] == "FAILURE" && b["message"]?.stringValue?.contains("the build's network is \"none\"") == true, "\(JSONWriter.string(b))")
        #expect(!FileManager.default.fileExists(atPath: record.path + "/asked"), "the engine fetched a URL for a build without network")
    }

    /// The working directory of a step is resolved inside the stage as well: a stage that turned
    /// it into a link to a host path makes no folder on the host, with overlayfs or where each
    /// step works on a copy of its layers (which holds the stage's links as they are).
    @Test(arguments: [OverlayStepRunner.Snapshots.overlay, .copy])
    func aWorkingDirectoryThatBecameALinkStaysInsideTheStage(_ snapshots: OverlayStepRunner.Snapshots) async throws {
        let f = try await DockerfileBuilderFixture.make()
        let bait = try HostBait()
        defer { bait.remove() }
        let runner = OverlayStepRunner(sandbox: f.builder.runner.sandbox, namespace: f.builder.runner.namespace,
                                       layersRoot: f.state.path + "/copied/layers", snapshots: snapshots)
        let builder = DockerfileBuilder(images: f.builder.images, layersRoot: runner.layersRoot, cacheDirectory: f.state.path + "/copied/cache", runner: runner)
        try """
            FROM base
            WORKDIR /w/sub
            RUN cd / && rm -rf /w && ln -s \(bait.dir) /w
            RUN pwd > /pwd
            """.write(toFile: f.context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        let layout = f.state.path + "/out-\(snapshots)"
        _ = try await builder.build(f.request(layout)) { _, _, _ in }
        #expect(bait.untouched(), "the working directory was made on the host, in \(bait.dir)")
        let image = try await UnpackedImage(layout: layout)
        #expect(try String(contentsOfFile: image.rootfs + "/pwd", encoding: .utf8) == bait.dir + "/sub\n")
        #expect(FileManager.default.fileExists(atPath: image.rootfs + bait.dir + "/sub"), "made inside the stage, where the link leads")
    }

    // MARK: A6: ADD of archives

    /// ADD of a tar whose symlinks point out of the destination (`..`, a host path) builds, as
    /// with Docker (which unpacks chrooted at the destination): the links are kept as written,
    /// for the container to resolve, and entries named through them or with `..` land inside
    /// the destination, resolved there, never through the host's file system.
    @Test func addOfATarWithSymlinksOutWritesNothingOutsideTheLayer() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let bait = try HostBait()
        defer { bait.remove() }
        // Names no other file on the machine has.
        let token = "t" + UUID().uuidString.prefix(8).lowercased() + "-"
        let made = try await sh("""
            python3 - '\(f.context.path)/evil.tar' '\(bait.dir)' '\(token)' <<'PY'
            import io, sys, tarfile
            out, bait, token = sys.argv[1], sys.argv[2], sys.argv[3]
            with tarfile.open(out, "w") as t:
                def link(name, target):
                    i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target; t.addfile(i)
                def file(name, data=b"pwned\\n"):
                    i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
                link("up", "..")
                file("up/" + token + "escaped")
                link("upup", "../../../../../../..")
                file("upup" + bait + "/" + token + "via-upup")
                link("abs", bait)
                file("abs/" + token + "pwned")
                file("../../" + token + "outside")
                file("/" + bait.lstrip("/") + "/" + token + "absolute-name")
            PY
            """)
        #expect(made.status == 0, "\(made.err)")
        let built = try await Self.attempt(f, "FROM base\nADD evil.tar /d\nRUN ls -la /d > /d-listing\n", layout: "evil")
        #expect(built.error == nil, "\(built.error ?? "")")
        #expect(bait.untouched(), "the archive wrote on the host, in \(bait.dir)")
        // Every file the archive named is in a layer folder's /d (the layer's own tree), and in
        // no other place of the build's state, the context, /tmp or /var/tmp.
        let found = try await sh("find '\(f.state.path)' '\(f.context.path)' /tmp /var/tmp -xdev -type f -name '\(token)*' 2>/dev/null")
        let places = Set(found.out.split(separator: "\n").map(String.init))  // the state may be under /tmp: found twice
        let layerTree = try NSRegularExpression(pattern: "^" + NSRegularExpression.escapedPattern(for: f.state.path) + "/dockerfile/layers/[0-9a-f]{64}/d/")
        let outside = places.filter { layerTree.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) == nil }
        #expect(outside.isEmpty, "written outside the layer's tree: \(outside)")
        #expect(places.count == 5, "\(places)")
        let image = try await UnpackedImage(layout: built.layout)
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: image.rootfs + "/d/up")) == "..")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: image.rootfs + "/d/abs")) == bait.dir)
        for inside in ["/d/\(token)escaped", "/d/\(token)outside", "/d\(bait.dir)/\(token)pwned", "/d\(bait.dir)/\(token)via-upup", "/d\(bait.dir)/\(token)absolute-name"] {
            #expect(FileManager.default.fileExists(atPath: image.rootfs + inside), "\(inside) not in the image")
        }
    }

    // MARK: B1: deep trees

    /// A step that makes a folder tree 25,000 levels deep fails the build with a message, where
    /// a recursive walk of its layer once overflowed the engine's stack; nothing of the step
    /// stays, and the next build runs.
    @Test func aStepThatMakesADeepTreeFailsTheBuildAndNothingElse() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let deep = try await Self.attempt(f, """
            FROM base
            RUN level=$(printf 'd/%.0s' $(seq 1000)); for i in $(seq 25); do mkdir -p "$level"; cd "$level"; done; echo made it deep
            """, layout: "deep")
        #expect(deep.error?.contains("Dockerfile:2: the step's changes holds folders nested more than 1024 levels deep (at d/d/d/") == true, "\(deep.error ?? "built")")
        #expect(deep.log.contains("made it deep"), "\(deep.log)")
        let steps = (try? FileManager.default.contentsOfDirectory(atPath: f.state.path + "/dockerfile/layers/.steps")) ?? []
        #expect(steps.isEmpty, "\(steps)")
        let next = try await Self.attempt(f, "FROM base\nRUN echo after > /after\n", layout: "after")
        #expect(next.error == nil, "\(next.error ?? "")")
    }
}
