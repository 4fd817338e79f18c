import Foundation

/// What a source snapshot holds, without the bytes: every folder, file and symlink with its
/// mode, size, link target and content digest, in the order a tar of the tree would list them
/// (depth first, names in byte order). Its canonical encoding is what a snapshot's digest names,
/// so the digest of a tree whose files are known by their stat needs none of their bytes.
public struct SnapshotManifest: Sendable, Equatable {
    /// One folder, file or symlink of the tree.
    public struct Entry: Sendable, Equatable {
        public enum Kind: UInt8, Sendable { case directory = 0x64, file = 0x66, symlink = 0x6C }  // d, f, l
        /// Relative to the tree, components joined by "/".
        public var path: String
        public var kind: Kind
        /// Permission bits as a build gets them: no setuid/setgid, folders always 0700 or more.
        public var mode: UInt32
        public var size: Int64
        /// A file's content digest.
        public var digest: Digest?
        /// A symlink's target, as written.
        public var target: String

        public init(path: String, kind: Kind, mode: UInt32, size: Int64 = 0, digest: Digest? = nil, target: String = "") {
            self.path = path
            self.kind = kind
            self.mode = Self.normalized(mode, kind: kind)
            self.size = kind == .file ? size : 0
            self.digest = kind == .file ? digest : nil
            self.target = kind == .symlink ? target : ""
        }

        /// The mode a restore gives an entry (what `ArchiveExtractor` does with a source's).
        public static func normalized(_ mode: UInt32, kind: Kind) -> UInt32 {
            switch kind {
            case .directory: return (mode & 0o1777) | 0o700
            case .file: return mode & 0o1777
            case .symlink: return 0o777
            }
        }
    }

    /// Entries in tree order (`SnapshotManifest.precedes`).
    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    public var fileCount: Int { entries.reduce(0) { $0 + ($1.kind == .file ? 1 : 0) } }
    public var totalBytes: Int64 { entries.reduce(0) { $0 + $1.size } }

    static let header = Array("slipway-snapshot-manifest 1\n".utf8)

    /// The canonical bytes: a header line, then per entry `kind mode size digest` (mode in
    /// octal, "-" for no digest), the path and the target, each ended by a NUL (names may hold
    /// any byte but NUL and "/").
    public func encoded() -> [UInt8] {
        var out = Self.header
        out.reserveCapacity(entries.count * 120)
        for e in entries {
            out.append(e.kind.rawValue)
            out.append(UInt8(ascii: " "))
            out.appendNumber(UInt64(e.mode), radix: 8)
            out.append(UInt8(ascii: " "))
            out.appendNumber(e.size)
            out.append(UInt8(ascii: " "))
            if let d = e.digest { out += d.hex.utf8 } else { out.append(UInt8(ascii: "-")) }
            out.append(0)
            out += e.path.utf8
            out.append(0)
            out += e.target.utf8
            out.append(0)
        }
        return out
    }

    /// The snapshot digest: that of the canonical bytes.
    public var digest: Digest { Digest.of(encoded()) }

    /// Reads the canonical bytes back; anything else is refused.
    public init(decoding bytes: [UInt8]) throws {
        guard bytes.starts(with: Self.header) else { throw RuntimeError.invalid("not a snapshot manifest") }
        var fields: [Substring] = []
        var entries: [Entry] = []
        var start = Self.header.count
        var i = start
        func bad() -> RuntimeError { RuntimeError.invalid("a damaged snapshot manifest (entry \(entries.count + 1))") }
        while i < bytes.count {
            guard bytes[i] == 0 else { i += 1; continue }
            fields.append(Substring(decoding: bytes[start..<i], as: UTF8.self))
            start = i + 1
            i += 1
            guard fields.count == 3 else { continue }
            let head = fields[0].split(separator: " ")
            guard head.count == 4, let k = head[0].utf8.first, head[0].count == 1, let kind = Entry.Kind(rawValue: k),
                  let mode = UInt32(head[1], radix: 8), let size = Int64(head[2]) else { throw bad() }
            let digest = head[3] == "-" ? nil : Digest("sha256:" + head[3])
            guard (kind == .file) == (digest != nil) else { throw bad() }
            entries.append(Entry(path: String(fields[1]), kind: kind, mode: mode, size: size, digest: digest, target: String(fields[2])))
            fields.removeAll(keepingCapacity: true)
        }
        guard fields.isEmpty, start == bytes.count else { throw bad() }
        self.entries = entries
    }

    /// Tree order: by path components, each compared by its bytes (a folder's contents follow
    /// it at once, as in a depth-first walk whose names are sorted).
    public static func precedes(_ a: String, _ b: String) -> Bool {
        var i = a.utf8.makeIterator(), j = b.utf8.makeIterator()
        while true {
            switch (i.next(), j.next()) {
            case (nil, nil): return false
            case (nil, _): return true
            case (_, nil): return false
            case let (x?, y?):
                if x == y { continue }
                if x == UInt8(ascii: "/") { return true }
                if y == UInt8(ascii: "/") { return false }
                return x < y
            }
        }
    }
}
