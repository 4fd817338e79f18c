import Foundation

/// `clusterbuilder/create`: Creates a ClusterBuilder.
public enum ClusterBuilderCreate: RPCMethod {
    public typealias Params = Creating<ClusterBuilderSpec>
    public typealias Result = BuilderResource
    public static let method = "clusterbuilder/create"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { p.spec.orderingKeys }
    public static let summary = "Creates a ClusterBuilder: a stack, a store and the detection order."
    public static let errors: [ErrorKind] = [.InvalidParams, .AlreadyExists]
}

/// `clusterbuilder/patch`: Changes a ClusterBuilder's stack, store or order.
public enum ClusterBuilderPatch: RPCMethod {
    public typealias Params = ClusterBuilderSpec
    public typealias Result = BuilderResource
    public static let method = "clusterbuilder/patch"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { p.orderingKeys + [ObjectKey.everyImage] }
    public static let summary = "Changes a ClusterBuilder's stack, store or order."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `clusterbuilder/get`: The ClusterBuilder with `ready`, its resolved buildpacks and detection order.
public enum ClusterBuilderGet: RPCMethod {
    public typealias Params = NameParams
    public typealias Result = BuilderResource
    public static let method = "clusterbuilder/get"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.builder(nil, p.name)] }
    public static let summary = "The ClusterBuilder with `ready`, its resolved buildpacks and detection order."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `clusterbuilder/status`: The ClusterBuilder with `ready`, its resolved buildpacks and detection order.
public enum ClusterBuilderStatus: RPCMethod {
    public typealias Params = NameParams
    public typealias Result = BuilderResource
    public static let method = "clusterbuilder/status"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.builder(nil, p.name)] }
    public static let summary = "The ClusterBuilder with `ready`, its resolved buildpacks and detection order."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `clusterbuilder/list`: ClusterBuilders by name, a page at a time.
public enum ClusterBuilderList: RPCMethod {
    public typealias Params = PageParams
    public typealias Result = BuilderListResult
    public static let method = "clusterbuilder/list"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { ["builder/cluster/*"] }
    public static let summary = "ClusterBuilders by name, a page at a time."
    public static let errors: [ErrorKind] = [.InvalidParams]
}

/// `clusterbuilder/delete`: Deletes a ClusterBuilder.
public enum ClusterBuilderDelete: RPCMethod {
    public typealias Params = NameParams
    public typealias Result = NullResult
    public static let method = "clusterbuilder/delete"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.builder(nil, p.name)] }
    public static let summary = "Deletes a ClusterBuilder."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `builder/create`: Creates a Builder.
public enum BuilderCreate: RPCMethod {
    public typealias Params = Creating<BuilderSpec>
    public typealias Result = BuilderResource
    public static let method = "builder/create"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { p.spec.orderingKeys }
    public static let summary = "Creates a Builder: a stack, a store and the detection order."
    public static let errors: [ErrorKind] = [.InvalidParams, .AlreadyExists]
}

/// `builder/patch`: Changes a Builder's stack, store or order.
public enum BuilderPatch: RPCMethod {
    public typealias Params = BuilderSpec
    public typealias Result = BuilderResource
    public static let method = "builder/patch"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { p.orderingKeys + [ObjectKey.everyImage] }
    public static let summary = "Changes a Builder's stack, store or order."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `builder/get`: The Builder with `ready`, its resolved buildpacks and detection order.
public enum BuilderGet: RPCMethod {
    public typealias Params = NamespacedNameParams
    public typealias Result = BuilderResource
    public static let method = "builder/get"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.builder(p.namespace ?? "default", p.name)] }
    public static let summary = "The Builder with `ready`, its resolved buildpacks and detection order."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `builder/status`: The Builder with `ready`, its resolved buildpacks and detection order.
public enum BuilderStatus: RPCMethod {
    public typealias Params = NamespacedNameParams
    public typealias Result = BuilderResource
    public static let method = "builder/status"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.builder(p.namespace ?? "default", p.name)] }
    public static let summary = "The Builder with `ready`, its resolved buildpacks and detection order."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `builder/list`: Builders by name in a namespace, a page at a time.
public enum BuilderList: RPCMethod {
    public typealias Params = NamespaceParams
    public typealias Result = BuilderListResult
    public static let method = "builder/list"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.builder(p.namespace ?? "default", "*")] }
    public static let summary = "Builders by name in a namespace, a page at a time."
    public static let errors: [ErrorKind] = [.InvalidParams]
}

/// `builder/delete`: Deletes a Builder.
public enum BuilderDelete: RPCMethod {
    public typealias Params = NamespacedNameParams
    public typealias Result = NullResult
    public static let method = "builder/delete"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.builder(p.namespace ?? "default", p.name)] }
    public static let summary = "Deletes a Builder."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

extension BuilderSpec {
    /// A builder, the stack and store it names, and its namespace's secrets (a builder image is
    /// pulled, and a tag pushed, with them).
    var orderingKeys: [String] {
        [ObjectKey.builder(namespace ?? "default", name), ObjectKey.secrets(namespace ?? "default")]
            + [stack.map(ObjectKey.stack), store.map(ObjectKey.store)].compactMap { $0 }
    }
}

extension ClusterBuilderSpec {
    /// A ClusterBuilder, the stack and store it names, and the secrets of `default` (a builder
    /// image is pulled, and a tag pushed, with them).
    var orderingKeys: [String] {
        [ObjectKey.builder(nil, name), ObjectKey.secrets("default")] + [stack.map(ObjectKey.stack), store.map(ObjectKey.store)].compactMap { $0 }
    }
}
