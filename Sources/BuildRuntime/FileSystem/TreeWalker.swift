import Foundation

/// How deep and how large a tree that a build step, buildpack, source or archive wrote may be
/// before a walk of it gives up. Such a tree can be made deep enough to overflow any recursive
/// walk (25,000 nested folders crashed the engine), and large enough to exhaust memory; every
/// walk of one goes through `TreeWalker`, which keeps to these limits.
public struct TreeLimits: Sendable, Equatable {
    /// Levels of folders below the walk's top folder: an entry of the top folder is at level 1.
    /// A walk holds one open descriptor per level, so this also bounds the descriptors it uses.
    public var maxDepth: Int
    /// Files, folders and symlinks in the whole tree.
    public var maxEntries: Int

    public init(maxDepth: Int, maxEntries: Int) {
        self.maxDepth = maxDepth
        self.maxEntries = maxEntries
    }

    public static let `default` = TreeLimits(maxDepth: 1024, maxEntries: 10_000_000)
}

/// A walk of a tree stopped at one of its `TreeLimits`, so that the build (or the request) fails
/// with a message that says what was wrong instead of the engine running out of stack or memory.
public struct TreeLimitExceeded: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which limit was reached, and its value.
    public enum Limit: Sendable, Equatable {
        case depth(Int)
        case entries(Int)
    }

    /// How messages name the tree ("the step's changes", "/workspace", "the source").
    public let tree: String
    public let limit: Limit
    /// Where the limit was reached, relative to the tree's top (shortened: it can be very long).
    public let path: String

    public init(tree: String, limit: Limit, path: String) {
        self.tree = tree
        self.limit = limit
        self.path = PathSyntax.shortened(path, limit: 120)
    }

    public var description: String {
        switch limit {
        case .depth(let n):
            return "\(tree) holds folders nested more than \(n) levels deep (at \(path)); Slipway does not walk trees that deep: keep folders at most \(n) levels deep"
        case .entries(let n):
            return "\(tree) holds more than \(n) files and folders (the walk stopped in \(path.isEmpty ? "its top folder" : path)); Slipway does not walk trees that large: keep fewer files"
        }
    }
}

/// A depth-first walk of a tree that an untrusted party wrote, with an explicit stack instead of
/// recursion, so that no depth of tree can run the walking thread out of stack. Entries are
/// visited in pre-order, each folder's in the order `entries` lists them (`ConfinedDirectory
/// .entries()` sorts names by their bytes, which is what makes layer tars reproducible), and
/// the walk fails with `TreeLimitExceeded` past `limits`. It holds one `Folder` (typically one
/// open descriptor) per level.
///
/// It is generic over what a folder is (one open folder, a chain of layer folders, a folder and
/// its copy) and what an item is (a name, or a name with what a manifest says of it).
public struct TreeWalker: Sendable {
    /// How `TreeLimitExceeded` names the tree.
    public let tree: String
    public let limits: TreeLimits

    public init(_ tree: String, limits: TreeLimits = .default) {
        self.tree = tree
        self.limits = limits
        _ = Self.openFilesRaised
    }

    /// A walk holds a descriptor per level, `maxDepth` of them at most: more than the soft
    /// limit of open files many users get (1024). The process raises its soft limit to its hard
    /// one, once, as Go's runtime does at start, so that a tree at the depth limit fails with
    /// the limit's message, not EMFILE. (Nothing here uses `select`, whose sets stop at 1024.)
    static let openFilesRaised: Void = {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)  // refused: walks fail at EMFILE with an I/O error, as before
    }()

    /// Walks the tree below `root`.
    /// - Parameters:
    ///   - entries: a folder's items, in the order they are visited.
    ///   - name: an item's name, which paths are made of.
    ///   - visit: called for each item with its folder and its path (the folder's path, "/",
    ///     its name; relative to `root`); returns the folder to descend into, or nil.
    ///   - leave: called for each folder, the root included, once everything below it has been
    ///     visited (for work that has to follow its entries, like setting a folder's mode).
    public func walk<Folder, Item>(
        from root: Folder,
        entries: (Folder) throws -> [Item],
        name: (Item) -> String,
        visit: (_ folder: Folder, _ item: Item, _ path: String) throws -> Folder?,
        leave: (_ folder: Folder, _ path: String) throws -> Void = { _, _ in }
    ) throws {
        var seen = 0
        func frame(_ folder: Folder, _ path: String, depth: Int) throws -> Frame<Folder, Item> {
            let listed = try entries(folder)
            seen += listed.count
            if seen > limits.maxEntries { throw TreeLimitExceeded(tree: tree, limit: .entries(limits.maxEntries), path: path) }
            if depth > limits.maxDepth, let first = listed.first {
                throw TreeLimitExceeded(tree: tree, limit: .depth(limits.maxDepth), path: Self.join(path, name(first)))
            }
            return Frame(folder: folder, path: path, pending: listed.reversed())
        }
        var stack = [try frame(root, "", depth: 1)]
        while !stack.isEmpty {
            guard let item = stack[stack.count - 1].pending.popLast() else {
                let done = stack.removeLast()
                try leave(done.folder, done.path)
                continue
            }
            let (folder, path) = (stack[stack.count - 1].folder, Self.join(stack[stack.count - 1].path, name(item)))
            if let sub = try visit(folder, item, path) {
                stack.append(try frame(sub, path, depth: stack.count + 1))
            }
        }
    }

    /// A folder on the walk's stack.
    private struct Frame<Folder, Item> {
        let folder: Folder
        let path: String
        /// Items still to visit, last first (popped from the end).
        var pending: [Item]
    }

    /// `folder/name`, or `name` at the top.
    public static func join(_ folder: String, _ name: String) -> String { folder.isEmpty ? name : folder + "/" + name }

    /// The common case: the tree below one open folder, each entry with its `lstat` (an entry
    /// gone since the folder was listed is skipped). `visit` returns the folder to descend into
    /// (`entry.folder.openDirectory(entry.name)`, which never follows a symlink), or nil.
    public func walk(
        _ root: ConfinedDirectory,
        visit: (_ entry: Entry) throws -> ConfinedDirectory?,
        leave: (_ folder: ConfinedDirectory, _ path: String) throws -> Void = { _, _ in }
    ) throws {
        try walk(from: root, entries: { try $0.entries() }, name: { $0 },
                 visit: { folder, name, path in
                     guard let st = try folder.status(name) else { return nil }
                     return try visit(Entry(folder: folder, name: name, path: path, status: st))
                 },
                 leave: leave)
    }

    /// An entry met by `walk(_:visit:leave:)`.
    public struct Entry {
        /// The folder it is in, open.
        public let folder: ConfinedDirectory
        public let name: String
        /// Relative to the walk's top folder.
        public let path: String
        /// Its `lstat`.
        public let status: stat
        /// The `S_IFMT` bits of its mode.
        public var type: mode_t { status.st_mode & S_IFMT }
    }

    /// Calls `body` with the `lstat` of every regular file under the host path `path` (or of
    /// `path` itself, when it is a file), following no symlink: what garbage collection and the
    /// quota measure. It never fails: what cannot be read is left out, and folders more than
    /// `limits.maxDepth` levels down are not entered (what is in them is not counted).
    public static func forEachFile(underPath path: String, limits: TreeLimits = .default, _ body: (stat) -> Void) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFREG { body(st) }
        guard (st.st_mode & S_IFMT) == S_IFDIR, let top = try? ConfinedDirectory(path: path) else { return }  // not a folder it may open: nothing under it to visit
        struct Level { let dir: ConfinedDirectory; let depth: Int }
        // The entry count is not limited and the depth never passed (folders at the limit are
        // not entered), and neither closure throws: this walk cannot fail, hence `try?`.
        try? TreeWalker("", limits: TreeLimits(maxDepth: limits.maxDepth, maxEntries: .max)).walk(  // see above
            from: Level(dir: top, depth: 0),
            entries: { (try? $0.dir.entries()) ?? [] },  // a folder that cannot be listed counts as empty
            name: { $0 },
            visit: { level, name, _ in
                var st = stat()
                guard fstatat(level.dir.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }  // gone meanwhile
                switch st.st_mode & S_IFMT {
                case S_IFREG:
                    body(st)
                    return nil
                case S_IFDIR where level.depth + 1 < limits.maxDepth:
                    // One that cannot be opened (no permission, replaced meanwhile) is left out.
                    return (try? level.dir.openDirectory(name)).map { Level(dir: $0, depth: level.depth + 1) }  // see above
                default:
                    return nil
                }
            })
    }
}
