import Foundation
import Synchronization

/// A downloaded source archive: a file and the digest of its bytes (what decides whether a blob
/// source changed).
public struct FetchedBlob: Sendable {
    public var path: String
    public var digest: Digest
    public var bytes: Int64
}

/// Fetches source archives from `file://`, `http://` and `https://` URLs into a file, streaming them to disk while they are hashed and stopping at a size cap as the bytes
/// arrive. Redirects are followed (at most 10) to http(s) URLs only, never from https down to
/// http.
///
/// A build's download (ADD of a URL) is made with an address policy, checked on every hop
/// (redirect targets too) at connect time, and a budget shared by the build's downloads; an
/// image's blob source, which the image's owner names, is fetched with neither.
public struct BlobFetcher: Sendable {
    /// The cap on this fetch when there is no budget.
    public let maxBytes: Int64
    /// Shared by a build's downloads: each may bring in what is left of it, and takes what it
    /// brought off.
    public let budget: ByteBudget?
    /// Where a build's download may connect (nil: anywhere); with one, only http(s) URLs are
    /// fetched.
    public let addressPolicy: OutboundAddressPolicy?
    static let maxRedirects = 10

    public init(maxBytes: Int64 = 2 << 30) {
        self.maxBytes = maxBytes
        budget = nil
        addressPolicy = nil
    }

    /// A fetcher for a build's downloads: within `budget`, to addresses `addressPolicy` allows.
    public init(budget: ByteBudget, addressPolicy: OutboundAddressPolicy) {
        maxBytes = budget.limit
        self.budget = budget
        self.addressPolicy = addressPolicy
    }

    /// Refuses URLs of any other scheme.
    public static func validate(url: String, field: String) throws -> URL {
        let shown = PathSyntax.shortened(url)
        guard url.utf8.count <= 4096 else { throw RuntimeError.invalid("blob URL '\(shown)' is longer than 4096 bytes", field: field) }
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), ["http", "https", "file"].contains(scheme) else {
            throw RuntimeError.invalid("blob URL '\(shown)' must be http://, https:// or file://", field: field)
        }
        if scheme == "file" {
            guard u.path.hasPrefix("/") else { throw RuntimeError.invalid("blob URL '\(shown)' must name an absolute path", field: field) }
        } else {
            guard let host = u.host, !host.isEmpty else { throw RuntimeError.invalid("blob URL '\(shown)' has no host", field: field) }
            guard u.password == nil, u.user == nil else { throw RuntimeError.invalid("blob URL must not contain credentials", field: field) }
        }
        return u
    }

    /// Downloads `url` to the file `target` (written through `store`'s temporary folder, which
    /// must be on the same file system) and returns it with its digest.
    public func fetch(_ url: URL, to target: String, through store: ContentStore) async throws -> FetchedBlob {
        let shown = PathSyntax.shortened(url.absoluteString)
        let maxBytes = budget?.remaining ?? self.maxBytes
        let tooLarge = RuntimeError.invalid(
            "blob \(shown) is larger than \(maxBytes) bytes, "
                + (budget.map { "what is left of the source size cap (\($0.limit) bytes for all of a build's downloads)" } ?? "the source size cap") + "; refusing it",
            field: "source.blob.url")
        if addressPolicy != nil, !["http", "https"].contains(url.scheme?.lowercased() ?? "") {
            throw RuntimeError.invalid("blob \(shown) is not an http(s) URL; a build fetches only those", field: "source.blob.url")
        }
        if url.isFileURL {
            return try await BlockingWork.run {
                let fd = open(url.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
                guard fd >= 0 else { throw RuntimeError.invalid("blob \(shown) does not exist or cannot be read", field: "source.blob.url") }
                defer { close(fd) }
                var st = stat()
                guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                    throw RuntimeError.invalid("blob \(shown) is not a regular file", field: "source.blob.url")
                }
                let w = try store.writer()
                var buf = [UInt8](repeating: 0, count: 1 << 20)
                while true {
                    let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    guard n >= 0 else { throw RuntimeError.io("reading \(shown): \(String(cString: strerror(errno)))") }
                    if n == 0 { break }
                    if w.size + Int64(n) > maxBytes { throw tooLarge }
                    try buf.withUnsafeBytes { try w.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                }
                let (digest, size) = try w.commit(toFile: target)
                return FetchedBlob(path: target, digest: digest, bytes: size)
            }
        }
        var current = url
        let client = HTTPClient()
        for _ in 0...Self.maxRedirects {
            let w = try store.writer()
            let response: HTTPResponse
            do {
                response = try await client.send(HTTPRequest(url: current, addressPolicy: addressPolicy), sink: .stream(w, maxBytes: maxBytes))
            } catch HTTPError.tooLarge {
                throw tooLarge
            } catch HTTPError.addressRefused(let why) {
                let hop = current == url ? "" : " (redirected to \(PathSyntax.shortened(current.absoluteString)))"
                throw RuntimeError.invalid("cannot download \(shown)\(hop): \(why)", field: "source.blob.url")
            } catch let e as HTTPError {
                throw RuntimeError.unavailable("cannot download \(shown): \(e)")
            }
            if [301, 302, 303, 307, 308].contains(response.status), let location = response.headers["location"] {
                guard let next = URL(string: location, relativeTo: current)?.absoluteURL, let scheme = next.scheme?.lowercased(),
                    ["http", "https"].contains(scheme)
                else {
                    throw RuntimeError.unavailable("downloading \(shown) redirected to '\(PathSyntax.shortened(location))', which is not an http(s) URL")
                }
                if current.scheme?.lowercased() == "https", scheme == "http" {
                    throw RuntimeError.unavailable("downloading \(shown) redirected from https to plain http; refusing the downgrade")
                }
                current = next
                continue
            }
            guard (200..<300).contains(response.status) else {
                throw RuntimeError.unavailable("HTTP \(response.status) from \(current.host ?? "") downloading \(shown); check the URL")
            }
            if let budget, !budget.take(w.size) { throw tooLarge }
            let (digest, size) = try w.commit(toFile: target)
            return FetchedBlob(path: target, digest: digest, bytes: size)
        }
        throw RuntimeError.unavailable("downloading \(shown) redirected more than \(Self.maxRedirects) times")
    }
}
