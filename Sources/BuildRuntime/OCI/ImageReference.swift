import Foundation

/// Where an image is or goes: an OCI layout (`oci:DIR[:TAG]`, skopeo's syntax), a registry
/// reference (`host[:port]/repo[:tag][@digest]`), or — for stack images only — a root
/// filesystem folder to import (`rootfs:DIR`, or an absolute path).
public enum ImageReference: Sendable, Equatable, CustomStringConvertible {
    case layout(path: String, tag: String)
    case registry(host: String, repository: String, tag: String?, digest: Digest?)
    case rootfs(path: String)

    public static let defaultTag = "latest"

    /// Parses a reference; `field` names the param in the error.
    public static func parse(_ text: String, field: String) throws -> ImageReference {
        guard text.utf8.count <= 4096 else {
            throw RuntimeError.invalid("'\(field)' is longer than 4096 bytes; give oci:DIR[:TAG] or host/repo:tag", field: field)
        }
        let t = text.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty else { throw RuntimeError.invalid("'\(field)' is empty; give oci:DIR[:TAG] or host/repo:tag", field: field) }
        if t.hasPrefix("oci:") {
            let rest = String(t.dropFirst(4))
            guard !rest.isEmpty else { throw RuntimeError.invalid("'\(field)' is 'oci:' without a directory; use oci:DIR[:TAG]", field: field) }
            var path = rest
            var tag = defaultTag
            if let colon = rest.lastIndex(of: ":"), !rest[rest.index(after: colon)...].contains("/") {
                path = String(rest[..<colon])
                tag = String(rest[rest.index(after: colon)...])
                guard isValidTag(tag) else {
                    throw RuntimeError.invalid("'\(field)': tag '\(PathSyntax.shortened(tag))' is not valid (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')", field: field)
                }
            }
            guard path.hasPrefix("/") else {
                throw RuntimeError.invalid("'\(field)': the OCI layout directory '\(PathSyntax.shortened(path))' must be an absolute path", field: field)
            }
            return .layout(path: URL(fileURLWithPath: path).standardizedFileURL.path, tag: tag)
        }
        if t.hasPrefix("rootfs:") || t.hasPrefix("/") {
            let path = t.hasPrefix("rootfs:") ? String(t.dropFirst(7)) : t
            guard path.hasPrefix("/") else {
                throw RuntimeError.invalid("'\(field)': the root filesystem folder '\(PathSyntax.shortened(path))' must be an absolute path", field: field)
            }
            return .rootfs(path: URL(fileURLWithPath: path).standardizedFileURL.path)
        }
        return try parseRegistry(t, field: field)
    }

    static func parseRegistry(_ t: String, field: String) throws -> ImageReference {
        var rest = Substring(t)
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            guard let d = Digest(String(rest[rest.index(after: at)...])) else {
                throw RuntimeError.invalid("'\(field)': '\(PathSyntax.shortened(String(rest[rest.index(after: at)...])))' is not a sha256 digest", field: field)
            }
            digest = d
            rest = rest[..<at]
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[rest.index(after: colon)...].contains("/") {
            tag = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
            guard isValidTag(tag!) else { throw RuntimeError.invalid("'\(field)': tag '\(PathSyntax.shortened(tag!))' is not a valid image tag", field: field) }
        }
        var parts = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var host = "docker.io"
        if parts.count > 1, parts[0].contains(".") || parts[0].contains(":") || parts[0] == "localhost" {
            host = parts.removeFirst()
        }
        let repository = parts.joined(separator: "/")
        guard (host + "/" + repository).utf8.count <= 255 else {
            throw RuntimeError.invalid("'\(field)': the repository name '\(PathSyntax.shortened(host + "/" + repository))' is longer than 255 characters", field: field)
        }
        let component = #"^[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*$"#
        guard !repository.isEmpty, parts.allSatisfy({ $0.range(of: component, options: .regularExpression) != nil }) else {
            throw RuntimeError.invalid(
                "'\(field)': '\(PathSyntax.shortened(t))' is not an image reference; use oci:/absolute/dir[:tag] or host[:port]/repository[:tag] (lowercase repository)",
                field: field)
        }
        if host == "docker.io", !repository.contains("/") {
            return .registry(host: host, repository: "library/" + repository, tag: tag ?? (digest == nil ? defaultTag : nil), digest: digest)
        }
        return .registry(host: host, repository: repository, tag: tag ?? (digest == nil ? defaultTag : nil), digest: digest)
    }

    public static func isValidTag(_ tag: String) -> Bool {
        tag.range(of: #"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"#, options: .regularExpression) != nil
    }

    public var description: String {
        switch self {
        case .layout(let path, let tag): return "oci:\(path):\(tag)"
        case .registry(let host, let repo, let tag, let digest):
            return "\(host)/\(repo)" + (tag.map { ":" + $0 } ?? "") + (digest.map { "@" + $0.string } ?? "")
        case .rootfs(let path): return "rootfs:\(path)"
        }
    }

    /// The reference without tag, to which `@sha256:…` is appended to name one exact image.
    public var repositoryName: String {
        switch self {
        case .layout(let path, _): return "oci:\(path)"
        case .registry(let host, let repo, _, _): return "\(host)/\(repo)"
        case .rootfs(let path): return "rootfs:\(path)"
        }
    }
}
