import Foundation

/// Applies a layer's environment to a set of variables the way the buildpack spec says: files
/// in `env/` (and `env.build/` or `env.launch/`) named `NAME`, `NAME.override`, `NAME.default`,
/// `NAME.prepend`, `NAME.append` with an optional `NAME.delim`; and the layer's `bin/` and
/// `lib/` on the search paths. The launcher (in C) implements the same rules at run time.
public struct LayerEnvironment {
    public var variables: [String: String]

    public init(_ variables: [String: String]) { self.variables = variables }

    /// Applies the env files in the layer's folder `sub` (`env`, `env.build`), in byte order
    /// of their names. Each must be a regular file: one that is not (a symlink to a host file,
    /// a FIFO) is refused, never followed.
    public mutating func applyEnvDirectory(_ layer: ConfinedDirectory, _ sub: String) throws {
        guard try layer.status(sub) != nil else { return }
        let dir = try layer.openDirectory(sub)
        let names = try dir.entries()
        var delims: [String: String] = [:]
        for name in names where name.hasSuffix(".delim") {
            delims[String(name.dropLast(6))] = try dir.readText(name, maxBytes: Self.maxValueBytes)
        }
        for name in names where !name.hasSuffix(".delim") {
            if try dir.isDirectory(name) { continue }  // env.launch/<process> style folders are not variables
            let value = try dir.readText(name, maxBytes: Self.maxValueBytes)
            let (variable, action) = Self.split(name)
            guard Self.isValidName(variable) else { continue }
            let delim = delims[variable] ?? ""
            switch action {
            case "override", "": variables[variable] = value
            case "default": if variables[variable] == nil { variables[variable] = value }
            case "prepend":
                variables[variable] = variables[variable].map { $0.isEmpty ? value : value + delim + $0 } ?? value
            case "append":
                variables[variable] = variables[variable].map { $0.isEmpty ? value : $0 + delim + value } ?? value
            default: continue
            }
        }
    }

    /// Largest env file value read from a layer.
    static let maxValueBytes = 1 << 20

    /// Puts `bin/` on PATH and `lib/` on LD_LIBRARY_PATH and LIBRARY_PATH when the layer has them.
    public mutating func applySearchPaths(_ layer: ConfinedDirectory, sandboxLayer: String) throws {
        if try layer.status("bin") != nil { prepend("PATH", sandboxLayer + "/bin") }
        if try layer.status("lib") != nil {
            prepend("LD_LIBRARY_PATH", sandboxLayer + "/lib")
            prepend("LIBRARY_PATH", sandboxLayer + "/lib")
        }
    }

    /// Checks a layer's env and exec.d folders: every entry is a regular file, or (in
    /// `env.launch` and `exec.d`, per process type) a real folder of regular files. Throws
    /// `ConfinedPathError` naming the first entry that is not.
    public static func checkMetadataFiles(in layer: ConfinedDirectory) throws {
        for (sub, perProcess) in [("env", false), ("env.build", false), ("env.launch", true), ("exec.d", true)] {
            guard let st = try layer.status(sub) else { continue }
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw ConfinedPathError(.wrongType(ConfinedDirectory.describe(st.st_mode) + ", not a folder"), layer.display(sub))
            }
            try checkFiles(in: try layer.openDirectory(sub), allowFolders: perProcess)
        }
    }

    private static func checkFiles(in dir: ConfinedDirectory, allowFolders: Bool) throws {
        for name in try dir.entries() {
            guard let st = try dir.status(name) else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFREG: continue
            case S_IFDIR where allowFolders: try checkFiles(in: try dir.openDirectory(name), allowFolders: false)
            default: throw ConfinedPathError(.wrongType(ConfinedDirectory.describe(st.st_mode) + ", not a regular file"), dir.display(name))
            }
        }
    }

    mutating func prepend(_ name: String, _ value: String) {
        if let old = variables[name], !old.isEmpty {
            variables[name] = value + ":" + old
        } else {
            variables[name] = value
        }
    }

    static func split(_ file: String) -> (String, String) {
        for suffix in ["override", "default", "prepend", "append"] where file.hasSuffix("." + suffix) {
            return (String(file.dropLast(suffix.count + 1)), suffix)
        }
        return (file, "")
    }

    public static func isValidName(_ name: String) -> Bool {
        name.range(of: #"^[A-Za-z_][A-Za-z0-9_]*$"#, options: .regularExpression) != nil
    }
}
