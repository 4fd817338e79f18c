import CArchive
import Foundation

/// Reads chosen regular files of a layer tar into memory, by name, without extracting it: what
/// an earlier image left that a build takes back (the SBOMs of launch layers it reuses). The
/// tar is an image's (hostile): only regular files are read, names are taken as text (never
/// resolved on disk), and each file and the total are capped.
enum TarEntryReader {
    /// The regular files of the tar at `path` whose names (without a leading `./` or `/`)
    /// `wanted` accepts, by name. A file over `maxFileBytes`, or more than `maxTotalBytes` in
    /// all, fails with `RuntimeError.io` naming `label`.
    static func files(ofArchive path: String, label: String, maxFileBytes: Int, maxTotalBytes: Int,
                      where wanted: (String) -> Bool) throws -> [String: [UInt8]] {
        guard let a = archive_read_new() else { throw RuntimeError.io("libarchive: out of memory") }
        defer { archive_read_free(a) }
        archive_read_support_filter_all(a)
        archive_read_support_format_tar(a)
        guard archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK else {
            throw RuntimeError.io("cannot read \(label): \(LibArchive.errorString(a))")
        }
        var out: [String: [UInt8]] = [:]
        var total = 0
        var entry: OpaquePointer?
        while true {
            let r = archive_read_next_header(a, &entry)
            if r == ARCHIVE_EOF { return out }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN, let entry else { throw RuntimeError.io("cannot read \(label): \(LibArchive.errorString(a))") }
            guard archive_entry_filetype(entry) & S_IFMT == S_IFREG else { continue }
            var name = Substring(LibArchive.pathname(entry))
            while name.hasPrefix("./") || name.hasPrefix("/") { name = name.drop { $0 == "." || $0 == "/" } }
            guard wanted(String(name)) else { continue }
            let size = Int(archive_entry_size(entry))
            guard size <= maxFileBytes, total + size <= maxTotalBytes else {
                throw RuntimeError.io("\(label) holds \(name) of \(size) bytes, over what may be read (\(maxFileBytes) bytes a file, \(maxTotalBytes) in all)")
            }
            var bytes = [UInt8](repeating: 0, count: size)
            var read = 0
            while read < size {
                let n = bytes.withUnsafeMutableBytes { archive_read_data(a, $0.baseAddress! + read, size - read) }
                guard n > 0 else { throw RuntimeError.io("cannot read \(name) in \(label): \(LibArchive.errorString(a))") }
                read += n
            }
            total += size
            out[String(name)] = bytes
        }
    }
}
