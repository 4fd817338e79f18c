import Engine
import SlipwayProtocol
import Foundation
import JSONRPC
import Testing
@testable import SlipwayServer
import TestSupport

/// spec/openrpc.json against the Swift param types of every method, both ways: the same param
/// names, the same required ones, the same enum values. (SchemaConformanceTests checks every
/// reply against its result schema.)
@Suite struct ParamsSchemaTests {
    static let document: JSONValue = {
        let data = try! Data(contentsOf: Repo.root.appendingPathComponent("spec/openrpc.json"))
        return try! JSONParser.parse(Array(data))
    }()

    static func resolve(_ schema: JSONValue) -> JSONValue {
        guard let ref = schema["$ref"]?.stringValue else { return schema }
        return resolve(document["components"]?["schemas"]?[String(ref.split(separator: "/").last!)] ?? .null)
    }

    /// A value the schema accepts; objects with their required properties.
    static func sample(_ raw: JSONValue) -> JSONValue {
        let schema = resolve(raw)
        if let first = schema["enum"]?.arrayValue?.first { return first }
        if let options = (schema["oneOf"] ?? schema["anyOf"])?.arrayValue, let first = options.first { return sample(first) }
        switch schema["type"]?.stringValue {
        case "string": return "abc"
        case "integer", "number": return 1
        case "boolean": return true
        case "array": return .array([sample(schema["items"] ?? .null)])
        case "object":
            var o = JSONObject()
            let required = Set(schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            if case .object(let properties)? = schema["properties"] {
                for (k, v) in properties.members where required.contains(k) { o[k] = sample(v) }
            }
            return .object(o)
        default: return .null
        }
    }

    static func registry() throws -> (MethodRegistry, TempDir) {
        let state = TempDir("schema")
        let engine = try Engine(stateDirectory: state.url, options: EngineOptions(launcherPath: "/bin/true", gitPollInterval: nil))
        return (MethodTable.makeRegistry(ServerContext(engine: engine, maxMessageSize: 1 << 20)), state)
    }

    /// The field an InvalidParams error is about, or nil when the params decoded.
    static func failure(_ registry: MethodRegistry, _ method: String, _ params: JSONValue) -> ResponseError? {
        do {
            try registry.decodeParams(of: method, params)
            return nil
        } catch let e as ResponseError {
            return e
        } catch {
            return ResponseError(code: 0, message: "\(error)")
        }
    }

    @Test func everyMethodsParamsMatchItsSchema() throws {
        let (registry, _) = try Self.registry()
        let methods = Self.document["methods"]?.arrayValue ?? []
        #expect(methods.count == registry.requestMethods.count + MethodTable.methodsOwnedByConnection.count)
        for method in methods {
            let name = method["name"]?.stringValue ?? ""
            guard registry.requestMethods.contains(name), name != "initialize" else { continue }  // initialize takes any LSP field
            // LSP's progress tokens are accepted by every method (MethodRegistry), not by each type.
            let params = (method["params"]?.arrayValue ?? []).filter { !["workDoneToken", "partialResultToken"].contains($0["name"]?.stringValue ?? "") }
            let declared = Set(params.compactMap { $0["name"]?.stringValue })
            let required = Set(params.filter { $0["required"] == .bool(true) }.compactMap { $0["name"]?.stringValue })

            // Every param the schema declares decodes.
            var full = JSONObject()
            for p in params { full[p["name"]!.stringValue!] = Self.sample(p["schema"] ?? .null) }
            let whole = Self.failure(registry, name, .object(full))

            // Names: an unknown param is refused with the list of the type's own.
            var extra = full
            extra["not-a-param"] = 1
            let known = Set(Self.failure(registry, name, .object(extra))?.data?["known"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            #expect(known == declared, "\(name): the Swift type has \(known.sorted()), the schema \(declared.sorted())")

            // Required: each param left out fails exactly when the schema says it is required.
            #expect(whole == nil, "\(name): a sample of the schema does not decode: \(whole?.message ?? "")")
            for p in declared {
                var without = full
                without[p] = nil
                let missing = Self.failure(registry, name, .object(without))
                #expect((missing?.data?["field"] == .string(p)) == required.contains(p),
                        "\(name): '\(p)' is \(required.contains(p) ? "" : "not ")required in the schema, but leaving it out gives \(missing?.message ?? "no error")")
            }

            // Enums: each value the schema lists decodes, and a value it does not list fails.
            for p in params {
                guard let values = Self.resolve(p["schema"] ?? .null)["enum"]?.arrayValue, let field = p["name"]?.stringValue else { continue }
                for v in values {
                    var o = full
                    o[field] = v
                    #expect(Self.failure(registry, name, .object(o)) == nil, "\(name): \(field) = \(v) is in the schema's enum but does not decode")
                }
                var o = full
                o[field] = "not-in-the-enum"
                #expect(Self.failure(registry, name, .object(o))?.data?["field"] == .string(field), "\(name): \(field) accepts a value outside the schema's enum")
            }
        }
    }
}
