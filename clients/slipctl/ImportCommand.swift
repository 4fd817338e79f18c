import Foundation
import JSONRPC
import SlipwayProtocol

// `slipctl import -f FILE`: kp's dependency descriptor (`kind: DependencyDescriptor`), the
// stores, stacks and builders of a cluster in one file, created or updated in that order;
// `defaultClusterStack` and `defaultClusterBuilder` make the stack and builder `default` copies
// of the ones they name, as kp does.

/// kp's dependency descriptor (apiVersion kp.kpack.io/v1alpha1 to v1alpha3): what `import`
/// reads. Fields slipctl has no use for (`lifecycle`) are read and not applied.
struct DependencyDescriptor: Decodable {
    struct Image: Decodable { var image: String }
    struct Store: Decodable { var name: String; var sources: [Image] }
    struct Stack: Decodable { var name: String; var buildImage: Image; var runImage: Image }
    /// A ClusterBuilder: `clusterStack`/`clusterStore` (v1alpha2+) or `stack`/`store` (v1alpha1).
    struct Builder: Decodable {
        var name: String
        var clusterStack: String?
        var clusterStore: String?
        var stack: String?
        var store: String?
        var order: [OrderGroup]
    }
    var apiVersion: String
    var kind: String
    var defaultClusterStack: String?
    var defaultClusterBuilder: String?
    var lifecycle: Image?
    var clusterStores: [Store]?
    var clusterStacks: [Stack]?
    var clusterBuilders: [Builder]?

    /// Reads a descriptor (YAML, or JSON) and checks that what it names is in it.
    static func read(_ text: String, file: String) throws -> DependencyDescriptor {
        let value: JSONValue
        do {
            value = try (try? JSONParser.parse(Array(text.utf8))) ?? BlockYAML.parse(text)  // not JSON: read as YAML
        } catch let e as BlockYAML.Failure {
            throw Arguments.Failure(message: "\(file) line \(e.line): \(e.message)")
        }
        let d: DependencyDescriptor
        do {
            d = try JSONValueDecoder().decode(DependencyDescriptor.self, from: value)
        } catch {
            throw Arguments.Failure(message: "\(file) is not a kp dependency descriptor (apiVersion, kind, clusterStores, clusterStacks, clusterBuilders): \(error)")
        }
        guard d.kind == "DependencyDescriptor", d.apiVersion.hasPrefix("kp.kpack.io/") else {
            throw Arguments.Failure(message: "\(file) is a \(d.kind) of \(d.apiVersion), not a kp DependencyDescriptor (apiVersion kp.kpack.io/v1alpha3)")
        }
        let stacks = Set((d.clusterStacks ?? []).map(\.name)), builders = Set((d.clusterBuilders ?? []).map(\.name))
        if let s = d.defaultClusterStack, !stacks.contains(s) { throw Arguments.Failure(message: "\(file): defaultClusterStack \"\(s)\" is not one of its clusterStacks") }
        if let b = d.defaultClusterBuilder, !builders.contains(b) { throw Arguments.Failure(message: "\(file): defaultClusterBuilder \"\(b)\" is not one of its clusterBuilders") }
        for b in d.clusterBuilders ?? [] where b.clusterStack ?? b.stack == nil || b.clusterStore ?? b.store == nil {
            throw Arguments.Failure(message: "\(file): clusterBuilder \"\(b.name)\" needs clusterStack and clusterStore")
        }
        return d
    }
}

/// A host path in a descriptor (`/…`, `./…`, `../…`) made absolute; a registry reference as it is.
private func imageReference(_ r: String) -> String {
    r.hasPrefix("/") || r.hasPrefix(".") ? absolute(r) : r
}

func runImport(_ words: [String], _ engine: () throws -> EngineSession) throws -> Int32 {
    let a = try Arguments(words, spec: CommandTable.spec("import"))
    try a.expect(0...0)
    guard let file = a.value("filename") else { throw Arguments.Failure(message: "required flag \"filename\" not set: slipctl import -f DESCRIPTOR.yaml") }
    guard let data = FileManager.default.contents(atPath: absolute(file)), data.count <= 4 << 20, let text = String(data: data, encoding: .utf8) else {
        throw Arguments.Failure(message: "cannot read the descriptor \(file) (a UTF-8 file of at most 4 MiB)")
    }
    let d = try DependencyDescriptor.read(text, file: file)
    var stacks = (d.clusterStacks ?? []).map { StackSpec(name: $0.name, buildImage: imageReference($0.buildImage.image), runImage: imageReference($0.runImage.image)) }
    if let named = d.defaultClusterStack, var copy = stacks.first(where: { $0.name == named }), named != "default" {
        copy.name = "default"
        stacks.append(copy)
    }
    var builders = (d.clusterBuilders ?? []).map { b in
        ClusterBuilderSpec(name: b.name, stack: b.clusterStack ?? b.stack, store: b.clusterStore ?? b.store, order: b.order, image: nil, tag: nil)
    }
    if let named = d.defaultClusterBuilder, var copy = builders.first(where: { $0.name == named }), named != "default" {
        copy.name = "default"
        builders.append(copy)
    }
    let stores = (d.clusterStores ?? []).map { StoreParams(name: $0.name, buildpacks: $0.sources.map { imageReference($0.image) }) }
    if a.bool("dry-run") {
        for s in stores { emit("Importing ClusterStore '\(s.name)'... (dry run)") }
        for s in stacks { emit("Importing ClusterStack '\(s.name)'... (dry run)") }
        for b in builders { emit("Importing ClusterBuilder '\(b.name)'... (dry run)") }
        return 0
    }
    let e = try engine()
    for s in stores {
        emit("Importing ClusterStore '\(s.name)'...")
        if try e.exists(ClusterStoreGet.self, NameParams(name: s.name)) { _ = try e.call(ClusterStoreAdd.self, s) } else { _ = try e.call(ClusterStoreCreate.self, s) }
    }
    for s in stacks {
        emit("Importing ClusterStack '\(s.name)'...")
        if try e.exists(ClusterStackGet.self, NameParams(name: s.name)) { _ = try e.call(ClusterStackPatch.self, s) } else { _ = try e.call(ClusterStackCreate.self, Creating(s)) }
    }
    for b in builders {
        emit("Importing ClusterBuilder '\(b.name)'...")
        if try e.exists(ClusterBuilderGet.self, NameParams(name: b.name)) { _ = try e.call(ClusterBuilderPatch.self, b) } else { _ = try e.call(ClusterBuilderCreate.self, Creating(b)) }
    }
    emit("Imported resources")
    return 0
}

/// The block YAML that kp's descriptors (and kpack's resources) are written in: mappings,
/// sequences (`- ` items, also at their key's indent), plain and quoted scalars, comments,
/// `---` and empty `[]`/`{}`. Anchors, flow collections with items, and multi-line scalars are
/// refused with the line they are on.
enum BlockYAML {
    struct Failure: Error { let line: Int; let message: String }

    private struct Line { var number: Int; var indent: Int; var text: String }

    static func parse(_ text: String) throws -> JSONValue {
        var lines: [Line] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let body = stripComment(String(raw))
            let trimmed = body.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed == "---" { continue }
            guard !body.hasPrefix("\t") else { throw Failure(line: n + 1, message: "tabs do not indent YAML: use spaces") }
            lines.append(Line(number: n + 1, indent: body.prefix { $0 == " " }.count, text: trimmed))
        }
        guard !lines.isEmpty else { return .object(JSONObject()) }
        var i = 0
        let value = try block(&lines, &i, indent: lines[0].indent)
        if i < lines.count { throw Failure(line: lines[i].number, message: "unexpected indentation") }
        return value
    }

    /// A `#` outside quotes that starts the line or follows a space begins a comment.
    private static func stripComment(_ line: String) -> String {
        var quote: Character?, previous: Character = " "
        for (offset, c) in line.enumerated() {
            if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if c == "#", previous == " " {
                return String(line.prefix(offset))
            }
            previous = c
        }
        return line
    }

    private static func block(_ lines: inout [Line], _ i: inout Int, indent: Int) throws -> JSONValue {
        lines[i].text.hasPrefix("-") && (lines[i].text == "-" || lines[i].text.hasPrefix("- "))
            ? try sequence(&lines, &i, indent: indent) : try mapping(&lines, &i, indent: indent)
    }

    private static func sequence(_ lines: inout [Line], _ i: inout Int, indent: Int) throws -> JSONValue {
        var items: [JSONValue] = []
        while i < lines.count, lines[i].indent == indent, lines[i].text == "-" || lines[i].text.hasPrefix("- ") {
            let rest = String(lines[i].text.dropFirst(1)).trimmingCharacters(in: .whitespaces)
            if rest.isEmpty {
                i += 1
                guard i < lines.count, lines[i].indent > indent else { items.append(.null); continue }
                items.append(try block(&lines, &i, indent: lines[i].indent))
            } else if keyValue(rest) != nil || rest.hasPrefix("- ") {
                // `- key: value`: a mapping (or a sequence) whose first line is the item's.
                let column = indent + (lines[i].text.count - rest.count)
                lines[i] = Line(number: lines[i].number, indent: column, text: rest)
                items.append(try block(&lines, &i, indent: column))
            } else {
                items.append(try scalar(rest, line: lines[i].number))
                i += 1
            }
        }
        return .array(items)
    }

    private static func mapping(_ lines: inout [Line], _ i: inout Int, indent: Int) throws -> JSONValue {
        var object = JSONObject()
        while i < lines.count, lines[i].indent == indent {
            let line = lines[i]
            guard let (key, value) = keyValue(line.text) else { throw Failure(line: line.number, message: "expected key: value") }
            guard object[key] == nil else { throw Failure(line: line.number, message: "\(key) is given twice") }
            i += 1
            if !value.isEmpty {
                object[key] = try scalar(value, line: line.number)
            } else if i < lines.count, lines[i].indent > indent || (lines[i].indent == indent && lines[i].text.hasPrefix("- ")) {
                object[key] = try block(&lines, &i, indent: lines[i].indent)
            } else {
                object[key] = .null
            }
        }
        return .object(object)
    }

    /// `key: value` (the key plain or quoted); nil when the text is not a mapping entry.
    private static func keyValue(_ text: String) -> (String, String)? {
        var key: String, rest: Substring
        if let q = text.first, q == "\"" || q == "'" {
            guard let end = text.dropFirst().firstIndex(of: q) else { return nil }
            key = String(text[text.index(after: text.startIndex)..<end])
            rest = text[text.index(after: end)...]
            guard rest.hasPrefix(":") else { return nil }
        } else {
            guard let colon = text.range(of: ": ")?.lowerBound ?? (text.hasSuffix(":") ? text.index(before: text.endIndex) : nil) else { return nil }
            key = String(text[..<colon])
            rest = text[colon...]
        }
        return (key, rest.dropFirst().trimmingCharacters(in: .whitespaces))
    }

    private static func scalar(_ text: String, line: Int) throws -> JSONValue {
        if text == "[]" { return .array([]) }
        if text == "{}" { return .object(JSONObject()) }
        if let first = text.first, "[{&*|>!".contains(first) {
            throw Failure(line: line, message: "\(text.prefix(20)): flow collections, anchors, tags and block scalars are not read; write it in block style")
        }
        if let q = text.first, q == "\"" || q == "'" {
            guard text.count >= 2, text.last == q else { throw Failure(line: line, message: "unterminated quoted string") }
            let inner = String(text.dropFirst().dropLast())
            if q == "\"", let decoded = try? JSONParser.parse(Array(text.utf8)) { return decoded }  // JSON's escapes; else taken as written
            return .string(q == "'" ? inner.replacingOccurrences(of: "''", with: "'") : inner)
        }
        switch text {
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "null", "~": return .null
        default: return .string(text)
        }
    }
}
