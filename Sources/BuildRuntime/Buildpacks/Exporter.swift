import Foundation

/// Where export puts what it writes (the seam of lifecycle's `LayerFactory`): new layer blobs,
/// the blobs the image holds, and the image itself under its tag. Production writes into the
/// state's content store and the output layout (`LayoutExportTarget`); the export rules are
/// tested in process with a target that records what it is given.
protocol ExportTarget: Sendable {
    /// A writer for a new layer blob, which the exporter fills, commits and then `keep`s.
    func layerWriter() throws -> BlobWriter
    /// Makes the blob `digest` (a run-image layer, or a layer just committed) part of the output.
    func keep(_ digest: Digest) throws
    /// The stored layer made last from the inputs `key` names (`AppLayerChunks`), if any.
    func storedLayer(key: Digest) -> OCIDescriptor?
    /// Records that `key`'s inputs made `layer`.
    func rememberLayer(_ layer: OCIDescriptor, key: Digest) throws
    /// Writes the image's config and manifest for `layers` (all kept) and tags it.
    func writeImage(config: OCIImageConfig, layers: [OCIDescriptor]) throws -> OCIImage
}

/// The export target of a build: layers live once in the state's content store and are
/// hard-linked into the output layout, where the image is tagged.
struct LayoutExportTarget: ExportTarget {
    let images: ImageStore
    let layout: OCILayout
    let tag: String

    func layerWriter() throws -> BlobWriter { try images.content.writer() }
    func keep(_ digest: Digest) throws { try layout.store.copy(digest, from: images.content) }
    func storedLayer(key: Digest) -> OCIDescriptor? { images.content.layer(forKey: key) }
    func rememberLayer(_ layer: OCIDescriptor, key: Digest) throws { try images.content.setLayer(layer, forKey: key) }
    func writeImage(config: OCIImageConfig, layers: [OCIDescriptor]) throws -> OCIImage {
        let image = try images.writeImage(config: config, layers: layers, into: layout.store)
        try layout.setTag(tag, to: image.manifestDescriptor)
        return image
    }
}

/// What /workspace held when the build ended: with an overlay workspace, the snapshot's files
/// (`manifest`, read from `trees`) with the upper folder over them; else the unpacked folder.
struct AppTree {
    var manifest: SnapshotManifest
    var trees: SnapshotStore.ChainReader?
    var upper: ConfinedDirectory

    init(manifest: SnapshotManifest = SnapshotManifest(entries: []), trees: SnapshotStore.ChainReader? = nil, upper: ConfinedDirectory) {
        self.manifest = manifest
        self.trees = trees
        self.upper = upper
    }

    /// The tree of `workspace`, whose overlay's lower trees `sources` holds.
    init(_ workspace: Lifecycle.Workspace, sources: SourceSnapshotter) throws {
        self.init(manifest: try workspace.overlay.map { try sources.snapshots.manifest($0.snapshot) } ?? SnapshotManifest(entries: []),
                  trees: try workspace.overlay.map { try SnapshotStore.ChainReader(store: sources.snapshots, layers: $0.lowers.reversed()) },
                  upper: workspace.app)
    }
}

/// Writes the app image: the run image's layers, one layer per launch layer, the app layer (or
/// its slices), the launcher layer and the config layer, with the CNB labels and
/// `/cnb/process/<type>` entry points. Every layer is a reproducible tar, so an unchanged layer
/// has the digest it had last time and is reused (no new blob is stored).
struct Exporter {
    let target: any ExportTarget
    /// The build's layers folder (`<buildpack>/<layer>` and their .toml files).
    let layersFolder: ConfinedDirectory
    let request: BuildRequest
    let buildImage: OCIImage
    let runImage: OCIImage
    let previous: OCIImage?
    let log: BuildLogger

    private var cnbOwner: TarWriter.Owner {
        TarWriter.Owner(uid: Int(buildImage.config.env("CNB_USER_ID") ?? "") ?? 1000,
                        gid: Int(buildImage.config.env("CNB_GROUP_ID") ?? "") ?? 1000)
    }

    /// Writes one layer with `fill` to the target, and reports whether it was added or reused
    /// (the previous image had a layer of the same digest).
    private func layer(_ label: String, added: inout Int, reused: inout Int, _ fill: (TarWriter) throws -> Void) throws -> OCIDescriptor {
        try layers([label], added: &added, reused: &reused) { try fill($0[0]) }[0]
    }

    /// `layer` for several layers filled at once (app-layer slices).
    private func layers(_ labels: [String], added: inout Int, reused: inout Int, _ fill: ([TarWriter]) throws -> Void) throws -> [OCIDescriptor] {
        let writers = try labels.map { _ in try target.layerWriter() }
        let tars = writers.map(TarWriter.init)
        try fill(tars)
        var out: [OCIDescriptor] = []
        for (label, (w, tar)) in zip(labels, zip(writers, tars)) {
            try tar.finish()
            let (digest, size) = try w.commit()
            out.append(try kept(OCIDescriptor(mediaType: MediaType.layer, digest: digest, size: size), label, added: &added, reused: &reused))
        }
        return out
    }

    /// Keeps a layer in the output, and logs and counts it as added or reused (the previous
    /// image had a layer of the same digest).
    private func kept(_ layer: OCIDescriptor, _ label: String, added: inout Int, reused: inout Int) throws -> OCIDescriptor {
        try target.keep(layer.digest)
        let wasThere = previous?.manifest.layers.contains { $0.digest == layer.digest } ?? false
        if wasThere { reused += 1 } else { added += 1 }
        log(BuildPhase.export, .system, (wasThere ? "Reusing layer '" : "Adding layer '") + label + "'")
        return layer
    }

    /// The app layer as `AppLayerChunks` cuts it: a first walk records the entries (reading no
    /// file), and a second writes only the chunks no stored layer has.
    private func chunkedAppLayers(_ app: AppTree, owner: TarWriter.Owner, added: inout Int, reused: inout Int) throws -> [OCIDescriptor] {
        let planner = AppLayerChunkPlanner()
        try AppLayerWriter.write(manifest: app.manifest, trees: app.trees, upper: app.upper, prefix: "workspace/", owner: owner, into: planner)
        let chunks = AppLayerChunks(entries: planner.entries, root: "workspace", owner: owner)
        var layers = chunks.keys.map { target.storedLayer(key: $0) }
        if layers.contains(where: { $0 == nil }) {
            var blobs: [Int: BlobWriter] = [:]
            let target = self.target
            let writer = AppLayerChunkWriter(chunks: chunks, stored: layers.map { $0 != nil }, open: { chunk in
                let blob = try target.layerWriter()
                blobs[chunk] = blob
                let tar = TarWriter(out: blob)
                try tar.addDirectory("workspace", owner: owner)
                return tar
            }, close: { chunk, tar in
                try tar.finish()
                guard let blob = blobs.removeValue(forKey: chunk) else { return }
                let (digest, size) = try blob.commit()
                let layer = OCIDescriptor(mediaType: MediaType.layer, digest: digest, size: size)
                try target.rememberLayer(layer, key: chunks.keys[chunk])
                layers[chunk] = layer
            })
            try AppLayerWriter.write(manifest: app.manifest, trees: app.trees, upper: app.upper, prefix: "workspace/", owner: owner, into: writer)
            try writer.finish()
        }
        return try layers.enumerated().map { i, layer in
            guard let layer else { throw RuntimeError.io("app chunk \(i + 1) was not written") }
            return try kept(layer, chunks.count == 1 ? "app" : "app part \(i + 1) of \(chunks.count)", added: &added, reused: &reused)
        }
    }

    func export(app: AppTree, group: [BuildpackDescriptor], built: BuiltLayers) throws -> BuildResult {
        let owner = cnbOwner
        var added = 0
        var reused = 0
        var layers: [OCIDescriptor] = []
        var diffIDs: [Digest] = []

        // Run image layers, as they are.
        let run = runImage
        for var l in run.manifest.layers {
            try target.keep(l.digest)
            l.mediaType = MediaType.ociLayer(l.mediaType)
            layers.append(l)
        }
        diffIDs.append(contentsOf: run.config.rootfs.diff_ids)

        var lifecycleBuildpacks: [LifecycleMetadata.BuildpackLayers] = []
        var launcherLayers: [String] = []
        var reusedFromPrevious: [(buildpack: String, layer: String)] = []
        for d in group {
            var layerInfo: [String: LifecycleMetadata.LayerInfo] = [:]
            for name in built.launchLayers[d.id] ?? [] {
                let sandboxPath = "layers/\(d.escapedID)/\(name)"
                if let kept = built.reusedLayers[d.id + ":" + name] {
                    reused += 1
                    log(BuildPhase.export, .system, "Reusing layer '\(d.id):\(name)' from the previous image")
                    layers.append(kept)
                    diffIDs.append(kept.digest)
                    reusedFromPrevious.append((d.id, name))
                    launcherLayers.append("/" + sandboxPath)
                    layerInfo[name] = .init(sha: kept.digest.string, data: MetadataValue.table(built.layerMetadata[d.id]?[name] ?? TOMLTable()), launch: true)
                    continue
                }
                // Opened by descriptor: a layer folder that is a symlink fails the build.
                let layerDir = try confined(d) { try layersFolder.openDirectory(d.escapedID + "/" + name) }
                let desc = try layer("\(d.id):\(name)", added: &added, reused: &reused) { tar in
                    try tar.addDirectory("layers", owner: .root)
                    try tar.addDirectory("layers/" + d.escapedID, owner: owner)
                    try tar.addDirectory(sandboxPath, owner: owner)
                    try confined(d) { try tar.addTree(layerDir, prefix: sandboxPath + "/", owner: owner) }
                }
                layers.append(desc)
                diffIDs.append(desc.digest)
                launcherLayers.append("/" + sandboxPath)
                layerInfo[name] = .init(sha: desc.digest.string, data: MetadataValue.table(built.layerMetadata[d.id]?[name] ?? TOMLTable()), launch: true)
            }
            lifecycleBuildpacks.append(.init(key: d.id, version: d.version, layers: layerInfo))
        }

        // The launch SBOMs, in one layer of their own (lifecycle's addSBOMLaunchLayer), with
        // those of reused layers the buildpack did not write again.
        let sboms = built.sboms + (try previousSBOMs(of: reusedFromPrevious, besides: built.sboms))
        let launchSBOMs = sboms.filter { $0.scope == .launch }.sorted { $0.path < $1.path }
        var sbomLayer: OCIDescriptor?
        if !launchSBOMs.isEmpty {
            let desc = try layer("sbom", added: &added, reused: &reused) { tar in try Self.writeSBOMLayer(launchSBOMs, into: tar, owner: owner) }
            layers.append(desc)
            diffIDs.append(desc.digest)
            sbomLayer = desc
        }

        // The app: the snapshot's files and the upper folder merged as the build saw them (an
        // overlay workspace), or the unpacked workspace; a layer per slice, then the rest.
        // Without slices, the app is cut into chunk layers (one for an app under 8 MiB).
        let slices = built.slices
        let appLabels = (0..<slices.count).map { "app slice \($0 + 1)" } + ["app"]
        let apps = slices.isEmpty ? try chunkedAppLayers(app, owner: owner, added: &added, reused: &reused)
            : try self.layers(appLabels, added: &added, reused: &reused) { tars in
                for tar in tars { try tar.addDirectory("workspace", owner: owner) }
                try AppLayerWriter.write(manifest: app.manifest, trees: app.trees, upper: app.upper, prefix: "workspace/", owner: owner,
                                         into: AppSliceLayers(prefix: "workspace/", slices: slices, tars: tars))
            }
        let newApps = apps.filter { a in !(previous?.manifest.layers.contains { $0.digest == a.digest } ?? false) }.count
        if newApps > 0 {
            log(BuildPhase.export, .system, "Adding \(newApps)/\(apps.count) app layer(s)")
        }
        layers.append(contentsOf: apps)
        diffIDs.append(contentsOf: apps.map(\.digest))

        let launcherBytes: [UInt8]
        do {
            launcherBytes = Array(try Data(contentsOf: URL(fileURLWithPath: request.launcherPath)))
        } catch {
            throw RuntimeError.unavailable("the launcher \(request.launcherPath) cannot be read; build it with 'swift build' (product slipway-launcher)")
        }
        let launcher = try layer("launcher", added: &added, reused: &reused) { tar in
            try tar.addDirectory("cnb")
            try tar.addDirectory("cnb/lifecycle")
            try tar.addFile("cnb/lifecycle/launcher", contents: launcherBytes, mode: 0o755)
        }
        layers.append(launcher)
        diffIDs.append(launcher.digest)

        let defaultProcess = built.processes.first(where: \.isDefault)?.type
            ?? (built.processes.contains { $0.type == "web" } ? "web" : nil)
        let launchConfig = LauncherConfiguration(layers: launcherLayers, processes: built.processes, defaultProcess: defaultProcess)
        let config = try layer("config", added: &added, reused: &reused) { tar in
            try tar.addDirectory("cnb")
            try tar.addDirectory("cnb/process")
            for p in built.processes.sorted(by: { $0.type < $1.type }) {
                try tar.addSymlink("cnb/process/" + p.type, target: "/cnb/lifecycle/launcher")
            }
            try tar.addDirectory("layers", owner: .root)
            try tar.addDirectory("layers/config", owner: .root)
            try tar.addFile("layers/config/launcher.conf", contents: launchConfig.encoded())
            try tar.addFile("layers/config/metadata.toml", contents: Array(launchConfig.metadataTOML(buildpacks: group).utf8))
        }
        layers.append(config)
        diffIDs.append(config.digest)

        // Image configuration.
        var c = run.config.config
        var env = (c.Env ?? []).filter { !$0.hasPrefix("PATH=") && !$0.hasPrefix("CNB_LAYERS_DIR=") && !$0.hasPrefix("CNB_APP_DIR=") }
        let runPath = run.config.env("PATH") ?? "/usr/local/bin:/usr/bin:/bin"
        env += ["PATH=/cnb/process:/cnb/lifecycle:" + runPath, "CNB_LAYERS_DIR=/layers", "CNB_APP_DIR=/workspace"]
        c.Env = env
        c.Entrypoint = defaultProcess.map { ["/cnb/process/" + $0] } ?? ["/cnb/lifecycle/launcher"]
        c.Cmd = nil
        c.WorkingDir = "/workspace"
        if c.User == nil || c.User == "" {
            c.User = "\(owner.uid):\(owner.gid)"
        }
        var labels = c.Labels ?? [:]
        for (k, v) in built.labels { labels[k] = v }
        var lifecycleMetadata = LifecycleMetadata(
            app: apps.map { .init(sha: $0.digest.string) }, config: .init(sha: config.digest.string), launcher: .init(sha: launcher.digest.string),
            buildpacks: lifecycleBuildpacks,
            runImage: .init(topLayer: run.config.rootfs.diff_ids.last?.string ?? "", reference: LifecycleMetadata.reference(of: run, named: request.runImageName),
                            image: request.runImageName),
            stack: .init(runImage: request.runImageName))
        lifecycleMetadata.sbom = sbomLayer.map { .init(sha: $0.digest.string) }
        labels[ImageLabels.lifecycleMetadata] = try ImageLabels.encode(lifecycleMetadata)
        labels[ImageLabels.buildMetadata] = try ImageLabels.encode(BuildMetadata(buildpacks: group, processes: built.processes, launcherVersion: request.launcherVersion))
        labels[ImageLabels.projectMetadata] = try ImageLabels.encode(request.projectMetadata)
        // Rebasable unless the run image says it is not.
        labels[ImageLabels.rebasable] = run.config.config.Labels?[ImageLabels.rebasable] == "false" ? "false" : "true"
        labels[ImageLabels.stackID] = request.stackID
        c.Labels = labels

        var imageConfig = OCIImageConfig(architecture: run.config.architecture, os: run.config.os, config: c, diffIDs: diffIDs)
        imageConfig.history = (run.config.history ?? []) + layers.dropFirst(run.manifest.layers.count).map { _ in .init(created_by: "slipway buildpacks export") }
        let image = try target.writeImage(config: imageConfig, layers: layers)
        log(BuildPhase.export, .system, "*** Images (\(image.manifestDigest)):")
        log(BuildPhase.export, .system, "      \(request.outputName)")
        var result = BuildResult(imageDigest: image.manifestDigest, buildpacks: group, runImageDigest: run.manifestDigest,
                                 processes: built.processes, layersAdded: added, layersReused: reused)
        result.sboms = sboms
        return result
    }

    /// The launch SBOMs of layers reused from the previous image for which the build wrote none,
    /// read back from that image's SBOM layer, as lifecycle restores them: a kept layer keeps
    /// what it said it holds. A document there that is not of its format's shape is left out.
    func previousSBOMs(of reused: [(buildpack: String, layer: String)], besides written: [SBOMDocument]) throws -> [SBOMDocument] {
        guard let previous, !reused.isEmpty,
            let sha = ImageLabels.decode(LifecycleMetadata.self, previous.config.config.Labels?[ImageLabels.lifecycleMetadata])?.sbom?.sha,
            let diffID = Digest(sha), let index = previous.config.rootfs.diff_ids.firstIndex(of: diffID), index < previous.manifest.layers.count
        else { return [] }
        var wanted: [String: SBOMDocument] = [:]
        for (buildpack, layer) in reused where !written.contains(where: { $0.scope == .launch && $0.buildpack == buildpack && $0.layer == layer }) {
            for format in SBOMFormat.allCases {
                let doc = SBOMDocument(scope: .launch, buildpack: buildpack, layer: layer, format: format, contents: [])
                wanted[doc.path] = doc
            }
        }
        guard !wanted.isEmpty else { return [] }
        let files = try TarEntryReader.files(ofArchive: previous.store.path(previous.manifest.layers[index].digest), label: "the previous image's SBOM layer",
                                             maxFileBytes: SBOMDocument.maxFileBytes, maxTotalBytes: SBOMDocument.maxTotalBytes) { wanted[$0] != nil }
        return files.sorted { $0.key < $1.key }.compactMap { path, bytes in
            guard var doc = wanted[path], doc.format.whyNotADocument(bytes) == nil else { return nil }
            doc.contents = bytes
            log(BuildPhase.export, .system, "Restoring the SBOM of layer '\(doc.buildpack ?? ""):\(doc.layer ?? "")' from the previous image")
            return doc
        }
    }

    /// The launch SBOM layer: `layers/sbom/launch/<buildpack>[/<layer>]/sbom.<ext>`, each folder
    /// once and in path order (`documents` sorted by path), so the same SBOMs give the same digest.
    static func writeSBOMLayer(_ documents: [SBOMDocument], into tar: TarWriter, owner: TarWriter.Owner) throws {
        var folders: Set<String> = []
        for doc in documents {
            let parts = doc.path.split(separator: "/").map(String.init)
            for depth in 1..<parts.count {
                let folder = parts[0..<depth].joined(separator: "/")
                if folders.insert(folder).inserted { try tar.addDirectory(folder, owner: depth <= 2 ? .root : owner) }
            }
            try tar.addFile(doc.path, contents: doc.contents, owner: owner)
        }
    }
}
