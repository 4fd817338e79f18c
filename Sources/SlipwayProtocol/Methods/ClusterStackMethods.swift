import Foundation

/// `clusterstack/create`: Creates a ClusterStack.
public enum ClusterStackCreate: RPCMethod {
    public typealias Params = Creating<StackSpec>
    public typealias Result = ClusterStackResource
    public static let method = "clusterstack/create"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.stack(p.spec.name), ObjectKey.secrets("default")] }
    public static let summary = "Creates a ClusterStack: imports the build and run images and records their digests."
    public static let errors: [ErrorKind] = [.InvalidParams, .AlreadyExists, .NotFound, .Unavailable]
}

/// `clusterstack/patch`: Changes a ClusterStack's images or id (re-imports them).
public enum ClusterStackPatch: RPCMethod {
    public typealias Params = StackSpec
    public typealias Result = ClusterStackResource
    public static let method = "clusterstack/patch"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.stack(p.name), ObjectKey.secrets("default"), ObjectKey.everyImage] }
    public static let summary = "Changes a ClusterStack's images or id (re-imports them). A new run image gives images on it a STACK build, which is a rebase when the stack id is unchanged."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound, .Unavailable]
}

/// `clusterstack/get`: The stack with its resolved image digests.
public enum ClusterStackGet: RPCMethod {
    public typealias Params = NameParams
    public typealias Result = ClusterStackResource
    public static let method = "clusterstack/get"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.stack(p.name)] }
    public static let summary = "The stack with its resolved image digests."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `clusterstack/status`: The stack with its resolved image digests.
public enum ClusterStackStatus: RPCMethod {
    public typealias Params = NameParams
    public typealias Result = ClusterStackResource
    public static let method = "clusterstack/status"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.stack(p.name)] }
    public static let summary = "The stack with its resolved image digests."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `clusterstack/refresh`: Resolves the stack's image references again (a tag or folder may now give another digest).
public enum ClusterStackRefresh: RPCMethod {
    public typealias Params = NameParams
    public typealias Result = ClusterStackResource
    public static let method = "clusterstack/refresh"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.stack(p.name), ObjectKey.secrets("default"), ObjectKey.everyImage] }
    public static let summary = "Resolves the stack's image references again (a tag or folder may now give another digest); images on it get STACK builds (rebases) if the run image changed."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound, .Unavailable]
}

/// `clusterstack/list`: ClusterStacks by name, a page at a time.
public enum ClusterStackList: RPCMethod {
    public typealias Params = PageParams
    public typealias Result = ClusterStackListResult
    public static let method = "clusterstack/list"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { ["stack/*"] }
    public static let summary = "ClusterStacks by name, a page at a time."
    public static let errors: [ErrorKind] = [.InvalidParams]
}

/// `clusterstack/delete`: Deletes a ClusterStack.
public enum ClusterStackDelete: RPCMethod {
    public typealias Params = NameParams
    public typealias Result = NullResult
    public static let method = "clusterstack/delete"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.stack(p.name)] }
    public static let summary = "Deletes a ClusterStack; builders on it become not ready."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}
