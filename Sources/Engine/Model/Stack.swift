import SlipwayProtocol
import BuildRuntime

/// A ClusterStack: the build and run images every builder on it uses, and the stack id.
public struct ClusterStack: Codable, Sendable, Equatable {
    public var name: String
    public var id: String
    public var buildImage: String
    public var runImage: String
    public var status: Status

    /// What the stack's images resolved to.
    public struct Status: Codable, Sendable, Equatable {
        public var ready: Bool
        public var buildImageDigest: Digest
        public var runImageDigest: Digest
        /// `buildImage@sha256:…` and `runImage@sha256:…`.
        public var resolvedBuildImage: String
        public var resolvedRunImage: String
        public var message: String?
        /// The build image's platform, for buildpacks' `[[targets]]`.
        public var os: String?
        public var architecture: String?
    }
}

/// A buildpack held in a store, unpacked under the state directory by content digest.
public struct StoredBuildpack: Codable, Sendable, Equatable {
    public var id: String
    public var version: String
    public var api: String
    public var homepage: String?
    public var name: String?
    /// Digest of the buildpack's normalised tar; its folder is `buildpacks/<hex>`.
    public var digest: Digest
    /// Where it was added from.
    public var source: String
    public var descriptor: BuildpackDescriptor
}

extension StoredBuildpack {
    /// A buildpack as loaded into the state directory, added from `source`.
    init(_ loaded: LoadedBuildpack, source: String) {
        let d = loaded.descriptor
        self.init(id: d.id, version: d.version, api: d.api, homepage: d.homepage, name: d.name, digest: loaded.digest, source: source, descriptor: d)
    }
}

/// A ClusterStore: the buildpacks builders choose from.
public struct ClusterStore: Codable, Sendable, Equatable {
    public var name: String
    public var buildpacks: [StoredBuildpack]
}




/// A Builder (namespaced) or ClusterBuilder: a stack, a store, and the detection order; or a
/// CNB builder image, which brings all three.
public struct Builder: Codable, Sendable, Equatable {
    public var kind: BuilderReference.Kind
    public var namespace: String?
    public var name: String
    /// The ClusterStack and ClusterStore it names; nil for a builder made from an image.
    public var stack: String?
    public var store: String?
    public var order: [OrderGroup]
    /// The builder image it was made from, as the user named it.
    public var image: String?
    /// What that image brought in, as last imported.
    public var imported: ImportedBuilder?
    /// Where it is published as a builder image (kp's `--tag`).
    public var tag: String?
    public var status: Status

    /// Whether the builder can build (and why not), and what its stack and order resolved to.
    public struct Status: Codable, Sendable, Equatable {
        public var ready: Bool
        public var message: String?
        public var stackID: String?
        public var runImage: String?
        public var buildImage: String?
        /// The builder image builds name (`REF@sha256:…`): where it was last published, or the
        /// image it was made from.
        public var latestImage: String?
        /// Every buildpack in the order, resolved to the version the builder uses.
        public var buildpacks: [BuildpackInfo]
        /// The order with every version filled in.
        public var order: [OrderGroup]
    }

    public var reference: BuilderReference { BuilderReference(kind: kind, name: name) }
}

/// What a CNB builder image brings (as pack and kpack make them): the image itself as the build
/// image, its run image, its stack id, and the buildpacks under `/cnb/buildpacks` in its order.
public struct ImportedBuilder: Codable, Sendable, Equatable {
    /// The stack it amounts to: its build image is the builder image.
    public var stack: ClusterStack
    public var buildpacks: [StoredBuildpack]
    /// The run image's mirrors, as the builder's metadata lists them.
    public var runImageMirrors: [String]
}

/// A buildpack as builds and builders report it.
public struct BuildpackInfo: Codable, Sendable, Equatable, Hashable {
    public var id: String
    public var version: String
    public var homepage: String?
    public init(id: String, version: String, homepage: String?) {
        self.id = id
        self.version = version
        self.homepage = homepage
    }
}
