import Foundation

/// A buildpack brought into the state directory: its descriptor, the digest of its normalised
/// tar, and the folder it was unpacked into (`buildpacks/<hex>`).
public struct LoadedBuildpack: Sendable, Equatable {
    public var descriptor: BuildpackDescriptor
    public var digest: Digest
}

/// Brings buildpacks into the state directory: a folder, a `.tgz`/`.tar.gz`/`.tar` of one, or
/// the buildpacks inside a buildpackage image (under `/cnb/buildpacks/<id>/<version>/`). Each
/// becomes a normalised tar in the content store, unpacked once under `buildpacks/<digest>`.
/// Buildpackages come from registries and archives, so their trees are read through
/// `ConfinedDirectory` and messages name what the user gave, never an internal folder.
public struct BuildpackLoader: Sendable {
    public let content: ContentStore
    /// `STATE/buildpacks`.
    public let root: String

    public init(content: ContentStore, root: String) {
        self.content = content
        self.root = root
    }

    /// Loads the buildpack folder or archive at `path` (an absolute host path the user gave).
    public func load(_ path: String, field: String) throws -> LoadedBuildpack {
        guard path.hasPrefix("/") else { throw RuntimeError.invalid("buildpack path '\(PathSyntax.shortened(path))' must be absolute", field: field) }
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw RuntimeError.invalid("buildpack path '\(PathSyntax.shortened(path))' does not exist", field: field)
        }
        let snapshotter = SourceSnapshotter(store: content)
        let snapshot: SourceSnapshot
        if (st.st_mode & S_IFMT) == S_IFDIR {
            guard let real = SourceSnapshotter.realPath(path) else {
                throw RuntimeError.invalid("buildpack path '\(PathSyntax.shortened(path))' cannot be read", field: field)
            }
            let top = try ConfinedDirectory(path: real, displayPath: path)
            try Self.requireBuildpack(top, describedAs: path, field: field)
            snapshot = try snapshotter.snapshot(folder: top, form: .tar)
        } else {
            guard [".tgz", ".tar.gz", ".tar"].contains(where: { path.hasSuffix($0) }) else {
                throw RuntimeError.invalid("buildpack '\(PathSyntax.shortened(path))' must be a folder or a .tgz/.tar.gz/.tar archive of one", field: field)
            }
            snapshot = try snapshotter.snapshot(archive: path, name: PathSyntax.lastComponent(path), stripComponents: 0, subPath: nil, form: .tar)
        }
        return try unpack(snapshot, describedAs: path, field: field)
    }

    /// Every buildpack a buildpackage image carries under `/cnb/buildpacks/<id>/<version>/`.
    /// `source` is how the user named the image. `layers` (diff ids) limits the layers read to
    /// those a builder image says hold buildpacks, not its whole build image.
    public func loadPackage(_ image: OCIImage, source: String, field: String, layers: Set<Digest>? = nil) throws -> [LoadedBuildpack] {
        let dir = root + "/.package-" + UUID().uuidString
        defer { try? ConfinedDirectory.removeTree(atPath: dir) }  // best effort: .package-* folders are swept at start-up
        let tree = try ConfinedDirectory(path: dir, displayPath: source, create: true)
        let extractor = ArchiveExtractor(policy: .imageLayer)
        let diffIDs = image.config.rootfs.diff_ids
        for (i, layer) in image.manifest.layers.enumerated() where layers.map({ i < diffIDs.count && $0.contains(diffIDs[i]) }) ?? true {
            try extractor.extract(archiveAt: image.store.path(layer.digest), into: tree, name: "layer \(i + 1) of \(source)")
        }
        var found: [LoadedBuildpack] = []
        let snapshotter = SourceSnapshotter(store: content)
        if try tree.isDirectory("cnb/buildpacks") {
            let base = try tree.openDirectory("cnb/buildpacks")
            for id in try base.entries() where try base.isDirectory(id) {
                let versions = try base.openDirectory(id)
                for version in try versions.entries() where try versions.isDirectory(version) {
                    let folder = try versions.openDirectory(version)
                    let shown = "\(source) (/cnb/buildpacks/\(id)/\(version))"
                    try Self.requireBuildpack(folder, describedAs: shown, field: field)
                    found.append(try unpack(try snapshotter.snapshot(folder: folder, form: .tar), describedAs: shown, field: field))
                }
            }
        }
        guard !found.isEmpty else {
            throw RuntimeError.invalid("\(PathSyntax.shortened(source)) is an image without buildpacks under /cnb/buildpacks; is it a buildpackage?", field: field)
        }
        return found
    }

    /// Unpacks a buildpack snapshot under `buildpacks/<digest>` (once) and reads its descriptor.
    func unpack(_ snapshot: SourceSnapshot, describedAs shown: String, field: String) throws -> LoadedBuildpack {
        let final = root + "/" + snapshot.digest.hex
        if access(final + "/buildpack.toml", F_OK) != 0 {
            let temp = root + "/.tmp-" + UUID().uuidString
            defer { try? ConfinedDirectory.removeTree(atPath: temp) }  // best effort: .tmp-* folders are swept at start-up
            let tree = try ConfinedDirectory(path: temp, displayPath: shown, create: true)
            try SourceSnapshotter(store: content).restore(snapshot.digest, into: tree)
            // An archive may hold the buildpack in a single top-level folder.
            var relative = ""
            let names = try tree.entries()
            if try tree.status("buildpack.toml") == nil, try tree.status("extension.toml") == nil, names.count == 1, try tree.isDirectory(names[0]) {
                relative = names[0]
            }
            try Self.requireBuildpack(relative.isEmpty ? tree : try tree.openDirectory(relative), describedAs: shown, field: field)
            try ConfinedDirectory.removeTree(atPath: final)
            guard rename(relative.isEmpty ? temp : temp + "/" + relative, final) == 0 else {
                throw RuntimeError.io("cannot place buildpack \(PathSyntax.shortened(shown)) in the state directory: \(String(cString: strerror(errno)))")
            }
        }
        let d = try Self.requireBuildpack(try ConfinedDirectory(path: final, displayPath: shown), describedAs: shown, field: field)
        return LoadedBuildpack(descriptor: d, digest: snapshot.digest)
    }

    /// Reads and checks `buildpack.toml` and the executables of the buildpack in `folder`.
    @discardableResult
    static func requireBuildpack(_ folder: ConfinedDirectory, describedAs shown: String, field: String) throws -> BuildpackDescriptor {
        let name = PathSyntax.shortened(shown)
        if try folder.status("buildpack.toml") == nil, try folder.status("extension.toml") != nil {
            throw RuntimeError.invalid("\(name) is an image extension (it has extension.toml); image extensions are not supported yet, only buildpacks", field: field)
        }
        let text: String
        do {
            text = try folder.readText("buildpack.toml", maxBytes: 1 << 20)
        } catch let e as ConfinedPathError {
            let why = e.kind == .missing ? "it has no buildpack.toml" : "its buildpack.toml is not usable (\(e))"
            throw RuntimeError.invalid("\(name) is not a buildpack: \(why)", field: field)
        }
        let d = try BuildpackDescriptor.parse(text, source: name)
        for exe in ["bin/detect", "bin/build"] where d.order == nil {
            // A symlink is fine here: it is resolved inside the sandbox, never by the host.
            guard let st = try folder.status(exe), (st.st_mode & S_IFMT) == S_IFLNK || ((st.st_mode & S_IFMT) == S_IFREG && st.st_mode & 0o111 != 0) else {
                throw RuntimeError.invalid("buildpack \(d.id)@\(d.version) in \(name) has no executable \(exe)", field: field)
            }
        }
        return d
    }
}
