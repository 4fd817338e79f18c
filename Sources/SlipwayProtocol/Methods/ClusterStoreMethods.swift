import Foundation

/// `clusterstore/create`: Creates a ClusterStore from buildpack folders and archives.
public enum ClusterStoreCreate: RPCMethod {
    public typealias Params = StoreParams
    public typealias Result = ClusterStoreResource
    public static let method = "clusterstore/create"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.store(p.name), ObjectKey.secrets("default")] }
    public static let summary = "Creates a ClusterStore from buildpack folders and archives."
    public static let errors: [ErrorKind] = [.InvalidParams, .AlreadyExists]
}

/// `clusterstore/add`: Adds buildpacks (a buildpack with the same id and version is replaced).
public enum ClusterStoreAdd: RPCMethod {
    public typealias Params = StoreParams
    public typealias Result = ClusterStoreResource
    public static let method = "clusterstore/add"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.store(p.name), ObjectKey.secrets("default")] }
    public static let summary = "Adds buildpacks (a buildpack with the same id and version is replaced). Images whose last successful build used another version of a buildpack now in the builder get a BUILDER build."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `clusterstore/remove`: Removes buildpacks named `id` or `id@version`.
public enum ClusterStoreRemove: RPCMethod {
    public typealias Params = StoreParams
    public typealias Result = ClusterStoreResource
    public static let method = "clusterstore/remove"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.store(p.name), ObjectKey.secrets("default")] }
    public static let summary = "Removes buildpacks named `id` or `id@version`."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
    public static let params: [ParamDescriptor] = [
        .name,
        ParamDescriptor("buildpacks", ##"{"type": "array", "items": {"type": "string"}}"##, required: true)
    ]
}

/// `clusterstore/get`: The store and its buildpacks.
public enum ClusterStoreGet: RPCMethod {
    public typealias Params = NameParams
    public typealias Result = ClusterStoreResource
    public static let method = "clusterstore/get"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.store(p.name), "builder/*"] }
    public static let summary = "The store and its buildpacks."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `clusterstore/status`: Every buildpack in the store with id, version, api, homepage, digest, its groups if composite, and …
public enum ClusterStoreStatus: RPCMethod {
    public typealias Params = NameParams
    public typealias Result = StoreStatus
    public static let method = "clusterstore/status"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.store(p.name), "builder/*"] }
    public static let summary = "Every buildpack in the store with id, version, api, homepage, digest, its groups if composite, and the builders that use it."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `clusterstore/list`: ClusterStores by name, a page at a time.
public enum ClusterStoreList: RPCMethod {
    public typealias Params = PageParams
    public typealias Result = ClusterStoreListResult
    public static let method = "clusterstore/list"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { ["store/*"] }
    public static let summary = "ClusterStores by name, a page at a time."
    public static let errors: [ErrorKind] = [.InvalidParams]
}

/// `clusterstore/delete`: Deletes a ClusterStore.
public enum ClusterStoreDelete: RPCMethod {
    public typealias Params = NameParams
    public typealias Result = NullResult
    public static let method = "clusterstore/delete"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.store(p.name), "builder/*"] }
    public static let summary = "Deletes a ClusterStore."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}
