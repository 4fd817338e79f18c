import Foundation
import JSONRPC
import Testing
@testable import BuildRuntime
import TestSupport

/// Dockerfile builds in BuildRuntime, with the real kernel, overlayfs, bwrap and a base image
/// from an OCI layout: stages, ARG/ENV, COPY (context, ignore rules, --from, --chown, --chmod),
/// RUN as root and as another user, config instructions, and the step cache.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileBuilderTests {
    @Test func buildsRunsAndCaches() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let lines = LineCollector()
        let log: BuildLogger = { _, _, line in lines.add(line) }
        let out = f.state.path + "/out"
        let first = try await f.builder.build(f.request(out), log: log)
        #expect(first.layersAdded == 3 && first.bases["base"] != nil, "\(lines.all)")

        let inspect = try JSONParser.parse(Array(try await sh("skopeo inspect --config oci:\(out):latest").out.utf8))
        let config = try #require(inspect["config"])
        #expect(config["Labels"]?["org.example.k"] == "a value")
        #expect(config["ExposedPorts"]?["8080/tcp"] != nil && config["ExposedPorts"]?["53/udp"] != nil)
        #expect(config["Cmd"] == ["/app/hello.sh"] && config["StopSignal"] == "SIGTERM")
        // Healthcheck is Docker's, not OCI's: skopeo's view leaves it out; the config blob has it.
        let manifest = try JSONParser.parse(Array(try await sh("skopeo inspect --raw oci:\(out):latest").out.utf8))
        let configBlob = out + "/blobs/sha256/" + (manifest["config"]?["digest"]?.stringValue ?? "").dropFirst(7)
        let raw = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: configBlob))))["config"]
        #expect(raw?["Healthcheck"]?["Test"] == ["CMD", "/app/hello.sh"] && raw?["Healthcheck"]?["Interval"] == 5_000_000_000 && raw?["Healthcheck"]?["Retries"] == 2)
        let image = try await UnpackedImage(layout: out)
        let root = image.rootfs
        #expect(try String(contentsOfFile: root + "/app/made.txt", encoding: .utf8) == "hello from RUN in /app\n")
        #expect(try String(contentsOfFile: root + "/uid", encoding: .utf8) == "1000\n")
        // The file COPY --chown gave uid 1000 (mode 0750) is theirs in later steps, also when
        // Slipway is not root (the owners are set from inside the namespace then).
        #expect(try String(contentsOfFile: root + "/read-by-1000", encoding: .utf8) == "readable\n")
        #expect(FileManager.default.fileExists(atPath: root + "/app/hello.sh") && !FileManager.default.fileExists(atPath: root + "/app/README.md"))
        #expect(FileManager.default.fileExists(atPath: root + "/etc/group"), "the final stage is from base, not the build stage")
        let run = try await sh("bwrap --bind '\(root)' / --proc /proc --dev /dev --unshare-all --clearenv --setenv PATH /usr/bin:/bin /app/hello.sh")
        #expect(run.out == "hello from the Dockerfile image\n", "\(run)")

        // Nothing changed: every step is cached, no RUN runs, no layer is written.
        lines.clear()
        let second = try await f.builder.build(f.request(out), log: log)
        #expect(second.layersAdded == 0 && second.imageDigest == first.imageDigest, "\(lines.all)")
        #expect(!lines.all.contains { $0.contains("not cached") } && lines.all.filter { $0.contains("CACHED") }.count == 8, "\(lines.all)")  // WORKDIR, 2 COPY, 2 RUN; 3 COPY

        // One copied file changed: that COPY and the steps after it, not the ones before.
        try "two\n".write(toFile: f.context.path + "/data/x.txt", atomically: true, encoding: .utf8)
        lines.clear()
        let third = try await f.builder.build(f.request(out), log: log)
        let notCached = lines.all.filter { $0.contains("not cached") }
        #expect(notCached.count == 3, "\(lines.all)")  // COPY data, both RUNs of the build stage
        #expect(third.imageDigest == first.imageDigest, "the final stage copies nothing that changed")

        // A build arg reaches RUN.
        lines.clear()
        let other = f.state.path + "/other"
        _ = try await f.builder.build(f.request(other, args: ["GREETING": "hi"]), log: log)
        let again = try await UnpackedImage(layout: other)
        #expect(try String(contentsOfFile: again.rootfs + "/app/made.txt", encoding: .utf8) == "hi from RUN in /app\n")
    }

    @Test func mistakesFailTheBuildNamingTheLine() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let cases: [(String, String)] = [
            ("FROM base\nRUNN x\n", #"Dockerfile:2: unknown instruction "RUNN""#),
            ("FROM base\nRUN exit 3\n", "Dockerfile:2: RUN exited with status 3"),
            ("FROM base\nCOPY nothing-here /x\n", "Dockerfile:2: COPY sources nothing-here match nothing"),
            ("FROM base\nCOPY ../outside /x\n", "Dockerfile:2: COPY source ../outside leaves the build context"),
            ("FROM base\nUSER nobody-here\nRUN true\n", #"user "nobody-here" is not in the image's /etc/passwd"#),
            ("FROM missing\n", "no image missing"),
        ]
        try await f.expectFailures(cases)
    }
}

/// ONBUILD triggers of a base image, and `<Dockerfile>.dockerignore` beside the Dockerfile.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileTriggersAndIgnoreTests {
    @Test func onbuildTriggersRunInTheChildAndAreNotPassedOn() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let parentContext = TempDir("parent"), childContext = TempDir("child")
        try "FROM base\nONBUILD COPY marker /from-trigger\nONBUILD RUN echo triggered > /onbuild-ran\n"
            .write(toFile: parentContext.path + "/Dockerfile", atomically: true, encoding: .utf8)
        try "FROM parent\nRUN cat /onbuild-ran\n".write(toFile: childContext.path + "/Dockerfile", atomically: true, encoding: .utf8)
        try "from the child's context\n".write(toFile: childContext.path + "/marker", atomically: true, encoding: .utf8)
        let parentLayout = f.state.path + "/parent", childLayout = f.state.path + "/child"
        let base = f.baseLayout
        _ = try await f.builder.build(.init(context: parentContext.path, outputLayout: parentLayout, outputTag: "latest") { _ in
            try OCILayout(path: base, create: false).image(tag: "run")
        }) { _, _, _ in }
        let lines = LineCollector()
        _ = try await f.builder.build(.init(context: childContext.path, outputLayout: childLayout, outputTag: "latest") { name in
            try OCILayout(path: name == "parent" ? parentLayout : base, create: false).image(tag: name == "parent" ? "latest" : "run")
        }) { _, _, l in lines.add(l) }
        #expect(lines.all.contains("triggered"), "\(lines.all)")
        let child = try OCILayout(path: childLayout, create: false).image(tag: "latest")
        #expect(child.config.config.OnBuild == nil)
        #expect(try OCILayout(path: parentLayout, create: false).image(tag: "latest").config.config.OnBuild?.count == 2)
        let unpacked = try await UnpackedImage(layout: childLayout)
        #expect(try String(contentsOfFile: unpacked.rootfs + "/from-trigger", encoding: .utf8) == "from the child's context\n")
    }

    @Test func anIgnoreFileBesideTheDockerfileWins() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let context = TempDir("ignore")
        let files = ["build/app.Dockerfile": "FROM base\nCOPY . /ctx/\n", "build/app.Dockerfile.dockerignore": "b\nbuild\n", ".dockerignore": "a\n", "a": "a", "b": "b"]
        for (p, t) in files {
            try FileManager.default.createDirectory(atPath: (context.path + "/" + p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try t.write(toFile: context.path + "/" + p, atomically: true, encoding: .utf8)
        }
        let layout = f.state.path + "/ignored"
        let base = f.baseLayout
        _ = try await f.builder.build(.init(context: context.path, dockerfile: "build/app.Dockerfile", outputLayout: layout, outputTag: "latest") { _ in
            try OCILayout(path: base, create: false).image(tag: "run")
        }) { _, _, _ in }
        let unpacked = try await UnpackedImage(layout: layout)
        let copied = Set(try FileManager.default.contentsOfDirectory(atPath: unpacked.rootfs + "/ctx"))
        #expect(copied == [".dockerignore", "a"], "\(copied)")
    }
}

/// RUN --mount=type=cache: a folder of the image's that outlives builds and stays out of layers.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileCacheMountTests {
    @Test func aCacheMountOutlivesBuildsAndStaysOutOfTheImage() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let context = TempDir("mount")
        try """
            FROM base
            ARG ROUND
            RUN --mount=type=cache,target=/var/cache/thing,uid=1000 echo "$ROUND" >> /var/cache/thing/rounds && cat /var/cache/thing/rounds | wc -l > /rounds-seen
            RUN --mount=type=secret,id=x true
            """.write(toFile: context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        let base = f.baseLayout, mounts = f.state.path + "/mounts"
        func build(_ round: String) async throws -> String {
            let layout = f.state.path + "/out-" + round
            _ = try await f.builder.build(.init(context: context.path, buildArgs: ["ROUND": round], outputLayout: layout, outputTag: "latest",
                                                mountCacheDirectory: mounts) { _ in try OCILayout(path: base, create: false).image(tag: "run") }) { _, _, _ in }
            return layout
        }
        do {
            _ = try await build("1")
            Issue.record("type=secret was accepted")
        } catch {
            #expect("\(error)".contains("Dockerfile:4: RUN --mount=type=secret is not supported by Slipway yet"), "\(error)")
        }
        try "FROM base\nARG ROUND\nRUN --mount=type=cache,target=/var/cache/thing,uid=1000 echo \"$ROUND\" >> /var/cache/thing/rounds && cat /var/cache/thing/rounds | wc -l > /rounds-seen\n"
            .write(toFile: context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        let second = try await build("2")
        let third = try await build("3")  // another ARG value: the RUN runs again over the same folder
        let a = try await UnpackedImage(layout: second), b = try await UnpackedImage(layout: third)
        let seenA = try String(contentsOfFile: a.rootfs + "/rounds-seen", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let seenB = try String(contentsOfFile: b.rootfs + "/rounds-seen", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Int(seenB) == (Int(seenA) ?? 0) + 1, "\(seenA) then \(seenB)")
        #expect(!FileManager.default.fileExists(atPath: b.rootfs + "/var/cache/thing/rounds"), "the cache's files are in no layer")
        var st = stat()
        let folder = try #require(try FileManager.default.contentsOfDirectory(atPath: mounts).first)
        #expect(lstat(mounts + "/" + folder, &st) == 0)
        if getuid() == 0 { #expect(st.st_uid == IDMapping.root.users[0].outer + 1000, "uid=1000 inside the step") }
    }
}

/// RUN --mount=type=bind (from a stage, an image, or the context with its ignore rules;
/// read-only unless rw, writes dropped), type=tmpfs and COPY --from an image: what the step
/// sees, what stays out of the image and the context, and how a bound file's change reaches the
/// step cache.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileBindMountTests {
    @Test func bindAndTmpfsMountsShowTheirSourceAndLeaveNoTrace() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let context = TempDir("bind")
        try """
            FROM base AS tools
            RUN mkdir -p /opt/tool && echo "from the tools stage" > /opt/tool/msg

            FROM base
            RUN --mount=type=bind,from=tools,source=/opt/tool,target=/mnt/tool cat /mnt/tool/msg > /seen-stage
            RUN --mount=type=bind,from=base,source=/etc,target=/mnt/etc test -f /mnt/etc/passwd && echo yes > /seen-image
            RUN --mount=type=bind,source=data,target=/mnt/data ls -a /mnt/data > /seen-context && cat /mnt/data/x.txt >> /seen-context && readlink /mnt/data/link >> /seen-context
            RUN --mount=type=bind,source=data,target=/mnt/data,rw echo changed > /mnt/data/x.txt && cat /mnt/data/x.txt > /seen-rw
            RUN --mount=type=bind,target=/mnt/data,source=data sh -c 'echo no > /mnt/data/y'; echo $? > /ro-exit
            RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && ls /scratch > /seen-tmpfs
            COPY --from=base /etc/passwd /from-image/
            """.write(toFile: context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: context.path + "/data", withIntermediateDirectories: true)
        try "one\n".write(toFile: context.path + "/data/x.txt", atomically: true, encoding: .utf8)
        try "never shown\n".write(toFile: context.path + "/data/ignored.txt", atomically: true, encoding: .utf8)
        try "data/ignored.txt\n".write(toFile: context.path + "/.dockerignore", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: context.path + "/data/link", withDestinationPath: "/etc/shadow")
        let base = f.baseLayout
        func build(_ name: String) async throws -> (String, [String]) {
            let lines = LineCollector()
            let layout = f.state.path + "/" + name
            _ = try await f.builder.build(.init(context: context.path, outputLayout: layout, outputTag: "latest") { ref in
                guard ref == "base" else { throw RuntimeError.notFound("no image \(ref)") }
                return try OCILayout(path: base, create: false).image(tag: "run")
            }) { _, _, l in lines.add(l) }
            return (layout, lines.all)
        }
        let (first, log) = try await build("first")
        let unpacked = try await UnpackedImage(layout: first)
        let root = unpacked.rootfs
        func read(_ p: String) -> String { (try? String(contentsOfFile: root + p, encoding: .utf8)) ?? "<missing \(p)>" }
        #expect(read("/seen-stage") == "from the tools stage\n", "\(log)")
        #expect(read("/seen-image") == "yes\n")
        // The context as the build sees it: the ignored file is not there, the symlink is a link
        // (never followed on the host side).
        #expect(read("/seen-context") == ".\n..\nlink\nx.txt\none\n/etc/shadow\n", "\(log)")
        #expect(read("/seen-rw") == "changed\n")
        #expect(read("/ro-exit") != "0\n" && !read("/ro-exit").hasPrefix("<missing"), "a read-only bind refused the write: \(read("/ro-exit"))")
        #expect(read("/seen-tmpfs") == "x\n")
        #expect(read("/from-image/passwd").contains("root:"), "COPY --from an image by name")
        // Nothing mounted is in the image, and the context is unchanged.
        for p in ["/mnt", "/scratch", "/opt/tool"] {
            #expect(!FileManager.default.fileExists(atPath: root + p), "\(p) is in the image")
        }
        #expect(try String(contentsOfFile: context.path + "/data/x.txt", encoding: .utf8) == "one\n")
        // Unchanged: every step cached. A bound context file changed: the steps that bind it run.
        let (_, again) = try await build("again")
        #expect(again.filter { $0.contains("not cached") }.isEmpty, "\(again)")
        try "two\n".write(toFile: context.path + "/data/x.txt", atomically: true, encoding: .utf8)
        let (changed, third) = try await build("changed")
        #expect(third.filter { $0.contains("not cached") }.count == 5, "\(third)")
        let changedImage = try await UnpackedImage(layout: changed)
        let seen = try String(contentsOfFile: changedImage.rootfs + "/seen-context", encoding: .utf8)
        #expect(seen.contains("two\n"))
    }

    @Test func badMountsFailNamingTheLine() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let cases: [(String, String)] = [
            ("FROM base\nRUN --mount=type=bind,source=../x,target=/x true\n", "Dockerfile:2: RUN --mount=type=bind,source=../x leaves what it mounts"),
            ("FROM base\nRUN --mount=type=bind,source=nothing,target=/x true\n", "Dockerfile:2: RUN --mount=type=bind,source=nothing: no such file or folder"),
            ("FROM base\nRUN --mount=type=bind,source=app true\n", "Dockerfile:2: RUN --mount=type=bind needs an absolute target=PATH"),
            ("FROM base\nRUN --mount=type=ssh,target=/x true\n", "Dockerfile:2: RUN --mount=type=ssh is not supported"),
        ]
        try await f.expectFailures(cases)
    }
}

/// ADD of URLs: fetched by the builder (not in a step), mode 0600 unless --chmod, checked
/// against --checksum; and the attacks: a wrong checksum, file:// given or reached by a
/// redirect, and a peer that never stops sending.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileAddURLTests {
    @Test func addFetchesURLsAndRefusesWhatItShouldNot() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let files = TempDir("served")
        try FileManager.default.createDirectory(atPath: files.path + "/data", withIntermediateDirectories: true)
        try "a downloaded tool\n".write(toFile: files.path + "/data/tool.txt", atomically: true, encoding: .utf8)
        let sum = Digest.of(Data("a downloaded tool\n".utf8))
        let server = try FixtureServer("http_file_server.py", [files.path])
        let flood = try FixtureServer("hostile_peer.py", ["flood", files.path + "/record"])
        let url = "http://127.0.0.1:\(server.port)"
        let base = f.baseLayout
        func build(_ dockerfile: String, maxAddBytes: Int64 = 8 << 30) async throws -> (String, [String]) {
            try dockerfile.write(toFile: f.context.path + "/Dockerfile", atomically: true, encoding: .utf8)
            let layout = f.state.path + "/out-" + UUID().uuidString
            var request = DockerfileBuilder.Request(context: f.context.path, outputLayout: layout, outputTag: "latest") { _ in
                try OCILayout(path: base, create: false).image(tag: "run")
            }
            request.maxAddBytes = maxAddBytes
            // The peers are on loopback, which an ADD reaches only when allowed.
            request.publicNetwork = true
            request.addHostAllowList = ["127.0.0.1"]
            let lines = LineCollector()
            _ = try await f.builder.build(request) { _, _, l in lines.add(l) }
            return (layout, lines.all)
        }
        let (layout, log) = try await build("""
            FROM base
            ADD \(url)/data/tool.txt /opt/
            ADD --checksum=\(sum) \(url)/redirect/data/tool.txt /opt/checked
            ADD --chmod=0755 --chown=1000:1000 \(url)/data/tool.txt /opt/exec
            """)
        let image = try await UnpackedImage(layout: layout)
        #expect(try String(contentsOfFile: image.rootfs + "/opt/tool.txt", encoding: .utf8) == "a downloaded tool\n", "\(log)")
        #expect(try String(contentsOfFile: image.rootfs + "/opt/checked", encoding: .utf8) == "a downloaded tool\n")
        var st = stat()
        #expect(lstat(image.rootfs + "/opt/tool.txt", &st) == 0 && st.st_mode & 0o7777 == 0o600, "mode \(String(st.st_mode & 0o7777, radix: 8))")
        #expect(lstat(image.rootfs + "/opt/exec", &st) == 0 && st.st_mode & 0o7777 == 0o755)

        let refused: [(String, Int64, String)] = [
            ("FROM base\nADD --checksum=sha256:\(String(repeating: "0", count: 64)) \(url)/data/tool.txt /x\n", 8 << 30,
             "Dockerfile:2: ADD \(url)/data/tool.txt: the download's checksum is \(sum), not sha256:000"),
            ("FROM base\nADD file:///etc/passwd /x\n", 8 << 30, "Dockerfile:2: ADD file:///etc/passwd: only http:// and https:// URLs"),
            ("FROM base\nADD \(url)/to-file/etc/passwd /x\n", 8 << 30, "which is not an http(s) URL"),
            ("FROM base\nADD http://127.0.0.1:\(flood.port)/endless /x\n", 1 << 20, "larger than 1048576 bytes"),
            ("FROM base\nADD --checksum=md5:abc \(url)/data/tool.txt /x\n", 8 << 30, "Dockerfile:2: ADD --checksum=md5:abc is not sha256:"),
            ("FROM base\nCOPY --checksum=\(sum) data/x.txt /x\n", 8 << 30, "Dockerfile:2: unknown flag --checksum for COPY"),
        ]
        for (text, cap, expected) in refused {
            do {
                _ = try await build(text, maxAddBytes: cap)
                Issue.record("\(text) built")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: f.state.path + "/x"), "nothing written outside the build")
    }
}

/// Independent stages build at the same time: two stages that each wait (with a deadline) for
/// the other to start can only both finish when they run together.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileParallelStageTests {
    @Test func independentStagesBuildTogether() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let context = TempDir("parallel")
        func waiter(_ me: String, _ other: String) -> String {
            "RUN --mount=type=cache,target=/sync,id=sync touch /sync/\(me) && i=0 && while [ ! -e /sync/\(other) ]; do i=$((i+1)); [ $i -gt 600 ] && exit 7; sleep 0.05; done && echo \(me) > /\(me)"
        }
        try """
            FROM base AS a
            \(waiter("a", "b"))
            FROM base AS b
            \(waiter("b", "a"))
            FROM base
            COPY --from=a /a /from-a
            COPY --from=b /b /from-b
            """.write(toFile: context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        let lines = LineCollector()
        let base = f.baseLayout, layout = f.state.path + "/parallel"
        _ = try await f.builder.build(.init(context: context.path, outputLayout: layout, outputTag: "latest", mountCacheDirectory: f.state.path + "/mounts") { _ in
            try OCILayout(path: base, create: false).image(tag: "run")
        }) { _, _, l in lines.add(l) }
        let image = try await UnpackedImage(layout: layout)
        #expect(try String(contentsOfFile: image.rootfs + "/from-a", encoding: .utf8) == "a\n")
        #expect(try String(contentsOfFile: image.rootfs + "/from-b", encoding: .utf8) == "b\n")
        // Every line of a stage says which stage it comes from.
        #expect(lines.all.contains { $0.hasPrefix("[a]   not cached") } && lines.all.contains { $0.hasPrefix("[b]   not cached") }, "\(lines.all)")
    }
}

/// Steps that make the same layer (two `RUN true`, each an empty layer) stack it once: overlayfs
/// refuses one folder twice among its lowers (ELOOP), which failed the step after them.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileRepeatedLayerTests {
    @Test func stepsThatMakeTheSameLayerStillBuild() async throws {
        let f = try await DockerfileBuilderFixture.make()
        try "FROM base\nRUN true\nRUN true\nRUN echo third > /third\n".write(toFile: f.context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        let layout = f.state.path + "/out"
        let result = try await f.builder.build(f.request(layout)) { _, _, _ in }
        #expect(result.layersAdded == 3, "one layer a step: the empty one twice (the same blob), and the third step's")
        let image = try await UnpackedImage(layout: layout)
        #expect(try String(contentsOfFile: image.rootfs + "/third", encoding: .utf8) == "third\n")
    }
}
