import Foundation

/// What a buildpack says about itself in `buildpack.toml`.
public struct BuildpackDescriptor: Sendable, Equatable, Codable {
    public var api: String
    public var id: String
    public var version: String
    public var name: String?
    public var homepage: String?
    /// When true, user-provided env vars are not put in the buildpack's environment.
    public var clearEnv: Bool
    public var stacks: [String]
    /// `[[targets]]` (Buildpack API 0.10+): `os/arch` pairs, either part may be empty for any.
    public var targets: [String]?
    /// A composite buildpack's groups (`[[order]]`); nil for a buildpack that runs itself.
    public var order: [[CompositeEntry]]?
    /// `[buildpack] sbom-formats`: the media types of the SBOM files the buildpack may write
    /// (`SBOMFormat.mediaType`); an SBOM file of another format fails its build.
    public var sbomFormats: [String]?

    /// One entry of a composite buildpack's group.
    public struct CompositeEntry: Sendable, Equatable, Codable {
        public var id: String
        public var version: String?
        public var optional: Bool
    }

    /// Whether Buildpack API `api` (`major.minor`) is `minimum` or later.
    public static func apiAtLeast(_ api: String, _ minimum: String) -> Bool {
        func parts(_ v: String) -> [Int] { v.split(separator: ".").map { Int($0) ?? 0 } + [0, 0] }
        let a = parts(api), m = parts(minimum)
        return (a[0], a[1]) >= (m[0], m[1])
    }

    public init(api: String, id: String, version: String, name: String? = nil, homepage: String? = nil, clearEnv: Bool = false, stacks: [String] = []) {
        self.api = api
        self.id = id
        self.version = version
        self.name = name
        self.homepage = homepage
        self.clearEnv = clearEnv
        self.stacks = stacks
    }

    /// Buildpack APIs this lifecycle implements.
    public static let supportedAPIs = ["0.7", "0.8", "0.9", "0.10", "0.11"]

    public static func parse(_ text: String, source: String) throws -> BuildpackDescriptor {
        let doc: TOMLTable
        do {
            doc = try TOMLParser.parse(text)
        } catch {
            throw RuntimeError.invalid("\(source)/buildpack.toml is not valid TOML: \(error)")
        }
        guard let api = doc["api"]?.string else { throw RuntimeError.invalid("\(source)/buildpack.toml has no 'api'") }
        guard supportedAPIs.contains(api) else {
            throw RuntimeError.invalid("\(source): Buildpack API \(api) is not supported (supported: \(supportedAPIs.joined(separator: ", ")))")
        }
        guard let bp = doc["buildpack"]?.table, let id = bp["id"]?.string, let version = bp["version"]?.string else {
            throw RuntimeError.invalid("\(source)/buildpack.toml needs [buildpack] with 'id' and 'version'")
        }
        guard isValidID(id) else {
            throw RuntimeError.invalid("\(source): buildpack id '\(id)' is not valid")
        }
        let stacks = (doc["stacks"]?.tables ?? []).compactMap { $0["id"]?.string }
        var d = BuildpackDescriptor(
            api: api, id: id, version: version, name: bp["name"]?.string, homepage: bp["homepage"]?.string,
            clearEnv: bp["clear-env"]?.bool ?? false, stacks: stacks)
        if let targets = doc["targets"]?.tables, !targets.isEmpty {
            d.targets = targets.map { "\($0["os"]?.string ?? "")/\($0["arch"]?.string ?? "")" }
        }
        if let formats = bp["sbom-formats"]?.array {
            d.sbomFormats = formats.compactMap(\.string)
        }
        if let order = doc["order"]?.tables {
            d.order = try order.map { group in
                let entries = (group["group"]?.tables ?? []).map { e in
                    (e["id"]?.string, CompositeEntry(id: e["id"]?.string ?? "", version: e["version"]?.string, optional: e["optional"]?.bool ?? false))
                }
                guard !entries.isEmpty, entries.allSatisfy({ $0.0?.isEmpty == false }) else {
                    throw RuntimeError.invalid("\(source): every [[order]] of a composite buildpack needs [[order.group]] entries with an id")
                }
                return entries.map(\.1)
            }
        }
        return d
    }

    /// Buildpack ids: letters, digits, `.`, `_`, `-` and `/`, and not a name the lifecycle uses
    /// for its own layer folders.
    public static func isValidID(_ id: String) -> Bool {
        id.range(of: #"^[A-Za-z0-9][A-Za-z0-9._/-]*$"#, options: .regularExpression) != nil && !["app", "config", "sbom"].contains(id) && !id.contains("..")
    }

    /// Whether the buildpack runs on `os`/`arch` (true when it names no targets).
    public func supports(os: String, arch: String) -> Bool {
        guard let targets else { return true }
        return targets.contains { t in
            let parts = t.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            return (parts[0].isEmpty || parts[0] == os) && (parts.count < 2 || parts[1].isEmpty || parts[1] == arch)
        }
    }

    /// The id as a single path component (`/` becomes `_`), as the lifecycle names folders.
    public var escapedID: String { Self.escape(id) }

    public static func escape(_ id: String) -> String { id.replacingOccurrences(of: "/", with: "_") }
}
