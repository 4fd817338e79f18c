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

extension NamespaceParams: ValidatedParams {
    public func validate() throws { try checkName(namespace, "namespace", "namespace") }
}

extension StoreParams: ValidatedParams {
    public func validate() throws { try checkName(name, "name", "ClusterStore") }
}

extension BuildParams: ValidatedParams {
    public func validate() throws {
        try checkName(image, "image", "image")
        try checkName(namespace, "namespace", "namespace")
    }
}

extension BuildListParams: ValidatedParams {
    public func validate() throws {
        try checkName(image, "image", "image")
        try checkName(namespace, "namespace", "namespace")
    }
}

extension BuildLogsParams: ValidatedParams {
    public func validate() throws {
        try checkName(image, "image", "image")
        try checkName(namespace, "namespace", "namespace")
    }
}

extension BuildWaitParams: ValidatedParams {
    public func validate() throws {
        try checkName(image, "image", "image")
        try checkName(namespace, "namespace", "namespace")
    }
}

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

extension SecretSpec: ValidatedParams {
    public func validate() throws {
        try checkName(name, "name", "secret")
        try checkName(namespace, "namespace", "namespace")
    }
}
