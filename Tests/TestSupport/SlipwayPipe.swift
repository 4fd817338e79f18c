import Foundation

/// `slipway` fed a whole input at once, its output read to the end, and the texts such input is
/// made of: for tests of the wire itself (framing, malformed and partial messages).
public enum SlipwayPipe {
    /// Runs `slipway` on `state` with `input` as its stdin; its output lines, stderr and status.
    public static func run(_ input: [UInt8], state: String, arguments: [String] = [], wrapper: [String] = []) async throws -> (lines: [String], err: String, code: Int32) {
        let dir = TempDir("io")
        try Data(input).write(to: URL(fileURLWithPath: dir.path + "/in"))
        let argv = (wrapper + [Repo.slipway, "--state-dir", state, "--idle-timeout", "60s", "--build-network", "none"] + arguments)
            .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let r = try await sh("\(argv) < '\(dir.path)/in'")
        return (r.out.split(separator: "\n").map(String.init), r.err, r.status)
    }

    /// A request's JSON text; `id` is JSON text too (`1`, `"a"`, `null`).
    public static func request(_ id: String, _ method: String, _ params: String? = nil) -> String {
        "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"\(method)\"" + (params.map { ",\"params\":\($0)" } ?? "") + "}"
    }

    /// A request with a number id, and params `{}` unless given.
    public static func request(_ id: Int, _ method: String, _ params: String = "{}") -> String {
        request(String(id), method, params)
    }

    /// `body` framed as LSP frames it (Content-Length, optionally Content-Type).
    public static func lsp(_ body: String, contentType: String? = nil) -> String {
        "Content-Length: \(body.utf8.count)\r\n" + (contentType.map { "Content-Type: \($0)\r\n" } ?? "") + "\r\n" + body
    }
}
