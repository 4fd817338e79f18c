import Foundation

/// How a buildpacks build gets its `/workspace`: an overlay of the snapshot's trees (where
/// overlayfs can be mounted in a user namespace; else unpacked, and the log says why), or
/// always unpacked (`--workspace unpack`).
public enum WorkspaceMode: String, Sendable, CaseIterable { case overlay, unpack }

/// A buildpacks build's `/workspace` without unpacking: an overlay whose lower folders are the
/// source snapshot's trees (`SnapshotStore`, shared read-only by every build of the snapshot)
/// and whose upper folder, the build's own, catches what buildpacks add, change or delete.
///
/// Each step's bwrap runs inside the `slipway-userns` helper, which mounts the overlay on the
/// workspace folder in a mount namespace of the step's own (nothing is mounted on the host, so
/// nothing outlives a step), in a user namespace mapping one id onto Slipway's user: what the
/// build writes belongs to that user, as in an unpacked workspace.
public struct WorkspaceOverlay: Sendable {
    public let snapshot: Digest
    /// `SnapshotStore.treesPath`: lower folders are named relative to it.
    public let treesPath: String
    /// Tree names, topmost first.
    public let lowers: [String]
    public let upper: String
    public let work: String
    public let merged: String
    public let helper: String

    /// The overlay of `snapshot`'s trees for a workspace under `root`; nil when the snapshot has
    /// no trees (a tar from before manifests) or a path cannot go into overlay's options.
    public init?(snapshot: Digest, store: SnapshotStore, root: String, helper: String) {
        guard let chain = store.chain(snapshot) else { return nil }
        self.snapshot = snapshot
        treesPath = store.treesPath
        lowers = chain.reversed()
        upper = root + "/workspace.upper"
        work = root + "/workspace.work"
        merged = root + "/workspace"
        self.helper = helper
        guard ([treesPath, upper, work, merged] + lowers).allSatisfy(Self.fitsOptions) else { return nil }
    }

    /// Overlay options are split at commas and colons (and take backslashes as escapes).
    static func fitsOptions(_ path: String) -> Bool { !path.contains(where: { $0 == "," || $0 == ":" || $0 == "\\" || $0 == "\n" }) }

    /// A step's bwrap command line, run inside the helper that mounts the overlay first. In a
    /// step network's user namespace (`inNetworkNamespace`), the helper runs as its root, which
    /// is the id the namespace maps onto the caller.
    public func enclosing(_ bwrap: [String], inNetworkNamespace: Bool = false) -> [String] {
        var o = UserNamespaceRunner.Overlay(base: treesPath, lowers: lowers, upper: upper, work: work, merged: merged)
        o.inPlace = true
        let mapping: IDMapping = inNetworkNamespace
            ? .init(users: [.init(inner: 0, outer: 0, count: 1)], groups: [.init(inner: 0, outer: 0, count: 1)], viaNewuidmap: false) : .callerOnly()
        return UserNamespaceRunner(helper: helper, mapping: mapping).arguments(overlay: o, command: bwrap)
    }

    /// Why such an overlay cannot be mounted here (nil when it can), found once per process and
    /// helper by mounting one over folders under `scratch`.
    public static func unavailableReason(helper: String, scratch: String) async -> String? {
        await UserNamespaceRunner(helper: helper, mapping: .callerOnly()).overlayUnavailableReason(scratch: scratch, inPlace: true) {
            guard mkdir($0, 0o755) == 0 else { throw RuntimeError.io("cannot create \($0): \(String(cString: strerror(errno)))") }
        }
    }
}

/// Writes the app layer(s) of a workspace in one pass, with no copy of it: for an unpacked
/// workspace, its folder (with an empty manifest); for an overlay workspace,
/// the snapshot's manifest merged with the upper folder (a path there replaces the snapshot's;
/// a 0:0 character device deletes it; an opaque folder hides what was below), each file read
/// once into the tar stream, which the content store hashes as it is written. The bytes are
/// those of a tar of the merged folder (`TarWriter.addTree`).
///
/// The upper folder is what build steps wrote: it is read through descriptors that never follow
/// a symlink, and sockets, FIFOs and devices other than whiteouts are left out, as `addTree`
/// leaves them out.
enum AppLayerWriter {
    /// A folder of the merged workspace: its path, the upper folder's (nil when the upper
    /// folder has none), and whether the snapshot's entries below it show.
    struct Folder {
        let path: String
        let upper: ConfinedDirectory?
        let lowerVisible: Bool
    }

    /// An entry of a merged folder: from the upper folder, from the snapshot's manifest (its
    /// index), or both (the upper one wins).
    struct Merged {
        let name: String
        let lower: Int?
        let inUpper: Bool
    }

    /// Writes the layer(s); a workspace past `limits` fails with `TreeLimitExceeded`.
    static func write(manifest: SnapshotManifest, trees: SnapshotStore.ChainReader?, upper: ConfinedDirectory, prefix: String,
                      owner: TarWriter.Owner, limits: TreeLimits = .default, into tar: any TarEntrySink) throws {
        // Each folder's entries, by the folder's path ("" for the top).
        var children: [String: [Int]] = [:]
        for (i, e) in manifest.entries.enumerated() {
            let folder = e.path.lastIndex(of: "/").map { String(e.path[..<$0]) } ?? ""
            children[folder, default: []].append(i)
        }
        // A sink that may know a file without its bytes (the chunk planner), cast once.
        let known = tar as? IdentifiedFileSink
        func name(_ e: SnapshotManifest.Entry) -> String { e.path.lastIndex(of: "/").map { String(e.path[e.path.index(after: $0)...]) } ?? e.path }

        /// The folder's entries, the snapshot's and the upper folder's merged in byte order.
        func merged(_ folder: Folder) throws -> [Merged] {
            let lower = folder.lowerVisible ? (children[folder.path] ?? []).map { (name(manifest.entries[$0]), $0) } : []
            let upperNames = try folder.upper?.entries() ?? []
            var out: [Merged] = []
            var i = 0, j = 0
            while i < lower.count || j < upperNames.count {
                if j >= upperNames.count || (i < lower.count && Array(lower[i].0.utf8).lexicographicallyPrecedes(Array(upperNames[j].utf8))) {
                    out.append(Merged(name: lower[i].0, lower: lower[i].1, inUpper: false))
                    i += 1
                } else {
                    var fromLower: Int?
                    if i < lower.count && lower[i].0 == upperNames[j] {
                        fromLower = lower[i].1
                        i += 1
                    }
                    out.append(Merged(name: upperNames[j], lower: fromLower, inUpper: true))
                    j += 1
                }
            }
            return out
        }

        func writeUpper(_ name: String, path: String, in upper: ConfinedDirectory, lowerIsFolder: Bool) throws -> Folder? {
            var st = stat()
            guard fstatat(upper.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }  // gone meanwhile
            let mode = Int(st.st_mode & 0o7777)
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                try tar.addDirectory(prefix + path, mode: mode, owner: owner)
                let sub = try upper.openDirectory(name)
                return Folder(path: path, upper: sub, lowerVisible: lowerIsFolder && !OverlayDiff.isOpaque(sub.fd))
            case S_IFREG:
                if let known,
                   try known.takesFile(prefix + path, identity: AppLayerChunks.inodeIdentity(st), size: Int64(st.st_size), mode: mode, owner: owner) {
                    return nil
                }
                try tar.addFile(prefix + path, named: name, in: upper, mode: mode, owner: owner)
            case S_IFLNK:
                try tar.addSymlink(prefix + path, target: try upper.readLink(name), owner: owner)
            default:
                break  // a whiteout (0:0 device) deletes the path; sockets, FIFOs and devices are never in a layer
            }
            return nil
        }

        func writeLower(_ e: SnapshotManifest.Entry) throws -> Folder? {
            switch e.kind {
            case .directory:
                try tar.addDirectory(prefix + e.path, mode: Int(e.mode), owner: owner)
                return Folder(path: e.path, upper: nil, lowerVisible: true)
            case .symlink:
                try tar.addSymlink(prefix + e.path, target: e.target, owner: owner)
            case .file:
                if let known, let digest = e.digest,
                   try known.takesFile(prefix + e.path, identity: "c:" + digest.hex, size: e.size, mode: Int(e.mode), owner: owner) {
                    return nil
                }
                guard let fd = trees?.open(e.path) else { throw RuntimeError.notFound("source snapshot tree lacks \(e.path); patch the image with its source again") }
                defer { close(fd) }
                var st = stat()
                guard fstat(fd, &st) == 0, Int64(st.st_size) == e.size else { throw RuntimeError.io("source snapshot tree holds \(e.path) with another size than its manifest") }
                try tar.addFile(prefix + e.path, fd: fd, size: e.size, mode: Int(e.mode), owner: owner)
            }
            return nil
        }

        try TreeWalker("/workspace", limits: limits).walk(
            from: Folder(path: "", upper: upper, lowerVisible: true), entries: merged, name: { $0.name },
            visit: { folder, entry, path in
                if entry.inUpper, let upper = folder.upper {
                    return try writeUpper(entry.name, path: path, in: upper, lowerIsFolder: entry.lower.map { manifest.entries[$0].kind == .directory } ?? false)
                }
                return try entry.lower.flatMap { try writeLower(manifest.entries[$0]) }
            })
    }
}
