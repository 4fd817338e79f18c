import SlipwayProtocol
import BuildRuntime
import Foundation

/// Checks on names and values that come from clients, so bad input is refused before
/// anything is stored.
public enum Validation {
    /// DNS-label names (RFC 1123), as Kubernetes objects have: lowercase letters, digits and
    /// '-', starting and ending with a letter or digit, at most 63 characters.
    public static func name(_ value: String, field: String, kind: String) throws {
        guard isDNSLabel(value) else {
            throw EngineError.invalid(
                "\(field) '\(PathSyntax.shortened(value))' is not a valid \(kind) name: use lowercase letters, digits and '-', start and end with a letter or digit, at most 63 characters",
                field: field)
        }
    }

    /// RFC 1123 label, checked on bytes (it runs on every request that names an object).
    public static func isDNSLabel(_ value: String) -> Bool {
        let b = value.utf8
        guard let first = b.first, let last = b.last, b.count <= 63 else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        return alnum(first) && alnum(last) && b.allSatisfy { alnum($0) || $0 == 0x2D }
    }

    public static func namespace(_ value: String) throws { try name(value, field: "namespace", kind: "namespace") }

    /// Environment variable names: letters, digits and '_', not starting with a digit, and not
    /// the `CNB_` names the lifecycle reserves.
    public static func envName(_ value: String, field: String) throws {
        guard LayerEnvironment.isValidName(value) else {
            throw EngineError.invalid("env name '\(PathSyntax.shortened(value))' is not valid: use letters, digits and '_', not starting with a digit", field: field)
        }
        guard !value.hasPrefix("CNB_") else {
            throw EngineError.invalid("env name '\(PathSyntax.shortened(value))' is reserved: names starting with CNB_ belong to the buildpacks lifecycle", field: field)
        }
    }

    /// Most env entries an image may have.
    public static let maxEnvEntries = 1000
    /// Largest env value, in bytes.
    public static let maxEnvValueBytes = 32 << 10

    public static func env(_ env: [String: String], field: String = "env") throws {
        guard env.count <= maxEnvEntries else {
            throw EngineError.invalid("env has \(env.count) entries; at most \(maxEnvEntries) are allowed", field: field)
        }
        for (k, v) in env.sorted(by: { $0.key < $1.key }) {
            let name = "\(field).\(PathSyntax.shortened(k, limit: 64))"
            try envName(k, field: name)
            guard !v.contains("\u{0}") else { throw EngineError.invalid("env value of '\(PathSyntax.shortened(k, limit: 64))' contains a NUL character", field: name) }
            guard v.utf8.count <= maxEnvValueBytes else {
                throw EngineError.invalid("env value of '\(PathSyntax.shortened(k, limit: 64))' has \(v.utf8.count) bytes; at most \(maxEnvValueBytes) (32 KiB) are allowed", field: name)
            }
        }
    }
}
