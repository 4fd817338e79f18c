import Foundation

/// A process type an image can run (`/cnb/process/<type>`), from a buildpack's `launch.toml`.
public struct LaunchProcess: Sendable, Equatable, Codable {
    public var type: String
    public var command: [String]
    public var args: [String]
    public var isDefault: Bool
    public var workingDirectory: String?
    public var buildpackID: String
    /// Run as given (true), or through a shell with the layers' `profile.d` scripts and the
    /// app's `.profile` sourced (false: Buildpack API < 0.9 with `direct = false`).
    public var direct: Bool
    /// `args` are defaults that a user's arguments replace (Buildpack API 0.9 and later); before,
    /// a user's arguments are appended to them.
    public var argsAreDefaults: Bool

    /// Reads `[[processes]]` from a `launch.toml` of a buildpack of Buildpack API `api`. A string
    /// command (API < 0.9) runs directly only with `direct = true`; a list (0.9 and later) always
    /// runs directly, and its `args` are defaults.
    public static func parse(_ launch: TOMLTable, buildpackID: String, api: String) -> [LaunchProcess] {
        let modern = BuildpackDescriptor.apiAtLeast(api, "0.9")
        return (launch["processes"]?.tables ?? []).compactMap { p in
            guard let type = p["type"]?.string, type.range(of: #"^[A-Za-z0-9_.-]+$"#, options: .regularExpression) != nil else {
                return nil
            }
            var command: [String]
            var direct: Bool
            if let arr = p["command"]?.array {
                command = arr.compactMap(\.string)
                direct = modern || (p["direct"]?.bool ?? false)
            } else if let s = p["command"]?.string {
                command = [s]
                direct = p["direct"]?.bool ?? false
            } else {
                return nil
            }
            guard !command.isEmpty else { return nil }
            return LaunchProcess(
                type: type, command: command, args: (p["args"]?.array ?? []).compactMap(\.string),
                isDefault: p["default"]?.bool ?? false, workingDirectory: p["working-dir"]?.string, buildpackID: buildpackID,
                direct: direct, argsAreDefaults: modern)
        }
    }
}

/// What the launcher needs at run time, written into the image as `/layers/config/launcher.conf`:
/// the launch layers in order, and every process. A sequence of NUL-terminated strings, so the
/// launcher (in C, with no TOML reader) parses it with no escaping rules.
public struct LauncherConfiguration: Sendable, Equatable {
    public var layers: [String]
    public var processes: [LaunchProcess]
    public var defaultProcess: String?

    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        func put(_ s: String) {
            out.append(contentsOf: s.utf8.filter { $0 != 0 })
            out.append(0)
        }
        for l in layers { put("layer"); put(l) }
        for p in processes {
            put("process"); put(p.type); put(p.workingDirectory ?? ""); put(p.direct ? "direct" : "shell"); put(p.argsAreDefaults ? "replace" : "append")
            put(String(p.command.count)); p.command.forEach(put)
            put(String(p.args.count)); p.args.forEach(put)
        }
        if let d = defaultProcess { put("default"); put(d) }
        return out
    }

    /// `metadata.toml` in the form of the platform spec, for tools that inspect images.
    public func metadataTOML(buildpacks: [BuildpackDescriptor]) -> String {
        var t = TOMLTable()
        if let d = defaultProcess { t["buildpack-default-process-type"] = .string(d) }
        t["buildpacks"] = .array(buildpacks.map { .table(TOMLTable([("id", .string($0.id)), ("version", .string($0.version)), ("api", .string($0.api))])) })
        t["processes"] = .array(processes.map { p in
            var pt = TOMLTable([("type", .string(p.type)), ("command", .array(p.command.map(TOMLValue.string))),
                                ("args", .array(p.args.map(TOMLValue.string))), ("direct", .boolean(p.direct)),
                                ("buildpack-id", .string(p.buildpackID))])
            if let wd = p.workingDirectory { pt["working-dir"] = .string(wd) }
            return .table(pt)
        })
        return TOMLWriter.write(t)
    }
}
