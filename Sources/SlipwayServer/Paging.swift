import Engine
import Foundation
import SlipwayProtocol

/// Kubernetes-style paging of list methods: `limit` (default 500) and `continue`, an opaque
/// token naming where the previous page ended. A list is in a fixed order (names, or event
/// ids), and the token holds the last key it gave, so it stays valid while objects are added.
enum Paging {
    static let defaultLimit = 500

    /// The page size asked for: at least 1.
    static func limit(_ given: Int?) throws -> Int {
        guard let given else { return defaultLimit }
        guard given >= 1 else { throw EngineError.invalid("limit must be at least 1 (default \(defaultLimit))", field: "limit") }
        return given
    }

    /// The token of a page that ended at `key`.
    static func token(after key: String) -> String {
        Data(("v1\n" + key).utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    /// The key a `continue` token names; nil without a token.
    static func key(_ token: String?) throws -> String? {
        guard let token else { return nil }
        let base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard token.utf8.count <= 4096, let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8), text.hasPrefix("v1\n") else {
            throw EngineError.invalid("continue is not a token this server gave; start the list again without it", field: "continue")
        }
        return String(text.dropFirst(3))
    }

    /// The event id a token of an events list names (0 without one).
    static func eventID(_ token: String?) throws -> Int64 {
        guard let key = try key(token) else { return 0 }
        guard let id = Int64(key) else { throw EngineError.invalid("continue is not a token of an events list; start again without it", field: "continue") }
        return id
    }

    /// One page of `items` as `params` ask.
    static func page<T>(_ items: [T], key: (T) -> String, _ params: some PagedParams) throws -> (items: [T], next: String?) {
        page(items, key: key, limit: try limit(params.limit), after: try Paging.key(params.continue))
    }

    /// One page of `items` in the order of `key`: those after `after`, at most `limit`, and the
    /// token of the next page when more remain.
    static func page<T>(_ items: [T], key: (T) -> String, limit: Int, after: String?) -> (items: [T], next: String?) {
        var keyed = items.map { (key: key($0), item: $0) }
        if let after { keyed.removeAll { $0.key <= after } }
        keyed.sort { $0.key < $1.key }
        guard keyed.count > limit else { return (keyed.map(\.item), nil) }
        let page = keyed.prefix(limit)
        return (page.map(\.item), page.last.map { token(after: $0.key) })
    }
}
