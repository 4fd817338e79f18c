import Foundation

/// `image/create`: Creates an image (a build configuration) and starts build 1 with reason CONFIG.
public enum ImageCreate: RPCMethod {
    public typealias Params = Creating<ImageSpec>
    public typealias Result = CreateImageResult
    public static let method = "image/create"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { ImageSpec.orderingKeys(p.spec) }
    public static let summary = "Creates an image (a build configuration) and starts build 1 with reason CONFIG (an image created again under a deleted one's name starts at build 1 too; a build of the deleted image still ending is never taken for one of it). Local source is snapshotted now; a full disk while snapshotting is Unavailable. At most the namespace's image quota (--quota images=, default 100); params at most 1 MiB, env at most 1,000 entries of at most 32 KiB each."
    public static let errors: [ErrorKind] = [.InvalidParams, .AlreadyExists, .NotFound, .PermissionDenied, .Unavailable, .QuotaExceeded]
}

/// `image/patch`: Changes an image.
public enum ImagePatch: RPCMethod {
    public typealias Params = ImageSpec
    public typealias Result = PatchImageResult
    public static let method = "image/patch"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { ImageSpec.orderingKeys(p) }
    public static let summary = "Changes an image; starts a build only if a build input changed (a queued build takes the change). The tag cannot change."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound, .FailedPrecondition, .PermissionDenied, .QuotaExceeded]
}

/// `image/save`: Creates the image if it does not exist, else patches it.
public enum ImageSave: RPCMethod {
    public typealias Params = ImageSpec
    public typealias Result = PatchImageResult
    public static let method = "image/save"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { ImageSpec.orderingKeys(p) }
    public static let summary = "Creates the image if it does not exist, else patches it."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound, .FailedPrecondition, .PermissionDenied, .QuotaExceeded]
}

/// `image/get`: The image.
public enum ImageGet: RPCMethod {
    public typealias Params = NamespacedNameParams
    public typealias Result = ImageResource
    public static let method = "image/get"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.image(p.namespace ?? "default", p.name)] }
    public static let summary = "The image: its configuration and status."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `image/status`: What `kp image status` shows.
public enum ImageStatusMethod: RPCMethod {
    public typealias Params = NamespacedNameParams
    public typealias Result = ImageStatusResult
    public static let method = "image/status"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.image(p.namespace ?? "default", p.name)] }
    public static let summary = "What `kp image status` shows."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `image/list`: Image rows, in one namespace or all, by namespace and name, a page at a time.
public enum ImageList: RPCMethod {
    public typealias Params = ImageListParams
    public typealias Result = ImageListResult
    public static let method = "image/list"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [p.allNamespaces == true ? "image/*" : ObjectKey.image(p.namespace ?? "default", "*")] }
    public static let summary = "Image rows, in one namespace or all, by namespace and name, a page at a time."
    public static let errors: [ErrorKind] = [.InvalidParams]
}

/// `image/delete`: Deletes the image with all its builds, runs, logs and cache, and its default OCI layout under the …
public enum ImageDelete: RPCMethod {
    public typealias Params = NamespacedNameParams
    public typealias Result = NullResult
    public static let method = "image/delete"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.image(p.namespace ?? "default", p.name)] }
    public static let summary = "Deletes the image with all its builds, runs, logs and cache, and its default OCI layout under the state directory (garbage collection removes what only it used); images written to a tag of your own (a registry, or an oci: layout elsewhere) stay. Its running build ends with the message \"image deleted\"; the name's build numbers are kept, so a new image of the name never reuses one."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `image/trigger`: Starts a build with reason TRIGGER.
public enum ImageTrigger: RPCMethod {
    public typealias Params = NamespacedNameParams
    public typealias Result = TriggerResult
    public static let method = "image/trigger"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.image(p.namespace ?? "default", p.name)] }
    public static let summary = "Starts a build with reason TRIGGER. A local source is snapshotted again first (what is on disk now): a changed folder adds a CONFIG reason with the old and new snapshot digests; git and blob sources build their stored revision."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound, .FailedPrecondition, .QuotaExceeded]
}

extension ImageSpec {
    /// An image, its namespace's secrets, and the builder it names (on create, the default
    /// ClusterBuilder when it names none).
    static func orderingKeys(_ p: ImageSpec) -> [String] {
        let ns = p.namespace ?? "default"
        return [ObjectKey.image(ns, p.name), ObjectKey.secrets(ns), ObjectKey.builder(p.builder, in: ns)]
    }
}
