import Foundation
import SlipwayProtocol

// The commands for what the engine offers beyond kp's resources: `build cancel|wait`,
// `events` (kubectl's columns), `quota`, `system df|gc` (docker's columns), and the global
// `--state-dir`.

/// `build cancel` and `build wait`: the build (default the latest) canceled, or waited for;
/// `wait` exits 1 when the build failed or is still running after `--timeout`.
func runBuildControl(_ verb: String, image: String, namespace: String, build: Int?, timeout: String?, out: Output,
                     _ engine: () throws -> EngineSession) throws -> Int32 {
    if verb == "cancel" {
        guard timeout == nil else { throw Arguments.Failure(message: "--timeout goes with 'slipctl build wait'") }
        let b = try engine().call(BuildCancel.self, BuildParams(image: image, namespace: namespace, build: build))
        out.say("Build \(b.number) of Image Resource \"\(image)\" canceled")
        try out.resource(b)
        return 0
    }
    let waitLimit = try timeout.map { Double(try seconds($0, flag: "timeout")) }
    let b = try engine().call(BuildWait.self, BuildWaitParams(image: image, namespace: namespace, build: build, timeout: waitLimit))
    switch b.status {
    case .SUCCESS: out.say("Build \(b.number) of Image Resource \"\(image)\" succeeded: \(b.image ?? "--")")
    case .FAILURE: out.say("Build \(b.number) of Image Resource \"\(image)\" failed: \(b.message ?? "see 'slipctl build logs \(image) -b \(b.number)'")")
    default: out.say("Build \(b.number) of Image Resource \"\(image)\" is still \(b.status.rawValue) after the timeout")
    }
    try out.resource(b)
    return b.status == .SUCCESS ? 0 : 1
}

/// A `--since` value as event/list takes it: an RFC 3339 time, or an age (`30s`, `5m`, `2h`,
/// `1d`) before `now`.
func sinceTimestamp(_ text: String, now: Date = Date()) throws -> String {
    if let date = Timestamp.parse(text) { return Timestamp.format(date) }
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
    guard let unit = text.last.flatMap({ units[$0] }), let n = Double(text.dropLast()), n >= 0 else {
        throw Arguments.Failure(message: "invalid argument \"\(text)\" for \"--since\" flag: give an age such as 30s, 5m, 2h or 1d, or a time such as 2026-01-02T15:04:05Z")
    }
    return Timestamp.format(now.addingTimeInterval(-n * unit))
}

/// `slipctl events [-n NS] [--since AGE|TIME] [--for KIND/NAME] [--type Normal|Warning]
/// [--reason R]`: the engine's events as `kubectl get events` shows them.
func runEvents(_ words: [String], _ engine: () throws -> EngineSession) throws -> Int32 {
    let a = try Arguments(words, spec: CommandTable.spec("events"))
    try a.expect(0...0)
    let out = try Output(a.value("output"))
    var params = EventListParams(namespace: a.value("namespace") ?? "default", reason: a.value("reason"), since: try a.value("since").map { try sinceTimestamp($0) })
    if let t = a.value("type") {
        guard let type = SystemEvent.EventType(rawValue: t) else { throw Arguments.Failure(message: "invalid argument \"\(t)\" for \"--type\" flag: use Normal or Warning") }
        params.type = type
    }
    if let object = a.value("for") {
        // kubectl's `--for kind/name`; kinds as kp names them (image, build run, builder, …).
        let kinds = ["image": "Image", "buildrun": "BuildRun", "builder": "Builder", "clusterbuilder": "ClusterBuilder", "clusterstack": "ClusterStack",
                     "clusterstore": "ClusterStore", "secret": "Secret"]
        let parts = object.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let kind = kinds[parts[0].lowercased()] else {
            throw Arguments.Failure(message: "invalid argument \"\(object)\" for \"--for\" flag: use KIND/NAME, KIND one of \(kinds.keys.sorted().joined(separator: ", "))")
        }
        params.object = EventObject(kind: kind, namespace: nil, name: parts[1])
    }
    let events = try engine().call(EventList.self, params).events
    if out.structured != nil { try out.resource(events); return 0 }
    guard !events.isEmpty else { emit("No events found in namespace \(params.namespace ?? "default")"); return 0 }
    emit(KpFormat.table(["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], events.map { e in
        [KpFormat.age(e.lastTime) + (e.count > 1 ? " (x\(e.count))" : ""), e.type.rawValue, e.reason, "\(e.object.kind.lowercased())/\(e.object.name)", e.message]
    }), terminator: "")
    return 0
}

/// Bytes as docker shows them: `0B`, `12.3kB`, `4.5MB`, `1.2GB` (powers of 1000).
func byteSize(_ bytes: Int64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var value = Double(bytes), unit = 0
    while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
    return unit == 0 ? "\(bytes)B" : String(format: "%.1f%@", value, units[unit])
}

/// `slipctl quota [-n NS]`: the namespace's limits and what it holds.
func runQuota(_ words: [String], _ engine: () throws -> EngineSession) throws -> Int32 {
    let a = try Arguments(words, spec: CommandTable.spec("quota"))
    try a.expect(0...0)
    let out = try Output(a.value("output"))
    let q = try engine().call(QuotaGet.self, QuotaParams(namespace: a.value("namespace") ?? "default"))
    if out.structured != nil { try out.resource(q); return 0 }
    func row(_ name: String, _ used: Int64?, _ limit: Int64?, _ show: (Int64) -> String) -> [String] {
        [name, used.map(show) ?? "0", limit.map(show) ?? "unlimited"]
    }
    emit("Namespace: \(q.namespace)\n")
    emit(KpFormat.table(["RESOURCE", "USED", "LIMIT"], [
        row("images", q.used.images, q.limits.images, String.init),
        row("buildruns", q.used.buildruns, q.limits.buildruns, String.init),
        row("storage", q.used.storage, q.limits.storage, byteSize)
    ]), terminator: "")
    return 0
}

/// `slipctl system df` (docker's TYPE TOTAL SIZE RECLAIMABLE) and `slipctl system gc
/// [--dry-run]`.
func runSystem(_ verb: String, _ words: [String], _ engine: () throws -> EngineSession) throws -> Int32 {
    let a = try Arguments(words, spec: CommandTable.spec("system", verb))
    try a.expect(0...0)
    let out = try Output(a.value("output"))
    switch verb {
    case "df":
        guard !a.has("dry-run") else { throw Arguments.Failure(message: "--dry-run goes with 'slipctl system gc'") }
        let df = try engine().call(SystemDF.self, EmptyParams())
        if out.structured != nil { try out.resource(df); return 0 }
        emit(KpFormat.table(["TYPE", "TOTAL", "SIZE", "RECLAIMABLE"], df.kinds.map { k in
            [k.kind, String(k.count), byteSize(k.bytes), byteSize(k.reclaimable) + (k.bytes > 0 ? " (\(k.reclaimable * 100 / k.bytes)%)" : "")]
        }) + "\nTotal: \(byteSize(df.totalBytes))", terminator: "\n")
        return 0
    case "gc":
        let r = try engine().call(SystemGC.self, CollectParams(dryRun: a.bool("dry-run") ? true : nil))
        if out.structured != nil { try out.resource(r); return 0 }
        if !r.freed.isEmpty {
            emit(KpFormat.table(["TYPE", "COUNT", "FREED"], r.freed.map { [$0.kind, String($0.count), byteSize($0.bytes)] }), terminator: "")
        }
        emit((r.dryRun ? "Would free: " : "Total reclaimed space: ") + byteSize(r.totalBytes))
        return 0
    default:
        throw Arguments.Failure(message: "unknown command \"\(verb)\" for \"slipctl system\": use df or gc")
    }
}

/// Takes the global `--state-dir DIR` (or `--state-dir=DIR`) out of the command line: the
/// state directory of the engine to use, beside `$SLIPWAY_HOME` (the flag wins).
func takeStateDirectory(_ argv: inout [String]) throws -> String? {
    guard let i = argv.firstIndex(where: { $0 == "--state-dir" || $0.hasPrefix("--state-dir=") }) else { return nil }
    let word = argv.remove(at: i)
    if let eq = word.firstIndex(of: "=") { return absolute(String(word[word.index(after: eq)...])) }
    guard i < argv.count else { throw Arguments.Failure(message: "flag needs an argument: --state-dir") }
    return absolute(argv.remove(at: i))
}
