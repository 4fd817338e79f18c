import Foundation

/// A fresh temporary folder's path, left for the system to clean (a test's scratch).
public func tempDir() -> String {
    let p = NSTemporaryDirectory() + "slipway-rt-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

/// Writes `text` to `path` with `mode`, making the folders on the way.
public func write(_ path: String, _ text: String, mode: Int = 0o644) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try text.write(toFile: path, atomically: false, encoding: .utf8)
    chmod(path, mode_t(mode))
}

extension Process {
    /// Runs `exe` with `args` and returns what it printed.
    public static func run(_ exe: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let d = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: d, as: UTF8.self)
    }
}
