import SlipwayProtocol
import JSONRPC

/// The ordering keys of Slipway's requests (see `OrderingKeys`). A request names the objects it
/// touches, as `kind/namespace/name`: the object it is about, and the objects it refers to (an
/// image's builder and the namespace's secrets, a builder's stack and store). A pipeline's
/// write is then seen by every later request of the pipeline that touches the same objects,
/// and nothing else waits for it: a slow `clusterstack/create` holds back `clusterbuilder/create`
/// on that stack, not `image/get` of an unrelated image.
enum RequestKeys {
    typealias KeysOf = MethodRegistry.KeysOf

    static func namespace(_ p: JSONValue?) -> String { p?["namespace"]?.stringValue ?? "default" }
    static func name(_ p: JSONValue?, _ field: String = "name") -> String { p?[field]?.stringValue ?? "" }

    static func stack(_ name: String) -> String { "stack/\(name)" }
    static func store(_ name: String) -> String { "store/\(name)" }
    static func builder(_ namespace: String?, _ name: String) -> String { "builder/\(namespace ?? "cluster")/\(name)" }
    static func image(_ namespace: String, _ name: String) -> String { "image/\(namespace)/\(name)" }
    /// Every secret of a namespace: images use them to fetch sources and push, stacks and
    /// stores (cluster-wide) those of `default` to pull.
    static func secrets(_ namespace: String) -> String { "secret/\(namespace)/*" }

    // Stacks and stores pull with the registry secrets of "default".
    static let stackWrite: KeysOf = { p in [stack(name(p)), secrets("default")] }
    static let stackRead: KeysOf = { p in [stack(name(p))] }
    static let stackList: KeysOf = { _ in ["stack/*"] }
    static let storeWrite: KeysOf = { p in [store(name(p)), secrets("default")] }
    static let storeRead: KeysOf = { p in [store(name(p)), "builder/*"] }
    static let storeList: KeysOf = { _ in ["store/*"] }

    static func builderWrite(namespaced: Bool) -> KeysOf {
        { p in
            var keys = [builder(namespaced ? namespace(p) : nil, name(p))]
            if let s = p?["stack"]?.stringValue { keys.append(stack(s)) }
            if let s = p?["store"]?.stringValue { keys.append(store(s)) }
            return OrderingKeys(keys)
        }
    }

    static func builderRead(namespaced: Bool) -> KeysOf { { p in [builder(namespaced ? namespace(p) : nil, name(p))] } }
    static func builderList(namespaced: Bool) -> KeysOf { { p in [builder(namespaced ? namespace(p) : nil, "*")] } }

    static let secretWrite: KeysOf = { p in ["secret/\(namespace(p))/\(name(p))"] }
    static let secretList: KeysOf = { p in [secrets(namespace(p))] }

    /// An image, its namespace's secrets, and the builder it names (on create, the default
    /// ClusterBuilder when it names none).
    static let imageWrite: KeysOf = { p in
        var keys = [image(namespace(p), name(p)), secrets(namespace(p))]
        if let b = p?["builder"], let n = b["name"]?.stringValue {
            keys.append(builder(b["kind"]?.stringValue == "Builder" ? namespace(p) : nil, n))
        } else {
            keys.append(builder(nil, "default"))
        }
        return OrderingKeys(keys)
    }

    static let imageRead: KeysOf = { p in [image(namespace(p), name(p))] }
    static let imageList: KeysOf = { p in [p?["allNamespaces"] == .bool(true) ? "image/*" : image(namespace(p), "*")] }
    /// A build belongs to its image.
    static let build: KeysOf = { p in [image(namespace(p), name(p, "image"))] }
    static let buildList: KeysOf = { p in [image(namespace(p), p?["image"]?.stringValue ?? "*")] }

    static func buildRunKey(_ namespace: String, _ name: String) -> String { "buildrun/\(namespace)/\(name)" }
    static let buildRun: KeysOf = { p in [buildRunKey(namespace(p), name(p))] }
    /// A run, and what it builds: the image (a run of an image), or its builder and the
    /// namespace's secrets (a stand-alone run).
    static let buildRunSubmit: KeysOf = { p in
        var keys = [buildRunKey(namespace(p), p?["name"]?.stringValue ?? "*"), secrets(namespace(p))]
        if let i = p?["image"]?.stringValue {
            keys.append(image(namespace(p), i))
        } else if let b = p?["builder"], let n = b["name"]?.stringValue {
            keys.append(builder(b["kind"]?.stringValue == "Builder" ? namespace(p) : nil, n))
        } else {
            keys.append(builder(nil, "default"))
        }
        return OrderingKeys(keys)
    }
}
