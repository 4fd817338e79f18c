import SlipwayProtocol
import Engine
import JSONRPC

/// What `$/logTrace` shows of a request's params: the values of secret fields (passwords, SSH
/// keys, tokens) replaced by `***`, and any stored secret value hidden wherever it appears —
/// the same redaction build logs get.
enum TraceRedaction {
    /// Param names whose values are secrets, wherever they appear (compared case-insensitively).
    static let secretFields: Set<String> = ["password", "sshkey", "token", "auth", "identitytoken", "registrytoken", "secret"]

    static func redact(_ params: JSONValue, engine: Engine) -> JSONValue {
        switch params {
        case .object(let o):
            var out = JSONObject()
            for (k, v) in o.members {
                out[k] = secretFields.contains(k.lowercased()) && v != .null ? .string("***") : redact(v, engine: engine)
            }
            return .object(out)
        case .array(let a):
            return .array(a.map { redact($0, engine: engine) })
        case .string(let s):
            return .string(engine.redact(s))
        default:
            return params
        }
    }
}
