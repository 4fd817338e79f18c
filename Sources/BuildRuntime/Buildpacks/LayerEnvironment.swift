import Foundation

/// Applies a layer's environment to a set of variables the way the buildpack spec says: files
/// in `env/` (and `env.build/` or `env.launch/`) named `NAME`, `NAME.override`, `NAME.default`,
/// `NAME.prepend`, `NAME.append` with an optional `NAME.delim`; and the layer's `bin/` and
/// `lib/` on the search paths. The launcher (in C) implements the same rules at run time.
public struct LayerEnvironment {
    public var variables: [String: String]

    public init(_ variables: [String: String]) { self.variables = variables }

    /// Applies the env files in `hostDirectory`, in byte order of their names.
    public mutating func applyEnvDirectory(_ hostDirectory: String) {
        guard let names = try? sortedEntries(hostDirectory) else { return }
        var delims: [String: String] = [:]
        for name in names where name.hasSuffix(".delim") {
            delims[String(name.dropLast(6))] = (try? String(contentsOfFile: hostDirectory + "/" + name, encoding: .utf8)) ?? ""
        }
        for name in names where !name.hasSuffix(".delim") {
            let path = hostDirectory + "/" + name
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
                let value = try? String(contentsOfFile: path, encoding: .utf8)
            else { continue }
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

    /// Puts `bin/` on PATH and `lib/` on LD_LIBRARY_PATH and LIBRARY_PATH when the layer has them.
    public mutating func applySearchPaths(hostLayer: String, sandboxLayer: String) {
        if access(hostLayer + "/bin", F_OK) == 0 { prepend("PATH", sandboxLayer + "/bin") }
        if access(hostLayer + "/lib", F_OK) == 0 {
            prepend("LD_LIBRARY_PATH", sandboxLayer + "/lib")
            prepend("LIBRARY_PATH", sandboxLayer + "/lib")
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
