import Foundation

/// A read-only merged view of a stage's layer folders, as overlayfs would show them, without
/// mounting anything: a path is looked up in the folders topmost first; a 0:0 character device
/// (a whiteout) hides what is below it, and an opaque folder hides the folders below it. COPY
/// --from reads a stage through it, and USER looks names up in its /etc/passwd. Every folder
/// was written by a build step, so it is read through descriptors that never follow a symlink:
/// `node` takes a path as it is, and `resolve` follows symlinks the way a container would,
/// inside the view only.
public struct LayerChainView: Sendable {
    /// Folders, topmost first.
    let folders: [ConfinedDirectory]

    public init(folders: [ConfinedDirectory]) { self.folders = folders }

    /// What a path is in the merged view.
    ///
    /// `@unchecked Sendable`: `stat` is a C struct of plain numbers (Glibc does not mark it),
    /// and `ConfinedDirectory` is Sendable.
    public enum Node: @unchecked Sendable {
        case file(ConfinedDirectory, String, stat)
        case symlink(target: String, stat)
        case directory([ConfinedDirectory], stat)
    }

    /// The folder's own status, from its descriptor.
    static func status(of dir: ConfinedDirectory) -> stat? {
        var st = stat()
        return fstat(dir.fd, &st) == 0 ? st : nil
    }

    static func isWhiteout(_ st: stat) -> Bool { (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == 0 }

    /// The node at `path` (relative, `/`-separated, no `..`); nil when it is not there.
    public func node(_ path: String) throws -> Node? {
        let parts = PathSyntax.components(path)
        guard parts.allSatisfy(PathSyntax.isNormalComponent) else { return nil }
        if parts.isEmpty {
            guard let st = folders.first.flatMap(Self.status) else { return nil }
            return .directory(folders, st)
        }
        var dirs = folders
        for (i, name) in parts.enumerated() {
            let last = i == parts.count - 1
            var next: [ConfinedDirectory] = []
            search: for d in dirs {
                guard let st = try d.status(name) else {
                    // An OCI whiteout file (a folder a copied step wrote, `CopySnapshot`) hides it too.
                    if try d.status(OverlayDiff.whiteoutPrefix + name).map({ ($0.st_mode & S_IFMT) == S_IFREG }) == true { break search }
                    continue
                }
                if Self.isWhiteout(st) { break search }
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    let sub = try d.openDirectory(name)
                    next.append(sub)
                    if OverlayDiff.isOpaque(sub.fd) { break search }
                case S_IFREG where last && next.isEmpty:
                    return .file(d, name, st)
                case S_IFLNK where last && next.isEmpty:
                    return .symlink(target: try d.readLink(name), st)
                default:
                    break search  // a file above hides folders below, a folder above hides files
                }
            }
            guard !next.isEmpty else { return nil }
            if last, let st = Self.status(of: next[0]) { return .directory(next, st) }
            dirs = next
        }
        return nil
    }

    /// A path resolved as a container resolves it in its root (`openat2`'s `RESOLVE_IN_ROOT`):
    /// every symlink followed inside the view, an absolute target from its root, `..` never
    /// above it.
    public struct Resolution: @unchecked Sendable {
        /// The path with every symlink followed: no component is a symlink (but the last, when
        /// it was not to be followed).
        public var components: [String]
        /// How many of `components`, from the first, exist; the rest are missing.
        public var existing: Int
        /// What is at the path; nil when it is missing.
        public var node: Node?

        /// The path, absolute.
        public var absolute: String { "/" + components.joined(separator: "/") }
    }

    /// Why a path cannot be resolved in a view.
    public struct ResolutionError: Error, Sendable, CustomStringConvertible {
        public let path: String
        public let why: String
        public var description: String { "\(path) \(why)" }
    }

    /// Symlinks followed at most while resolving one path, as Linux's ELOOP limit.
    public static let maxSymlinks = 40

    /// Resolves `path` (absolute or relative to the root; `/`-separated) inside the view, as
    /// a container would: the last component's symlink is followed too unless `followLast` is
    /// false. Once a component is missing, the rest is taken as written (a `..` drops the
    /// component before it). A file or other non-folder where a folder belongs, or more than
    /// `maxSymlinks` links, is an error.
    public func resolve(_ path: String, followLast: Bool = true) throws -> Resolution {
        var pending = Array(path.split(separator: "/", omittingEmptySubsequences: true).map(String.init).reversed())
        var resolved: [String] = []
        var existing = true
        var node: Node? = nil
        var links = 0
        while let part = pending.popLast() {
            if part == "." { continue }
            if part == ".." {
                if !resolved.isEmpty { resolved.removeLast() }
                // Back from a missing component: what is left may exist again.
                if !existing { existing = try self.node(resolved.joined(separator: "/")) != nil }
                node = nil
                continue
            }
            guard existing, let found = try self.node((resolved + [part]).joined(separator: "/")) else {
                existing = false
                resolved.append(part)
                node = nil
                continue
            }
            switch found {
            case .symlink(let target, _) where followLast || !pending.isEmpty:
                links += 1
                guard links <= Self.maxSymlinks else {
                    throw ResolutionError(path: path, why: "has more than \(Self.maxSymlinks) symlinks to follow (a loop?)")
                }
                if target.hasPrefix("/") { resolved = [] }
                pending.append(contentsOf: target.split(separator: "/", omittingEmptySubsequences: true).map(String.init).reversed())
                node = nil
            case .directory:
                resolved.append(part)
                node = found
            default:
                guard pending.isEmpty else {
                    throw ResolutionError(path: path, why: "passes through /\((resolved + [part]).joined(separator: "/")), which is not a folder")
                }
                resolved.append(part)
                node = found
            }
        }
        if node == nil { node = try self.node(resolved.joined(separator: "/")) }
        var count = resolved.count
        if node == nil {
            // The longest prefix that exists.
            count = 0
            while count < resolved.count, try self.node(resolved[0...count].joined(separator: "/")) != nil { count += 1 }
        }
        return Resolution(components: resolved, existing: count, node: node)
    }

    /// The merged names of a folder (its layers' folders, topmost first), whiteouts applied.
    public static func entries(of layers: [ConfinedDirectory]) throws -> [String] {
        var seen = Set<String>()
        var hidden = Set<String>()
        for d in layers {
            for name in try d.entries() where !seen.contains(name) && !hidden.contains(name) {
                guard let st = try d.status(name) else { continue }
                if name.hasPrefix(OverlayDiff.whiteoutPrefix), (st.st_mode & S_IFMT) == S_IFREG {
                    hidden.insert(String(name.dropFirst(OverlayDiff.whiteoutPrefix.count)))
                } else if isWhiteout(st) {
                    hidden.insert(name)
                } else {
                    seen.insert(name)
                }
            }
            if OverlayDiff.isOpaque(d.fd) { break }
        }
        return seen.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// The uid and gid of a `USER` value (`name`, `uid`, `name:group`, `uid:gid`) from the
    /// view's /etc/passwd and /etc/group; a name that is not there is an error.
    public func user(_ spec: String) throws -> (uid: Int, gid: Int) {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        func table(_ file: String) throws -> [[String]] {
            guard case .file(let d, let name, _)? = try node("etc/" + file) else { return [] }
            return try d.readText(name, maxBytes: 4 << 20).split(separator: "\n").map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
        }
        let passwd = try table("passwd")
        var uid: Int, gid: Int
        if let n = Int(parts[0]) {
            uid = n
            gid = passwd.first { $0.count >= 4 && Int($0[2]) == n }.flatMap { Int($0[3]) } ?? n
        } else {
            guard let row = passwd.first(where: { $0.count >= 4 && $0[0] == parts[0] }), let u = Int(row[2]), let g = Int(row[3]) else {
                throw RuntimeError.buildFailed("user \"\(parts[0])\" is not in the image's /etc/passwd")
            }
            uid = u
            gid = g
        }
        if parts.count == 2 {
            if let n = Int(parts[1]) {
                gid = n
            } else {
                guard let row = try table("group").first(where: { $0.count >= 3 && $0[0] == parts[1] }), let g = Int(row[2]) else {
                    throw RuntimeError.buildFailed("group \"\(parts[1])\" is not in the image's /etc/group")
                }
                gid = g
            }
        }
        guard (0..<Int(IDMapping.size)).contains(uid), (0..<Int(IDMapping.size)).contains(gid) else {
            throw RuntimeError.buildFailed("user \(spec) is \(uid):\(gid), outside the 0–\(IDMapping.size - 1) ids a build step has")
        }
        return (uid, gid)
    }
}
