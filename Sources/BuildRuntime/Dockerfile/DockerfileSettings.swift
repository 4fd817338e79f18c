/// What a Dockerfile build is asked for: the Dockerfile, its build args, the target stage and
/// the context's folder in the source. The one shape of these settings from the image (as it
/// was given them) through the build's recorded inputs to the builder; the wire keeps its own
/// flat fields (`ImageSpec`, `ImageResource`).
///
/// A field left nil takes its default: `path` the file `Dockerfile`, `buildArgs` none, `target`
/// the last stage, `contextDir` the source's root. An image keeps what it was given (nil where
/// nothing was), so that it shows the same; a build records `withDefaults`, so that an
/// unchanged effective setting is no CONFIG reason.
public struct DockerfileSettings: Codable, Sendable, Equatable {
    /// The Dockerfile's path in the context when none is given.
    public static let defaultPath = "Dockerfile"

    /// The Dockerfile's path, relative to the context.
    public var path: String?
    /// ARG values.
    public var buildArgs: [String: String]?
    /// The stage to build, by name or index.
    public var target: String?
    /// The context's folder in the source, relative.
    public var contextDir: String?
    /// Recorded only, never asked for: the FROM images and the digests they resolved to, what
    /// a build used (recorded when it succeeds) or what they resolve to now (from polling).
    /// Compared only for a STACK reason; nil in an image's settings.
    public var bases: [String: String]?

    public init(path: String? = nil, buildArgs: [String: String]? = nil, target: String? = nil, contextDir: String? = nil,
                bases: [String: String]? = nil) {
        self.path = path
        self.buildArgs = buildArgs
        self.target = target
        self.contextDir = contextDir
        self.bases = bases
    }

    /// The Dockerfile's path the build reads.
    public var resolvedPath: String { path ?? Self.defaultPath }
    /// The ARG values the build sees.
    public var resolvedBuildArgs: [String: String] { buildArgs ?? [:] }

    /// These settings with the path and build args filled in: what a build records.
    public var withDefaults: DockerfileSettings {
        var s = self
        s.path = resolvedPath
        s.buildArgs = resolvedBuildArgs
        return s
    }

    /// These settings without the recorded `bases`: what was asked for.
    public var withoutBases: DockerfileSettings {
        var s = self
        s.bases = nil
        return s
    }

    /// These settings patched with `patch`: each field it gives replaces this one's, and an
    /// empty `target` or `contextDir` goes back to the default.
    public func patched(with patch: DockerfileSettings) -> DockerfileSettings {
        var s = self
        if let p = patch.path { s.path = p }
        if let a = patch.buildArgs { s.buildArgs = a }
        if let t = patch.target { s.target = t.isEmpty ? nil : t }
        if let c = patch.contextDir { s.contextDir = c.isEmpty ? nil : c }
        return s
    }

    /// Whether none of the four settings is given (the recorded `bases` are no setting).
    public var isEmpty: Bool { path == nil && buildArgs == nil && target == nil && contextDir == nil }
}
