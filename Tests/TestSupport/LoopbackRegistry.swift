import Foundation

/// A real `docker-registry` on 127.0.0.1, started by the test, optionally with htpasswd auth.
public final class LoopbackRegistry: Sendable {
    public let process: Process
    public let dir: TempDir
    public let port: Int
    public var host: String { "127.0.0.1:\(port)" }
    public var log: String { (try? String(contentsOfFile: dir.path + "/registry.log", encoding: .utf8)) ?? "" }

    public init(user: String? = nil, password: String? = nil, tokenAuth: (realm: String, certificate: String)? = nil, tls: (certificate: String, key: String)? = nil,
         reusing: LoopbackRegistry? = nil) async throws {
        dir = reusing?.dir ?? TempDir("registry")
        var auth = ""
        if let tokenAuth {
            auth = "auth:\n  token:\n    realm: \(tokenAuth.realm)\n    service: slipway-registry\n    issuer: slipway-test-issuer\n    rootcertbundle: \(tokenAuth.certificate)\n"
        } else if let user, let password {
            let r = try await sh("htpasswd -Bbn '\(user)' '\(password)' > '\(dir.path)/htpasswd'")
            guard r.status == 0 else { throw TestFailure("htpasswd: \(r.err)") }
            auth = "auth:\n  htpasswd:\n    realm: slipway-test\n    path: \(dir.path)/htpasswd\n"
        }
        // A port the OS gives (free when asked); if another process takes it before the
        // registry binds it, the registry exits and another port is tried.
        for _ in 0..<5 {
            let port: Int
            if let reusing {
                port = reusing.port
            } else {
                let given = try await sh("python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'")
                guard let p = Int(given.out.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw TestFailure("no free port: \(given.err)") }
                port = p
            }
            if let p = try await Self.start(dir: dir, port: port, tls: tls, auth: auth) {
                self.port = port
                self.process = p
                return
            }
            if reusing != nil { break }
        }
        throw TestFailure("docker-registry did not start: \((try? String(contentsOfFile: dir.path + "/registry.log", encoding: .utf8)) ?? "")")
    }

    /// Starts docker-registry on `port`; nil when it exits before it answers.
    private static func start(dir: TempDir, port: Int, tls: (certificate: String, key: String)?, auth: String) async throws -> Process? {
        let config = """
            version: 0.1
            log:
              level: info
            storage:
              filesystem:
                rootdirectory: \(dir.path)/data
            http:
              addr: 127.0.0.1:\(port)
            \(tls.map { "  tls:\n    certificate: \($0.certificate)\n    key: \($0.key)" } ?? "")
            \(auth)
            """
        try config.write(toFile: dir.path + "/config.yml", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        p.arguments = ["serve", dir.path + "/config.yml"]
        _ = FileManager.default.createFile(atPath: dir.path + "/registry.log", contents: nil)
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.path + "/registry.log"))
        p.standardOutput = logHandle
        p.standardError = logHandle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        // A loaded machine (the whole suite at once) can take seconds to start it: poll with a
        // deadline, off the cooperative pool (async sh, Task.sleep).
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if try await sh("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:\(port)/v2/").out != "000" { return p }
            if !p.isRunning { return nil }
            try await Task.sleep(for: .milliseconds(50))
        }
        p.terminate()
        return nil
    }

    /// How many blob uploads the registry accepted (from its access log).
    public var uploads: Int { log.components(separatedBy: "\n").filter { $0.contains("\"POST /v2/") && $0.contains("/blobs/uploads/") }.count }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
