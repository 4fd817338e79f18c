import Foundation

/// The scheme, host and port of a URL: what credentials are given for. Credentials go only to
/// the exact origin they were given for — never to another host, another port, or from
/// https down to http.
public struct Origin: Hashable, Sendable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int

    public init?(_ url: URL) {
        guard let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else { return nil }
        self.scheme = scheme
        self.host = Self.normalizeHost(host)
        guard let port = url.port ?? Self.defaultPort(scheme) else { return nil }
        self.port = port
    }

    public init(scheme: String, host: String, port: Int?) {
        self.scheme = scheme.lowercased()
        self.host = Self.normalizeHost(host)
        self.port = port ?? Self.defaultPort(self.scheme) ?? 0
    }

    public var description: String { "\(scheme)://\(host):\(port)" }

    static func defaultPort(_ scheme: String) -> Int? {
        switch scheme {
        case "https": return 443
        case "http": return 80
        case "ssh": return 22
        case "git": return 9418
        default: return nil
        }
    }

    /// Lowercased, without IPv6 brackets or a trailing dot.
    static func normalizeHost(_ host: String) -> String {
        var h = host.lowercased()
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if h.hasSuffix(".") { h.removeLast() }
        return h
    }

    /// Whether `host` (a name or address, without port) is this machine's loopback: `localhost`,
    /// an IPv4 address in 127.0.0.0/8, or `::1`. Parsed as addresses, so `127.evil.example` is not.
    public static func isLoopback(host: String) -> Bool {
        let h = normalizeHost(host)
        if h == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, h, &v4) == 1 { return (UInt32(bigEndian: v4.s_addr) >> 24) == 127 }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, h, &v6) == 1 {
            let b = withUnsafeBytes(of: v6) { Array($0) }
            if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return true }  // ::1
            // ::ffff:127.x.y.z
            if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF { return b[12] == 127 }
        }
        return false
    }

    /// Splits `host[:port]` (IPv6 in brackets) into host and port.
    public static func splitHostPort(_ s: String) -> (host: String, port: Int?) {
        if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
            let host = String(s[s.index(after: s.startIndex)..<close])
            let rest = s[s.index(after: close)...]
            return (host, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
        }
        if let colon = s.lastIndex(of: ":"), s.filter({ $0 == ":" }).count == 1 {
            return (String(s[..<colon]), Int(s[s.index(after: colon)...]))
        }
        return (s, nil)
    }
}

/// Where a secret's credentials may go: scheme, host and port exactly, and a path prefix made
/// of whole segments. A git secret for `https://github.com/org` serves
/// `https://github.com/org/app.git`, but not `https://github.com/org-evil/x`,
/// `https://github.com.evil.example/org` or `http://127.0.0.1:8001` when it was given for port 800.
public struct CredentialScope: Sendable, Equatable {
    public var origin: Origin
    public var path: [String]

    /// Parses a URL (`https://…`, `ssh://…`, `git://…`, `http://…`) or an scp-like git
    /// address (`user@host:path`, treated as ssh). Nil for anything else.
    public init?(_ text: String) {
        if let u = URL(string: text), let scheme = u.scheme?.lowercased(), ["http", "https", "ssh", "git"].contains(scheme), let o = Origin(u) {
            origin = o
            path = PathSyntax.components(u.path)
            return
        }
        // scp-like: [user@]host:path (no scheme, no '//').
        guard !text.contains("://"), let colon = text.firstIndex(of: ":") else { return nil }
        var hostPart = String(text[..<colon])
        if let at = hostPart.lastIndex(of: "@") { hostPart = String(hostPart[hostPart.index(after: at)...]) }
        guard !hostPart.isEmpty, !hostPart.contains("/") else { return nil }
        origin = Origin(scheme: "ssh", host: hostPart, port: nil)
        path = PathSyntax.components(String(text[text.index(after: colon)...]))
    }

    /// Whether credentials given for this scope may be sent to `target`.
    public func covers(_ target: CredentialScope) -> Bool {
        guard origin == target.origin, path.count <= target.path.count else { return false }
        for (a, b) in zip(path, target.path) {
            if a == b { continue }
            // `org/app` covers `org/app.git` and the reverse: the same repository.
            if a == path.last, b == target.path[path.count - 1], Self.withoutGit(a) == Self.withoutGit(b) { continue }
            return false
        }
        return true
    }

    static func withoutGit(_ s: String) -> String { s.hasSuffix(".git") ? String(s.dropLast(4)) : s }

    /// Whether a registry `server` as a secret or docker config names it (`host[:port]`,
    /// optionally with a scheme and a path such as `https://index.docker.io/v1/`) is the
    /// registry `host[:port]`: the same host and the same port (443 when none is given).
    public static func registryServer(_ server: String, matches registry: String) -> Bool {
        var s = server.trimmingCharacters(in: .whitespaces)
        var scheme = "https"
        if let r = s.range(of: "://") {
            scheme = s[..<r.lowerBound].lowercased()
            s = String(s[r.upperBound...])
        }
        if let slash = s.firstIndex(of: "/") { s = String(s[..<slash]) }
        let (sh, sp) = Origin.splitHostPort(s)
        let (rh, rp) = Origin.splitHostPort(registry)
        guard !sh.isEmpty, Origin.normalizeHost(sh) == Origin.normalizeHost(rh) else { return false }
        let defaultPort = scheme == "http" ? 80 : 443
        return (sp ?? defaultPort) == (rp ?? defaultPort)
    }
}
