import SlipwayProtocol
import BuildRuntime
import Foundation

/// The checks of an image spec that need no store: limits, Dockerfile settings, and the network an
/// image may ask for.
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum ImageValidation {
    /// A network an image or build run may ask for: at most the engine's `--build-network`.
    static func checkNetwork(_ engine: isolated Engine, _ network: BuildNetwork?) throws {
        guard let network, network > engine.options.buildNetwork else { return }
        throw EngineError.invalid(
            "network \"\(network.rawValue)\" is more than this engine allows (--build-network \(engine.options.buildNetwork.rawValue)); ask for \"\(engine.options.buildNetwork.rawValue)\", or start the engine with --build-network \(network.rawValue)",
            field: "network")
    }

    static func validateLimits(_ spec: ImageSpec) throws {
        if let t = spec.buildTimeout, t <= 0 { throw EngineError.invalid("buildTimeout must be a positive number of seconds", field: "buildTimeout") }
        if let l = spec.successBuildHistoryLimit, l < 1 {
            throw EngineError.invalid("successBuildHistoryLimit must be at least 1", field: "successBuildHistoryLimit")
        }
        if let l = spec.failedBuildHistoryLimit, l < 1 {
            throw EngineError.invalid("failedBuildHistoryLimit must be at least 1", field: "failedBuildHistoryLimit")
        }
        try validateDockerfileSettings(DockerfileSettings(spec: spec))
    }

    /// The Dockerfile strategy's settings: paths inside the source, ARG names, a stage name.
    /// An error names the wire's field.
    static func validateDockerfileSettings(_ settings: DockerfileSettings) throws {
        let (buildArgs, target) = (settings.buildArgs, settings.target)
        for (field, value) in [("dockerfile", settings.path), ("contextDir", settings.contextDir)] {
            guard let value, !value.isEmpty else { continue }
            guard !value.hasPrefix("/"), PathSyntax.components(value).allSatisfy(PathSyntax.isNormalComponent), value.utf8.count <= 1024 else {
                throw EngineError.invalid("\(field) '\(PathSyntax.shortened(value))' must be a relative path inside the source, without '..'", field: field)
            }
        }
        for (k, v) in buildArgs ?? [:] {
            guard LayerEnvironment.isValidName(k) else {
                throw EngineError.invalid("buildArgs name '\(PathSyntax.shortened(k))' is not an ARG name: letters, digits and '_', not starting with a digit", field: "buildArgs")
            }
            guard v.utf8.count <= 32 << 10 else { throw EngineError.invalid("buildArgs value of \(k) is longer than 32 KiB", field: "buildArgs") }
        }
        if (buildArgs?.count ?? 0) > 1000 { throw EngineError.invalid("at most 1,000 buildArgs", field: "buildArgs") }
        if let t = target, !t.isEmpty, t.range(of: #"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"#, options: .regularExpression) == nil {
            throw EngineError.invalid("target '\(PathSyntax.shortened(t))' is not a stage name or index", field: "target")
        }
    }
}

extension DockerfileSettings {
    /// The Dockerfile settings an image spec gives, as given (the wire's flat fields).
    init(spec: ImageSpec) {
        self.init(path: spec.dockerfile, buildArgs: spec.buildArgs, target: spec.target, contextDir: spec.contextDir)
    }
}
