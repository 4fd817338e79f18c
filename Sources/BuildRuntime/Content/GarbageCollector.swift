import Foundation

/// Mark and sweep over what Slipway keeps on disk by content: blobs in a content store (the
/// state's, or an image layout's), and folders named by a digest (unpacked build images,
/// buildpacks). The caller names the roots; this type finds what they reach and removes the
/// rest. A file changed after the collection began is never removed: whatever is written,
/// linked or reused meanwhile (`ContentStore` touches a blob it reuses or links) survives.
/// The engine dates a collection back to the start of the oldest running build, which is the
/// lease that makes collecting safe while builds run: what a build wrote or linked into its
/// layout before the collection, and that nothing reaches until the layout is written, stays.
/// Removing only unlinks files, so a process killed in the middle loses nothing that was
/// reachable.
public struct GarbageCollector: Sendable {
    /// When the collection counts as begun (the start of the oldest running build when that is
    /// earlier): files changed since are kept.
    public let started: Date
    /// Report only: nothing is removed.
    public let dryRun: Bool

    public init(started: Date = Date(), dryRun: Bool) {
        self.started = started
        self.dryRun = dryRun
    }

    /// What a sweep removed (or would remove).
    public struct Freed: Sendable, Equatable {
        public var count = 0
        /// Bytes given back: files whose last link was removed.
        public var bytes: Int64 = 0
        public init() {}
        public static func + (a: Freed, b: Freed) -> Freed {
            var r = a
            r.count += b.count
            r.bytes += b.bytes
            return r
        }
    }

    /// Every blob `roots` reach in `store`: an index reaches its manifests, a manifest its
    /// config and layers. A root or manifest the store lacks reaches nothing more.
    public static func reachable(from roots: [Digest], in store: ContentStore) -> Set<Digest> {
        var seen = Set<Digest>()
        var pending = roots
        while let d = pending.popLast() {
            guard seen.insert(d).inserted, store.contains(d) else { continue }
            // Metadata is small; a blob that is not a readable index or manifest (a layer, a
            // config, a damaged file) reaches nothing further.
            guard let data = try? store.read(d), let probe = try? JSONDecoder().decode(Probe.self, from: data) else { continue }  // see above
            pending += (probe.manifests ?? []).map(\.digest)
            if let config = probe.config { pending.append(config.digest) }
            pending += (probe.layers ?? []).map(\.digest)
        }
        return seen
    }

    /// The manifests an image layout's `index.json` names; none when it has none or cannot be read.
    public static func taggedManifests(inLayoutAt path: String) -> [Digest] {
        guard let layout = try? OCILayout(path: path, create: false), let index = try? layout.index() else { return [] }  // see the doc comment
        return index.manifests.map(\.digest)
    }

    /// Removes the blobs of `store` that are not in `keep` and older than the collection.
    /// First puts back what an earlier collection, killed half way, left moved aside.
    public func sweepBlobs(of store: ContentStore, keep: Set<Digest>) -> Freed {
        var freed = Freed()
        let dir = store.blobsDirectory.path
        let listed = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []  // no blobs folder: nothing to sweep
        var names = Set(listed)
        if !dryRun {
            for name in listed where name.hasPrefix(Self.asidePrefix) {
                let back = String(name.dropFirst(Self.asidePrefix.count))
                Self.putBack(dir + "/" + name, as: dir + "/" + back)
                names.insert(back)  // swept below like any other: still garbage, it goes now
            }
        }
        for name in names.sorted() {
            guard let digest = Digest("sha256:" + name), !keep.contains(digest) else { continue }
            freed = freed + remove(dir + "/" + name)
        }
        return freed
    }

    /// Names a file a collection moved aside before removing it (`remove`).
    static let asidePrefix = ".gc-"

    /// Gives a file moved aside its name back, unless a fresh one took the name meanwhile.
    static func putBack(_ aside: String, as path: String) {
        if link(aside, path) != 0 && errno != EEXIST { return }  // left aside: the next collection tries again
        unlink(aside)
    }

    /// Removes the folders in `dir` whose names are not in `keep` and that are older than the
    /// collection (names starting with "." are another process's temporaries: left alone). A
    /// folder is first renamed aside (`.gc-<name>`), so a collection killed while removing it
    /// leaves no half of it under its name (an image layout whose index.json names blobs already
    /// gone); the next sweep of `dir` removes what was left aside.
    public func sweepFolders(in dir: String, keep: Set<String>) -> Freed {
        var freed = Freed()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []  // no folder: nothing to sweep
        if !dryRun {
            for name in names where name.hasPrefix(Self.asidePrefix) {
                // Already decided; one that cannot be removed now is tried again next time.
                _ = try? ConfinedDirectory.removeTree(atPath: dir + "/" + name)
            }
        }
        for name in names where !name.hasPrefix(".") && !keep.contains(name) {
            freed = freed + removeAside(name, in: dir)
        }
        return freed
    }

    /// `remove` for an entry of `dir`, a folder renamed aside before its tree is removed.
    private func removeAside(_ name: String, in dir: String) -> Freed {
        let path = dir + "/" + name
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return remove(path) }
        guard Self.modified(st) < started else { return Freed() }
        let freed = Self.measure(path)
        guard !dryRun else { return freed }
        let aside = dir + "/" + Self.asidePrefix + name
        guard rename(path, aside) == 0 else { return Freed() }
        // One that cannot be removed whole now is removed by the next sweep of `dir`.
        guard (try? ConfinedDirectory.removeTree(atPath: aside)) != nil else { return Freed() }
        return freed
    }

    /// Removes a file, or a folder with everything in it, unless it changed since the
    /// collection began.
    public func remove(_ path: String) -> Freed {
        var st = stat()
        guard lstat(path, &st) == 0, Self.modified(st) < started else { return Freed() }
        let freed = Self.measure(path)
        guard !dryRun else { return freed }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            // A folder that cannot be removed whole is left for the next collection.
            guard (try? ConfinedDirectory.removeTree(atPath: path)) != nil else { return Freed() }  // see above
            return freed
        }
        // A writer may reuse the blob (touch it, `ContentStore.reuse`) and name it in an index
        // between the look above and the removal: it is moved aside, looked at again, and put
        // back when it changed. A writer that comes once it is aside finds no blob and writes
        // it anew.
        let name = (path as NSString).lastPathComponent
        let aside = (path as NSString).deletingLastPathComponent + "/" + Self.asidePrefix + name
        guard rename(path, aside) == 0 else { return Freed() }
        guard lstat(aside, &st) == 0, Self.modified(st) < started else {
            Self.putBack(aside, as: path)
            return Freed()
        }
        guard unlink(aside) == 0 else { return Freed() }
        return freed
    }

    /// The files under `path` (or `path` itself) and the bytes given back were they removed:
    /// a file counts when this is its last link. A tree a build step left can be of any depth:
    /// it is walked without recursion, and what lies deeper than `TreeLimits.default.maxDepth`
    /// is not counted (it is removed all the same).
    public static func measure(_ path: String) -> Freed {
        var freed = Freed()
        var st = stat()
        guard lstat(path, &st) == 0 else { return freed }
        freed.count = 1
        if (st.st_mode & S_IFMT) != S_IFDIR {
            if st.st_nlink <= 1 { freed.bytes = Int64(st.st_size) }
            return freed
        }
        TreeWalker.forEachFile(underPath: path) { file in
            if file.st_nlink <= 1 { freed.bytes += Int64(file.st_size) }
        }
        return freed
    }

    static func modified(_ st: stat) -> Date {
        Date(timeIntervalSince1970: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
    }

    /// What an index or manifest names.
    private struct Probe: Decodable {
        var manifests: [OCIDescriptor]?
        var config: OCIDescriptor?
        var layers: [OCIDescriptor]?
    }
}
