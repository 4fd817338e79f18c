import Foundation

/// A spec shared by a `create` and a `patch` method, where `create` needs params that `patch`
/// leaves out: a stack's images, a builder's stack, store and order, an image's source.
public protocol CreatableSpec: Codable, Sendable {
    /// The params `create` needs besides those the spec itself requires.
    static var requiredOnCreate: [String] { get }
    /// A param that, when given, stands for all of `requiredOnCreate` (a builder made from a
    /// builder image names no stack, store or order); nil when none does.
    static var replacesRequiredOnCreate: String? { get }
}

extension CreatableSpec {
    public static var replacesRequiredOnCreate: String? { nil }
}

/// Params of a `create` method: its spec, refused as a missing param when something `create`
/// needs is absent (or null). So the type says what the schema says, and the error comes at
/// decoding, before anything runs.
public struct Creating<Spec: CreatableSpec>: Codable, Sendable {
    public var spec: Spec

    public init(_ spec: Spec) { self.spec = spec }

    public init(from decoder: any Decoder) throws {
        spec = try Spec(from: decoder)
        let fields = try decoder.container(keyedBy: FieldName.self)
        if let alternative = Spec.replacesRequiredOnCreate.map(FieldName.init), try fields.contains(alternative) && !fields.decodeNil(forKey: alternative) {
            return
        }
        for name in Spec.requiredOnCreate {
            let key = FieldName(name)
            if try !fields.contains(key) || fields.decodeNil(forKey: key) {
                throw DecodingError.keyNotFound(key, .init(codingPath: decoder.codingPath, debugDescription: "create needs '\(name)'"))
            }
        }
    }

    public func encode(to encoder: any Encoder) throws { try spec.encode(to: encoder) }

    /// A param named at run time.
    struct FieldName: CodingKey {
        let stringValue: String
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }
}

extension StackSpec: CreatableSpec {
    public static let requiredOnCreate = ["buildImage", "runImage"]
}

extension BuilderSpec: CreatableSpec {
    public static let requiredOnCreate = ["stack", "store", "order"]
    public static let replacesRequiredOnCreate: String? = "image"
}

extension ClusterBuilderSpec: CreatableSpec {
    public static let requiredOnCreate = ["stack", "store", "order"]
    public static let replacesRequiredOnCreate: String? = "image"
}

extension ImageSpec: CreatableSpec {
    public static let requiredOnCreate = ["source"]
}

extension Creating: WireParams where Spec: WireParams {
    /// The spec's params, with those `create` needs marked required.
    public static var paramDescriptors: [ParamDescriptor] {
        Spec.paramDescriptors.map { p in
            guard Spec.requiredOnCreate.contains(p.name) else { return p }
            guard let alternative = Spec.replacesRequiredOnCreate else { return p.required(true) }
            // Not required by the schema; `init(from:)` asks for it when the alternative is absent.
            var optional = p
            optional.description = "Required unless `\(alternative)` is given."
            return optional
        }
    }
}
