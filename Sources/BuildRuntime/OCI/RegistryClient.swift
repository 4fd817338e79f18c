import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Username and password for a registry (Basic auth, and the Bearer token request).
public struct RegistryCredentials: Sendable, Equatable {
    public var username: String
    public var password: String
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
}

/// A client of the OCI distribution API for one registry: pushes blobs (skipping those the
/// registry has) and manifests, with Basic and Bearer-token auth and bounded retries on
/// connection errors and 5xx answers. Plain HTTP is used only when `insecure` is set (loopback
/// hosts and registries named with `--insecure-registry`).
public final class RegistryClient: Sendable {
    public let host: String
    let scheme: String
    let credentials: RegistryCredentials?
    private let tokens = Mutex<[String: String]>([:])
    static let retryDelays: [Double] = [0.2, 0.5, 1.0]

    public init(host: String, insecure: Bool, credentials: RegistryCredentials?) {
        self.host = host
        self.scheme = insecure ? "http" : "https"
        self.credentials = credentials
    }

    /// Whether plain HTTP may be used for `host` without being told: loopback only.
    public static func isLoopback(_ host: String) -> Bool {
        let name = host.split(separator: ":").first.map(String.init) ?? host
        return name == "localhost" || name.hasPrefix("127.") || name == "[::1]"
    }

    func url(_ path: String) -> URL { URL(string: "\(scheme)://\(host)/v2/\(path)")! }

    // MARK: Requests with auth and retries

    struct Response {
        var status: Int
        var headers: [String: String]
        var body: Data
    }

    func send(_ method: String, _ url: URL, scope: String, headers: [String: String] = [:], body: Data? = nil, file: URL? = nil) async throws -> Response {
        var attempt = 0
        var authRetried = false
        while true {
            var request = URLRequest(url: url)
            request.httpMethod = method
            request.timeoutInterval = 120
            for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
            if let token = tokens.withLock({ $0[scope] }) {
                request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            } else if let c = credentials, authRetried {
                request.setValue("Basic " + Data("\(c.username):\(c.password)".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
            }
            do {
                let (data, http) = try await Self.perform(request, body: body, file: file)
                var h: [String: String] = [:]
                for (k, v) in http.allHeaderFields { h[String(describing: k).lowercased()] = String(describing: v) }
                if http.statusCode == 401, !authRetried {
                    authRetried = true
                    try await authenticate(challenge: h["www-authenticate"] ?? "", scope: scope)
                    continue
                }
                if http.statusCode == 401 || http.statusCode == 403 {
                    throw RuntimeError(.permissionDenied, "\(http.statusCode) from \(host): the registry refused the credentials; check the registry secret for \(host)")
                }
                if http.statusCode >= 500, attempt < Self.retryDelays.count {
                    try await Task.sleep(for: .seconds(Self.retryDelays[attempt]))
                    attempt += 1
                    continue
                }
                return Response(status: http.statusCode, headers: h, body: data)
            } catch let e as RuntimeError {
                throw e
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if attempt < Self.retryDelays.count {
                    try await Task.sleep(for: .seconds(Self.retryDelays[attempt]))
                    attempt += 1
                    continue
                }
                throw RuntimeError.unavailable("registry \(host) cannot be reached (\(error.localizedDescription)) after \(attempt + 1) attempts")
            }
        }
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
        guard lower.hasPrefix("bearer") else { throw RuntimeError.unavailable("401 from \(host) with an unknown challenge '\(challenge)'") }
        let params = Self.parseChallenge(String(challenge.dropFirst(6)))
        guard let realm = params["realm"], var components = URLComponents(string: realm) else {
            throw RuntimeError.unavailable("401 from \(host): the Bearer challenge has no realm")
        }
        var items = components.queryItems ?? []
        if let service = params["service"] { items.append(URLQueryItem(name: "service", value: service)) }
        for s in scope.split(separator: " ") { items.append(URLQueryItem(name: "scope", value: String(s))) }
        components.queryItems = items
        var request = URLRequest(url: components.url!)
        if let c = credentials {
            request.setValue("Basic " + Data("\(c.username):\(c.password)".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        }
        let data: Data, response: HTTPURLResponse
        do {
            (data, response) = try await Self.perform(request, body: nil, file: nil)
        } catch {
            throw RuntimeError.unavailable("the token service of \(host) (\(realm)) cannot be reached: \(error.localizedDescription)")
        }
        guard response.statusCode == 200,
            let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let token = (json["token"] as? String) ?? (json["access_token"] as? String)
        else {
            let code = response.statusCode
            throw RuntimeError(.permissionDenied, "\(code) from the token service of \(host): the registry refused the credentials; check the registry secret for \(host)")
        }
        tokens.withLock { $0[scope] = token }
    }

    /// Sends one request. On Linux, URLSession waits forever on a 401 challenge that no delegate
    /// answers; each request therefore gets a session whose delegate keeps the 401 response and
    /// cancels, and that response is returned like any other.
    static func perform(_ request: URLRequest, body: Data?, file: URL?) async throws -> (Data, HTTPURLResponse) {
        let catcher = ChallengeCatcher()
        let session = URLSession(configuration: .ephemeral, delegate: catcher, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        do {
            let (data, response): (Data, URLResponse)
            if let file {
                (data, response) = try await session.upload(for: request, fromFile: file)
            } else if let body {
                (data, response) = try await session.upload(for: request, from: body)
            } else {
                (data, response) = try await session.data(for: request)
            }
            guard let http = response as? HTTPURLResponse else { throw RuntimeError.unavailable("\(request.url?.host ?? "") did not answer over HTTP") }
            return (data, http)
        } catch {
            if let challenged = catcher.response { return (Data(), challenged) }
            throw error
        }
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

    func resolve(_ location: String) -> URL { URL(string: location, relativeTo: url(""))!.absoluteURL }

    /// Uploads one blob to an upload session: in one PUT, or in chunks for large blobs.
    func upload(_ d: OCIDescriptor, from store: ContentStore, to start: String, repository: String, scope: String) async throws {
        let file = URL(fileURLWithPath: store.path(d.digest))
        var location = start
        if d.size > Self.chunkThreshold {
            let handle = try FileHandle(forReadingFrom: file)
            defer { try? handle.close() }
            var offset: Int64 = 0
            while offset < d.size {
                guard let chunk = try handle.read(upToCount: Self.chunkSize), !chunk.isEmpty else { break }
                let end = offset + Int64(chunk.count) - 1
                let r = try await send("PATCH", resolve(location), scope: scope,
                                       headers: ["Content-Type": "application/octet-stream", "Content-Range": "\(offset)-\(end)"], body: chunk)
                guard r.status == 202, let next = r.headers["location"] else {
                    throw RuntimeError.unavailable("\(r.status) from \(host) uploading a chunk of \(d.digest.short) to \(repository)")
                }
                location = next
                offset = end + 1
            }
        }
        var target = URLComponents(url: resolve(location), resolvingAgainstBaseURL: true)!
        target.queryItems = (target.queryItems ?? []) + [URLQueryItem(name: "digest", value: d.digest.string)]
        let put: Response
        if d.size > Self.chunkThreshold {
            put = try await send("PUT", target.url!, scope: scope, headers: ["Content-Type": "application/octet-stream"], body: Data())
        } else {
            put = try await send("PUT", target.url!, scope: scope, headers: ["Content-Type": "application/octet-stream"], file: file)
        }
        guard put.status == 201 else { throw RuntimeError.unavailable("\(put.status) from \(host) uploading \(d.digest.short) to \(repository)") }
    }

    // MARK: Pull

    static let manifestAccept = [MediaType.manifest, MediaType.index, MediaType.dockerManifest, MediaType.dockerManifestList].joined(separator: ", ")

    /// Pulls `repository:reference` (a tag or digest) into `store`, following an index to this
    /// platform's manifest, and returns the image. Blobs already in the store are not fetched;
    /// every blob fetched is checked against its digest.
    public func pull(repository: String, reference: String, into store: ContentStore) async throws -> OCIImage {
        let scope = "repository:\(repository):pull"
        let r = try await send("GET", url("\(repository)/manifests/\(reference)"), scope: scope, headers: ["Accept": Self.manifestAccept])
        guard r.status == 200 else {
            if r.status == 404 { throw RuntimeError.notFound("\(host)/\(repository):\(reference) does not exist (404 from \(host))") }
            throw RuntimeError.unavailable("\(r.status) from \(host) getting the manifest of \(repository):\(reference)")
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
            let blob = try await send("GET", url("\(repository)/blobs/\(d.digest)"), scope: scope)
            guard blob.status == 200 else { throw RuntimeError.unavailable("\(blob.status) from \(host) getting blob \(d.digest.short) of \(repository)") }
            guard try store.put(blob.body) == d.digest else {
                throw RuntimeError.unavailable("\(host) answered blob \(d.digest.short) of \(repository) with other content")
            }
        }
        return try OCIImage.load(digest, from: store)
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
            let r = try await send("PUT", url("\(repository)/manifests/\(tag)"), scope: scope, headers: ["Content-Type": MediaType.manifest], body: manifest)
            guard r.status == 201 else { throw RuntimeError.unavailable("\(r.status) from \(host) putting the manifest \(repository):\(tag)") }
            if let returned = r.headers["docker-content-digest"], returned != image.manifestDigest.string {
                throw RuntimeError.unavailable("\(host) stored \(repository):\(tag) as \(returned), not \(image.manifestDigest)")
            }
        }
        return (image.manifestDigest, uploaded)
    }
}

/// Keeps the 401 response of an authentication challenge and cancels it (see `perform`).
final class ChallengeCatcher: NSObject, URLSessionTaskDelegate, Sendable {
    private let failure = Mutex<HTTPURLResponse?>(nil)
    var response: HTTPURLResponse? { failure.withLock { $0 } }

    func urlSession(_ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
                    completionHandler: @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void) {
        let r = challenge.failureResponse as? HTTPURLResponse
        failure.withLock { $0 = r }
        completionHandler(.cancelAuthenticationChallenge, nil)
    }
}
