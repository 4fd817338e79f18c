import SlipwayProtocol
import BuildRuntime


/// Why a build exists.
public enum BuildReasonKind: String, Codable, Sendable, CaseIterable { case CONFIG, COMMIT, BUILDER, STACK, TRIGGER }

/// One reason, with what changed (`old` → `new`) where that can be said.
public struct BuildReason: Codable, Sendable, Equatable {
    public var reason: BuildReasonKind
    public var field: String?
    public var old: String?
    public var new: String?
    public init(_ reason: BuildReasonKind, field: String? = nil, old: String? = nil, new: String? = nil) {
        self.reason = reason
        self.field = field
        self.old = old
        self.new = new
    }
}

/// The inputs a build is made from. Comparing the inputs of the last build with the current
/// ones is how the engine decides whether, and why, to build.
public struct BuildInputs: Codable, Sendable, Equatable {
    public var builder: BuilderReference
    public var sourceType: SourceKind
    /// Git URL, blob URL, or the local path.
    public var sourceURL: String
    /// Git: the resolved commit. Local and blob: the snapshot digest.
    public var sourceRevision: String
    /// Git: the branch/tag/commit asked for.
    public var sourceRef: String?
    public var subPath: String?
    public var env: [String: String]
    /// Buildpacks the builder would use (id → version); compared only for BUILDER.
    public var buildpacks: [String: String]
    /// The stack's run image digest; compared only for STACK.
    public var runImageDigest: String?
    /// Dockerfile strategy: the settings with their defaults filled in, and the bases (nil for
    /// buildpacks, and in builds recorded before it existed). Any change but of the bases is a
    /// CONFIG reason.
    public var dockerfile: DockerfileSettings? = nil
    /// The network the image asks for; nil for the engine's default (and in builds recorded
    /// before it existed).
    public var network: BuildNetwork? = nil
    /// The builder image (`REF@sha256:…`) of a builder made from one; compared only for BUILDER.
    public var builderImage: String? = nil
}

/// A build of an image, as `kp build status` shows it.
public struct Build: Codable, Sendable, Equatable {
    public var namespace: String
    public var image: String
    public var number: Int
    public var status: BuildState
    public var reasons: [BuildReason]
    public var created: String
    public var started: String?
    public var finished: String?
    public var inputs: BuildInputs
    /// The phase it is in while building, and the phase it ended in.
    public var currentPhase: BuildPhase?
    public var message: String?
    /// `repo@sha256:…` of the produced image.
    public var latestImage: String?
    public var imageDigest: String?
    public var builderImage: String?
    public var runImage: String?
    public var stackID: String?
    public var buildpacks: [BuildpackInfo]

    public var reasonKinds: [BuildReasonKind] { reasons.map(\.reason) }

    /// The stored document keeps the field name `phase`.
    enum CodingKeys: String, CodingKey {
        case namespace, image, number, status, reasons, created, started, finished, inputs, message, latestImage, imageDigest, builderImage, runImage, stackID,
             buildpacks
        case currentPhase = "phase"
    }
}
