import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A downloaded source archive: a local file and the digest of its bytes (what decides
/// whether a blob changed).
public struct FetchedBlob: Sendable {
    public var path: String
    public var digest: Digest
    public var bytes: Int64
}

/// Fetches source archives from `file://`, `http://` and `https://` URLs into a folder, with a
/// size cap. Redirects are followed by the HTTP client (a bounded number).
public struct BlobFetcher: Sendable {
    public let maxBytes: Int64

    public init(maxBytes: Int64 = 2 << 30) { self.maxBytes = maxBytes }

    /// Refuses URLs of any other scheme.
    public static func validate(url: String, field: String) throws -> URL {
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), ["http", "https", "file"].contains(scheme) else {
            throw RuntimeError.invalid("blob URL '\(url)' must be http://, https:// or file://", field: field)
        }
        if scheme == "file" {
            guard u.path.hasPrefix("/") else { throw RuntimeError.invalid("blob URL '\(url)' must name an absolute path", field: field) }
        } else {
            guard let host = u.host, !host.isEmpty else { throw RuntimeError.invalid("blob URL '\(url)' has no host", field: field) }
            guard u.password == nil else { throw RuntimeError.invalid("blob URL must not contain credentials", field: field) }
        }
        return u
    }

    /// Downloads `url` into `directory` and returns the file with its digest.
    public func fetch(_ url: URL, into directory: String) async throws -> FetchedBlob {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let target = directory + "/" + (url.lastPathComponent.isEmpty ? "blob" : url.lastPathComponent)
        if url.isFileURL {
            guard FileManager.default.isReadableFile(atPath: url.path) else {
                throw RuntimeError.invalid("blob \(url.absoluteString) does not exist or cannot be read", field: "source.blob.url")
            }
            try FileManager.default.copyItem(atPath: url.path, toPath: target)
        } else {
            let (temp, response): (URL, URLResponse)
            do {
                (temp, response) = try await URLSession.shared.download(from: url)
            } catch {
                throw RuntimeError.unavailable("cannot download \(url.absoluteString): \(error.localizedDescription)")
            }
            if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
                try? FileManager.default.removeItem(at: temp)
                throw RuntimeError.unavailable("HTTP \(http.statusCode) from \(url.host ?? "") downloading \(url.absoluteString); check the URL")
            }
            try FileManager.default.moveItem(atPath: temp.path, toPath: target)
        }
        let size = Int64((try FileManager.default.attributesOfItem(atPath: target)[.size] as? NSNumber)?.int64Value ?? 0)
        guard size <= maxBytes else {
            throw RuntimeError.invalid("blob \(url.absoluteString) is \(size) bytes, over the limit of \(maxBytes)", field: "source.blob.url")
        }
        return FetchedBlob(path: target, digest: try Self.digest(ofFile: target), bytes: size)
    }

    static func digest(ofFile path: String) throws -> Digest {
        let h = SHA256Hasher()
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RuntimeError.io("cannot read \(path)") }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            buf.withUnsafeBytes { h.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return h.finish()
    }
}
