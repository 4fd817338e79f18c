import Foundation

/// What a local folder looked like at its last snapshot, as git's index keeps it: per path, the
/// stat fields that change when a file does (size, mtime, ctime, inode, mode) and the content
/// digest or link target they stood for. A re-snapshot reads only the files whose stat differs.
///
/// An entry whose ctime is not older than the walk that recorded it is "racily clean" (it may
/// have changed again within the same clock tick): it is recorded with no ctime, so the next
/// snapshot reads it again.
struct SourceStatIndex {
    struct Entry {
        var mode: UInt32  // st_mode: type and permissions
        var size: Int64
        var mtime: Int64  // nanoseconds
        var ctime: Int64  // nanoseconds; -1 when racily clean
        var inode: UInt64
        var digest: Digest?
        var target: String

        init(_ st: stat, digest: Digest?, target: String, walkStarted: Int64) {
            mode = UInt32(st.st_mode)
            size = Int64(st.st_size)
            mtime = Self.nanoseconds(st.st_mtim)
            let c = Self.nanoseconds(st.st_ctim)
            ctime = c >= walkStarted ? -1 : c
            inode = UInt64(st.st_ino)
            self.digest = digest
            self.target = target
        }

        init(mode: UInt32, size: Int64, mtime: Int64, ctime: Int64, inode: UInt64, digest: Digest?, target: String) {
            (self.mode, self.size, self.mtime, self.ctime, self.inode, self.digest, self.target) = (mode, size, mtime, ctime, inode, digest, target)
        }

        /// Whether `st` shows the same file, unchanged since it was recorded.
        func matches(_ st: stat) -> Bool {
            ctime >= 0 && mode == UInt32(st.st_mode) && size == Int64(st.st_size) && inode == UInt64(st.st_ino)
                && mtime == Self.nanoseconds(st.st_mtim) && ctime == Self.nanoseconds(st.st_ctim)
        }

        static func nanoseconds(_ t: timespec) -> Int64 { Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec) }
    }

    /// The snapshot these entries describe.
    var snapshot: Digest
    var entries: [String: Entry]

    static let header = "slipway-stat-index 1 "

    /// The time a walk starts, on the clock file times come from (the coarse one).
    static func now() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &t)
        return Entry.nanoseconds(t)
    }

    /// Header line, then per path `mode size mtime ctime inode digest`, the path and the target,
    /// each ended by a NUL.
    func encoded() -> [UInt8] {
        var out = Array((Self.header + snapshot.hex + "\n").utf8)
        out.reserveCapacity(entries.count * 160)
        for (path, e) in entries {
            out += Array("\(e.mode) \(e.size) \(e.mtime) \(e.ctime) \(e.inode) \(e.digest?.hex ?? "-")".utf8)
            out.append(0)
            out += Array(path.utf8)
            out.append(0)
            out += Array(e.target.utf8)
            out.append(0)
        }
        return out
    }

    init(snapshot: Digest, entries: [String: Entry]) {
        self.snapshot = snapshot
        self.entries = entries
    }

    /// Reads an index back; nil for anything damaged or of another version (the next snapshot
    /// then reads every file, which is always correct).
    init?(decoding bytes: [UInt8]) {
        guard let newline = bytes.firstIndex(of: 0x0A) else { return nil }
        let head = String(decoding: bytes[..<newline], as: UTF8.self)
        guard head.hasPrefix(Self.header), let snapshot = Digest("sha256:" + head.dropFirst(Self.header.count)) else { return nil }
        var entries: [String: Entry] = [:]
        var fields: [String] = []
        var start = newline + 1
        for i in start..<bytes.count where bytes[i] == 0 {
            fields.append(String(decoding: bytes[start..<i], as: UTF8.self))
            start = i + 1
            guard fields.count == 3 else { continue }
            let n = fields[0].split(separator: " ")
            guard n.count == 6, let mode = UInt32(n[0]), let size = Int64(n[1]), let mtime = Int64(n[2]), let ctime = Int64(n[3]),
                  let inode = UInt64(n[4]) else { return nil }
            let digest = n[5] == "-" ? nil : Digest("sha256:" + n[5])
            entries[fields[1]] = Entry(mode: mode, size: size, mtime: mtime, ctime: ctime, inode: inode, digest: digest, target: fields[2])
            fields.removeAll(keepingCapacity: true)
        }
        guard fields.isEmpty, start == bytes.count else { return nil }
        self.snapshot = snapshot
        self.entries = entries
    }
}
