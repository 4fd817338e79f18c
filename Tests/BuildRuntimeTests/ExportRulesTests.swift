import Foundation
import Synchronization
import Testing
@testable import BuildRuntime
import TestSupport

/// An export target that keeps new layer blobs in a scratch content store and records which
/// blobs export keeps and the image it writes, so the export rules are checked in process.
final class RecordingExportTarget: ExportTarget {
    let content: ContentStore
    private let recorded = Mutex<(kept: [Digest], image: OCIImage?)>(([], nil))
    var kept: [Digest] { recorded.withLock { $0.kept } }
    var image: OCIImage? { recorded.withLock { $0.image } }

    init(root: String) throws { content = try ContentStore(root: URL(fileURLWithPath: root)) }

    func layerWriter() throws -> BlobWriter { try content.writer() }
    func keep(_ digest: Digest) throws { recorded.withLock { $0.kept.append(digest) } }
    func storedLayer(key: Digest) -> OCIDescriptor? { content.layer(forKey: key) }
    func rememberLayer(_ layer: OCIDescriptor, key: Digest) throws { try content.setLayer(layer, forKey: key) }
    func writeImage(config: OCIImageConfig, layers: [OCIDescriptor]) throws -> OCIImage {
        let manifest = OCIManifest(config: OCIDescriptor(mediaType: MediaType.config, digest: Digest.of("config"), size: 0), layers: layers)
        let written = OCIImage(store: content, manifestDigest: Digest.of("manifest \(layers.map(\.digest))"), manifestSize: 0, manifest: manifest, config: config)
        recorded.withLock { $0.image = written }
        return written
    }

    /// One entry of a layer tar, as its header gives it.
    struct Entry: Equatable {
        var path: String
        var type: Character
        var uid: Int
        var link: String
    }

    /// The entries of the layer blob `digest` (paths under 100 bytes, so plain ustar headers).
    func entries(_ digest: Digest) throws -> [Entry] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: content.path(digest))))
        func text(_ r: Range<Int>, at base: Int) -> String {
            String(decoding: bytes[(base + r.lowerBound)..<(base + r.upperBound)].prefix { $0 != 0 }, as: UTF8.self)
        }
        func octal(_ r: Range<Int>, at base: Int) -> Int { Int(text(r, at: base).trimmingCharacters(in: .whitespaces), radix: 8) ?? 0 }
        var out: [Entry] = []
        var at = 0
        while at + 512 <= bytes.count, bytes[at] != 0 {
            let size = octal(124..<136, at: at)
            out.append(Entry(path: text(0..<100, at: at), type: Character(UnicodeScalar(bytes[at + 156])), uid: octal(108..<116, at: at), link: text(157..<257, at: at)))
            at += 512 + (size + 511) / 512 * 512
        }
        return out
    }
}

/// The lines a build logged.
final class LogLines: Sendable {
    private let state = Mutex<[String]>([])
    func append(_ line: String) { state.withLock { $0.append(line) } }
    var lines: [String] { state.withLock { $0 } }
}

/// The rules of export and of reading what a buildpack left (`BuiltLayers.collect`): which layers
/// are exported, cached, built with or reused, app slices, labels, the image config, and what is
/// refused. End-to-end builds with real stores are in BuildFlowTests and RebuildTests.
@Suite final class ExportRulesTests {
    let root: String
    let layers: ConfinedDirectory
    let target: RecordingExportTarget
    let bp = BuildpackDescriptor(api: "0.10", id: "test/node", version: "1.0.0")
    let runImage: OCIImage
    let buildImage: OCIImage
    var request: BuildRequest
    let log = LogLines()

    init() throws {
        root = NSTemporaryDirectory() + "export-rules-" + UUID().uuidString
        layers = try ConfinedDirectory(path: root + "/layers", create: true)
        _ = try ConfinedDirectory(path: root + "/app", create: true)
        target = try RecordingExportTarget(root: root + "/store")
        try Data("launcher bytes".utf8).write(to: URL(fileURLWithPath: root + "/launcher"))
        var runConfig = OCIImageConfig.Config()
        runConfig.Env = ["PATH=/usr/bin", "CNB_APP_DIR=/elsewhere", "LANG=C"]
        runConfig.Labels = ["org.example.run": "yes"]
        let runLayer = OCIDescriptor(mediaType: MediaType.layer, digest: Digest.of("run layer"), size: 1)
        runImage = OCIImage(store: target.content, manifestDigest: Digest.of("run image"), manifestSize: 0,
                            manifest: OCIManifest(config: OCIDescriptor(mediaType: MediaType.config, digest: Digest.of("run config"), size: 0), layers: [runLayer]),
                            config: OCIImageConfig(config: runConfig, diffIDs: [Digest.of("run diff")]))
        var buildConfig = OCIImageConfig.Config()
        buildConfig.Env = ["CNB_USER_ID=1001", "CNB_GROUP_ID=1002"]
        buildImage = OCIImage(store: target.content, manifestDigest: Digest.of("build image"), manifestSize: 0,
                              manifest: OCIManifest(config: OCIDescriptor(mediaType: MediaType.config, digest: Digest.of("build config"), size: 0), layers: []),
                              config: OCIImageConfig(config: buildConfig, diffIDs: []))
        request = BuildRequest(workDirectory: root, cacheDirectory: root + "/cache", source: Digest.of("source"), env: [:], buildImage: buildImage,
                               runImage: runImage, runImageName: "run-image", stackID: "io.test.stack", order: [], outputLayout: root + "/out",
                               outputTag: "latest", outputName: "app", launcherPath: root + "/launcher", launcherVersion: "9.9.9")
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)  // scratch of a finished test in the temporary folder
    }

    func write(_ relative: String, _ text: String) throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    func export(_ built: BuiltLayers, previous: OCIImage? = nil, into target: RecordingExportTarget? = nil) throws -> BuildResult {
        let log = self.log
        let exporter = Exporter(target: target ?? self.target, layersFolder: layers, request: request, buildImage: buildImage, runImage: runImage, previous: previous,
                                log: { _, _, line in log.append(line) })
        return try exporter.export(app: AppTree(upper: try ConfinedDirectory(path: root + "/app")), group: [bp], built: built)
    }

    /// Collects what the buildpack left in layers/test_node.
    func collect(previous: PreviousLayers = PreviousLayers()) throws -> (BuiltLayers, [String]) {
        var built = BuiltLayers()
        var buildLayers: [(ConfinedDirectory, String)] = []
        try confined(bp) { try built.collect(of: bp, in: try layers.openDirectory("test_node"), buildLayers: &buildLayers, previous: previous) }
        return (built, buildLayers.map(\.1))
    }

    @Test func layerFlagsDecideWhatIsExportedCachedAndBuiltWith() throws {
        try write("layers/test_node/run.toml", "[types]\nlaunch = true\n[metadata]\nversion = \"18\"\n")
        try write("layers/test_node/run/bin/node", "node")
        try write("layers/test_node/deps.toml", "[types]\ncache = true\n")
        try write("layers/test_node/deps/x", "x")
        try write("layers/test_node/tools.toml", "[types]\nbuild = true\n")
        try write("layers/test_node/tools/t", "t")
        try write("layers/test_node/both.toml", "[types]\nlaunch = true\ncache = true\n")
        try write("layers/test_node/both/b", "b")
        try write("layers/test_node/stray/s", "a folder without a .toml is no layer")
        try write("layers/test_node/..toml", "[types]\nlaunch = true\n")
        let (built, buildLayers) = try collect()
        #expect(Set(built.launchLayers["test/node"] ?? []) == ["run", "both"])
        #expect(built.cachedLayers == ["test/node:deps", "test/node:both"])
        #expect(buildLayers == ["/layers/test_node/tools"])
        #expect(built.layerMetadata["test/node"]?["run"]?["version"]?.string == "18")
        #expect(!FileManager.default.fileExists(atPath: root + "/layers/test_node/stray"))

        let result = try export(built)
        let image = try #require(target.image)
        // Run image layer, two launch layers, app, launcher, config.
        #expect(image.manifest.layers.count == 6 && result.layersAdded == 5 && result.layersReused == 0)
        #expect(target.kept == image.manifest.layers.map(\.digest))
        let metadata = try #require(ImageLabels.decode(LifecycleMetadata.self, image.config.config.Labels?[ImageLabels.lifecycleMetadata]))
        #expect(metadata.buildpacks.map(\.key) == ["test/node"] && Set(metadata.buildpacks[0].layers.keys) == ["run", "both"])
        let run = try #require(metadata.buildpacks[0].layers["run"])
        #expect(run.launch == true && run.data?["version"] == .string("18"))
        let runLayer = try #require(image.manifest.layers.first { $0.digest.string == run.sha })
        #expect(try target.entries(runLayer.digest) == [
            .init(path: "layers/", type: "5", uid: 0, link: ""), .init(path: "layers/test_node/", type: "5", uid: 1001, link: ""),
            .init(path: "layers/test_node/run/", type: "5", uid: 1001, link: ""), .init(path: "layers/test_node/run/bin/", type: "5", uid: 1001, link: ""),
            .init(path: "layers/test_node/run/bin/node", type: "0", uid: 1001, link: ""),
        ])
    }

    @Test func unchangedLayersAreReusedAndKeptLayersAreNotWrittenAgain() throws {
        try write("layers/test_node/run.toml", "[types]\nlaunch = true\n")
        try write("layers/test_node/run/f", "f")
        try write("app/main.txt", "main")
        let first = try export(try collect().0)
        let previous = try #require(target.image)
        #expect(first.layersAdded == 4 && log.lines.contains("Adding layer 'test/node:run'"))

        // The same layers again: every one has the digest it had.
        let again = try export(try collect().0, previous: previous)
        #expect(again.layersAdded == 0 && again.layersReused == 4)
        #expect(log.lines.contains("Reusing layer 'test/node:run'"))

        // A launch layer whose .toml stayed and whose folder the buildpack did not make again:
        // the previous image's layer goes in as it was, without being written.
        try ConfinedDirectory.removeTree(atPath: root + "/layers/test_node/run")
        let (kept, _) = try collect(previous: PreviousLayers(previous))
        let old = try #require(kept.reusedLayers["test/node:run"])
        let keptBefore = target.kept.count
        let third = try export(kept, previous: previous)
        #expect(third.layersAdded == 0 && third.layersReused == 4)
        #expect(!target.kept[keptBefore...].contains(old.digest))
        #expect(target.image?.manifest.layers[1] == old)
        #expect(log.lines.contains("Reusing layer 'test/node:run' from the previous image"))
    }

    /// An app of 24 MB in 600 files of 40 KB under 12 folders.
    func writeLargeApp() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<600 {
            let path = root + "/app/d\(String(format: "%02d", i % 12))/f\(String(format: "%03d", i)).bin"
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            // xorshift64: bytes that do not repeat, made fast.
            let words = (0..<5_000).map { _ in
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                return state
            }
            try words.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
        }
    }

    /// The app layers of the last image written, and the entries of each.
    func appLayers(of target: RecordingExportTarget? = nil) throws -> [(Digest, [RecordingExportTarget.Entry])] {
        let target = target ?? self.target
        let image = try #require(target.image)
        let metadata = try #require(ImageLabels.decode(LifecycleMetadata.self, image.config.config.Labels?[ImageLabels.lifecycleMetadata]))
        return try metadata.app.map { app in
            let digest = try #require(Digest(app.sha))
            return (digest, try target.entries(digest))
        }
    }

    /// A large app is cut into chunk layers that together hold each of its files once, each
    /// chunk unpacking on its own (it begins with the folders above its first file). A one-file
    /// edit adds one new chunk layer and finds every other by its key, writing none of them;
    /// the layers are those an export into an empty store makes (a key decides only whether
    /// bytes are written, never what they are).
    @Test func aLargeAppIsCutIntoChunksAndAnEditRewritesOne() throws {
        try writeLargeApp()
        _ = try export(BuiltLayers())
        let first = try appLayers()
        #expect(first.count >= 2 && first.count <= 3, "\(first.count) chunks")
        var seen: [String: Int] = [:]
        for (_, entries) in first {
            #expect(entries.first?.path == "workspace/")
            for e in entries where e.type == "0" { seen[e.path, default: 0] += 1 }
            // Every entry's folder is in the same layer, before it.
            var folders: Set<String> = []
            for e in entries {
                let parent = (e.path.hasSuffix("/") ? String(e.path.dropLast()) : e.path).split(separator: "/").dropLast().joined(separator: "/") + "/"
                #expect(folders.contains(parent) || e.path == "workspace/", "\(e.path) comes before its folder")
                if e.type == "5" { folders.insert(e.path) }
            }
        }
        #expect(seen.count == 600 && seen.values.allSatisfy { $0 == 1 })
        let previous = try #require(target.image)

        try Data(repeating: 7, count: 40_000).write(to: URL(fileURLWithPath: root + "/app/d05/f005.bin"))
        let before = log.lines.count
        let edited = try export(BuiltLayers(), previous: previous)
        let second = try appLayers()
        #expect(second.count == first.count)
        #expect(zip(first, second).filter { $0.0.0 != $0.1.0 }.count == 1, "one chunk changed")
        #expect(log.lines[before...].filter { $0.hasPrefix("Adding layer 'app part") }.count == 1, "\(log.lines[before...])")
        #expect(edited.layersAdded == 1)

        let fresh = try RecordingExportTarget(root: root + "/fresh-store")
        _ = try export(BuiltLayers(), into: fresh)
        #expect(try appLayers(of: fresh).map(\.0) == second.map(\.0))
    }

    /// A key whose layer blob was collected finds nothing: the chunk is written again, with
    /// the bytes it had.
    @Test func aKeyWhoseLayerWasCollectedIsWrittenAgain() throws {
        try writeLargeApp()
        _ = try export(BuiltLayers())
        let first = try appLayers()
        let gone = first[0].0
        try FileManager.default.removeItem(atPath: target.content.path(gone))
        _ = try export(BuiltLayers())
        #expect(try appLayers().map(\.0) == first.map(\.0))
        #expect(target.content.contains(gone))
    }

    /// The cut rule alone: cut points depend on paths, so a file that grows changes its own
    /// chunk's key and moves no cut, and a file added changes the chunks around it only.
    @Test func chunkCutsHoldAcrossEdits() throws {
        func entries(_ sizes: [Int64], extra: Int? = nil) -> [AppLayerChunks.Entry] {
            var out: [AppLayerChunks.Entry] = []
            for (i, size) in sizes.enumerated() {
                out.append(.init(path: "workspace/f\(i)", kind: .file, mode: 0o644, owner: .root, size: size, identity: "c:\(i)-\(size)"))
                if extra == i { out.append(.init(path: "workspace/f\(i)-new", kind: .file, mode: 0o644, owner: .root, size: 1 << 16, identity: "c:new")) }
            }
            return out
        }
        let sizes = [Int64](repeating: 1 << 18, count: 400)  // 100 MiB in 256 KiB files
        let base = AppLayerChunks(entries: entries(sizes), root: "workspace", owner: .root)
        #expect(base.count >= 8 && base.count <= 12, "\(base.count) chunks")
        var grown = sizes
        grown[150] += 1000
        let edited = AppLayerChunks(entries: entries(grown), root: "workspace", owner: .root)
        #expect(edited.chunkOf == base.chunkOf)
        #expect(zip(base.keys, edited.keys).filter { $0 != $1 }.count == 1)
        let added = AppLayerChunks(entries: entries(sizes, extra: 150), root: "workspace", owner: .root)
        #expect(Set(base.keys).subtracting(added.keys).count <= 2)
        #expect(added.count >= base.count - 1 && added.count <= base.count + 1)
    }

    @Test func appSlicesBecomeLayersOfTheirOwnBeforeTheRest() throws {
        try write("app/main.txt", "main")
        try write("app/static/site.css", "css")
        var built = BuiltLayers()
        try built.slices.add(from: try TOMLParser.parse("[[slices]]\npaths = [\"static\"]\n"), buildpack: bp)
        _ = try export(built)
        let image = try #require(target.image)
        let metadata = try #require(ImageLabels.decode(LifecycleMetadata.self, image.config.config.Labels?[ImageLabels.lifecycleMetadata]))
        #expect(metadata.app.count == 2)
        let paths = try metadata.app.map { app in try target.entries(try #require(Digest(app.sha))).map(\.path) }
        #expect(paths == [["workspace/", "workspace/static/", "workspace/static/site.css"], ["workspace/", "workspace/main.txt"]])
        #expect(log.lines.contains("Adding layer 'app slice 1'") && log.lines.contains("Adding 2/2 app layer(s)"))
    }

    @Test func labelsAndConfigSayHowTheImageRuns() throws {
        var built = BuiltLayers()
        built.processes = LaunchProcess.parse(try TOMLParser.parse("""
            [[processes]]
            type = "web"
            command = ["node", "server.js"]
            [[processes]]
            type = "worker"
            command = ["node", "worker.js"]
            """), buildpackID: bp.id, api: bp.api)
        built.labels = ["org.example.app": "from launch.toml"]
        let result = try export(built)
        let image = try #require(target.image)
        let config = image.config.config
        #expect(config.Entrypoint == ["/cnb/process/web"] && config.Cmd == nil && config.WorkingDir == "/workspace" && config.User == "1001:1002")
        #expect(config.Env == ["LANG=C", "PATH=/cnb/process:/cnb/lifecycle:/usr/bin", "CNB_LAYERS_DIR=/layers", "CNB_APP_DIR=/workspace"])
        let labels = config.Labels ?? [:]
        #expect(labels["org.example.run"] == "yes" && labels["org.example.app"] == "from launch.toml")
        #expect(labels[ImageLabels.rebasable] == "true" && labels[ImageLabels.stackID] == "io.test.stack")
        let metadata = try #require(ImageLabels.decode(LifecycleMetadata.self, labels[ImageLabels.lifecycleMetadata]))
        let layers = image.manifest.layers
        #expect(metadata.launcher.sha == layers[layers.count - 2].digest.string && metadata.config.sha == layers[layers.count - 1].digest.string)
        #expect(metadata.runImage.topLayer == Digest.of("run diff").string && metadata.runImage.image == "run-image")
        let buildMetadata = try #require(ImageLabels.decode(BuildMetadata.self, labels[ImageLabels.buildMetadata]))
        #expect(buildMetadata == BuildMetadata(buildpacks: [bp], processes: built.processes, launcherVersion: "9.9.9"))
        #expect(result.processes == built.processes && result.runImageDigest == runImage.manifestDigest)
        let entries = try target.entries(layers[layers.count - 1].digest)
        #expect(entries.filter { $0.type == "2" } == [
            .init(path: "cnb/process/web", type: "2", uid: 0, link: "/cnb/lifecycle/launcher"),
            .init(path: "cnb/process/worker", type: "2", uid: 0, link: "/cnb/lifecycle/launcher"),
        ])
        #expect(try target.entries(layers[layers.count - 2].digest).map(\.path) == ["cnb/", "cnb/lifecycle/", "cnb/lifecycle/launcher"])
        #expect(log.lines.suffix(2) == ["*** Images (\(image.manifestDigest)):", "      app"])
    }

    @Test func withoutADefaultOrWebProcessTheLauncherIsTheEntrypoint() throws {
        var built = BuiltLayers()
        built.processes = LaunchProcess.parse(try TOMLParser.parse("[[processes]]\ntype = \"worker\"\ncommand = [\"w\"]\n"), buildpackID: bp.id, api: bp.api)
        _ = try export(built)
        #expect(target.image?.config.config.Entrypoint == ["/cnb/lifecycle/launcher"])
    }

    @Test func aLayerThatIsASymlinkOrNotAFolderIsRefused() throws {
        try write("layers/test_node/run.toml", "[types]\nlaunch = true\n")
        try FileManager.default.createSymbolicLink(atPath: root + "/layers/test_node/run", withDestinationPath: "/etc")
        #expect(throws: RuntimeError.self) { try collect() }

        // A layer folder that became a symlink after the build step is refused at export.
        try FileManager.default.removeItem(atPath: root + "/layers/test_node/run")
        try write("layers/test_node/run/f", "f")
        let (built, _) = try collect()
        try FileManager.default.removeItem(atPath: root + "/layers/test_node/run")
        try FileManager.default.createSymbolicLink(atPath: root + "/layers/test_node/run", withDestinationPath: "/etc")
        let error = try #require(throws: RuntimeError.self) { try export(built) }
        #expect("\(error)".contains("buildpack test/node@1.0.0 left something Slipway will not use"))
        #expect(target.image == nil)

        try FileManager.default.removeItem(atPath: root + "/layers/test_node/run")
        try write("layers/test_node/run", "a file where a layer folder belongs")
        #expect(throws: RuntimeError.self) { try collect() }
    }

    @Test func anInvalidLayerTOMLFailsTheBuild() throws {
        try write("layers/test_node/run.toml", "[types\n")
        let error = try #require(throws: RuntimeError.self) { try collect() }
        #expect("\(error)".contains("buildpack test/node wrote an invalid run.toml"))
    }

    @Test func aLauncherThatCannotBeReadFailsExportSayingWhatToDo() throws {
        try FileManager.default.removeItem(atPath: root + "/launcher")
        let error = try #require(throws: RuntimeError.self) { try export(BuiltLayers()) }
        #expect("\(error)".contains("build it with 'swift build' (product slipway-launcher)"))
    }

    /// Collects layers/test_node as a buildpack that declares `formats`.
    func collectSBOMs(formats: [String]) throws -> BuiltLayers {
        var declaring = bp
        declaring.sbomFormats = formats
        var built = BuiltLayers()
        var buildLayers: [(ConfinedDirectory, String)] = []
        try confined(declaring) { try built.collect(of: declaring, in: try layers.openDirectory("test_node"), buildLayers: &buildLayers, previous: PreviousLayers()) }
        return built
    }

    @Test func launchSBOMsAreOneReproducibleLayerNamedByTheLabelAndBuildSBOMsStayOut() throws {
        let cdx = #"{"bomFormat": "CycloneDX", "specVersion": "1.4", "version": 1}"#
        try write("layers/test_node/run.toml", "[types]\nlaunch = true\n")
        try write("layers/test_node/run/bin/node", "node")
        try write("layers/test_node/run.sbom.cdx.json", cdx)
        try write("layers/test_node/tools.toml", "[types]\nbuild = true\n")
        try write("layers/test_node/tools/t", "t")
        try write("layers/test_node/tools.sbom.cdx.json", cdx)
        try write("layers/test_node/launch.sbom.cdx.json", cdx)
        try write("layers/test_node/build.sbom.cdx.json", cdx)
        try write("layers/test_node/cached.toml", "[types]\ncache = true\n")
        try write("layers/test_node/cached.sbom.cdx.json", cdx)
        let built = try collectSBOMs(formats: [SBOMFormat.cdx.mediaType])
        #expect(Set(built.sboms.map(\.path)) == [
            "layers/sbom/launch/test_node/run/sbom.cdx.json", "layers/sbom/launch/test_node/sbom.cdx.json",
            "layers/sbom/build/test_node/tools/sbom.cdx.json", "layers/sbom/build/test_node/sbom.cdx.json",
        ])
        let result = try export(built)
        #expect(result.sboms == built.sboms)
        let image = try #require(target.image)
        let metadata = try #require(ImageLabels.decode(LifecycleMetadata.self, image.config.config.Labels?[ImageLabels.lifecycleMetadata]))
        let sha = try #require(metadata.sbom?.sha)
        let layer = try #require(image.manifest.layers.first { $0.digest.string == sha })
        #expect(image.config.rootfs.diff_ids.contains(layer.digest))
        #expect(try target.entries(layer.digest) == [
            .init(path: "layers/", type: "5", uid: 0, link: ""), .init(path: "layers/sbom/", type: "5", uid: 0, link: ""),
            .init(path: "layers/sbom/launch/", type: "5", uid: 1001, link: ""), .init(path: "layers/sbom/launch/test_node/", type: "5", uid: 1001, link: ""),
            .init(path: "layers/sbom/launch/test_node/run/", type: "5", uid: 1001, link: ""),
            .init(path: "layers/sbom/launch/test_node/run/sbom.cdx.json", type: "0", uid: 1001, link: ""),
            .init(path: "layers/sbom/launch/test_node/sbom.cdx.json", type: "0", uid: 1001, link: ""),
        ])
        // The same SBOMs again: the same layer.
        let again = try export(built, previous: image)
        let metadata2 = try #require(ImageLabels.decode(LifecycleMetadata.self, target.image?.config.config.Labels?[ImageLabels.lifecycleMetadata]))
        #expect(metadata2.sbom?.sha == sha && again.layersAdded == 0)
        #expect(log.lines.contains("Reusing layer 'sbom'"))
    }

    @Test func anSBOMOfAnUndeclaredFormatOrShapeOrASymlinkFailsTheBuild() throws {
        try write("layers/test_node/launch.sbom.spdx.json", #"{"spdxVersion": "SPDX-2.3"}"#)
        let undeclared = try #require(throws: RuntimeError.self) { try collectSBOMs(formats: [SBOMFormat.cdx.mediaType]) }
        #expect("\(undeclared)".contains("media type application/spdx+json, which its buildpack.toml does not declare (sbom-formats: application/vnd.cyclonedx+json)"))
        #expect(try collectSBOMs(formats: [SBOMFormat.spdx.mediaType]).sboms.count == 1)

        try write("layers/test_node/launch.sbom.spdx.json", #"{"bomFormat": "CycloneDX"}"#)
        let shape = try #require(throws: RuntimeError.self) { try collectSBOMs(formats: [SBOMFormat.spdx.mediaType]) }
        #expect("\(shape)".contains(#"is not a application/spdx+json document: it has no "spdxVersion""#))
        try write("layers/test_node/launch.sbom.spdx.json", "[1, 2")
        let json = try #require(throws: RuntimeError.self) { try collectSBOMs(formats: [SBOMFormat.spdx.mediaType]) }
        #expect("\(json)".contains("it is not valid JSON"))

        try FileManager.default.removeItem(atPath: root + "/layers/test_node/launch.sbom.spdx.json")
        try write("host-sbom.json", #"{"spdxVersion": "SPDX-2.3"}"#)
        try FileManager.default.createSymbolicLink(atPath: root + "/layers/test_node/launch.sbom.spdx.json", withDestinationPath: root + "/host-sbom.json")
        let link = try #require(throws: RuntimeError.self) { try collectSBOMs(formats: [SBOMFormat.spdx.mediaType]) }
        #expect("\(link)".contains("launch.sbom.spdx.json' is or passes through a symlink"))

        try FileManager.default.removeItem(atPath: root + "/layers/test_node/launch.sbom.spdx.json")
        try write("layers/test_node/launch.sbom.xml", "<bom/>")
        let unknown = try #require(throws: RuntimeError.self) { try collectSBOMs(formats: [SBOMFormat.spdx.mediaType]) }
        #expect("\(unknown)".contains("an SBOM of an unknown format 'xml'"))
    }
}
