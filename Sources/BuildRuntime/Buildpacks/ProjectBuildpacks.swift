import Foundation

/// Brings in the buildpacks an app's project.toml names by `uri` that the builder does not
/// hold, before the build detects: a folder or archive inside the app, a buildpackage image
/// from a registry, or an http(s) archive. They come with the app and are as untrusted as
/// it: the app's tree is read only through `ConfinedDirectory` (no `..`, no symlink), every
/// archive is extracted within the source size cap, a download goes through the build's
/// network and `OutboundAddressPolicy` as `ADD <url>` does, and the buildpacks run in the
/// sandbox as every buildpack does. They are unpacked into the build's own folder, which goes
/// with the build.
struct ProjectBuildpacks {
    /// What the host sees of the app: the unpacked /workspace, before include or exclude.
    let app: ConfinedDirectory
    /// Absolute paths that name the app's top folder (`/workspace`, and a local source's own
    /// path): an absolute uri must lie under one of them.
    let appRoots: [String]
    let images: ImageStore
    /// The build's folder for them (made here); each is unpacked at `<root>/<digest hex>`.
    let root: String
    /// The source size cap, on every archive's extraction and every download.
    let limits: ArchiveExtractor.Limits
    /// Set with the public network: downloads as ADD <url> makes them. Nil: none are made.
    let downloader: BlobFetcher?
    /// The engine's import of a buildpackage by registry reference (its credentials rules);
    /// nil where no engine gives one.
    let fetchPackage: (@Sendable (String) async throws -> OCIImage)?
    let log: BuildLogger

    static let field = "project.toml"

    /// For `request`'s build: downloads only with the public network, within the source size
    /// cap, to addresses `OutboundAddressPolicy` allows (as ADD <url>).
    static func forBuild(_ request: BuildRequest, app: ConfinedDirectory, appRoots: [String], images: ImageStore, root: String,
                         limits: ArchiveExtractor.Limits, log: @escaping BuildLogger) throws -> ProjectBuildpacks {
        let downloader = request.publicNetwork
            ? BlobFetcher(budget: ByteBudget(limit: limits.maxTotalBytes), addressPolicy: try OutboundAddressPolicy(allowing: request.addHostAllowList)) : nil
        return ProjectBuildpacks(app: app, appRoots: appRoots.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0 }, images: images,
                                 root: root, limits: limits, downloader: downloader, fetchPackage: request.fetchBuildpackage, log: log)
    }

    var loader: BuildpackLoader { BuildpackLoader(content: images.content, root: root) }

    /// The buildpacks of `group`'s entries that name one in the app, a buildpackage or a
    /// download, by the entry's index.
    func fetch(_ group: [ProjectDescriptor.GroupEntry]) async throws -> [Int: BuildpackRef] {
        var out: [Int: BuildpackRef] = [:]
        for (n, entry) in group.enumerated() {
            guard case .located(let uri, let id, let version) = entry else { continue }
            let loaded: LoadedBuildpack
            switch uri {
            case .builder, .registry: continue
            case .app(let path, let absolute):
                let relative = try appRelative(path, absolute: absolute)
                loaded = try await BlockingWork.run { try pick(try loadFromApp(relative), image: nil, id: id, version: version, shown: path) }
            case .package(let reference):
                guard let fetchPackage else {
                    throw RuntimeError.buildFailed("project.toml names buildpackage \(PathSyntax.shortened(reference)), and this build cannot pull images; name a buildpack of the builder instead")
                }
                log(BuildPhase.prepare, .system, "Pulling buildpackage \(PathSyntax.shortened(reference)) that project.toml names")
                let image = try await fetchPackage(reference)
                loaded = try await BlockingWork.run {
                    try pick(try loader.loadPackage(image, source: reference, field: Self.field), image: image, id: id, version: version, shown: reference)
                }
            case .download(let url):
                loaded = try await download(url, id: id, version: version)
            }
            log(BuildPhase.prepare, .system, "project.toml buildpack \(loaded.descriptor.id)@\(loaded.descriptor.version) from \(PathSyntax.shortened(uri.shown))")
            out[n] = BuildpackRef(descriptor: loaded.descriptor, directory: root + "/" + loaded.digest.hex, optional: false)
        }
        return out
    }

    /// `path` relative to the app's top folder; an absolute one must lie inside the app.
    func appRelative(_ path: String, absolute: Bool) throws -> String {
        guard absolute else { return path }
        for r in appRoots where path == r || path.hasPrefix(r == "/" ? r : r + "/") {
            return String(path.dropFirst(r.count)).split(separator: "/").joined(separator: "/")
        }
        throw RuntimeError.buildFailed("project.toml names buildpack \(PathSyntax.shortened(path)), which is outside the app; name a folder or archive inside it (a path relative to project.toml)")
    }

    /// The buildpack folder or archive at `relative` in the app.
    func loadFromApp(_ relative: String) throws -> [LoadedBuildpack] {
        let shown = "project.toml buildpack \"\(relative.isEmpty ? "." : relative)\""
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let found = try relative.isEmpty ? nil : app.status(relative)
            guard relative.isEmpty || found != nil else {
                throw RuntimeError.buildFailed("\(shown) is not in the app; give the path of a buildpack folder or archive relative to project.toml")
            }
            if let found, (found.st_mode & S_IFMT) == S_IFLNK {
                throw RuntimeError.buildFailed("\(shown) is a symlink, which is not followed; name the buildpack folder or archive itself")
            }
            if try relative.isEmpty || app.isDirectory(relative) {
                let folder = relative.isEmpty ? app : try app.openDirectory(relative)
                try BuildpackLoader.requireBuildpack(folder, describedAs: shown, field: Self.field)
                let snapshot = try SourceSnapshotter(store: images.content, limits: limits).snapshot(folder: folder, form: .tar)
                return [try loader.unpack(snapshot, describedAs: shown, field: Self.field)]
            }
            guard ProjectDescriptor.BuildpackURI.archiveSuffixes.contains(where: { relative.lowercased().hasSuffix($0) }) else {
                throw RuntimeError.buildFailed("\(shown) is neither a folder nor a .tgz, .tar.gz, .tar or .cnb archive")
            }
            let fd = try app.openFile(relative, flags: O_RDONLY | O_NONBLOCK)
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw RuntimeError.buildFailed("\(shown) is not a regular file") }
            // The descriptor, opened beneath the app, is what is read: its /proc name reopens
            // that same file, whatever the path now leads to.
            return try loadArchive("/proc/self/fd/\(fd)", shown: shown)
        } catch let e as ConfinedPathError {
            throw RuntimeError.buildFailed("\(shown) cannot be read: \(e); it must be a folder or archive inside the app, reached by no symlink")
        }
    }

    /// A buildpack archive (a folder's tar, or a buildpackage's OCI layout as a `.cnb` is),
    /// extracted within the size cap.
    func loadArchive(_ path: String, shown: String) throws -> [LoadedBuildpack] {
        let scratch = root + "/.archive-" + UUID().uuidString
        defer { try? ConfinedDirectory.removeTree(atPath: scratch) }  // best effort: the build's folder goes with it
        let tree = try ConfinedDirectory(path: scratch, displayPath: shown, create: true)
        do {
            try ArchiveExtractor(policy: .source, limits: limits).extract(archiveAt: path, into: tree, name: shown)
        } catch let e as RuntimeError {
            throw RuntimeError.buildFailed("\(shown) cannot be used: \(e.message)")
        }
        if try tree.status("oci-layout") != nil, try tree.status("index.json") != nil {
            let image = try images.importLocalImage(.layout(path: scratch, tag: ""), folderSettings: .init(stackID: ""), onlyImage: true)
            return try loader.loadPackage(image, source: shown, field: Self.field)
        }
        let snapshot = try SourceSnapshotter(store: images.content, limits: limits).snapshot(folder: tree, form: .tar)
        return [try loader.unpack(snapshot, describedAs: shown, field: Self.field)]
    }

    /// Downloads an http(s) archive as ADD <url> does, then loads it.
    func download(_ url: String, id: String?, version: String?) async throws -> LoadedBuildpack {
        let shown = PathSyntax.shortened(url)
        guard let u = URL(string: url), u.host.map({ !$0.isEmpty }) == true, u.user == nil, u.password == nil else {
            throw RuntimeError.buildFailed("project.toml buildpack \(shown) is not an http(s) URL with a host and without credentials")
        }
        guard let downloader else {
            throw RuntimeError.buildFailed("project.toml buildpack \(shown) is downloaded, and the build's network is \"none\"; as ADD of a URL, it needs the public network (network: \"public\" on the image)")
        }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let file = root + "/.download-" + UUID().uuidString
        defer { unlink(file) }
        let fetched: FetchedBlob
        do {
            fetched = try await downloader.fetch(u, to: file, through: images.content)
        } catch let e as RuntimeError {
            throw RuntimeError.buildFailed("project.toml buildpack: \(e.message.replacingOccurrences(of: "blob ", with: ""))")
        }
        log(BuildPhase.prepare, .system, "Downloaded \(shown) (\(fetched.bytes) bytes, \(fetched.digest))")
        return try await BlockingWork.run { try pick(try loadArchive(fetched.path, shown: "project.toml buildpack \(shown)"), image: nil, id: id, version: version, shown: url) }
    }

    /// The buildpack an entry means among what its uri holds: a buildpackage's own (its
    /// `io.buildpacks.buildpackage.metadata` label) unless the entry gives an id.
    func pick(_ loaded: [LoadedBuildpack], image: OCIImage?, id: String?, version: String?, shown: String) throws -> LoadedBuildpack {
        struct PackageLabel: Decodable { var id: String }
        let wanted = id ?? image.flatMap { ImageLabels.decode(PackageLabel.self, $0.config.config.Labels?["io.buildpacks.buildpackage.metadata"])?.id }
        let candidates = loaded.filter { wanted == nil || $0.descriptor.id == wanted }
        guard let chosen = candidates.first(where: { version == nil || $0.descriptor.version == version }) ?? candidates.first ?? (wanted == nil ? loaded.first : nil) else {
            let have = loaded.map { "\($0.descriptor.id)@\($0.descriptor.version)" }.joined(separator: ", ")
            throw RuntimeError.buildFailed("project.toml names buildpack \(wanted ?? "") by uri \(PathSyntax.shortened(shown)), which holds \(have); give the id of one of them")
        }
        guard chosen.descriptor.order == nil else {
            throw RuntimeError.buildFailed("project.toml names \(chosen.descriptor.id)@\(chosen.descriptor.version) by uri \(PathSyntax.shortened(shown)), a composite buildpack (it has an order); name its buildpacks instead")
        }
        return chosen
    }
}

extension ProjectDescriptor.BuildpackURI {
    /// How logs name it.
    var shown: String {
        switch self {
        case .app(let path, _): return path.isEmpty ? "the app's top folder" : path
        case .builder(let id, let version): return "urn:cnb:builder:" + id + (version.map { "@" + $0 } ?? "")
        case .registry(let id, let version): return "urn:cnb:registry:" + id + (version.map { "@" + $0 } ?? "")
        case .package(let reference): return reference
        case .download(let url): return url
        }
    }
}
