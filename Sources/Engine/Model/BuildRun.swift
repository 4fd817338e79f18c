import SlipwayProtocol

/// A build run, as a code engine has them: one build, submitted on its own. A run of an image
/// is build N of that image; a stand-alone run is build 1 of a carrier image that exists only
/// for it (`Image.carrier(ofRun:)`). Its status is that build's: it is not stored twice.
public struct BuildRun: Codable, Sendable, Equatable {
    public var namespace: String
    public var name: String
    /// The image whose build this is: the image of a run of an image, else the carrier.
    public var image: String
    public var build: Int
    /// No build configuration behind it: it is deleted `--buildrun-ttl-*` after it ends.
    public var standalone: Bool
    /// Stand-alone runs: what was submitted.
    public var spec: BuildRunSpec?
    public var created: String
    /// Stand-alone runs, once ended: when it is deleted.
    public var deleteAt: String?

    public init(namespace: String, name: String, image: String, build: Int, standalone: Bool, spec: BuildRunSpec?, created: String,
                deleteAt: String? = nil) {
        self.namespace = namespace
        self.name = name
        self.image = image
        self.build = build
        self.standalone = standalone
        self.spec = spec
        self.created = created
        self.deleteAt = deleteAt
    }
}
