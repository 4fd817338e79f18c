import SlipwayProtocol
import BuildRuntime
import Engine




/// `clusterstack/list`.
public struct StackList: Codable, Sendable {
    public var stacks: [ClusterStack]
    public init(stacks: [ClusterStack]) { self.stacks = stacks }
}
/// `clusterstore/list`.
public struct StoreList: Codable, Sendable {
    public var stores: [ClusterStore]
    public init(stores: [ClusterStore]) { self.stores = stores }
}
/// `clusterbuilder/list` and `builder/list`.
public struct BuilderList: Codable, Sendable {
    public var builders: [Builder]
    public init(builders: [Builder]) { self.builders = builders }
}


/// `clusterstore/status`: the store's buildpacks, one row each.
public struct StoreStatus: Codable, Sendable {
    /// One buildpack of the store.
    public struct Row: Codable, Sendable {
        public var id: String
        public var version: String
        public var api: String
        public var homepage: String?
        public var digest: String
        /// Composite buildpacks only: their groups.
        public var order: [[BuildpackDescriptor.CompositeEntry]]?
        /// The builders (`Kind/namespace/name`) whose order uses this buildpack.
        public var builders: [String]
    }
    public var name: String
    public var buildpacks: [Row]

    public init(_ s: ClusterStore, buildersUsing: [String: [String]]) {
        name = s.name
        buildpacks = s.buildpacks.map {
            Row(id: $0.id, version: $0.version, api: $0.api, homepage: $0.homepage, digest: $0.digest.string, order: $0.descriptor.order,
                builders: (buildersUsing["\($0.id)@\($0.version)"] ?? []).sorted())
        }
    }
}

/// `secret/list` result: secrets without their values.
public struct SecretList: Codable, Sendable {
    public var secrets: [SecretInfo]
    public init(secrets: [SecretInfo]) { self.secrets = secrets }
}
