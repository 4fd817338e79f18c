import Foundation

/// A helper server from Tests/TestSupport/Fixtures (a Python script that prints the port it
/// listens on, on 127.0.0.1), killed when released.
public final class FixtureServer: Sendable {
    public let process: Process
    /// The first port the script printed; `ports` has all of them.
    public let port: String
    public let ports: [String]

    public init(_ script: String, _ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Repo.fixtures.appendingPathComponent(script).path] + arguments
        let out = Pipe()
        p.standardOutput = out
        // No inherited descriptors: `swift test` waits for every holder of its pipes to exit.
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        ports = line.split(separator: " ").map(String.init)
        port = ports.first ?? ""
        guard !port.isEmpty else { throw TestFailure("\(script) did not start") }
    }

    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)/\(path)" }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
