import Foundation
import Synchronization

/// Username and password for a registry (Basic auth, and the Bearer token request).
public struct RegistryCredentials: Sendable, Equatable {
    public var username: String
    public var password: String
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
}

/// A client of the OCI distribution API for one registry: pulls manifests (capped at 4 MiB,
/// as the distribution registry caps them) and blobs (streamed to disk while hashed), and
/// pushes blobs (skipping those the registry has) and manifests, with Basic and Bearer-token
/// auth and bounded retries on connection errors and 5xx answers.
///
/// Credentials go only where they were given: to the registry's own origin (a redirect to
/// another host or port, or from https down to http, is followed without them), and to a token
/// realm only over https unless its host is loopback or an `--insecure-registry`. Plain HTTP is
/// used for the registry itself only when it is insecure, or loopback and not speaking TLS (a
/// loopback registry is tried over https first, as docker does, so a local TLS registry works).
/// A certificate is checked against the system's CAs and `trustedCertificates`.
public final class RegistryClient: Sendable {
    public let host: String
    let transport: RegistryTransport
    /// Largest manifest or index read, as the distribution registry's own limit.
    public static let maxManifestBytes = 4 << 20

    public init(host: String, insecure: Bool, credentials: RegistryCredentials?, insecureHosts: Set<String> = [], trustedCertificates: Data? = nil) {
        self.host = host
        self.transport = RegistryTransport(host: host, insecure: insecure, credentials: credentials, insecureHosts: insecureHosts,
                                           trustedCertificates: trustedCertificates)
    }

    /// Whether plain HTTP may be used for `host[:port]` without being told: loopback only.
    public static func isLoopback(_ host: String) -> Bool { RegistryTransport.isLoopback(host) }

    func url(_ path: String) -> URL { transport.url(path) }

    func send(_ method: String, _ url: URL, scope: String, headers: [(String, String)] = [], body: HTTPBody = .none,
              sink: @escaping () throws -> HTTPResponseSink = { .memory(maxBytes: 1 << 20) }) async throws -> HTTPResponse {
        try await transport.send(method, url, scope: scope, headers: headers, body: body, sink: sink)
    }

    /// Uploads one blob to an upload session: in one PUT, or in chunks for large blobs.
    func upload(_ d: OCIDescriptor, from store: ContentStore, to start: String, repository: String, scope: String) async throws {
        let path = store.path(d.digest)
        var location = start
        if d.size > Self.chunkThreshold {
            var offset: Int64 = 0
            while offset < d.size {
                let length = min(Int64(Self.chunkSize), d.size - offset)
                let end = offset + length - 1
                let r = try await send("PATCH", try transport.resolve(location), scope: scope,
                                       headers: [("Content-Type", "application/octet-stream"), ("Content-Range", "\(offset)-\(end)")],
                                       body: .file(path: path, offset: offset, length: length))
                guard r.status == 202, let next = r.headers["location"] else {
                    throw RuntimeError.unavailable("\(r.status) from \(host) uploading a chunk of \(d.digest.short) to \(repository)")
                }
                location = next
                offset = end + 1
            }
        }
        var target = URLComponents(url: try transport.resolve(location), resolvingAgainstBaseURL: true)!
        target.queryItems = (target.queryItems ?? []) + [URLQueryItem(name: "digest", value: d.digest.string)]
        let body: HTTPBody = d.size > Self.chunkThreshold ? .none : .file(path: path, offset: 0, length: d.size)
        let put = try await send("PUT", target.url!, scope: scope, headers: [("Content-Type", "application/octet-stream")], body: body)
        guard put.status == 201 else { throw RuntimeError.unavailable("\(put.status) from \(host) uploading \(d.digest.short) to \(repository)") }
    }

    // MARK: Pull

    static let manifestAccept = [MediaType.manifest, MediaType.index, MediaType.dockerManifest, MediaType.dockerManifestList].joined(separator: ", ")

    /// Pulls `repository:reference` (a tag or digest) into `store`, following an index to this
    /// platform's manifest, and returns the image. Blobs already in the store are not fetched;
    /// every blob is streamed to disk, capped at the size the manifest gives, and checked
    /// against its digest before it is stored.
    public func pull(repository: String, reference: String, into store: ContentStore) async throws -> OCIImage {
        let scope = "repository:\(repository):pull"
        let r: HTTPResponse
        do {
            r = try await send("GET", url("\(repository)/manifests/\(reference)"), scope: scope, headers: [("Accept", Self.manifestAccept)],
                               sink: { .memory(maxBytes: Self.maxManifestBytes) })
        } catch HTTPError.tooLarge {
            throw RuntimeError.unavailable(
                "\(host) answered the manifest of \(repository):\(PathSyntax.shortened(reference, limit: 80)) with more than \(Self.maxManifestBytes) bytes, the manifest size cap; refusing it")
        }
        guard r.status == 200 else {
            if r.status == 404 { throw RuntimeError.notFound("\(host)/\(repository):\(PathSyntax.shortened(reference, limit: 80)) does not exist (404 from \(host))") }
            throw RuntimeError.unavailable("\(r.status) from \(host) getting the manifest of \(repository):\(PathSyntax.shortened(reference, limit: 80))")
        }
        let digest = Digest.of(r.body)
        if let expected = Digest(reference), expected != digest {
            throw RuntimeError.unavailable("\(host) answered \(repository)@\(reference) with content whose digest is \(digest)")
        }
        try store.put(r.body)
        let probe = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any]  // not JSON: not an index, and decoded as a manifest below
        if probe?["manifests"] != nil {
            let index = try CanonicalJSON.decode(OCIIndex.self, from: r.body, what: "image index of \(repository)")
            let arch = OCIImageConfig.hostArchitecture
            guard let pick = index.manifests.first(where: { $0.platform == nil || ($0.platform?.os == "linux" && $0.platform?.architecture == arch) }) else {
                throw RuntimeError.invalid("\(host)/\(repository):\(reference) has no image for linux/\(arch)")
            }
            return try await pull(repository: repository, reference: pick.digest.string, into: store)
        }
        let manifest = try CanonicalJSON.decode(OCIManifest.self, from: r.body, what: "manifest of \(repository)")
        for d in [manifest.config] + manifest.layers where !store.contains(d.digest) {
            try await fetchBlob(d, repository: repository, scope: scope, into: store)
        }
        return try OCIImage.load(digest, from: store)
    }

    /// The digest `repository:reference` names now (its manifest or index), without fetching
    /// any blob: what a moved tag is noticed by.
    public func manifestDigest(repository: String, reference: String) async throws -> Digest {
        let r: HTTPResponse
        do {
            r = try await send("GET", url("\(repository)/manifests/\(reference)"), scope: "repository:\(repository):pull",
                               headers: [("Accept", Self.manifestAccept)], sink: { .memory(maxBytes: Self.maxManifestBytes) })
        } catch HTTPError.tooLarge {
            throw RuntimeError.unavailable("\(host) answered the manifest of \(repository) with more than \(Self.maxManifestBytes) bytes; refusing it")
        }
        guard r.status == 200 else { throw RuntimeError.unavailable("\(r.status) from \(host) getting the manifest of \(repository):\(PathSyntax.shortened(reference, limit: 80))") }
        return Digest.of(r.body)
    }

    /// Streams one blob into the store, never more than its descriptor's size, and keeps it
    /// only if its digest is the one asked for.
    func fetchBlob(_ d: OCIDescriptor, repository: String, scope: String, into store: ContentStore) async throws {
        guard d.size >= 0 else { throw RuntimeError.unavailable("\(host): blob \(d.digest.short) of \(repository) has a negative size") }
        var writer: BlobWriter?
        let blob: HTTPResponse
        do {
            blob = try await send("GET", url("\(repository)/blobs/\(d.digest)"), scope: scope, sink: {
                let w = try store.writer()  // a fresh file for each attempt
                writer = w
                return .stream(w, maxBytes: d.size)
            })
        } catch HTTPError.tooLarge {
            throw RuntimeError.unavailable("\(host) sent more than the \(d.size) bytes the manifest gives for blob \(d.digest.short) of \(repository); refusing it")
        }
        guard blob.status == 200, let writer else {
            throw RuntimeError.unavailable("\(blob.status) from \(host) getting blob \(d.digest.short) of \(repository)")
        }
        guard blob.bodyBytes == d.size else {
            throw RuntimeError.unavailable("\(host) sent \(blob.bodyBytes) bytes for blob \(d.digest.short) of \(repository), not the \(d.size) the manifest gives")
        }
        guard try writer.commit(expecting: d.digest) else {
            throw RuntimeError.unavailable("\(host) answered blob \(d.digest.short) of \(repository) with other content")
        }
    }

    // MARK: Push

    /// Blobs larger than this are uploaded in chunks of `chunkSize` (PATCH, then PUT).
    public static let chunkThreshold: Int64 = 32 << 20
    public static let chunkSize = 16 << 20

    /// What a push did.
    public struct PushResult: Sendable {
        /// The digest of the manifest pushed (with compressed layers, it is not the local one).
        public var digest: Digest
        /// Blobs uploaded (not found in the repository nor mounted).
        public var uploaded: Int
        /// Layers compressed by this push (the others were found compressed from earlier ones).
        public var compressed: Int
    }

    /// Layers uploaded at once.
    static let parallelLayers = 3

    /// Pushes `image` (blobs in its store) as `repository:tag` for each tag. Uncompressed layers
    /// are compressed by `compressor` (or found compressed by an earlier push); a layer
    /// compressed now streams to the registry as it is compressed. Blobs the repository has are
    /// skipped; blobs another repository of the registry has (`mountFrom`) are mounted, not
    /// uploaded. Up to three layers go at once, the largest first. The manifest goes last, so a
    /// failed push never leaves a manifest naming a missing blob.
    public func push(_ image: OCIImage, repository: String, tags: [String], mountFrom: [String] = [], compressor: LayerCompressor? = nil,
                     log: @escaping @Sendable (String) -> Void) async throws -> PushResult {
        let scope = "repository:\(repository):pull,push"
        let source = image.store
        var layers = image.manifest.layers
        var uploaded = 0, compressed = 0
        // Largest first: the push lasts as long as its largest layer takes, so that one starts
        // at once and the small ones fill the gaps beside it.
        let order = layers.indices.sorted { (layers[$0].size, $1) > (layers[$1].size, $0) }
        try await withThrowingTaskGroup(of: (Int, OCIDescriptor, uploaded: Bool, compressed: Bool).self) { group in
            var next = 0
            func start() {
                let i = order[next], layer = layers[i]
                next += 1
                group.addTask {
                    if let c = compressor, c.compresses(layer) {
                        if let found = c.cached(layer.digest) {
                            return (i, found, try await self.pushBlob(found, from: c.store, repository: repository, scope: scope, mountFrom: mountFrom, log: log), false)
                        }
                        let (made, sent) = try await self.compressAndUpload(layer, from: source, compressor: c, repository: repository, scope: scope, log: log)
                        return (i, made, sent, true)
                    }
                    return (i, layer, try await self.pushBlob(layer, from: source, repository: repository, scope: scope, mountFrom: mountFrom, log: log), false)
                }
            }
            while next < min(Self.parallelLayers, layers.count) { start() }
            for try await (i, d, sent, made) in group {
                layers[i] = d
                if sent { uploaded += 1 }
                if made { compressed += 1 }
                if next < layers.count { start() }
            }
        }
        if try await pushBlob(image.manifest.config, from: source, repository: repository, scope: scope, mountFrom: mountFrom, log: log) { uploaded += 1 }

        var manifestDigest = image.manifestDigest
        var manifestData = try source.read(image.manifestDigest)
        if layers != image.manifest.layers, let store = compressor?.store {
            var manifest = image.manifest
            manifest.layers = layers
            manifestData = try CanonicalJSON.encode(manifest)
            manifestDigest = try store.put(manifestData)
        }
        for tag in tags {
            let r = try await send("PUT", url("\(repository)/manifests/\(tag)"), scope: scope, headers: [("Content-Type", MediaType.manifest)],
                                   body: .bytes(manifestData))
            guard r.status == 201 else { throw RuntimeError.unavailable("\(r.status) from \(host) putting the manifest \(repository):\(tag)") }
            if let returned = r.headers["docker-content-digest"], returned != manifestDigest.string {
                throw RuntimeError.unavailable("\(host) stored \(repository):\(tag) as \(PathSyntax.shortened(returned, limit: 80)), not \(manifestDigest)")
            }
        }
        return PushResult(digest: manifestDigest, uploaded: uploaded, compressed: compressed)
    }

    /// Makes blob `d` (in `store`) present in the repository: found there, mounted from another
    /// repository, or uploaded (then true).
    func pushBlob(_ d: OCIDescriptor, from store: ContentStore, repository: String, scope: String, mountFrom: [String],
                  log: @Sendable (String) -> Void) async throws -> Bool {
        let head = try await send("HEAD", url("\(repository)/blobs/\(d.digest)"), scope: scope)
        if head.status == 200 {
            log("Layer \(d.digest.short) already exists in \(host)/\(repository)")
            return false
        }
        guard head.status == 404 else { throw RuntimeError.unavailable("\(head.status) from \(host) checking for blob \(d.digest.short) in \(repository)") }
        var location: String?
        for source in mountFrom where source != repository {
            let mountScope = scope + " repository:\(source):pull"
            var mount = URLComponents(url: url("\(repository)/blobs/uploads/"), resolvingAgainstBaseURL: false)!
            mount.queryItems = [URLQueryItem(name: "mount", value: d.digest.string), URLQueryItem(name: "from", value: source)]
            let r = try await send("POST", mount.url!, scope: mountScope)
            if r.status == 201 {
                log("Mounted \(d.digest.short) from \(host)/\(source)")
                return false
            }
            if r.status == 202 { location = r.headers["location"] }
        }
        if location == nil { location = try await startUpload(repository: repository, scope: scope) }
        try await upload(d, from: store, to: location!, repository: repository, scope: scope)
        log("Uploaded \(d.digest.short) (\(d.size) bytes) to \(host)/\(repository)")
        return true
    }

    /// Opens an upload session; returns its location.
    func startUpload(repository: String, scope: String) async throws -> String {
        let start = try await send("POST", url("\(repository)/blobs/uploads/"), scope: scope)
        guard start.status == 202, let location = start.headers["location"] else {
            throw RuntimeError.unavailable("\(start.status) from \(host) starting an upload to \(repository)")
        }
        return location
    }

    /// Compresses `layer` while it uploads: the compressor writes the store's blob and a socket
    /// that one PATCH streams, then a PUT names the digest. If the stream fails (it cannot be
    /// sent twice), the blob, complete in the store, is pushed the ordinary way, with retries.
    func compressAndUpload(_ layer: OCIDescriptor, from source: ContentStore, compressor: LayerCompressor, repository: String, scope: String,
                           log: @Sendable (String) -> Void) async throws -> (OCIDescriptor, Bool) {
        let location = try await startUpload(repository: repository, scope: scope)
        var fds: [Int32] = [-1, -1]
        // A socket pair, not a pipe: the compressor writes with MSG_NOSIGNAL, so a reader that
        // went away is an EPIPE error, never a SIGPIPE, whatever the process does with signals.
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw RuntimeError.io("cannot make a socket pair: \(String(cString: strerror(errno)))")
        }
        let (reader, writer) = (fds[0], fds[1])
        let compressing = Task { try await BlockingWork.run { try compressor.compress(layer, from: source, tee: writer) } }
        // Every failure of the stream (a refused location, a broken connection, an answer that
        // is not 202) only means the blob goes the ordinary way below: hence `try?`.
        var streamed: HTTPResponse?
        if let target = try? transport.resolve(location) {  // see above
            // One attempt, not retried: a stream cannot be sent twice.
            streamed = try? await transport.sendFollowingRedirects("PATCH", target, scope: scope, headers: [("Content-Type", "application/octet-stream")],  // see above
                                                          body: .stream(fd: reader), sink: .memory(maxBytes: 1 << 20), basic: transport.preemptiveBasic.withLock { $0 })
        }
        close(reader)  // a compressor still writing gets EPIPE, stops the stream and finishes the blob
        let made = try await compressing.value
        if let r = streamed, r.status == 202, let next = r.headers["location"], var done = try? URLComponents(url: transport.resolve(next), resolvingAgainstBaseURL: true) {  // see above
            done.queryItems = (done.queryItems ?? []) + [URLQueryItem(name: "digest", value: made.digest.string)]
            let put = try await send("PUT", done.url!, scope: scope, headers: [("Content-Type", "application/octet-stream")], body: .none)
            if put.status == 201 {
                log("Compressed and uploaded \(made.digest.short) (\(made.size) bytes) to \(host)/\(repository)")
                return (made, true)
            }
        }
        return (made, try await pushBlob(made, from: compressor.store, repository: repository, scope: scope, mountFrom: [], log: log))
    }
}
