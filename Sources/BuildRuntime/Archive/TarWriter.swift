import Foundation

/// Where a tree walk puts the entries of a layer: one tar stream (`TarWriter`), or several
/// (`AppSliceLayers` routes each entry to its app-layer slice).
public protocol TarEntrySink: AnyObject {
    func addDirectory(_ path: String, mode: Int, owner: TarWriter.Owner) throws
    func addSymlink(_ path: String, target: String, owner: TarWriter.Owner) throws
    /// Streams an open file of `size` bytes (what `fstat` reported).
    func addFile(_ path: String, fd: Int32, size: Int64, mode: Int, owner: TarWriter.Owner) throws
}

extension TarEntrySink {
    /// Adds the regular file `name` of `directory`, opened without following a symlink; one
    /// that is something else by the time it is opened (a FIFO, say) is an error.
    public func addFile(_ path: String, named name: String, in directory: ConfinedDirectory, mode: Int, owner: TarWriter.Owner) throws {
        let fd = try directory.openFile(name, flags: O_RDONLY | O_NONBLOCK)
        defer { close(fd) }
        var opened = stat()
        guard fstat(fd, &opened) == 0, (opened.st_mode & S_IFMT) == S_IFREG else {
            throw RuntimeError.io("\(directory.display(name)) changed while it was being archived")
        }
        try addFile(path, fd: fd, size: Int64(opened.st_size), mode: mode, owner: owner)
    }
}

/// Writes reproducible tar streams: entries in sorted order, one fixed modification time,
/// normalised owners and no user/group names, so the same files always give the same bytes
/// and therefore the same layer digest. Long names use PAX headers.
public final class TarWriter: TarEntrySink {
    /// 1980-01-01T00:00:01Z, the timestamp the CNB lifecycle gives every layer entry.
    public static let normalizedModificationTime: Int = 315_532_801

    /// The numeric owner written for entries (names are never written).
    public struct Owner: Sendable, Equatable {
        public var uid: Int
        public var gid: Int
        public init(uid: Int, gid: Int) { self.uid = uid; self.gid = gid }
        public static let root = Owner(uid: 0, gid: 0)
    }

    private let out: BlobWriter
    private var finished = false
    public private(set) var fileCount = 0

    public init(out: BlobWriter) { self.out = out }

    // MARK: Entries

    public func addDirectory(_ path: String, mode: Int = 0o755, owner: Owner = .root) throws {
        let p = path.hasSuffix("/") ? path : path + "/"
        try writeHeader(path: p, mode: mode, owner: owner, size: 0, type: UInt8(ascii: "5"), linkTarget: "")
    }

    public func addFile(_ path: String, contents: [UInt8], mode: Int = 0o644, owner: Owner = .root) throws {
        try writeHeader(path: path, mode: mode, owner: owner, size: Int64(contents.count), type: UInt8(ascii: "0"), linkTarget: "")
        try out.write(contents)
        try pad(Int64(contents.count))
        fileCount += 1
    }

    public func addSymlink(_ path: String, target: String, owner: Owner = .root) throws {
        try writeHeader(path: path, mode: 0o777, owner: owner, size: 0, type: UInt8(ascii: "2"), linkTarget: target)
    }

    /// Streams an open file; `size` is what `fstat` reported. A file that changed size while
    /// being read is an error rather than a corrupt archive.
    public func addFile(_ path: String, fd: Int32, size: Int64, mode: Int, owner: Owner = .root) throws {
        // A file over the blob's cap fails before any of it is read (its bytes are taken from
        // the budget as they are written, not here).
        if let limit = out.limit, out.size + size + 1024 > limit.bytes { throw RuntimeError.buildFailed(limit.refusal) }
        try writeHeader(path: path, mode: mode, owner: owner, size: size, type: UInt8(ascii: "0"), linkTarget: "")
        var remaining = size
        while remaining > 0 {
            var readError: Int32 = 0
            let n = try out.withFreeSpace(minimum: 64 << 10) { region in
                let want = Int(min(Int64(region.count), remaining))
                let r = Foundation.read(fd, region.baseAddress, want)
                if r < 0 { readError = errno; return 0 }
                return r
            }
            if readError == EINTR { continue }
            if readError != 0 { throw RuntimeError.io("reading \(path): \(String(cString: strerror(readError)))") }
            if n == 0 { throw RuntimeError.io("\(path) shrank while it was being archived") }
            remaining -= Int64(n)
        }
        try pad(size)
        fileCount += 1
    }

    /// Adds everything below `directory`, depth first in byte order of names, under `prefix`
    /// (which should end in `/`, or be empty). The tree is read through its descriptor: symlinks
    /// are archived as symlinks and never followed; sockets, devices and FIFOs are skipped;
    /// hard links become regular files. `include` gets each path relative to `directory` and
    /// whether it is a folder, and may leave it (and, for a folder, everything below it) out.
    /// A tree past `limits` fails with `TreeLimitExceeded`, naming it as `directory` is named.
    public func addTree(
        _ directory: ConfinedDirectory, prefix: String, owner: Owner? = nil, limits: TreeLimits = .default,
        include: ((_ relativePath: String, _ isDirectory: Bool) throws -> Bool)? = nil
    ) throws {
        try TreeWalker(directory.displayPath, limits: limits).walk(directory) { e in
            if let include, try !include(e.path, e.type == S_IFDIR) { return nil }
            let entryOwner = owner ?? Owner(uid: Int(e.status.st_uid), gid: Int(e.status.st_gid))
            let mode = Int(e.status.st_mode & 0o7777)
            switch e.type {
            case S_IFDIR:
                try addDirectory(prefix + e.path, mode: mode, owner: entryOwner)
                return try e.folder.openDirectory(e.name)
            case S_IFREG:
                try addFile(prefix + e.path, named: e.name, in: e.folder, mode: mode, owner: entryOwner)
            case S_IFLNK:
                try addSymlink(prefix + e.path, target: try e.folder.readLink(e.name), owner: entryOwner)
            default:
                break
            }
            return nil
        }
    }

    /// Ends the archive with the two zero blocks tar requires.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        try out.writeZeros(1024)
    }

    // MARK: Headers

    private func pad(_ size: Int64) throws {
        let rem = Int(size % 512)
        if rem != 0 { try out.writeZeros(512 - rem) }
    }

    private func writeHeader(path: String, mode: Int, owner: Owner, size: Int64, type: UInt8, linkTarget: String) throws {
        var pax: [(String, String)] = []
        var name = Array(path.utf8)
        var prefix: [UInt8] = []
        if name.count > 100 {
            if let split = Self.splitUSTAR(name) {
                prefix = Array(name[..<split])
                name = Array(name[(split + 1)...])
            } else {
                pax.append(("path", path))
                name = Array(name.prefix(100))
            }
        }
        var link = Array(linkTarget.utf8)
        if link.count > 100 {
            pax.append(("linkpath", linkTarget))
            link = Array(link.prefix(100))
        }
        if size > 0o77777777777 { pax.append(("size", String(size))) }
        if !pax.isEmpty {
            var body: [UInt8] = []
            for (k, v) in pax { body += Self.paxRecord(k, v) }
            let paxName = Array(("PaxHeaders/" + (path.split(separator: "/").last.map(String.init) ?? "x")).utf8.prefix(100))
            try out.write(Self.header(name: paxName, prefix: [], mode: 0o644, owner: .root, size: Int64(body.count), type: UInt8(ascii: "x"), link: []))
            try out.write(body)
            try pad(Int64(body.count))
        }
        try out.write(Self.header(name: name, prefix: prefix, mode: mode, owner: owner, size: size > 0o77777777777 ? 0 : size, type: type, link: link))
    }

    /// Where to split a long path between ustar's prefix (≤155) and name (≤100) fields.
    static func splitUSTAR(_ path: [UInt8]) -> Int? {
        var i = min(path.count - 1, 155)
        while i > 0 {
            if path[i] == UInt8(ascii: "/") && path.count - i - 1 <= 100 && path.count - i - 1 > 0 { return i }
            i -= 1
        }
        return nil
    }

    static func paxRecord(_ key: String, _ value: String) -> [UInt8] {
        let payload = " \(key)=\(value)\n"
        var len = payload.utf8.count + 1
        while String(len).utf8.count + payload.utf8.count != len { len = String(len).utf8.count + payload.utf8.count }
        return Array((String(len) + payload).utf8)
    }

    static func header(name: [UInt8], prefix: [UInt8], mode: Int, owner: Owner, size: Int64, type: UInt8, link: [UInt8]) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], at offset: Int, max: Int) {
            for (i, b) in bytes.prefix(max).enumerated() { h[offset + i] = b }
        }
        func octal(_ value: Int64, at offset: Int, width: Int) {
            let s = String(value, radix: 8)
            let padded = String(repeating: "0", count: max(0, width - 1 - s.count)) + s
            put(Array(padded.utf8), at: offset, max: width - 1)
        }
        put(name, at: 0, max: 100)
        octal(Int64(mode), at: 100, width: 8)
        octal(Int64(owner.uid), at: 108, width: 8)
        octal(Int64(owner.gid), at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(Int64(normalizedModificationTime), at: 136, width: 12)
        put(Array("        ".utf8), at: 148, max: 8)
        h[156] = type
        put(link, at: 157, max: 100)
        put(Array("ustar\u{0}00".utf8), at: 257, max: 8)
        put(prefix, at: 345, max: 155)
        let sum = h.reduce(0) { $0 + Int($1) }
        let cs = String(sum, radix: 8)
        put(Array((String(repeating: "0", count: max(0, 6 - cs.count)) + cs).utf8), at: 148, max: 6)
        h[154] = 0
        h[155] = UInt8(ascii: " ")
        return h
    }
}
