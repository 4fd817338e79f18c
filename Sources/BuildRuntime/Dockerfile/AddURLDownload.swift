import Foundation

/// The download of an `ADD <url>`, done by the builder (never in a step) with the build's one
/// fetcher, whose size cap and address policy every download shares.
struct AddURLDownload: Sendable {
    /// Nil when the build has no network: then every URL is refused.
    let fetcher: BlobFetcher?
    /// Where the download is kept as a blob.
    let content: ContentStore

    /// Downloads an ADD URL (http or https only; redirects as for blob sources, never down to
    /// http; every address checked by `fetcher`'s policy; within what is left of the build's
    /// download cap) to `path`, and checks it against `checksum` (`sha256:HEX`). Without the
    /// public network (no `fetcher`), a URL is refused: the build asked for no network.
    func fetch(_ url: String, to path: String, checksum: String?, file: String, line: Int, log: @escaping BuildLogger) async throws -> String {
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), ["http", "https"].contains(scheme), let host = u.host, !host.isEmpty,
            u.user == nil, u.password == nil
        else { throw RuntimeError.dockerfile(file, line, "ADD \(PathSyntax.shortened(url)): only http:// and https:// URLs without credentials are fetched") }
        var expected: Digest?
        if let checksum {
            guard let d = Digest(checksum) else { throw RuntimeError.dockerfile(file, line, "ADD --checksum=\(checksum) is not sha256:<64 hex digits>") }
            expected = d
        }
        guard let fetcher else {
            throw RuntimeError.dockerfile(file, line, "ADD \(PathSyntax.shortened(url)): the build's network is \"none\"; ADD of a URL needs the public network (network: \"public\" on the image)")
        }
        let fetched: FetchedBlob
        do {
            fetched = try await fetcher.fetch(u, to: path, through: content)
        } catch let e as RuntimeError {
            throw RuntimeError.dockerfile(file, line, "ADD: \(e.message.replacingOccurrences(of: "blob ", with: ""))")
        }
        if let expected, fetched.digest != expected {
            throw RuntimeError.dockerfile(file, line, "ADD \(PathSyntax.shortened(url)): the download's checksum is \(fetched.digest), not \(expected) as --checksum says")
        }
        log(BuildPhase.build, .system, "  fetched \(PathSyntax.shortened(url)) (\(fetched.bytes) bytes, \(fetched.digest))")
        return fetched.path
    }
}
