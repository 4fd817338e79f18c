import Foundation

/// What a Dockerfile build adds to a build request: its settings (where the Dockerfile and the
/// context are in the source, build args, the target stage), whose build it is, and how FROM
/// names are found.
public struct DockerfileInputs: Sendable {
    /// As the build recorded them: a nil field takes its default (`resolvedPath`, the source's
    /// root for a nil `contextDir`).
    public var settings: DockerfileSettings
    /// The namespace and image the build is of: step records, contexts and cache mounts are
    /// kept per namespace (records per image), so that no tenant reads or poisons another's.
    public var namespace: String
    public var image: String
    /// Finds a FROM image (a registry reference or an `oci:` layout) in the content store.
    public var resolveBase: @Sendable (String) async throws -> OCIImage

    public init(settings: DockerfileSettings, namespace: String, image: String, resolveBase: @escaping @Sendable (String) async throws -> OCIImage) {
        self.settings = settings
        self.namespace = namespace
        self.image = image
        self.resolveBase = resolveBase
    }
}

/// The Dockerfile strategy as a `BuildExecutor`: unpacks the source snapshot as the build
/// context and builds it with `DockerfileBuilder`, under the same scheduler, logs, timeouts,
/// cancellation, export and push as a buildpacks build.
public struct DockerfileExecutor: BuildExecutor {
    public let images: ImageStore
    public let sources: SourceSnapshotter
    /// `slipway-userns`, which RUN steps run under.
    public let helper: String

    /// Layer folders and step cache records live under `<state>/dockerfile`.
    public init(images: ImageStore, sources: SourceSnapshotter, helper: String) {
        self.images = images
        self.sources = sources
        self.helper = helper
    }

    /// The builder, made per build: a missing bwrap or id range fails that build, saying what
    /// to install or add, not the engine's start. Where overlayfs cannot be mounted, steps copy
    /// their layers instead, and the log says so. Its steps are held to `limits`.
    func builder(_ inputs: DockerfileInputs, limits: StepEnforcement, log: @escaping BuildLogger) async throws -> DockerfileBuilder {
        let root = images.content.root.path + "/dockerfile"
        let namespace = UserNamespaceRunner(helper: helper, mapping: try IDMapping.forCurrentUser())
        var runner = OverlayStepRunner(sandbox: try SandboxRunner(tmpfsBytes: limits.limits.memoryBytes), namespace: namespace, layersRoot: root + "/layers",
                                       limits: limits)
        // As root, an overlay with an id-mapped lower is tried first: where it mounts, so does a
        // plain one (one probe). Without id-mapped lowers, a COPY copies the snapshot's files to
        // give them the namespace's host ids: the same image, more bytes.
        if await runner.innerIDFoldersUnavailableReason(scratch: root + "/layers") == nil {
            runner = OverlayStepRunner(sandbox: runner.sandbox, namespace: namespace, layersRoot: runner.layersRoot, limits: limits, innerIDFolders: true)
        } else if let why = await runner.overlayUnavailableReason(scratch: root + "/layers") {
            log(BuildPhase.build, .system,
                "overlayfs cannot be mounted here (\(why)): each RUN step works on a copy of its layers, compared afterwards, which is slower")
            runner = OverlayStepRunner(sandbox: runner.sandbox, namespace: namespace, layersRoot: runner.layersRoot, snapshots: .copy, limits: limits)
        }
        return DockerfileBuilder(images: images, layersRoot: runner.layersRoot, cacheDirectory: root + "/cache/" + inputs.namespace + "/" + inputs.image, runner: runner)
    }

    /// Beside each context folder: what its files are (`FileReuse.files`, JSON).
    public static let manifestSuffix = ".files.json"

    /// The files of the context unpacked last in the namespace's `contexts` (the newest
    /// manifest whose folder is still there), to link from; none when there is no such context.
    static func lastContextFiles(in contexts: String) -> ArchiveFileReuse {
        let fm = FileManager.default
        // No readable manifest (or none at all) means nothing to link: hence the `try?`s.
        let manifests = ((try? fm.contentsOfDirectory(atPath: contexts)) ?? []).filter { $0.hasSuffix(manifestSuffix) && !$0.hasPrefix(".") }  // see above
        let newest = manifests.max { a, b in
            let (x, y) = ((try? fm.attributesOfItem(atPath: contexts + "/" + a)[.modificationDate] as? Date) ?? .distantPast,  // see above
                          (try? fm.attributesOfItem(atPath: contexts + "/" + b)[.modificationDate] as? Date) ?? .distantPast)  // see above
            return x < y
        }
        guard let newest, let data = fm.contents(atPath: contexts + "/" + newest),
            let files = try? JSONDecoder().decode([String: ArchiveFileReuse.FileRecord].self, from: data),  // see above
            let folder = try? ConfinedDirectory(path: contexts + "/" + String(newest.dropLast(manifestSuffix.count)))  // see above
        else { return ArchiveFileReuse(previous: nil, files: [:]) }
        return ArchiveFileReuse(previous: folder, files: files)
    }

    /// The owner of the source snapshot's files (Slipway's own user), which the build context
    /// links rather than copies. A COPY links them on into its layer folder where that folder
    /// gives them the namespace's root: run by a user who is not root, that user is the
    /// namespace's root; run as root, the layer keeps the namespace's own ids
    /// (`OverlayStepRunner.innerIDFolders`). Either way a COPY of them writes only its tar.
    /// Safe to share: a context is only read by the host, a step sees a layer folder only as a
    /// read-only overlay lower (a write copies up, never reaching the inode), the copy fallback
    /// and bind mounts copy bytes, and a COPY gives a context file another owner only while it
    /// has a single link.
    static var snapshotOwner: (uid: uid_t, gid: gid_t) { (getuid(), getgid()) }

    public func execute(_ request: BuildRequest, log: @escaping BuildLogger) async throws -> BuildResult {
        guard let inputs = request.dockerfile else { throw RuntimeError.invalid("a Dockerfile build needs its Dockerfile inputs") }
        log(BuildPhase.prepare, .system, "===> PREPARE")
        // The context is unpacked once per source snapshot and only read (no step sees it), so
        // a rebuild of the same source reuses it.
        let contexts = images.content.root.path + "/dockerfile/contexts/" + inputs.namespace
        let contextRoot = contexts + "/" + request.source.hex
        let outcome = try await BlockingWork.run { () throws -> String in
            if access(contextRoot, F_OK) == 0 {
                _ = utimensat(AT_FDCWD, contextRoot, nil, AT_SYMLINK_NOFOLLOW)  // in use: a failed touch only shortens its life
                return "already unpacked"
            }
            let scratch = try ScratchFolder(in: contexts)  // leased until it is in place
            defer { withExtendedLifetime(scratch) {} }
            let temp = scratch.path
            let root = try ConfinedDirectory(path: temp, displayPath: "the build context")
            // The files the last context unpacked the same are linked from it, and files of the
            // snapshot's trees that are already the step namespace root's from them.
            let reuse = Self.lastContextFiles(in: contexts)
            try sources.restore(request.source, into: root, reuse: reuse, linkingFilesOf: Self.snapshotOwner)
            if rename(temp, contextRoot) != 0 {
                try? ConfinedDirectory.removeTree(atPath: temp)  // another build placed the same context first: use that one
                guard access(contextRoot, F_OK) == 0 else { throw RuntimeError.io("cannot place the build context: \(String(cString: strerror(errno)))") }
                return "already unpacked"
            }
            // What it holds, for the next one (without it, the next one writes every file).
            try? JSONEncoder().encode(reuse.files).write(to: URL(fileURLWithPath: contextRoot + Self.manifestSuffix), options: .atomic)  // see above
            return reuse.linked > 0 ? "unpacked (\(reuse.linked) unchanged file(s) linked from the last context)" : "unpacked"
        }
        log(BuildPhase.prepare, .system, "Source snapshot \(request.source) \(outcome) as the build context")
        var context = contextRoot
        if let contextDir = inputs.settings.contextDir, !contextDir.isEmpty {
            let parts = PathSyntax.components(contextDir)
            guard parts.allSatisfy(PathSyntax.isNormalComponent),
                (try? ConfinedDirectory(path: contextRoot).isDirectory(parts.joined(separator: "/"))) == true  // not there or not a folder: refused below
            else {
                throw RuntimeError.buildFailed("contextDir \(contextDir) is not a folder of the source")
            }
            context += "/" + parts.joined(separator: "/")
        }
        log(BuildPhase.build, .system, "===> BUILD")
        var buildRequest = DockerfileBuilder.Request(context: context, settings: inputs.settings, outputLayout: request.outputLayout, outputTag: request.outputTag,
                                                     mountCacheDirectory: images.content.root.path + "/dockerfile/mounts/" + inputs.namespace,
                                                     resolveBase: inputs.resolveBase)
        // The context is within the source size cap already; what ADD brings in is held to it too.
        buildRequest.maxAddBytes = sources.limits.maxTotalBytes
        buildRequest.publicNetwork = request.publicNetwork
        buildRequest.addHostAllowList = request.addHostAllowList
        buildRequest.maxLayerBytes = request.maxLayerBytes
        buildRequest.storage = request.storageBytesLeft.map { ByteBudget(limit: max(0, $0)) }
        // No tmpfs of a step holds more than the step's memory.
        buildRequest.maxTmpfsBytes = request.stepLimits.memoryBytes
        let result = try await StepEnforcement.during(request.stepLimits, helper: helper, log: { log(BuildPhase.build, .system, $0) }) { limits in
            try await builder(inputs, limits: limits, log: log).build(buildRequest, log: log)
        }
        var built = BuildResult(imageDigest: result.imageDigest, buildpacks: [], runImageDigest: result.finalBase ?? result.imageDigest,
                                processes: [], layersAdded: result.layersAdded, layersReused: result.layersReused)
        built.bases = result.bases.mapValues(\.string)
        built.sboms = [try await BlockingWork.run { [images] in try DockerfileSBOM.document(for: result, images: images, request: request) }]
        return built
    }
}
