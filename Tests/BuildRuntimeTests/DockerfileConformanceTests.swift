import Foundation
import JSONRPC
import Testing
@testable import BuildRuntime
import TestSupport

/// The Dockerfile corpus in Fixtures/dockerfiles, each built by Slipway and by `buildah bud
/// --isolation chroot --storage-driver vfs` (the yardstick, used only here) on the same base
/// image, compared: the final file tree (type, path, link target, size, mode, owner, content
/// digest; no times) and the image config (Env, Entrypoint, Cmd, WorkingDir, User,
/// ExposedPorts, Volumes, Labels, StopSignal, and Docker's Healthcheck, OnBuild and Shell).
/// buildah needs root here; as another user the test is reported skipped.
///
/// A case buildah 1.28 cannot build (heredocs, `COPY --exclude`, `COPY --parents`) holds
/// `expected.txt` instead, written from Docker's documented behaviour: the listing lines of
/// every path the build adds or changes over the base image, and `- PATH` for each path it
/// removes; and `expected-config.json`, the compared config fields that differ from the base's.
@Suite(.serialized) struct DockerfileConformanceTests {
    /// What buildah adds that a Dockerfile does not ask for: its own label, and the files its
    /// chroot isolation mounts for RUN (left as empty mount points).
    static let buildahLabel = "io.buildah.version"

    /// Every case of the corpus, or those named in `SLIPWAY_CONFORMANCE_CASES` (comma-separated),
    /// to run a few while working on them.
    static var cases: [String] {
        let all = ((try? FileManager.default.contentsOfDirectory(atPath: DockerfileCorpus.folder)) ?? []).sorted()  // no corpus: no cases, which the run shows
        guard let only = ProcessInfo.processInfo.environment["SLIPWAY_CONFORMANCE_CASES"], !only.isEmpty else { return all }
        let wanted = Set(only.split(separator: ",").map(String.init))
        return all.filter(wanted.contains)
    }

    /// The compared fields of a config (Docker's names), as JSON text per field.
    static func fields(_ config: JSONValue?) -> [String: String] {
        var out: [String: String] = [:]
        for k in ["Env", "Entrypoint", "Cmd", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels", "StopSignal", "Healthcheck", "OnBuild", "Shell"] {
            var v = config?[k] ?? .null
            if k == "Labels", case .object(let labels) = v {
                let kept = labels.members.filter { $0.key != buildahLabel }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
                v = kept.isEmpty ? .null : .object(JSONObject(kept))
            }
            if case .object(let o) = v, !o.isEmpty {  // key order is not compared
                v = .object(JSONObject(o.members.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
            }
            if case .array(let a) = v, a.isEmpty { v = .null }
            if case .object(let o) = v, o.isEmpty { v = .null }
            if case .string(let s) = v, s.isEmpty { v = .null }
            out[k] = JSONWriter.string(v)
        }
        return out
    }

    @Test(.enabled(if: getuid() == 0, "buildah (the yardstick) runs as root here"), arguments: cases)
    func slipwayBuildsWhatBuildahBuilds(_ name: String) async throws {
        let mapping = try IDMapping.forCurrentUser()
        // buildah names an image after its layout's path, and wants it lowercase.
        let work = TempDir("conf")
        let lower = "/tmp/slipway-conformance-" + UUID().uuidString.lowercased()
        defer { try? FileManager.default.removeItem(atPath: lower) }  // best effort: a leftover in /tmp harms nothing
        try FileManager.default.createDirectory(atPath: lower, withIntermediateDirectories: true)
        let context = DockerfileCorpus.folder + "/" + name
        try await HostStack.ociLayout(at: lower + "/base", stackID: "io.slipway.test")
        let base = "oci:\(lower)/base:build"

        // Slipway.
        let images = try ImageStore(stateDirectory: URL(fileURLWithPath: work.path + "/state"))
        let runner = try await DockerfileBuilderFixture.runner(mapping: mapping, layersRoot: work.path + "/state/dockerfile/layers")
        let builder = DockerfileBuilder(images: images, layersRoot: runner.layersRoot, cacheDirectory: work.path + "/state/dockerfile/cache", runner: runner)
        let baseLayout = lower + "/base"
        // A case with a `serve` folder has it served on 127.0.0.1, its URL the build arg URL
        // (for ADD of URLs).
        var args = ["BASE": base]
        var server: FixtureServer?
        if FileManager.default.fileExists(atPath: context + "/serve") {
            server = try FixtureServer("http_file_server.py", [context + "/serve"])
            args["URL"] = "http://127.0.0.1:\(server!.port)"
        }
        defer { _ = server }  // served until the case is done
        var request = DockerfileBuilder.Request(context: context, buildArgs: args, outputLayout: work.path + "/slipway", outputTag: "latest",
                                                mountCacheDirectory: work.path + "/mounts") { ref in
            guard ref == base else { throw RuntimeError.notFound("no image \(ref)") }
            return try OCILayout(path: baseLayout, create: false).image(tag: "build")
        }
        if server != nil {
            // ADD of a URL needs the network, and loopback only where allowed.
            request.publicNetwork = true
            request.addHostAllowList = ["127.0.0.1"]
        }
        // A case with a `public-network` file runs its steps with the public network (each
        // step's sandbox then starts in two halves, `StepNetwork`), as buildah's do.
        if FileManager.default.fileExists(atPath: context + "/public-network") {
            guard StepNetwork.unavailableReason() == nil else { return }  // said by the network tests; the rest of the corpus still runs
            request.publicNetwork = true
        }
        let lines = LineCollector()
        _ = try await builder.build(request) { _, _, l in lines.add(l) }
        let ours = work.path + "/ours"
        let unpacked = try await sh("umoci unpack --image '\(work.path)/slipway:latest' '\(ours)'")
        #expect(unpacked.status == 0, "\(unpacked.err)")
        let manifest = try JSONParser.parse(Array(try await sh("skopeo inspect --raw oci:\(work.path)/slipway:latest").out.utf8))
        let ourConfig = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: work.path + "/slipway/blobs/sha256/" + (manifest["config"]?["digest"]?.stringValue ?? "").dropFirst(7)))))

        let expected = context + "/expected.txt"
        if FileManager.default.fileExists(atPath: expected) {
            try await compareWithExpected(name: name, ours: ours, ourConfig: ourConfig, baseLayout: baseLayout, work: work.path, context: context, log: lines.all)
            return
        }

        // buildah.
        let b = "buildah --root '\(work.path)/bh-root' --runroot '\(work.path)/bh-run' --storage-driver vfs"
        // buildah 1.28's chroot isolation now and then fails to seal its memfd copy ("Device or
        // resource busy") when the machine is busy: the yardstick's own trouble, tried again.
        let buildArgs = args.sorted { $0.key < $1.key }.map { "--build-arg \($0.key)=\($0.value)" }.joined(separator: " ")
        let bud = "\(b) bud --isolation chroot --format docker \(buildArgs) -t conf '\(context)' && \(b) from --name c conf >/dev/null && \(b) mount c"
        var built = try await sh(bud)
        for _ in 0..<2 where built.status != 0 && built.err.contains("sealing memfd copy") {
            built = try await sh("\(b) rm -a >/dev/null 2>&1; " + bud)
        }
        #expect(built.status == 0, "buildah: \(built.err.split(separator: "\n").suffix(5).joined(separator: " / "))")
        let theirRoot = built.out.split(separator: "\n").last.map(String.init) ?? ""
        let inspected = try await sh("\(b) inspect --type image conf | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)[\"Docker\"][\"config\"]))'")
        let theirConfig = try JSONParser.parse(Array(inspected.out.utf8))


        // The trees. Out of buildah's side: what its chroot isolation leaves behind after RUN (empty
        // mount points: /dev, /proc, /sys, /run, /etc/hostname, /etc/hosts, /etc/resolv.conf), and the folders of
        // VOLUME, which Docker's classic builder and buildah make and BuildKit and Slipway do not
        // (documented in protocol.md).
        let mine = try await DockerfileCorpus.listing(ours + "/rootfs")
        let volumes = Set((theirConfig["Volumes"]?.objectValue?.keys ?? []).map { "d \($0.dropFirst())  755 0:0" })
        let artifacts: Set<String> = ["d dev  755 0:0", "d proc  755 0:0", "d sys  755 0:0", "d run  755 0:0", "f etc/hostname e3b0c44298fc1c14 0 755 0:0", "f etc/hosts e3b0c44298fc1c14 0 755 0:0",
                                      "f etc/resolv.conf e3b0c44298fc1c14 0 755 0:0"]
        // And what a case's `known-differences.txt` lists (each line with its reason in a
        // `#` comment above it, and in protocol.md).
        let known = Set(((try? String(contentsOfFile: context + "/known-differences.txt", encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix("#") })
        let theirs = try await DockerfileCorpus.listing(theirRoot).filter { !(artifacts.contains($0) || volumes.contains($0) || known.contains($0)) || mine.contains($0) }
        let onlyOurs = Set(mine).subtracting(theirs).subtracting(known.filter { $0.hasPrefix("+ ") }.map { String($0.dropFirst(2)) }).sorted(), onlyTheirs = Set(theirs).subtracting(mine).sorted()
        #expect(onlyOurs.isEmpty && onlyTheirs.isEmpty, "\(name): only in Slipway's: \(onlyOurs)\nonly in buildah's: \(onlyTheirs)\nlog: \(lines.all)")
        // The config.
        let (o, t) = (Self.fields(ourConfig["config"]), Self.fields(theirConfig))
        for k in o.keys.sorted() { #expect(o[k] == t[k], "\(name): \(k): Slipway \(o[k] ?? "") buildah \(t[k] ?? "")") }
        _ = try await sh("\(b) umount c; \(b) rm -a; \(b) rmi -a -f")
    }

    /// Compares a build with the case's `expected.txt` and `expected-config.json` (see above).
    func compareWithExpected(name: String, ours: String, ourConfig: JSONValue, baseLayout: String, work: String, context: String, log: [String]) async throws {
        let base = work + "/base-unpacked"
        let unpacked = try await sh("umoci unpack --image '\(baseLayout):build' '\(base)'")
        #expect(unpacked.status == 0, "\(unpacked.err)")
        let baseLines = try await DockerfileCorpus.listing(base + "/rootfs"), mine = try await DockerfileCorpus.listing(ours + "/rootfs")
        let path: (String) -> String = { String($0.split(separator: " ")[1]) }
        let added = Set(mine).subtracting(baseLines)
        let removed = Set(baseLines.map(path)).subtracting(mine.map(path))
        let text = try String(contentsOfFile: context + "/expected.txt", encoding: .utf8)
        let wanted = text.split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix("#") }
        let wantedRemoved = Set(wanted.filter { $0.hasPrefix("- ") }.map { String($0.dropFirst(2)) })
        let wantedAdded = Set(wanted.filter { !$0.hasPrefix("- ") })
        #expect(added == wantedAdded, "\(name): only in Slipway's: \(added.subtracting(wantedAdded).sorted())\nonly expected: \(wantedAdded.subtracting(added).sorted())\nlog: \(log)")
        #expect(removed == wantedRemoved, "\(name): removed \(removed.sorted()), expected \(wantedRemoved.sorted())")
        let manifest = try JSONParser.parse(Array(try await sh("skopeo inspect --raw oci:\(baseLayout):build").out.utf8))
        let baseConfig = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: baseLayout + "/blobs/sha256/" + (manifest["config"]?["digest"]?.stringValue ?? "").dropFirst(7)))))
        var want = Self.fields(baseConfig["config"])
        let configFile = context + "/expected-config.json"
        if FileManager.default.fileExists(atPath: configFile) {
            let given = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: configFile))))
            for (k, v) in Self.fields(given) where given[k] != nil { want[k] = v }
        }
        let o = Self.fields(ourConfig["config"])
        for k in o.keys.sorted() { #expect(o[k] == want[k], "\(name): \(k): Slipway \(o[k] ?? "") expected \(want[k] ?? "")") }
    }
}
