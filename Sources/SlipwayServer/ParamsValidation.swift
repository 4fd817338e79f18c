import SlipwayProtocol
import Engine
import JSONRPC

/// Every param that names an object is checked as create checks it (a DNS label of at most 63
/// characters), on reads too: a 10 MB name is refused at once, not echoed back in a NotFound.
private func checkName(_ value: String?, _ field: String, _ kind: String) throws {
    if let value { try Validation.name(value, field: field, kind: kind) }
}

extension NameParams: ValidatedParams {
    public func validate() throws { try checkName(name, "name", "object") }
}

extension NamespacedNameParams: ValidatedParams {
    public func validate() throws {
        try checkName(name, "name", "object")
        try checkName(namespace, "namespace", "namespace")
    }
}

extension BuildRunSpec: ValidatedParams {
    public func validate() throws {
        try checkName(name, "name", "build run")
        try checkName(namespace, "namespace", "namespace")
        try checkName(image, "image", "image")
    }
}

/// Params that name a build run.
protocol NamesABuildRun: ValidatedParams {
    var name: String { get }
    var namespace: String? { get }
}

extension NamesABuildRun {
    public func validate() throws {
        try checkName(name, "name", "build run")
        try checkName(namespace, "namespace", "namespace")
    }
}

extension BuildRunRef: NamesABuildRun {}
extension BuildRunLogsParams: NamesABuildRun {}
extension BuildRunWaitParams: NamesABuildRun {}
extension BuildRunEventsParams: NamesABuildRun {}

extension QuotaParams: ValidatedParams {
    public func validate() throws { try checkName(namespace, "namespace", "namespace") }
}

extension NamespaceParams: ValidatedParams {
    public func validate() throws { try checkName(namespace, "namespace", "namespace") }
}

extension StoreParams: ValidatedParams {
    public func validate() throws { try checkName(name, "name", "ClusterStore") }
}

/// Params that name an image (and its namespace): every build method.
protocol NamesAnImage: ValidatedParams {
    var imageName: String? { get }
    var namespace: String? { get }
}

extension NamesAnImage {
    public func validate() throws {
        try checkName(imageName, "image", "image")
        try checkName(namespace, "namespace", "namespace")
    }
}

extension BuildParams: NamesAnImage { var imageName: String? { image } }
extension BuildListParams: NamesAnImage { var imageName: String? { image } }
extension BuildLogsParams: NamesAnImage { var imageName: String? { image } }
extension BuildWaitParams: NamesAnImage { var imageName: String? { image } }

extension EventListParams: ValidatedParams {
    public func validate() throws {
        try checkName(namespace, "namespace", "namespace")
        try checkName(object?.name, "object.name", "object")
        try checkName(object?.namespace, "object.namespace", "namespace")
    }
}

extension ImageListParams: ValidatedParams {
    public func validate() throws { try checkName(namespace, "namespace", "namespace") }
}

extension SubscribeParams: ValidatedParams {
    public func validate() throws {
        if let namespace, !namespace.isEmpty { try checkName(namespace, "namespace", "namespace") }
    }
}

extension ImageSpec: ValidatedParams {
    public func validate() throws {
        try checkName(name, "name", "image")
        try checkName(namespace, "namespace", "namespace")
    }
}

extension StackSpec: ValidatedParams {
    public func validate() throws { try checkName(name, "name", "ClusterStack") }
}

extension BuilderSpec: ValidatedParams {
    public func validate() throws {
        try checkName(name, "name", "builder")
        try checkName(namespace, "namespace", "namespace")
        try checkName(stack, "stack", "ClusterStack")
        try checkName(store, "store", "ClusterStore")
    }
}

extension ClusterBuilderSpec: ValidatedParams {
    public func validate() throws { try builderSpec.validate() }
}

extension Creating: ValidatedParams where Spec: ValidatedParams {
    public func validate() throws { try spec.validate() }
}

extension SecretSpec: ValidatedParams {
    public func validate() throws {
        try checkName(name, "name", "secret")
        try checkName(namespace, "namespace", "namespace")
    }
}
