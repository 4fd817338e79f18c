import Foundation

/// `quota/get`: A namespace's quota (--quota) and what it holds now.
public enum QuotaGet: RPCMethod {
    public typealias Params = QuotaParams
    public typealias Result = QuotaResult
    public static let method = "quota/get"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.image(p.namespace ?? "default", "*")] }
    public static let summary = "A namespace's quota (--quota) and what it holds now: images, stand-alone build runs, and bytes of stored data (its image layouts, build caches, logs and source snapshots; a file counts in full for every namespace that refers to it)."
    public static let errors: [ErrorKind] = [.InvalidParams]
}

/// `system/gc`: Mark and sweep.
public enum SystemGC: RPCMethod {
    public typealias Params = CollectParams
    public typealias Result = CollectResult
    public static let method = "system/gc"
    public static let access = MethodAccess.write
    public static let summary = "Mark and sweep: removes what no image, retained build, stack, store or running build reaches (images' layouts and layers, source snapshots, unpacked stacks, buildpacks, caches and logs of deleted images). It also runs by itself after deletions and retention. A file written or reused since the collection began is kept, so builds may run meanwhile."
    public static let errors: [ErrorKind] = [.InvalidParams]
}

/// `system/df`: What the state directory holds, by kind, as docker system df shows it (a file with several links …
public enum SystemDF: RPCMethod {
    public typealias Params = EmptyParams
    public typealias Result = DiskUsageResult
    public static let method = "system/df"
    public static let access = MethodAccess.read
    public static let summary = "What the state directory holds, by kind, as docker system df shows it (a file with several links counted once), with the bytes system/gc would give back."
    public static let errors: [ErrorKind] = []
}

/// `secret/create`: Stores credentials.
public enum SecretCreate: RPCMethod {
    public typealias Params = SecretSpec
    public typealias Result = SecretInfo
    public static let method = "secret/create"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.secret(p.namespace ?? "default", p.name)] }
    public static let summary = "Stores credentials: registry username/password, a docker config file, or git (username/password or sshKey) for a URL prefix. Values are kept in 0600 files and never appear in any response, log line, event or error."
    public static let errors: [ErrorKind] = [.InvalidParams, .AlreadyExists]
}

/// `secret/list`: Secrets in a namespace by name, without their values, a page at a time.
public enum SecretList: RPCMethod {
    public typealias Params = NamespaceParams
    public typealias Result = SecretListResult
    public static let method = "secret/list"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.secrets(p.namespace ?? "default")] }
    public static let summary = "Secrets in a namespace by name, without their values, a page at a time."
    public static let errors: [ErrorKind] = [.InvalidParams]
}

/// `secret/delete`: Deletes a secret and its stored values.
public enum SecretDelete: RPCMethod {
    public typealias Params = NamespacedNameParams
    public typealias Result = NullResult
    public static let method = "secret/delete"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.secret(p.namespace ?? "default", p.name)] }
    public static let summary = "Deletes a secret and its stored values."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}
