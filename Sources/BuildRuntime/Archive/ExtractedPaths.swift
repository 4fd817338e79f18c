import Foundation

/// What one extraction (one layer) wrote, by symlink-free path below the root: whiteouts
/// hide everything else in a folder, and hard links may name only its regular files.
struct ExtractedPaths {
    /// A file by device and inode: the one this extraction wrote at a path, not another put
    /// there since.
    struct FileID: Equatable {
        let device: dev_t
        let inode: ino_t
        init(_ st: stat) { (device, inode) = (st.st_dev, st.st_ino) }
    }
    /// Every path the extraction created or declared, and the folders above each.
    private var paths: Set<String> = []
    /// The folders above them.
    private var folders: Set<String> = []
    /// The regular files among them.
    private var files: [String: FileID] = [:]
    /// Devices, FIFOs and sockets it left out.
    private var skipped: Set<String> = []
    /// The folder of the last path noted, whose folders above are noted already.
    private var lastFolder: ArraySlice<String> = []

    static func key(_ parts: [String]) -> String { parts.joined(separator: "/") }

    /// Notes `parts` (not a regular file) and the folders above it.
    mutating func note(_ parts: [String]) {
        guard !parts.isEmpty else { return }
        let folder = parts.dropLast()
        if folder != lastFolder {
            var prefix = ""
            for part in folder {
                prefix = prefix.isEmpty ? part : prefix + "/" + part
                paths.insert(prefix)
                folders.insert(prefix)
            }
            lastFolder = folder
        }
        let key = Self.key(parts)
        paths.insert(key)
        files[key] = nil
        skipped.remove(key)
    }

    /// Notes the regular file `parts`, just made as its last name in `parent`.
    mutating func noteFile(_ parts: [String], in parent: ConfinedDirectory) throws {
        guard let st = try parent.status(parts[parts.count - 1]) else {
            throw RuntimeError.io("'\(Self.key(parts))' is gone right after it was written")
        }
        note(parts)
        files[Self.key(parts)] = FileID(st)
    }

    /// Notes a device, FIFO or socket left out at `parts`.
    mutating func noteSkipped(_ parts: [String]) {
        files[Self.key(parts)] = nil
        skipped.insert(Self.key(parts))
    }

    func contains(_ parts: [String]) -> Bool { paths.contains(Self.key(parts)) }
    /// Whether anything was noted inside the folder `parts`.
    func holdsEntries(in parts: [String]) -> Bool { parts.isEmpty ? !paths.isEmpty : folders.contains(Self.key(parts)) }
    func file(_ parts: [String]) -> FileID? { files[Self.key(parts)] }
    func isSkipped(_ parts: [String]) -> Bool { skipped.contains(Self.key(parts)) }
}

/// Open parent folders by their (symlink-free) path; consecutive entries mostly share one.
struct ParentFolderCache {
    let root: ConfinedDirectory
    var last: (parts: [String], dir: ConfinedDirectory)?

    mutating func open(_ parts: [String]) throws -> ConfinedDirectory {
        if parts.isEmpty { return root }
        if let last, last.parts == parts { return last.dir }
        let dir = try root.openDirectory(parts.joined(separator: "/"))
        last = (parts, dir)
        return dir
    }

    /// Drops a cached folder that was just removed or replaced.
    mutating func forget(_ parts: [String]) {
        if let last, last.parts.starts(with: parts) { self.last = nil }
    }
}
