import Foundation
import Synchronization

/// Hides secret values in anything the engine writes or says: log lines and error messages.
final class SecretRedactor: Sendable {
    private let values = Mutex<Set<String>>([])

    func add(_ v: [String]) { values.withLock { $0.formUnion(v) } }
    func remove(_ v: [String]) { values.withLock { $0.subtract(v) } }

    func redact(_ text: String) -> String {
        let vs = values.withLock { $0 }
        guard !vs.isEmpty else { return text }
        var out = text
        for v in vs where out.contains(v) { out = out.replacingOccurrences(of: v, with: "***") }
        return out
    }
}
