import Foundation
import Synchronization

/// How Slipway speaks HTTP to one registry: the scheme (https, or plain HTTP for insecure and
/// loopback hosts), authentication (Basic, or Bearer tokens fetched per scope from the realm a
/// 401 names), redirects that never carry credentials to another origin or down to plain HTTP,
/// and retries of 5xx answers and failed connections. `RegistryClient` speaks the distribution
/// API over it.
final class RegistryTransport: Sendable {
    let host: String
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
    /// Set once the registry asked for Basic auth: later requests carry it from the start
    /// (one round trip fewer, and a streamed body is never answered 401 for want of it).
    let preemptiveBasic = Mutex(false)
    static let retryDelays: [Double] = [0.2, 0.5, 1.0]
    static let maxRedirects = 5

    init(host: String, insecure: Bool, credentials: RegistryCredentials?, insecureHosts: Set<String> = [], trustedCertificates: Data? = nil) {
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
    var httpsOrigin: Origin { Origin(URL(string: "https://\(host)/")!)! }

    /// `url` on the scheme the registry is spoken to now: an https URL of a loopback registry
    /// found (by another request, perhaps) to speak plain HTTP becomes http.
    func onCurrentScheme(_ url: URL) -> URL {
        guard fallsBackToHTTP, scheme == "http", url.scheme == "https", Origin(url) == httpsOrigin,
            var c = URLComponents(url: url, resolvingAgainstBaseURL: false)
        else { return url }
        c.scheme = "http"
        return c.url ?? url
    }

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
        var url = onCurrentScheme(url)
        while true {
            do {
                let r = try await sendFollowingRedirects(method, url, scope: scope, headers: headers, body: body, sink: try sink(), basic: authRetried || preemptiveBasic.withLock { $0 })
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
            } catch let e as HTTPError where e.mayMeanPlainHTTP && fallsBackToHTTP && url.scheme == "https" && Origin(url) == httpsOrigin {
                // A loopback registry that does not speak TLS (it answers the handshake with
                // plain HTTP, or drops it): use HTTP from now on, as docker does.
                currentScheme.withLock { $0 = "http" }
                url = onCurrentScheme(url)
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
            preemptiveBasic.withLock { $0 = true }
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
            let json = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],  // not a token answer: said below
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

}
