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
            for (i, n) in [Int64(e.mode), e.size, e.mtime, e.ctime].enumerated() {
                if i > 0 { out.append(UInt8(ascii: " ")) }
                out.appendNumber(n)
            }
            out.append(UInt8(ascii: " "))
            out.appendNumber(e.inode)
            out.append(UInt8(ascii: " "))
            if let d = e.digest { out += d.hex.utf8 } else { out.append(UInt8(ascii: "-")) }
            out.append(0)
            out += path.utf8
            out.append(0)
            out += e.target.utf8
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
        // Per entry: three NUL-ended fields, the numbers (split at spaces), the path, the target.
        var fields: [Range<Int>] = []
        var start = newline + 1
        for i in start..<bytes.count where bytes[i] == 0 {
            fields.append(start..<i)
            start = i + 1
            guard fields.count == 3 else { continue }
            let n = bytes[fields[0]].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard n.count == 6, let mode = parseDecimal(n[0]).flatMap(UInt32.init(exactly:)), let size = parseDecimal(n[1]), let mtime = parseDecimal(n[2]),
                  let ctime = parseDecimal(n[3]), let inode = Self.parseInode(n[4]) else { return nil }
            let digest = n[5].elementsEqual("-".utf8) ? nil : Digest("sha256:" + String(decoding: n[5], as: UTF8.self))
            entries[String(decoding: bytes[fields[1]], as: UTF8.self)] = Entry(mode: mode, size: size, mtime: mtime, ctime: ctime, inode: inode, digest: digest,
                                                                            target: String(decoding: bytes[fields[2]], as: UTF8.self))
            fields.removeAll(keepingCapacity: true)
        }
        guard fields.isEmpty, start == bytes.count else { return nil }
        self.snapshot = snapshot
        self.entries = entries
    }

    /// An inode number: above `Int64.max` on some file systems.
    private static func parseInode(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        UInt64(String(decoding: bytes, as: UTF8.self))
    }
}
