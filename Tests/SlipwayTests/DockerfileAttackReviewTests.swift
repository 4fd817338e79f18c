import Foundation
import JSONRPC
import Testing
@testable import BuildRuntime
import TestSupport

/// A second attacker's pass over the Dockerfile boundary (issue 27), after its fixes: each test
/// is an attack that still got through when it was written (a step writes to disk past every
/// cap, a Dockerfile makes the engine copy without bound, a garbage collection pulls a running
/// step's folders away). They use the real builder, kernel, overlayfs, bwrap and
/// `slipway-userns`, as `DockerfileAttackTests` does.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileAttackReviewTests {
    /// Builds `dockerfile` in `f`'s context with `maxLayerBytes` (and a namespace storage budget,
    /// if given); returns the error, if any, and the log.
    static func attempt(_ f: DockerfileBuilderFixture, _ dockerfile: String, maxLayerBytes: Int64 = 10 << 30, storage: Int64? = nil,
                        builder: DockerfileBuilder? = nil) async throws -> (error: String?, log: [String], layout: String) {
        try dockerfile.write(toFile: f.context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        let lines = LineCollector()
        let layout = f.state.path + "/out-" + UUID().uuidString
        var request = f.request(layout)
        request.mountCacheDirectory = f.state.path + "/mounts"
        request.maxLayerBytes = maxLayerBytes
        request.storage = storage.map { ByteBudget(limit: $0) }
        do {
            _ = try await (builder ?? f.builder).build(request) { _, _, line in lines.add(line) }
            return (nil, lines.all, layout)
        } catch {
            return ("\(error)", lines.all, layout)
        }
    }

    /// The most bytes `paths` held together (`du`, each inode once) while `body` ran, beyond
    /// what they held before: sampled every 50 ms.
    static func peakBytes<T: Sendable>(of paths: @escaping @Sendable () -> [String], during body: () async throws -> T) async throws -> (T, Int64) {
        @Sendable func measure() async -> Int64 {
            let list = paths().map { "'\($0)'" }.joined(separator: " ")
            guard !list.isEmpty, let r = try? await sh("du -s -B1 -c \(list) 2>/dev/null | tail -1 | cut -f1") else { return 0 }
            return Int64(r.out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        let before = await measure()
        let sampler = Task { () -> Int64 in
            var peak: Int64 = 0
            while !Task.isCancelled {
                peak = max(peak, await measure())
                try? await Task.sleep(for: .milliseconds(50))  // cancelled: the loop ends
            }
            return peak
        }
        let result = try await body()
        sampler.cancel()
        return (result, max(0, await sampler.value - before))
    }

    /// A step writes 1 MiB at a time, 200 times, to `target`, and says so at the end (a line of
    /// its own: the log's line of the RUN instruction holds the words too).
    static func writer(_ target: String) -> String {
        "i=0; while [ $i -lt 200 ]; do head -c 1048576 /dev/zero >> \(target); i=$((i+1)); sleep 0.05; done; echo wrote-it-all"
    }

    // MARK: Disk a step writes past the in-run watch

    /// A writable bind mount (`rw`) gets an overlay upper folder of its own under the step's
    /// folder, which `StepDiskWatch` does not measure (it watches the layer and the cache
    /// mounts): a step writes there without bound, although the writes are dropped after it,
    /// and can fill the disk while it runs.
    @Test func writesIntoAWritableBindMountAreHeldToTheCapWhileTheStepRuns() async throws {
        let f = try await DockerfileBuilderFixture.make()
        for dockerfile in ["FROM base\nRUN --mount=type=bind,target=/m,rw " + Self.writer("/m/big") + "\n",
                           "FROM base AS other\nRUN mkdir /o\nFROM base\nRUN --mount=type=bind,from=other,source=o,target=/m,rw " + Self.writer("/m/big") + "\n"] {
            let attempt = try await Self.attempt(f, dockerfile, maxLayerBytes: 16 << 20)
            #expect(attempt.error?.contains("a layer is larger than 16777216 bytes") == true,
                    "the step wrote 200 MiB into its rw bind mount past a 16 MiB cap: \(attempt.error ?? "built")")
            #expect(!attempt.log.contains { $0 == "wrote-it-all" }, "the step was not stopped while it wrote")
        }
    }

    /// A file the step keeps open after removing it takes disk blocks that no walk of a folder
    /// finds: `StepDiskWatch` sees nothing, the layer is empty, and the step writes as much as
    /// the disk holds (in its layer or in a cache mount alike).
    @Test func aFileRemovedWhileItIsWrittenIsHeldToTheCap() async throws {
        let f = try await DockerfileBuilderFixture.make()
        for (mount, path) in [("", "/big"), ("--mount=type=cache,target=/c ", "/c/big")] {
            let dockerfile = "FROM base\nRUN \(mount)exec 3>\(path) && rm \(path) && " + Self.writer("/proc/self/fd/3").replacingOccurrences(of: ">> /proc/self/fd/3", with: ">&3") + "\n"
            let attempt = try await Self.attempt(f, dockerfile, maxLayerBytes: 16 << 20)
            #expect(attempt.error?.contains("16777216 bytes") == true,
                    "the step wrote 200 MiB to a removed file past a 16 MiB cap (\(mount.isEmpty ? "its layer" : "a cache mount")): \(attempt.error ?? "built")")
            #expect(!attempt.log.contains { $0 == "wrote-it-all" }, "the step was not stopped while it wrote")
        }
    }

    // MARK: Copies the builder makes for a step

    /// Every `RUN --mount=type=bind` of the context copies the context (ignore rules applied)
    /// into a scratch folder before the step, counted against nothing: a Dockerfile names the
    /// whole context (or one large file of it) 24 times per RUN (the helper's most) and the
    /// engine writes 24 copies; past 24, all the copies are made first and the helper refuses
    /// after. The copies should count against the step's cap, or not be byte copies at all
    /// (the context is never written: links or an overlay lower would do), and a RUN with more
    /// mounts than the helper takes should be refused before anything is copied.
    @Test func bindMountsOfTheContextDoNotMultiplyItOnDisk() async throws {
        let f = try await DockerfileBuilderFixture.make()
        // A context of 6 MiB (one incompressible file).
        #expect(try await sh("head -c 6291456 /dev/urandom > '\(f.context.path)/blob'").status == 0)
        let layers = f.state.path + "/dockerfile/layers"
        let scratch: @Sendable () -> [String] = {
            [f.context.path] + ((try? FileManager.default.contentsOfDirectory(atPath: layers)) ?? []).filter { $0.hasPrefix(".tmp-") }.map { layers + "/" + $0 }
        }
        let contextBytes = Int64(try await sh("du -s -B1 '\(f.context.path)' | cut -f1").out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        for count in [20, 30] {
            let mounts = (1...count).map { "--mount=type=bind,source=blob,target=/m\($0)" }.joined(separator: " ")
            let (attempt, peak) = try await Self.peakBytes(of: scratch) {
                try await Self.attempt(f, "FROM base\nRUN \(mounts) true\n", maxLayerBytes: 16 << 20)
            }
            let copied = peak - contextBytes
            #expect(copied <= 16 << 20 || attempt.error?.contains("Dockerfile:2") == true && copied < 16 << 20,
                    "\(count) bind mounts of a 6 MiB context file made \(copied) bytes of copies (cap 16 MiB): \(attempt.error ?? "built")")
        }
    }

    // MARK: Stages that run at once

    /// Independent stages build at the same time, and were each held to all that was left of
    /// the namespace's storage quota on their own (four stages each wrote just under it, together
    /// four times it, and were counted together only at their commits, after the bytes were on
    /// disk). Now what their steps write takes from one budget while they run: of four stages
    /// writing 10 MB each under a 16 MB quota, one finishes its step, and the others are killed
    /// while they run (before their long sleep ends), the build failing on the quota. (What is
    /// written between two measurements, a fraction of a second apart, can still pass the
    /// quota for that long.)
    @Test func stagesThatRunAtOnceShareOneStorageQuota() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let stages = (1...4).map { "FROM base AS s\($0)\nRUN head -c 10000000 /dev/urandom > /f\($0) && sleep 20 && echo finished-\($0)\n" }.joined()
        let last = "FROM base\n" + (1...4).map { "COPY --from=s\($0) /f\($0) /f\($0)\n" }.joined()
        let attempt = try await Self.attempt(f, stages + last, storage: 16_000_000)
        #expect(attempt.error?.contains("storage quota") == true, "\(attempt.error ?? "built")")
        let finished = attempt.log.filter { $0.hasPrefix("[s") && $0.contains("] finished-") }
        #expect(finished.count <= 1, "stages went on writing past the shared quota: \(finished)")
    }

    // MARK: Garbage collection while a step runs

    /// A collection removes the step folders and `.tmp-` scratch of the builder that are older
    /// than the collection, meant for builds that died; but a step that is running now has an
    /// older folder too. A collection (which runs by itself after any `image/delete`, of any
    /// namespace) pulls the upper folder away from under the step: what it wrote before is
    /// lost, and the build fails or makes a wrong layer. A running build's folders need a
    /// lease.
    @Test func aCollectionLeavesARunningStepsFoldersAlone() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let steps = f.state.path + "/dockerfile/layers/.steps"
        try "FROM base\nRUN echo before > /before && sleep 20 && echo after > /after\n".write(toFile: f.context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        let layout = f.state.path + "/out-gc"
        let request = f.request(layout)
        let builder = f.builder
        let ended = BuildEnded()
        let build = Task {
            defer { ended.set() }
            _ = try await builder.build(request) { _, _, _ in }
        }
        // Once the step runs and wrote /before (in its upper folder), a collection. Looked for
        // on a thread of its own: under the whole suite's load the cooperative pool can be busy
        // for longer than the step runs, and a poll there would miss it. The poll ends when the
        // build does (then the result says why), or after a deadline that bounds only a failure.
        let running: String? = await withCheckedContinuation { done in
            Thread.detachNewThread {
                let deadline = Date().addingTimeInterval(300)
                while Date() < deadline && !ended.isSet {
                    let found = ((try? FileManager.default.contentsOfDirectory(atPath: steps)) ?? []).first { FileManager.default.fileExists(atPath: steps + "/" + $0 + "/upper/before") }
                    if let found { return done.resume(returning: found) }
                    usleep(20_000)
                }
                done.resume(returning: nil)
            }
        }
        guard let step = running else {
            Issue.record("the step never wrote /before; the build: \(await build.result)")
            return
        }
        let collector = GarbageCollector(dryRun: false)
        _ = DockerfileStateCollector(root: f.state.path + "/dockerfile", images: [:]).collect(keeping: [], with: collector)
        #expect(FileManager.default.fileExists(atPath: steps + "/" + step + "/upper/before"), "a collection removed the folder of a running step")
        let result = await build.result
        guard case .success = result else {
            Issue.record("the build failed after a collection ran beside it: \(result)")
            return
        }
        let image = try await UnpackedImage(layout: layout)
        #expect(FileManager.default.fileExists(atPath: image.rootfs + "/before"), "what the step wrote before the collection is lost")
        #expect(FileManager.default.fileExists(atPath: image.rootfs + "/after"))
    }

    // MARK: Crashing the shared engine

    /// `COPY --exclude=PATTERN . /dst` (the context's root as the source, Docker's most common
    /// form) takes `relative.last!` of the root's empty path: a trap that takes the shared
    /// engine down, with every namespace's builds.
    @Test func copyWithExcludeOfTheContextRootDoesNotCrashTheEngine() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        let app = TempDir("exclude-app")
        for (path, text) in ["Dockerfile": "FROM scratch\nCOPY --exclude=*.md . /app/\n", "keep.txt": "kept\n", "skip.md": "skipped\n"] {
            try text.write(toFile: app.path + "/" + path, atomically: true, encoding: .utf8)
        }
        _ = try await c.call("image/create", ["name": "exclude", "strategy": "dockerfile", "source": ["local": ["path": .string(app.path)]]])
        // A dead engine answers nothing: a short wait says so.
        let b: JSONValue
        do {
            b = try await c.call("build/wait", ["image": "exclude", "build": 1], timeout: 45)
        } catch {
            Issue.record("the engine stopped during the build (COPY --exclude of the context root): \(error)")
            return
        }
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
    }
}

/// Whether a build task has ended, read by a polling thread.
/// `@unchecked Sendable`: `done` is read and written only under `lock`.
final class BuildEnded: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    func set() { lock.withLock { done = true } }
    var isSet: Bool { lock.withLock { done } }
}
