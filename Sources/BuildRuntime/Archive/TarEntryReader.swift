import CArchive
import Foundation

/// Reads the regular files of a layer tar by name, without extracting it: what an earlier image
/// left that a build takes back (the SBOMs of launch layers it reuses), and what a Dockerfile
/// image's SBOM lists. The tar is an image's (hostile): only regular files are read, names are
/// taken as text (never resolved on disk), and what is kept in memory is capped.
enum TarEntryReader {
    /// Calls `body` with the name (without a leading `./` or `/`) and size of each regular file
    /// of the tar at `path` (compressed or not), in archive order, and a reader of its data: it
    /// fills the buffer it is given and returns the count, 0 at the end. Errors name `label`.
    static func forEachRegularFile(ofArchive path: String, label: String,
                                   _ body: (_ name: String, _ size: Int, _ read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> Void) throws {
        guard let a = archive_read_new() else { throw RuntimeError.io("libarchive: out of memory") }
        defer { archive_read_free(a) }
        archive_read_support_filter_all(a)
        archive_read_support_format_tar(a)
        guard archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK else {
            throw RuntimeError.io("cannot read \(label): \(LibArchive.errorString(a))")
        }
        var entry: OpaquePointer?
        while true {
            let r = archive_read_next_header(a, &entry)
            if r == ARCHIVE_EOF { return }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN, let entry else { throw RuntimeError.io("cannot read \(label): \(LibArchive.errorString(a))") }
            guard archive_entry_filetype(entry) & S_IFMT == S_IFREG else { continue }
            var name = Substring(LibArchive.pathname(entry))
            while name.hasPrefix("./") || name.hasPrefix("/") { name = name.drop { $0 == "." || $0 == "/" } }
            try body(String(name), Int(archive_entry_size(entry))) { buffer in
                let n = archive_read_data(a, buffer.baseAddress, buffer.count)
                guard n >= 0 else { throw RuntimeError.io("cannot read \(name) in \(label): \(LibArchive.errorString(a))") }
                return n
            }
        }
    }

    /// The regular files of the tar at `path` whose names `wanted` accepts, by name. A file over
    /// `maxFileBytes`, or more than `maxTotalBytes` in all, fails with `RuntimeError.io`.
    static func files(ofArchive path: String, label: String, maxFileBytes: Int, maxTotalBytes: Int,
                      where wanted: (String) -> Bool) throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        var total = 0
        try forEachRegularFile(ofArchive: path, label: label) { name, size, read in
            guard wanted(name) else { return }
            guard size <= maxFileBytes, total + size <= maxTotalBytes else {
                throw RuntimeError.io("\(label) holds \(name) of \(size) bytes, over what may be read (\(maxFileBytes) bytes a file, \(maxTotalBytes) in all)")
            }
            var bytes = [UInt8](repeating: 0, count: size)
            var filled = 0
            while filled < size {
                let n = try bytes.withUnsafeMutableBytes { try read(UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) }
                guard n > 0 else { throw RuntimeError.io("\(label) ends inside \(name)") }
                filled += n
            }
            total += size
            out[name] = bytes
        }
        return out
    }
}
