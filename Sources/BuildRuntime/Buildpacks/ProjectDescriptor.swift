import Foundation

/// The app's `project.toml`: the CNB project descriptor (schema 0.2, `[_]` and
/// `[io.buildpacks]`, and the legacy 0.1 form, `[project]` and `[build]`). It decides what of
/// the source goes into `/workspace` (include or exclude, gitignore patterns), adds build env,
/// and can replace the builder's order with one group of its own, inline `script` buildpacks
/// included. The file comes with the source, so every field is checked before it is used.
public struct ProjectDescriptor: Sendable, Equatable {
    public static let fileName = "project.toml"
    /// Largest project.toml read.
    public static let maxBytes = 256 << 10

    /// The schema the file was read as: "0.2", or "0.1" for the legacy form.
    public var schemaVersion: String
    /// `[_]` (or `[project]` in 0.1): what the project says about itself.
    public var info = Info()
    /// gitignore patterns of what to keep in the workspace (everything else goes).
    public var include: [String] = []
    /// gitignore patterns of what to leave out of the workspace.
    public var exclude: [String] = []
    /// `[[io.buildpacks.build.env]]`, in the order given.
    public var buildEnv: [EnvVar] = []
    /// `[[io.buildpacks.group]]`: when given, the one group the build detects with.
    public var group: [GroupEntry]?
    /// `io.buildpacks.builder`: reported, not used (the image's builder decides).
    public var builder: String?

    public struct Info: Sendable, Equatable {
        public var id: String?
        public var name: String?
        public var version: String?
        public var authors: [String] = []
        public var documentationURL: String?
        public var sourceURL: String?
        public var licenses: [License] = []
        public var metadata: [String: MetadataValue] = [:]
    }

    public struct License: Sendable, Equatable {
        public var type: String?
        public var uri: String?
    }

    public struct EnvVar: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    /// One entry of the project's group.
    public enum GroupEntry: Sendable, Equatable {
        /// A buildpack the builder has, by id and optionally version.
        case buildpack(id: String, version: String?)
        /// An inline buildpack: it always passes detect, and its build runs `script` with `shell`.
        case inline(InlineBuildpack)
        /// A buildpack named by `uri`; `id` and `version` given beside it must be the
        /// buildpack's own.
        case located(BuildpackURI, id: String?, version: String?)
    }

    /// Where a group entry's `uri` says its buildpack is, as pack reads it.
    public enum BuildpackURI: Sendable, Equatable {
        /// A folder or archive (`.tgz`, `.tar.gz`, `.tar`, `.cnb`) inside the app: a relative
        /// path, or `file://` relative or absolute (`absolute`: it must lie inside the app,
        /// which the build decides). The path has no `.` or `..` component, nor a trailing `/`;
        /// empty is the app's own top folder.
        case app(path: String, absolute: Bool)
        /// `urn:cnb:builder:ID[@VERSION]`: a buildpack of the builder.
        case builder(id: String, version: String?)
        /// `urn:cnb:registry:ID[@VERSION]`: Slipway has no buildpack registry, so it is looked
        /// for among the builder's buildpacks.
        case registry(id: String, version: String?)
        /// `docker://REF` or a bare registry reference: a buildpackage image.
        case package(reference: String)
        /// An `http://` or `https://` archive.
        case download(url: String)

        static let archiveSuffixes = [".tgz", ".tar.gz", ".tar", ".cnb"]

        /// Reads `uri` (of the entry at `at`); an error names the entry and says what to give.
        public static func parse(_ uri: String, at: String) throws -> BuildpackURI {
            func bad(_ why: String) -> RuntimeError { ProjectDescriptor.invalid("has \(at).uri \"\(PathSyntax.shortened(uri))\", which \(why)") }
            guard !uri.isEmpty, uri.utf8.count <= 4096, !uri.contains(where: { $0.isNewline || $0 == "\0" }) else {
                throw bad("is not a uri pack reads (empty, over 4096 bytes, or with a line break)")
            }
            for (prefix, make) in [("urn:cnb:builder:", BuildpackURI.builder), ("urn:cnb:registry:", BuildpackURI.registry)] where uri.hasPrefix(prefix) {
                let rest = uri.dropFirst(prefix.count)
                let parts = rest.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let (id, version) = (parts[0], parts.count > 1 ? parts[1] : nil)
                guard BuildpackDescriptor.isValidID(id), version.map({ !$0.isEmpty }) ?? true else {
                    throw bad("does not name a buildpack as \(prefix)ID or \(prefix)ID@VERSION")
                }
                return make(id, version)
            }
            let lower = uri.lowercased()
            if lower.hasPrefix("docker://") {
                let reference = String(uri.dropFirst("docker://".count))
                guard !reference.isEmpty, !reference.hasPrefix("/") else { throw bad("names no image reference after docker://") }
                return .package(reference: reference)
            }
            if lower.hasPrefix("https://") || lower.hasPrefix("http://") { return .download(url: uri) }
            if lower.hasPrefix("file://") {
                // file:///abs/path (or file://localhost/abs/path), or file://relative/path as pack
                // writes a path relative to the app.
                var rest = String(uri.dropFirst("file://".count))
                if rest.hasPrefix("localhost/") { rest.removeFirst("localhost".count) }
                guard let path = rest.removingPercentEncoding else { throw bad("is not a file:// URI of a path (its %-escapes are not UTF-8)") }
                return try app(path, absolute: path.hasPrefix("/"), bad)
            }
            if let colon = uri.firstIndex(of: ":"), uri[..<colon].contains(where: { !$0.isLetter && !$0.isNumber && $0 != "+" && $0 != "-" && $0 != "." }) == false,
               uri[colon...].hasPrefix("://") {
                throw bad("has a scheme Slipway does not fetch from; give a folder or archive in the app, file://, docker://, https://, urn:cnb:builder: or urn:cnb:registry:")
            }
            if uri.hasPrefix("/") { return try app(uri, absolute: true, bad) }
            // As pack: a registry reference names its registry (a host with '.' or ':', or
            // localhost) and is not an archive; anything else is a path in the app.
            let first = uri.split(separator: "/").first.map(String.init) ?? ""
            let looksLikeRegistry = uri.contains("/") && !uri.hasSuffix("/") && !first.hasPrefix(".") && (first.contains(".") || first.contains(":") || first == "localhost")
                && !archiveSuffixes.contains(where: { lower.hasSuffix($0) })
            if looksLikeRegistry { return .package(reference: uri) }
            return try app(uri, absolute: false, bad)
        }

        /// A path in the app: no `..`, `.` and empty components dropped.
        static func app(_ path: String, absolute: Bool, _ bad: (String) -> RuntimeError) throws -> BuildpackURI {
            let parts = path.split(separator: "/").filter { $0 != "." }
            guard !parts.contains("..") else { throw bad("leads out of its folder with '..'; name a buildpack inside the app") }
            return .app(path: (absolute ? "/" : "") + parts.joined(separator: "/"), absolute: absolute)
        }
    }

    public struct InlineBuildpack: Sendable, Equatable {
        public var id: String
        public var version: String
        public var api: String
        public var shell: String
        public var script: String

        /// The files of the buildpack: buildpack.toml, bin/detect and bin/build.
        public var files: [(path: String, contents: String, mode: mode_t)] {
            let toml = TOMLTable([
                ("api", .string(api)),
                ("buildpack", .table(TOMLTable([("id", .string(id)), ("version", .string(version)), ("name", .string("inline buildpack from project.toml"))]))),
                ("stacks", .array([.table(TOMLTable([("id", .string("*"))]))])),
            ])
            return [("buildpack.toml", TOMLWriter.write(toml), 0o644),
                    ("bin/detect", "#!\(shell)\nexit 0\n", 0o755),
                    ("bin/build", "#!\(shell)\n\(script)\n", 0o755)]
        }
    }

    // MARK: Reading

    /// Reads `project.toml` at the top of the app, if there is one. It must be a regular file
    /// (a symlink there is refused, never followed).
    public static func load(from app: ConfinedDirectory) throws -> ProjectDescriptor? {
        guard try app.status(fileName) != nil else { return nil }
        let text: String
        do {
            text = try app.readText(fileName, maxBytes: maxBytes)
        } catch let e as ConfinedPathError {
            throw RuntimeError.buildFailed("\(fileName) cannot be read: \(e); it must be a regular file of at most \(maxBytes >> 10) KiB")
        }
        return try parse(text)
    }

    /// Parses and checks the descriptor; every error names the file and the key.
    public static func parse(_ text: String) throws -> ProjectDescriptor {
        let doc: TOMLTable
        do {
            doc = try TOMLParser.parse(text)
        } catch {
            throw invalid("is not valid TOML: \(error)")
        }
        let top = try table(doc, "_", at: "")
        let declared = try top.flatMap { try string($0, "schema-version", at: "_") }
        let io = try table(doc, "io", at: "").flatMap { try table($0, "buildpacks", at: "io") }
        let version: String
        switch declared {
        case "0.2"?: version = "0.2"
        case "0.1"?: version = "0.1"
        case nil: version = (doc["project"] != nil || doc["build"] != nil) && io == nil ? "0.1" : "0.2"
        case let other?:
            throw invalid("has schema-version \"\(other)\" in [_], which Slipway does not read; use \"0.2\" (or leave it out for the legacy 0.1 form)")
        }
        var d = ProjectDescriptor(schemaVersion: version)
        if version == "0.2" {
            if let top { d.info = try info(top, at: "_") }
            if let io {
                d.builder = try string(io, "builder", at: "io.buildpacks")
                d.include = try strings(io, "include", at: "io.buildpacks")
                d.exclude = try strings(io, "exclude", at: "io.buildpacks")
                d.group = try io["group"] == nil ? nil : groupEntries(try tables(io, "group", at: "io.buildpacks"), at: "io.buildpacks.group")
                let build = try table(io, "build", at: "io.buildpacks")
                d.buildEnv = try build.map { try env(try tables($0, "env", at: "io.buildpacks.build"), at: "io.buildpacks.build.env") } ?? []
                // The older spelling, still read by pack.
                if let old = try table(io, "env", at: "io.buildpacks") {
                    d.buildEnv = try env(try tables(old, "build", at: "io.buildpacks.env"), at: "io.buildpacks.env.build") + d.buildEnv
                }
            }
        } else {
            if let project = try table(doc, "project", at: "") { d.info = try info(project, at: "project") }
            if let metadata = try table(doc, "metadata", at: "") { d.info.metadata = metadataTable(metadata) }
            if let build = try table(doc, "build", at: "") {
                d.include = try strings(build, "include", at: "build")
                d.exclude = try strings(build, "exclude", at: "build")
                d.group = try build["buildpacks"] == nil ? nil : groupEntries(try tables(build, "buildpacks", at: "build"), at: "build.buildpacks")
                d.buildEnv = try env(try tables(build, "env", at: "build"), at: "build.env")
            }
        }
        if !d.include.isEmpty && !d.exclude.isEmpty {
            throw invalid("gives both include and exclude; give one of them")
        }
        return d
    }

    static func invalid(_ message: String) -> RuntimeError { RuntimeError.buildFailed("\(fileName) \(message)") }

    static func describe(_ key: String, at path: String) -> String { path.isEmpty ? key : path + "." + key }

    /// The value at `key`, nil when absent; a value `extract` does not take is an error that
    /// says what it should be.
    static func typed<T>(_ t: TOMLTable, _ key: String, at path: String, _ what: String, _ extract: (TOMLValue) -> T?) throws -> T? {
        guard let v = t[key] else { return nil }
        guard let value = extract(v) else { throw invalid("has \(describe(key, at: path)) that is not \(what)") }
        return value
    }

    static func table(_ t: TOMLTable, _ key: String, at path: String) throws -> TOMLTable? {
        try typed(t, key, at: path, "a table") { $0.table }
    }

    static func tables(_ t: TOMLTable, _ key: String, at path: String) throws -> [TOMLTable] {
        try typed(t, key, at: path, "an array of tables ([[\(describe(key, at: path))]])") { v in
            v.tables.flatMap { $0.count == v.array?.count ? $0 : nil }
        } ?? []
    }

    static func string(_ t: TOMLTable, _ key: String, at path: String) throws -> String? {
        try typed(t, key, at: path, "a string") { $0.string }
    }

    static func strings(_ t: TOMLTable, _ key: String, at path: String) throws -> [String] {
        try typed(t, key, at: path, "an array of strings") { v in
            v.array.flatMap { a in a.allSatisfy { $0.string != nil } ? a.compactMap(\.string) : nil }
        } ?? []
    }

    static func metadataTable(_ t: TOMLTable) -> [String: MetadataValue] {
        Dictionary(uniqueKeysWithValues: t.entries.map { ($0.key, MetadataValue($0.value)) })
    }

    static func info(_ t: TOMLTable, at path: String) throws -> Info {
        var i = Info()
        i.id = try string(t, "id", at: path)
        i.name = try string(t, "name", at: path)
        i.version = try string(t, "version", at: path)
        i.authors = try strings(t, "authors", at: path)
        i.documentationURL = try string(t, "documentation-url", at: path)
        i.sourceURL = try string(t, "source-url", at: path)
        for (n, l) in try tables(t, "licenses", at: path).enumerated() {
            let license = License(type: try string(l, "type", at: "\(path).licenses[\(n)]"), uri: try string(l, "uri", at: "\(path).licenses[\(n)]"))
            guard license.type != nil || license.uri != nil else { throw invalid("has \(path).licenses[\(n)] with neither type nor uri; give one") }
            i.licenses.append(license)
        }
        if let m = try table(t, "metadata", at: path) { i.metadata = metadataTable(m) }
        return i
    }

    static func env(_ entries: [TOMLTable], at path: String) throws -> [EnvVar] {
        try entries.enumerated().map { n, e in
            let at = "\(path)[\(n)]"
            guard let name = try string(e, "name", at: at), let value = try string(e, "value", at: at) else {
                throw invalid("has \(at) without a name and a value")
            }
            guard LayerEnvironment.isValidName(name), !name.hasPrefix("CNB_") else {
                throw invalid("has \(at) with name \"\(name)\", which is not an environment variable a build may set (letters, digits and _, not starting with a digit or CNB_)")
            }
            return EnvVar(name: name, value: value)
        }
    }

    static func groupEntries(_ entries: [TOMLTable], at path: String) throws -> [GroupEntry] {
        try entries.enumerated().map { n, e in
            let at = "\(path)[\(n)]"
            let id = try string(e, "id", at: at)
            let version = try string(e, "version", at: at)
            if let uri = try string(e, "uri", at: at) {
                guard try table(e, "script", at: at) == nil else { throw invalid("has \(at) with both uri and script; give one") }
                return .located(try BuildpackURI.parse(uri, at: at), id: id, version: version)
            }
            if let script = try table(e, "script", at: at) {
                guard let id, BuildpackDescriptor.isValidID(id) else { throw invalid("has \(at) with a script but no valid id; an inline buildpack needs one") }
                guard let api = try string(script, "api", at: at + ".script") else { throw invalid("has \(at).script without api; give the Buildpack API the script follows") }
                guard BuildpackDescriptor.supportedAPIs.contains(api) else {
                    throw invalid("has \(at).script with api \"\(api)\"; supported: \(BuildpackDescriptor.supportedAPIs.joined(separator: ", "))")
                }
                guard let inline = try string(script, "inline", at: at + ".script"), !inline.isEmpty else { throw invalid("has \(at).script without inline") }
                let shell = try string(script, "shell", at: at + ".script") ?? "/bin/sh"
                guard shell.hasPrefix("/"), !shell.contains(where: \.isNewline) else { throw invalid("has \(at).script with shell \"\(shell)\"; give an absolute path") }
                return .inline(InlineBuildpack(id: id, version: version ?? "0.0.0", api: api, shell: shell, script: inline))
            }
            guard let id, !id.isEmpty else { throw invalid("has \(at) with no id; name a buildpack the builder has") }
            return .buildpack(id: id, version: version)
        }
    }

    // MARK: Using

    /// Whether the group names a buildpack inside the app (which the host then reads).
    public var namesBuildpacksInApp: Bool {
        (group ?? []).contains { entry in
            if case .located(.app, _, _) = entry { return true }
            return false
        }
    }

    /// The one group this project asks for, made of the builder's buildpacks (from `order`),
    /// inline buildpacks (`inlineFolder` writes one and returns its host folder) and the
    /// buildpacks `fetched` brought in for entries named by uri (by the entry's index).
    public func resolveGroup(against order: [[BuildpackRef]], fetched: [Int: BuildpackRef] = [:],
                             inlineFolder: (InlineBuildpack) throws -> String) throws -> [BuildpackRef]? {
        guard let group else { return nil }
        guard !group.isEmpty else { throw Self.invalid("has an empty group; name at least one buildpack, or leave the group out") }
        let available = order.flatMap { $0 }
        func fromBuilder(_ id: String, _ version: String?, _ missing: (String) -> String) throws -> BuildpackRef {
            let matches = available.filter { $0.descriptor.id == id && (version == nil || $0.descriptor.version == version) }
            guard var ref = matches.max(by: { $0.descriptor.version.compare($1.descriptor.version, options: .numeric) == .orderedAscending }) else {
                let have = Set(available.map { "\($0.descriptor.id)@\($0.descriptor.version)" }).sorted().joined(separator: ", ")
                throw Self.invalid(missing(have))
            }
            ref.optional = false
            return ref
        }
        return try group.enumerated().map { n, entry in
            switch entry {
            case .buildpack(let id, let version):
                return try fromBuilder(id, version) { "names buildpack \(id)\(version.map { "@" + $0 } ?? ""), which the builder does not have (it has \($0))" }
            case .inline(let inline):
                let descriptor = BuildpackDescriptor(api: inline.api, id: inline.id, version: inline.version,
                                                     name: "inline buildpack from project.toml", stacks: ["*"])
                return BuildpackRef(descriptor: descriptor, directory: try inlineFolder(inline), optional: false)
            case .located(let uri, let id, let version):
                var ref: BuildpackRef
                switch uri {
                case .builder(let bid, let bversion):
                    ref = try fromBuilder(bid, bversion) { "names urn:cnb:builder:\(bid)\(bversion.map { "@" + $0 } ?? ""), which the builder does not have (it has \($0))" }
                case .registry(let bid, let bversion):
                    let shown = bid + (bversion.map { "@" + $0 } ?? "")
                    ref = try fromBuilder(bid, bversion) {
                        "names urn:cnb:registry:\(shown); Slipway has no buildpack registry and looks for it among the builder's buildpacks, which do not include it (they are \($0)): add it to the builder's ClusterStore (clusterstore/patch) and its order"
                    }
                case .app, .package, .download:
                    guard let f = fetched[n] else { throw RuntimeError.invalid("project.toml entry \(n) was not fetched before its group was resolved") }
                    ref = f
                }
                let d = ref.descriptor
                if let id, id != d.id {
                    throw Self.invalid("names buildpack \(id) by uri, but the buildpack there is \(d.id)@\(d.version); give its id, or leave id out")
                }
                if let version, version != d.version {
                    throw Self.invalid("names buildpack \(d.id) version \(version) by uri, but the buildpack there is version \(d.version); give that version, or leave version out")
                }
                ref.optional = false
                return ref
            }
        }
    }

    /// Applies include or exclude to the app folder: what is left out is removed. With include,
    /// a folder that matches is kept whole, and a folder left empty goes. Returns how many
    /// entries were removed. project.toml itself is kept. A folder past `limits` fails with
    /// `TreeLimitExceeded`.
    public func filter(_ app: ConfinedDirectory, limits: TreeLimits = .default) throws -> Int {
        if include.isEmpty && exclude.isEmpty { return 0 }
        let keeping = !include.isEmpty
        let rules = IgnoreRules((keeping ? include : exclude).joined(separator: "\n"))
        var removed = 0
        /// A folder being filtered, and how many of its entries stay.
        final class Folder {
            let dir: ConfinedDirectory
            /// Its folder and its name there; nil for the app folder.
            let parent: (Folder, String)?
            var left = 0
            init(_ dir: ConfinedDirectory, parent: (Folder, String)?) {
                self.dir = dir
                self.parent = parent
            }
        }
        try TreeWalker("/workspace", limits: limits).walk(
            from: Folder(app, parent: nil), entries: { try $0.dir.entries() }, name: { $0 },
            visit: { folder, name, path in
                let isDir = try folder.dir.isDirectory(name)
                let matches = rules.ignores(path, isDirectory: isDir)
                if path == Self.fileName || (keeping && matches) {
                    folder.left += 1
                } else if !keeping && matches {
                    try folder.dir.remove(name)
                    removed += 1
                } else if isDir {
                    return Folder(try folder.dir.openDirectory(name), parent: (folder, name))
                } else if keeping {
                    try folder.dir.remove(name)
                    removed += 1
                } else {
                    folder.left += 1
                }
                return nil
            },
            leave: { folder, _ in
                // A folder left empty by include goes.
                guard let (parent, name) = folder.parent else { return }
                if folder.left == 0 && keeping {
                    try parent.dir.remove(name)
                    removed += 1
                } else {
                    parent.left += 1
                }
            })
        return removed
    }
}
