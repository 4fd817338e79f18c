import CArchive
import Foundation

/// One entry's data as libarchive hands it out, in blocks, every byte counted against the
/// archive's cap: headers can lie, and zip entries may give no size at all.
struct ArchiveEntryData {
    let limits: ArchiveExtractor.Limits

    /// Hands each block of one entry's data to `body` (bytes, their offset in the entry),
    /// counting every byte against the archive's cap (headers can lie, and zip entries may give
    /// no size at all).
    func readBlocks(_ a: OpaquePointer, size expected: Int64, entryName: String, archiveName: String, total: inout Int64,
                            _ body: (UnsafeRawPointer, Int, Int64) throws -> Void) throws {
        var buf: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        var written: Int64 = 0
        while true {
            let r = archive_read_data_block(a, &buf, &size, &offset)
            if r == ARCHIVE_EOF { break }
            // All the data is there and only the block padding is missing (see extract).
            if r == ARCHIVE_FATAL, written == expected, LibArchive.errorString(a).contains("Truncated") { break }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN else {
                throw RuntimeError.invalid("entry '\(entryName)' of \(archiveName) cannot be read: \(LibArchive.errorString(a))")
            }
            guard let buf, size > 0 else { continue }
            total += Int64(size)
            if total > limits.maxTotalBytes {
                throw RuntimeError.invalid(
                    "\(archiveName) expands to more than \(limits.maxTotalBytes) bytes, the extraction cap; refusing it")
            }
            try body(buf, size, Int64(offset))
            written = max(written, Int64(offset) + Int64(size))
        }
    }

    /// An entry's data, read whole (at most `ArchiveFileReuse.maxBuffered` bytes).
    func readData(_ a: OpaquePointer, size expected: Int64, entryName: String, archiveName: String, total: inout Int64) throws -> [UInt8] {
        var data = [UInt8](repeating: 0, count: Int(expected))
        try readBlocks(a, size: expected, entryName: entryName, archiveName: archiveName, total: &total) { buf, size, offset in
            guard offset >= 0, offset + Int64(size) <= expected else {
                throw RuntimeError.invalid("entry '\(entryName)' of \(archiveName) holds more data than its header says")
            }
            data.withUnsafeMutableBytes { _ = memcpy($0.baseAddress! + Int(offset), buf, size) }
        }
        return data
    }

    /// Streams one entry's data into `fd`.
    func writeData(_ a: OpaquePointer, to fd: Int32, size expected: Int64, entryName: String, archiveName: String,
                           total: inout Int64) throws {
        try readBlocks(a, size: expected, entryName: entryName, archiveName: archiveName, total: &total) { buf, size, offset in
            var done = 0
            while done < size {
                let n = pwrite(fd, buf + done, size - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw RuntimeError.io("writing '\(entryName)': \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
    }
}

/// libarchive's answers as Swift strings.
enum LibArchive {
    static func errorString(_ a: OpaquePointer) -> String {
        archive_error_string(a).map { String(cString: $0) } ?? "unknown error"
    }

    static func pathname(_ entry: OpaquePointer) -> String {
        if let p = archive_entry_pathname_utf8(entry) { return String(cString: p) }
        if let p = archive_entry_pathname(entry) { return String(cString: p) }
        return ""
    }
}
