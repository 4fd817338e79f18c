import Foundation

/// The layers of Dockerfile builds on disk: layer blobs (in the image store), their unpacked
/// folders under `layersRoot` (the overlay lowers of RUN steps, owners mapped into the step
/// namespace), base images flattened into one folder each, and the step cache records that
/// name a layer by its step's cache key.
struct DockerfileLayerStore: Sendable {
    let images: ImageStore
    /// Where layer folders (the stages' overlay lowers) live: `<state>/dockerfile/layers`.
    let layersRoot: String
    /// Step cache records: `<state>/dockerfile/cache/<namespace>/<image>/<key>.json`.
    let cacheDirectory: String
    let runner: OverlayStepRunner

    var mapping: IDMapping { runner.namespace.mapping }

    /// The files of a stage whose lower folders (topmost first) are `lowers`, as one tree.
    func view(_ lowers: [String]) throws -> LayerChainView {
        LayerChainView(folders: try lowers.map { try ConfinedDirectory(path: layersRoot + "/" + $0) })
    }

    /// The base image's layers, flattened with their owners mapped into the step namespace:
    /// one lower folder, made once per image.
    func baseFolder(_ image: OCIImage) async throws -> String {
        let name = "base-" + image.manifestDigest.hex
        // In use again: a garbage collection keeps it another `cacheLifetime` (a failed touch
        // only shortens that).
        if access(layersRoot + "/" + name, F_OK) == 0 { _ = utimensat(AT_FDCWD, layersRoot + "/" + name, nil, AT_SYMLINK_NOFOLLOW); return name }
        try await unpack(image.manifest.layers.enumerated().map { (image.store.path($1.digest), "layer \($0 + 1) (\($1.digest.short)) of the base image") }, as: name)
        return name
    }

    /// Unpacks `layers` (blob paths and how messages name them), in order, into the folder
    /// `name` under `layersRoot`, with owners mapped into the step namespace: as root directly;
    /// as another user, what it may not give away is set afterwards from inside the namespace.
    func unpack(_ layers: [(path: String, name: String)], as name: String) async throws {
        let final = layersRoot + "/" + name
        guard access(final, F_OK) != 0 else { return }
        let scratch = try ScratchFolder(in: layersRoot)
        defer { withExtendedLifetime(scratch) {} }  // leased until the folder is in place
        let temp = scratch.path
        let ledger = ArchiveOwnerLedger()
        try await BlockingWork.run { [mapping] in
            let extractor = ArchiveExtractor(policy: .imageLayer, owners: mapping, ledger: ledger)
            for layer in layers { _ = try extractor.extract(archiveAt: layer.path, into: temp, name: layer.name) }
        }
        try await place(temp, ledger: ledger, as: name)
    }

    /// Puts a layer folder written under a scratch name in place as `name` under `layersRoot`:
    /// the owners in `ledger` set from inside the namespace, the folder itself the namespace
    /// root's (an inner-id folder's root is root's already: id 0 inside). Another build that
    /// placed the same layer first wins.
    func place(_ temp: String, ledger: ArchiveOwnerLedger, as name: String) async throws {
        let final = layersRoot + "/" + name
        if !ledger.owners.isEmpty { try await runner.namespace.applyOwners(ledger.records, under: temp) }
        if !OverlayStepRunner.holdsInnerIDs(name) { try runner.giveToNamespaceRoot(temp) }
        if rename(temp, final) != 0 && access(final, F_OK) != 0 {
            throw RuntimeError.io("cannot place the layer folder \(final): \(String(cString: strerror(errno)))")
        }
    }

    /// A cache record: the key's layer.
    struct CacheRecord: Codable {
        var diffID: Digest
        var size: Int64

        /// The record at `path` (under the state's own `dockerfile/cache`, which no step
        /// writes); nil when it is missing or cannot be read, which is a miss and names nothing.
        static func read(at path: String) -> CacheRecord? {
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            return try? JSONDecoder().decode(CacheRecord.self, from: data)  // see above
        }
    }

    /// The folder holding layer `diffID`, if one is there: with the namespace's host ids, or
    /// (where steps can see one, `OverlayStepRunner.innerIDFolders`) with its own.
    func layerFolder(_ diffID: Digest) -> String? {
        let names = [diffID.hex] + (runner.innerIDFolders ? [diffID.hex + OverlayStepRunner.innerIDSuffix] : [])
        return names.first { access(layersRoot + "/" + $0, F_OK) == 0 }
    }

    func cachedLayer(_ key: Digest) -> StageLayer? {
        // A record that cannot be read is a miss (`try?`): the step runs again.
        guard let r = CacheRecord.read(at: cacheDirectory + "/" + key.hex + ".json"), images.content.reuse(r.diffID), let folder = layerFolder(r.diffID)
        else { return nil }
        // A hit keeps the record another `cacheLifetime` (a failed touch only shortens that).
        _ = utimensat(AT_FDCWD, cacheDirectory + "/" + key.hex + ".json", nil, 0)
        return StageLayer(descriptor: OCIDescriptor(mediaType: MediaType.layer, digest: r.diffID, size: r.size), diffID: r.diffID, store: images.content,
                     folder: folder)
    }

    func record(_ key: Digest, _ layer: StageLayer) throws {
        try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        try JSONEncoder().encode(CacheRecord(diffID: layer.diffID, size: layer.descriptor.size))
            .write(to: URL(fileURLWithPath: cacheDirectory + "/" + key.hex + ".json"), options: .atomic)
    }

    /// A layer folder written with its tar (`LayerTreeWriter`), under a scratch name: the owners
    /// still to set in it, and whether it keeps the namespace's own ids.
    struct WrittenFolder {
        var path: String
        var ledger: ArchiveOwnerLedger
        var innerIDs: Bool
    }

    /// The deepest tree a COPY, ADD or bind mount copies, as every walk of a tree a step wrote:
    /// deeper fails the build (a recursive walk of a step's 25,000-level tree once overflowed
    /// the engine's stack).
    static let maxTreeDepth = TreeLimits.default.maxDepth

    /// The folder under `layersRoot` holding the resolv.conf of steps with the public network.
    static let networkFolder = ".network"

    /// Adds a layer the builder wrote itself (COPY, ADD, WORKDIR) to the stage: its digest goes
    /// into the cache key, and a key seen before reuses the layer recorded for it; a new layer
    /// is unpacked (owners mapped) into a folder, for the RUN steps after it.
    /// `written` is the layer's folder when it was written with its tar (`LayerTreeWriter`).
    func addLayer(_ digest: Digest, size: Int64, what: String, into stage: inout BuildingStage, written: WrittenFolder? = nil,
                  log: @escaping BuildLogger) async throws {
        let phase = BuildPhase.build
        stage.key = StepCacheKey.after(stage.key, layer: digest)
        let layer: StageLayer
        if let cached = cachedLayer(stage.key) {
            layer = cached
            stage.reused += 1
            log(phase, .system, "  CACHED (layer \(cached.diffID.short): \(what) as before)")
        } else {
            let folder: String
            if let known = layerFolder(digest) {
                folder = known  // another build placed the same layer
            } else if let written {
                folder = digest.hex + (written.innerIDs ? OverlayStepRunner.innerIDSuffix : "")
                try await place(written.path, ledger: written.ledger, as: folder)
            } else {
                folder = digest.hex
                try await unpack([(images.content.path(digest), "layer \(digest.short)")], as: folder)
            }
            layer = StageLayer(descriptor: OCIDescriptor(mediaType: MediaType.layer, digest: digest, size: size), diffID: digest, store: images.content, folder: folder)
            try record(stage.key, layer)
            stage.added += 1
            log(phase, .system, "  not cached: \(what) make a new layer \(digest.short)")
        }
        stage.layers.append(layer)
    }

    /// A writer for one of the build's layers, held to `layerLimit` as it is written.
    func layerWriter(_ request: DockerfileBuilder.Request) throws -> BlobWriter {
        let w = try images.content.writer()
        w.limit = Self.layerLimit(request)
        return w
    }

    /// What one layer (and what one step writes to disk while it runs) may hold:
    /// `maxLayerBytes`, and no more than is left of the namespace's storage quota, shared by
    /// everything of the build that writes at the same time (stages run at once).
    static func layerLimit(_ request: DockerfileBuilder.Request) -> WriteLimit {
        WriteLimit(bytes: request.maxLayerBytes,
                   refusal: "a layer is larger than \(request.maxLayerBytes) bytes, the most one may hold (--max-layer-bytes); "
                       + "write less in one step (a sparse file counts at its full size)",
                   budget: request.storage, budgetRefusal: request.storage.map(overQuota) ?? "")
    }

    static func overQuota(_ storage: ByteBudget) -> String {
        "the build's layers would take the namespace past its storage quota (\(storage.limit) bytes were left when the build started); "
            + "free space (image/delete, lower history limits) or write less"
    }

    /// WORKDIR makes its folder (and missing parents: 0755, root's) when the stage lacks it, in
    /// a layer of its own, as Docker does.
    func makeWorkingDirectory(_ path: String, in stage: inout BuildingStage, request: DockerfileBuilder.Request, log: @escaping BuildLogger) async throws {
        let parts = PathSyntax.components(path)
        let view = try self.view(stage.lowers)
        if case .directory? = try view.node(parts.joined(separator: "/")) { return }
        let mapping = self.mapping
        let (digest, size) = try await BlockingWork.run { [self] () throws -> (Digest, Int64) in
            let w = try layerWriter(request)
            let tar = TarWriter(out: w)
            for i in 1...parts.count {
                let p = parts[0..<i].joined(separator: "/")
                if case .directory(_, let st)? = try view.node(p) {
                    try tar.addDirectory(p, mode: Int(st.st_mode & 0o7777),
                                         owner: .init(uid: mapping.innerUser(ofDisk: st.st_uid).map(Int.init) ?? 0,
                                                      gid: mapping.innerGroup(ofDisk: st.st_gid).map(Int.init) ?? 0))
                } else {
                    try tar.addDirectory(p, mode: 0o755, owner: .root)
                }
            }
            try tar.finish()
            return try w.commit()
        }
        try await addLayer(digest, size: size, what: "the WORKDIR folder", into: &stage, log: log)
    }
}
