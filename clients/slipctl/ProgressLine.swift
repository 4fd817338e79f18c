import Foundation

/// On a terminal, the line under a followed build's log: a spinner, the phase and the time
/// since it started, redrawn ten times a second; at the end, the build's status in color.
/// Output that is not a terminal gets the log's lines only.
///
/// `@unchecked Sendable`: `phase`, `stopped` and the terminal are touched under `lock` only
/// (log lines arrive on the session's reader thread, the spinner turns on its own).
final class ProgressLine: @unchecked Sendable {
    private let lock = NSLock()
    /// When following began: the spinner's clock (the build may have started earlier).
    private let shown = Date()
    private var phase = "prepare"
    private var stopped = false
    private var frame = 0
    private static let frames = Array("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")

    /// A progress line when stdout is a terminal; nil otherwise.
    static func onTerminal() -> ProgressLine? {
        guard isatty(1) == 1 else { return nil }
        let p = ProgressLine()
        Thread { p.turn() }.start()
        return p
    }

    private func draw() {
        let elapsed = String(format: "%.1fs", Date().timeIntervalSince(shown))
        emit("\r\u{1B}[2K\u{1B}[36m\(Self.frames[frame % Self.frames.count])\u{1B}[0m \(phase) · \(elapsed)", terminator: "")
    }

    private func turn() {
        while true {
            lock.lock()
            if stopped { lock.unlock(); return }
            frame += 1
            draw()
            lock.unlock()
            Thread.sleep(forTimeInterval: 0.1)  // the spinner's pace, not a wait for anything
        }
    }

    /// A log line, printed above the progress line.
    func line(_ text: String, phase: String?) {
        lock.lock()
        defer { lock.unlock() }
        if let phase { self.phase = phase }
        emit("\r\u{1B}[2K" + text)
        draw()
    }

    /// Clears the progress line and says how the build ended, green or red, and how long the
    /// build took (`took`, from its start and end; without it, no time is said).
    func finish(status: String, took: TimeInterval?) {
        lock.lock()
        defer { lock.unlock() }
        stopped = true
        let ok = status == "SUCCESS"
        emit("\r\u{1B}[2K" + (ok ? "\u{1B}[32m✔ SUCCESS\u{1B}[0m" : "\u{1B}[31m✘ \(status)\u{1B}[0m") + (took.map { String(format: " in %.1fs", $0) } ?? ""))
    }
}
