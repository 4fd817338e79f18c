import SlipwayProtocol
import BuildRuntime
import Engine




/// `clusterstack/list`.
public struct StackList: Codable, Sendable {
    public var stacks: [ClusterStack]
    /// Set while more remain: pass it as `continue` for the next page.
    public var `continue`: String?
    public init(stacks: [ClusterStack], continue next: String? = nil) { self.stacks = stacks; self.continue = next }
}
/// `clusterstore/list`.
public struct StoreList: Codable, Sendable {
    public var stores: [ClusterStore]
    /// Set while more remain: pass it as `continue` for the next page.
    public var `continue`: String?
    public init(stores: [ClusterStore], continue next: String? = nil) { self.stores = stores; self.continue = next }
}
/// `clusterbuilder/list` and `builder/list`.
public struct BuilderList: Codable, Sendable {
    public var builders: [Builder]
    /// Set while more remain: pass it as `continue` for the next page.
    public var `continue`: String?
    public init(builders: [Builder], continue next: String? = nil) { self.builders = builders; self.continue = next }
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

/// `quota/get` result: a namespace's limits (absent: unlimited) and what it holds now.
public struct QuotaResult: Codable, Sendable {
    /// Numbers per resource.
    public struct Amounts: Codable, Sendable {
        public var images: Int64?
        public var buildruns: Int64?
        /// Bytes.
        public var storage: Int64?
    }
    public var namespace: String
    public var limits: Amounts
    public var used: Amounts

    init(namespace: String, quota: Quota, usage: Engine.QuotaUsage) {
        self.namespace = namespace
        limits = Amounts(images: quota.images, buildruns: quota.buildruns, storage: quota.storage)
        used = Amounts(images: usage.images, buildruns: usage.buildruns, storage: usage.storage)
    }
}

/// `secret/list` result: secrets without their values.
public struct SecretList: Codable, Sendable {
    public var secrets: [SecretInfo]
    /// Set while more remain: pass it as `continue` for the next page.
    public var `continue`: String?
    public init(secrets: [SecretInfo], continue next: String? = nil) { self.secrets = secrets; self.continue = next }
}
