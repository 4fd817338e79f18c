import Foundation

/// Files an extraction may take from an earlier one instead of writing them: the folder the
/// earlier one made (never written since) and what it noted of each regular file (content
/// digest, mode). A file of the same path, content and mode is hard-linked from there: no
/// new inode and no write, which is most of what unpacking costs. Every extraction given a
/// `ArchiveFileReuse` notes its own files in `files`, for the next one.
///
/// `@unchecked Sendable`: one extraction uses it, on the thread that runs it; `files` is read
/// when it is done.
public final class ArchiveFileReuse: @unchecked Sendable {
    public struct FileRecord: Codable, Equatable, Sendable {
        public var digest: String
        public var mode: UInt32
    }
    /// Files larger than this are written as they stream (and not noted).
    static let maxBuffered = 8 << 20
    let previous: ConfinedDirectory?
    let previousFiles: [String: FileRecord]
    public private(set) var files: [String: FileRecord] = [:]
    public private(set) var linked = 0
    private var lastParent: (path: String, dir: ConfinedDirectory)?

    public init(previous: ConfinedDirectory?, files: [String: FileRecord]) {
        self.previous = previous
        self.previousFiles = files
    }

    /// Links the earlier extraction's `path` as `name` in `parent` when it had `record`.
    func link(_ path: String, record: FileRecord, as name: String, in parent: ConfinedDirectory) -> Bool {
        files[path] = record
        guard let previous, previousFiles[path] == record else { return false }
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[..<$0]) } ?? ""
        let file = slash.map { String(path[path.index(after: $0)...]) } ?? path
        // Walked without following a symlink, and kept for the next file of the folder.
        if lastParent?.path != folder {
            // A folder the earlier extraction lacks (or holds otherwise) links nothing.
            guard let dir = folder.isEmpty ? previous : try? previous.openDirectory(folder) else { return false }  // see above
            lastParent = (folder, dir)
        }
        guard let dir = lastParent?.dir, let st = try? dir.status(file), (st.st_mode & S_IFMT) == S_IFREG else { return false }  // no such file there: nothing to link
        if linkat(dir.fd, file, parent.fd, name, 0) == 0 {
            linked += 1
            return true
        }
        return false
    }
}
