import Synchronization

/// The last lines a step printed, for the failure message (the whole output is in the log).
final class OutputTail: Sendable {
    private let state = Mutex<[String]>([])
    let keep: Int
    init(keep: Int = 3) { self.keep = keep }
    func append(_ line: String) {
        state.withLock {
            $0.append(line)
            if $0.count > keep { $0.removeFirst($0.count - keep) }
        }
    }
    var lines: [String] { state.withLock { $0 } }
}
