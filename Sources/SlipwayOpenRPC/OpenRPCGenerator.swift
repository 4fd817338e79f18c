import JSONRPC
import SlipwayProtocol

/// Builds the OpenRPC document (`spec/openrpc.json`) from the protocol's method types
/// (`SlipwayMethods.all`), the schemas written beside the wire types (`SchemaComponents`) and
/// the error kinds: the document has no source of its own.
enum OpenRPCGenerator {
    /// A schema that is not valid JSON: a mistake in the text beside a type.
    struct InvalidSchema: Error, CustomStringConvertible {
        let owner: String
        let reason: String
        var description: String { "the schema of \(owner) is not valid JSON (\(reason)); fix the text beside the type" }
    }

    static func document() throws -> JSONValue {
        let methods = try SlipwayMethods.all.map(method)
        var schemas = JSONObject()
        for (name, schema) in SchemaComponents.all { schemas[name] = try parse(schema, owner: name) }
        var errors = JSONObject()
        for e in ErrorKind.allCases {
            errors[e.rawValue] = ["code": .int(Int64(e.code)), "message": .string(e.meaning), "data": ["reason": .string(e.rawValue)]]
        }
        return [
            "openrpc": "1.3.2",
            "info": [
                "title": "Slipway",
                "version": "0.1.0",
                "description": "A container image build service speaking JSON-RPC 2.0 over stdin/stdout. Framing, lifecycle, errors and server-to-client notifications are described in spec/protocol.md.",
            ],
            "methods": .array(methods),
            "components": ["schemas": .object(schemas), "errors": .object(errors)],
        ]
    }

    /// One method's entry: its name, summary, params (by name), result and errors.
    static func method(_ m: any RPCMethod.Type) throws -> JSONValue {
        let params: [JSONValue] = try m.params.map { p in
            var o = JSONObject([("name", .string(p.name)), ("schema", try parse(p.schema, owner: "\(m.method) param \(p.name)")), ("required", .bool(p.required))])
            if let d = p.description { o["description"] = .string(d) }
            return .object(o)
        }
        let resultName = (m.method.split(separator: "/").last.map(String.init) ?? m.method) + "Result"
        return [
            "name": .string(m.method),
            "summary": .string(m.summary),
            "paramStructure": "by-name",
            "params": .array(params),
            "result": ["name": .string(resultName), "schema": try parse(m.resultSchema, owner: "the result of \(m.method)")],
            "errors": .array(m.errors.map { ["$ref": .string("#/components/errors/\($0.rawValue)")] }),
        ]
    }

    static func parse(_ schema: JSONSchema, owner: String) throws -> JSONValue {
        do {
            return try JSONParser.parse(Array(schema.json.utf8))
        } catch {
            throw InvalidSchema(owner: owner, reason: "\(error)")
        }
    }

    /// JSON indented by two spaces, as `spec/openrpc.json` is written (and as Python's
    /// `json.dumps(indent=2, ensure_ascii=False)` writes it), with a final newline.
    static func pretty(_ value: JSONValue) -> String {
        var out = ""
        write(value, indent: 0, into: &out)
        return out + "\n"
    }

    private static func write(_ value: JSONValue, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent + 2), closing = String(repeating: " ", count: indent)
        switch value {
        case .array(let items) where !items.isEmpty:
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                write(item, indent: indent + 2, into: &out)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += closing + "]"
        case .object(let o) where !o.members.isEmpty:
            out += "{\n"
            for (i, (k, v)) in o.members.enumerated() {
                out += pad + JSONWriter.string(.string(k)) + ": "
                write(v, indent: indent + 2, into: &out)
                out += i == o.members.count - 1 ? "\n" : ",\n"
            }
            out += closing + "}"
        default:
            out += JSONWriter.string(value)
        }
    }
}
