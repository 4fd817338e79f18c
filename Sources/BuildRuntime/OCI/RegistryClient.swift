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
    /// "https", or "http" for an insecure registry or a loopback one found to speak plain HTTP.
    private let currentScheme: Mutex<String>
    var scheme: String { currentScheme.withLock { $0 } }
    /// Whether a failed TLS handshake means "try plain HTTP" (loopback hosts only).
    let fallsBackToHTTP: Bool
    let credentials: RegistryCredentials?
    /// Hosts (`host[:port]`) reachable over plain HTTP besides loopback ones.
    let insecureHosts: Set<String>
    let http = HTTPClient()
    /// PEM CA certificates trusted for this registry besides the system's.
    let trustedCertificates: Data?
    private let tokens = Mutex<[String: String]>([:])
    static let retryDelays: [Double] = [0.2, 0.5, 1.0]
    /// Largest manifest or index read, as the distribution registry's own limit.
    public static let maxManifestBytes = 4 << 20
    static let maxRedirects = 5

    public init(host: String, insecure: Bool, credentials: RegistryCredentials?, insecureHosts: Set<String> = [], trustedCertificates: Data? = nil) {
        self.trustedCertificates = trustedCertificates
        self.host = host
        self.currentScheme = Mutex(insecure ? "http" : "https")
        self.fallsBackToHTTP = !insecure && Self.isLoopback(host)
        self.credentials = credentials
        self.insecureHosts = insecureHosts.union(insecure ? [host] : [])
    }

    /// Whether plain HTTP may be used for `host[:port]` without being told: loopback only.
    public static func isLoopback(_ host: String) -> Bool {
        Origin.isLoopback(host: Origin.splitHostPort(host).host)
    }

    func url(_ path: String) -> URL { URL(string: "\(scheme)://\(host)/v2/\(path)")! }

    var origin: Origin { Origin(url(""))! }

    /// Whether credentials may travel to `url` over its scheme: https, or plain HTTP to a
    /// loopback or insecure host.
    func mayCarryCredentials(_ url: URL) -> Bool {
        guard let o = Origin(url) else { return false }
        if o.scheme == "https" { return true }
        let hostPort = url.port.map { "\(url.host ?? ""):\($0)" } ?? (url.host ?? "")
        return o.scheme == "http" && (Origin.isLoopback(host: o.host) || insecureHosts.contains(hostPort) || insecureHosts.contains(url.host ?? ""))
    }

    // MARK: Requests with auth, redirects and retries

    func send(_ method: String, _ url: URL, scope: String, headers: [(String, String)] = [], body: HTTPBody = .none,
              sink: @escaping () throws -> HTTPResponseSink = { .memory(maxBytes: 1 << 20) }) async throws -> HTTPResponse {
        var attempt = 0
        var authRetried = false
        var url = url
        while true {
            do {
                let r = try await sendFollowingRedirects(method, url, scope: scope, headers: headers, body: body, sink: try sink(), basic: authRetried)
                if r.status == 401, !authRetried {
                    authRetried = true
                    try await authenticate(challenge: r.headers["www-authenticate"] ?? "", scope: scope)
                    continue
                }
                if r.status == 401 || r.status == 403 {
                    throw RuntimeError(.permissionDenied, "\(r.status) from \(host): the registry refused the credentials; check the registry secret for \(host)")
                }
                if r.status >= 500, attempt < Self.retryDelays.count {
                    try await Task.sleep(for: .seconds(Self.retryDelays[attempt]))
                    attempt += 1
                    continue
                }
                return r
            } catch HTTPError.tlsHandshake where fallsBackToHTTP && url.scheme == "https" && Origin(url) == origin {
                // A loopback registry that answers TLS with plain HTTP: use HTTP from now on.
                currentScheme.withLock { $0 = "http" }
                var c = URLComponents(url: url, resolvingAgainstBaseURL: false)!
                c.scheme = "http"
                url = c.url ?? url
                continue
            } catch HTTPError.untrustedCertificate(let m) {
                throw RuntimeError.unavailable(
                    "the TLS certificate of \(host) is not trusted (\(m)); give the CA that signed it with the engine's --registry-ca FILE or the caCert of a registry secret for \(host)")
            } catch let e as HTTPError {
                if case .tooLarge = e { throw e }
                if attempt < Self.retryDelays.count {
                    try await Task.sleep(for: .seconds(Self.retryDelays[attempt]))
                    attempt += 1
                    continue
                }
                throw RuntimeError.unavailable("registry \(host) cannot be reached (\(e)) after \(attempt + 1) attempts")
            }
        }
    }

    /// One request and the redirects it is answered with. Authorization goes only to the
    /// registry's own origin; a redirect elsewhere is followed without it.
    func sendFollowingRedirects(_ method: String, _ start: URL, scope: String, headers: [(String, String)], body: HTTPBody,
                                sink: HTTPResponseSink, basic: Bool) async throws -> HTTPResponse {
        var url = start
        for _ in 0...Self.maxRedirects {
            var h = headers
            if Origin(url) == origin, mayCarryCredentials(url) {
                if let token = tokens.withLock({ $0[scope] }) {
                    h.append(("Authorization", "Bearer \(token)"))
                } else if let c = credentials, basic {
                    h.append(("Authorization", "Basic " + Data("\(c.username):\(c.password)".utf8).base64EncodedString()))
                }
            }
            let r = try await http.send(HTTPRequest(method: method, url: url, headers: h, body: body, trustedCertificates: trustedCertificates), sink: sink)
            guard [301, 302, 303, 307, 308].contains(r.status), let location = r.headers["location"] else { return r }
            guard let next = URL(string: location, relativeTo: url)?.absoluteURL, let o = Origin(next), ["http", "https"].contains(o.scheme) else {
                throw RuntimeError.unavailable("\(host) redirected to '\(PathSyntax.shortened(location))', which is not an http(s) URL")
            }
            if url.scheme == "https", o.scheme == "http", !mayCarryCredentials(next) {
                throw RuntimeError.unavailable("\(host) redirected from https to plain http (\(o)); refusing the downgrade")
            }
            url = next
        }
        throw RuntimeError.unavailable("\(host) redirected more than \(Self.maxRedirects) times")
    }

    /// Handles a 401 challenge: Basic needs credentials; Bearer fetches a token from the realm.
    func authenticate(challenge: String, scope: String) async throws {
        let lower = challenge.lowercased()
        if lower.hasPrefix("basic") {
            guard credentials != nil else {
                throw RuntimeError(.permissionDenied, "401 from \(host): the registry needs credentials; create a registry secret for \(host)")
            }
            return
        }
        guard lower.hasPrefix("bearer") else { throw RuntimeError.unavailable("401 from \(host) with an unknown challenge '\(PathSyntax.shortened(challenge))'") }
        let params = Self.parseChallenge(String(challenge.dropFirst(6)))
        guard let realm = params["realm"], var components = URLComponents(string: realm), let realmURL = components.url,
            let realmScheme = realmURL.scheme?.lowercased(), ["http", "https"].contains(realmScheme)
        else {
            throw RuntimeError.unavailable("401 from \(host): the Bearer challenge has no usable realm")
        }
        var items = components.queryItems ?? []
        if let service = params["service"] { items.append(URLQueryItem(name: "service", value: service)) }
        for s in scope.split(separator: " ") { items.append(URLQueryItem(name: "scope", value: String(s))) }
        components.queryItems = items
        var headers: [(String, String)] = []
        if let c = credentials {
            guard mayCarryCredentials(realmURL) else {
                throw RuntimeError(.permissionDenied,
                    "the token service of \(host) is plain HTTP (\(PathSyntax.shortened(realm))); Slipway sends credentials over plain HTTP only to loopback and --insecure-registry hosts")
            }
            headers.append(("Authorization", "Basic " + Data("\(c.username):\(c.password)".utf8).base64EncodedString()))
        }
        let response: HTTPResponse
        do {
            response = try await http.send(HTTPRequest(url: components.url!, headers: headers, timeout: 60, trustedCertificates: trustedCertificates),
                                           sink: .memory(maxBytes: 1 << 20))
        } catch let e as HTTPError {
            throw RuntimeError.unavailable("the token service of \(host) (\(PathSyntax.shortened(realm))) cannot be reached: \(e)")
        }
        guard response.status == 200,
            let json = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
            let token = (json["token"] as? String) ?? (json["access_token"] as? String)
        else {
            throw RuntimeError(.permissionDenied, "\(response.status) from the token service of \(host): the registry refused the credentials; check the registry secret for \(host)")
        }
        tokens.withLock { $0[scope] = token }
    }

    /// `realm="…",service="…",scope="…"` → dictionary.
    static func parseChallenge(_ s: String) -> [String: String] {
        var out: [String: String] = [:]
        let pattern = try! NSRegularExpression(pattern: #"(\w+)="([^"]*)""#)
        for m in pattern.matches(in: s, range: NSRange(s.startIndex..., in: s)) {
            if let k = Range(m.range(at: 1), in: s), let v = Range(m.range(at: 2), in: s) { out[String(s[k])] = String(s[v]) }
        }
        return out
    }

    func resolve(_ location: String) throws -> URL {
        guard let u = URL(string: location, relativeTo: url(""))?.absoluteURL, Origin(u) == origin else {
            throw RuntimeError.unavailable("\(host) gave an upload location on another host ('\(PathSyntax.shortened(location))'); refusing it")
        }
        return u
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
                let r = try await send("PATCH", try resolve(location), scope: scope,
                                       headers: [("Content-Type", "application/octet-stream"), ("Content-Range", "\(offset)-\(end)")],
                                       body: .file(path: path, offset: offset, length: length))
                guard r.status == 202, let next = r.headers["location"] else {
                    throw RuntimeError.unavailable("\(r.status) from \(host) uploading a chunk of \(d.digest.short) to \(repository)")
                }
                location = next
                offset = end + 1
            }
        }
        var target = URLComponents(url: try resolve(location), resolvingAgainstBaseURL: true)!
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
        let probe = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any]
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

    /// Pushes `image` (blobs in its store) as `repository:tag` for each tag; returns the pushed
    /// manifest digest and how many blobs were uploaded. Blobs the repository has are skipped;
    /// blobs another repository of the registry has (`mountFrom`) are mounted, not uploaded.
    /// The manifest goes last, so a failed push never leaves a manifest naming a missing blob.
    public func push(_ image: OCIImage, repository: String, tags: [String], mountFrom: [String] = [],
                     log: (String) -> Void) async throws -> (digest: Digest, uploaded: Int) {
        let scope = "repository:\(repository):pull,push"
        var uploaded = 0
        blobs: for d in image.manifest.layers + [image.manifest.config] {
            let head = try await send("HEAD", url("\(repository)/blobs/\(d.digest)"), scope: scope)
            if head.status == 200 {
                log("Layer \(d.digest.short) already exists in \(host)/\(repository)")
                continue
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
                    continue blobs
                }
                if r.status == 202 { location = r.headers["location"] }
            }
            if location == nil {
                let start = try await send("POST", url("\(repository)/blobs/uploads/"), scope: scope)
                guard start.status == 202 else { throw RuntimeError.unavailable("\(start.status) from \(host) starting an upload to \(repository)") }
                location = start.headers["location"]
            }
            guard let location else { throw RuntimeError.unavailable("\(host) gave no upload location for \(repository)") }
            try await upload(d, from: image.store, to: location, repository: repository, scope: scope)
            uploaded += 1
            log("Uploaded \(d.digest.short) (\(d.size) bytes) to \(host)/\(repository)")
        }
        let manifest = try image.store.read(image.manifestDigest)
        for tag in tags {
            let r = try await send("PUT", url("\(repository)/manifests/\(tag)"), scope: scope, headers: [("Content-Type", MediaType.manifest)],
                                   body: .bytes(manifest))
            guard r.status == 201 else { throw RuntimeError.unavailable("\(r.status) from \(host) putting the manifest \(repository):\(tag)") }
            if let returned = r.headers["docker-content-digest"], returned != image.manifestDigest.string {
                throw RuntimeError.unavailable("\(host) stored \(repository):\(tag) as \(PathSyntax.shortened(returned, limit: 80)), not \(image.manifestDigest)")
            }
        }
        return (image.manifestDigest, uploaded)
    }
}
