/// A command line in kp's grammar (cobra's): positional arguments and flags (`--flag value`,
/// `--flag=value`, `-n value`, boolean flags alone), flags repeatable. Unknown flags and wrong
/// argument counts are errors worded as kp words them.
struct Arguments {
    /// What a command accepts: value flags, boolean flags, and short names.
    struct Spec {
        var values: Set<String>
        var booleans: Set<String> = []
        var short: [Character: String] = ["n": "namespace"]
    }

    struct Failure: Error { let message: String }

    var positional: [String] = []
    private var flags: [String: [String]] = [:]

    init(_ words: [String], spec: Spec) throws {
        var i = 0
        while i < words.count {
            let w = words[i]
            i += 1
            guard w.hasPrefix("-"), w != "-" else { positional.append(w); continue }
            var name: String, value: String?
            if w.hasPrefix("--") {
                let body = w.dropFirst(2)
                if let eq = body.firstIndex(of: "=") { name = String(body[..<eq]); value = String(body[body.index(after: eq)...]) } else { name = String(body) }
            } else {
                guard w.count == 2, let long = spec.short[w.last!] else { throw Failure(message: "unknown shorthand flag: '\(w.dropFirst())' in \(w)") }
                name = long
            }
            if spec.booleans.contains(name) {
                flags[name, default: []].append(value ?? "true")
            } else if spec.values.contains(name) {
                if value == nil {
                    guard i < words.count else { throw Failure(message: "flag needs an argument: --\(name)") }
                    value = words[i]
                    i += 1
                }
                flags[name, default: []].append(value!)
            } else {
                throw Failure(message: "unknown flag: --\(name)")
            }
        }
    }

    func value(_ name: String) -> String? { flags[name]?.last }
    func values(_ name: String) -> [String] { flags[name] ?? [] }
    func has(_ name: String) -> Bool { flags[name] != nil }
    func bool(_ name: String) -> Bool { flags[name]?.last == "true" }

    /// kp's check on the number of arguments.
    func expect(_ range: ClosedRange<Int>) throws {
        guard range.contains(positional.count) else {
            let wanted = range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "between \(range.lowerBound) and \(range.upperBound)"
            throw Failure(message: "accepts \(wanted) arg(s), received \(positional.count)")
        }
    }
}
