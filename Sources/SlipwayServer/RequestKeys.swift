import JSONRPC
import SlipwayProtocol

/// Registration of request handlers by method type (`RPCMethod`): the method's name, its
/// ordering and its keys come from the type, and the handler must return the type's result.
///
/// Ordering keys (see `OrderingKeys`): a request names the objects it touches, as
/// `kind/namespace/name` (`ObjectKey`), computed by the method type from its decoded params.
/// A pipeline's write is then seen by every later request of the pipeline that touches the
/// same objects, and nothing else waits for it: a slow `clusterstack/create` holds back
/// `clusterbuilder/create` on that stack, not `image/get` of an unrelated image.
extension MethodRegistry {
    mutating func register<M: RPCMethod>(
        _ method: M.Type, acceptsUnknownParams: Bool = false, maxParamsBytes: Int? = nil,
        _ body: @escaping @Sendable (M.Params, RequestContext) async throws -> M.Result
    ) {
        register(M.method, ordering: M.access.ordering, keys: RequestKeys.of(M.self), params: M.Params.self, acceptsUnknownParams: acceptsUnknownParams,
                 maxParamsBytes: maxParamsBytes, body)
    }
}

extension MethodRegistry {
    /// Registers a method of type `M` whose handler returns its result already encoded (it
    /// keeps encoded results, as `ImageResourceCache` does); the result must be what encoding
    /// an `M.Result` gives.
    /// `answersInline`: see `MethodRegistry.registerEncoded`.
    mutating func registerEncoded<M: RPCMethod>(_ method: M.Type, answersInline: Bool = false,
                                                _ body: @escaping @Sendable (M.Params, RequestContext) async throws -> EncodedJSON) {
        registerEncoded(M.method, ordering: M.access.ordering, keys: RequestKeys.of(M.self), params: M.Params.self, answersInline: answersInline, body)
    }
}

extension MethodAccess {
    var ordering: MethodOrdering {
        switch self {
        case .read: .read
        case .write: .write
        }
    }
}

enum RequestKeys {
    /// The ordering keys of a request of `M`, from its params decoded as the handler decodes
    /// them. Params that do not decode are refused before the handler runs; such a request is
    /// ordered after everything before it (`.all`), the safe choice.
    static func of<M: RPCMethod>(_: M.Type) -> MethodRegistry.KeysOf {
        { raw in
            guard let params = try? JSONRPC.decodeParams(M.Params.self, raw) else { return .all }  // refused later, with the decoding error
            return M.orderingKeys(params).map(OrderingKeys.init) ?? .all
        }
    }
}
