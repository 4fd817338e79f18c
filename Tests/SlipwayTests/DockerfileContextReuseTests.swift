import Foundation
import JSONRPC
import Testing
import TestSupport

/// A new source snapshot's build context links the files the last context had the same
/// (path, content, mode), and writes the rest: the image holds exactly the new source.
@Suite struct DockerfileContextReuseTests {
    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun)) func aChangedSourceLinksWhatDidNotChange() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        let app = TempDir("reuseapp")
        try "FROM scratch\nCOPY . /ctx/\n".write(toFile: app.path + "/Dockerfile", atomically: true, encoding: .utf8)
        for i in 0..<20 { try "file \(i)\n".write(toFile: app.path + "/f\(i).txt", atomically: true, encoding: .utf8) }
        try FileManager.default.createDirectory(atPath: app.path + "/sub", withIntermediateDirectories: true)
        try "deep\n".write(toFile: app.path + "/sub/deep.txt", atomically: true, encoding: .utf8)
        _ = try await c.call("image/create", ["name": "r", "strategy": "dockerfile", "source": ["local": ["path": .string(app.path)]]])
        #expect(try await c.call("build/wait", ["image": "r", "build": 1])["status"] == "SUCCESS")
        // One file changed, one removed, one added, one made executable (same content).
        try "file 3, changed\n".write(toFile: app.path + "/f3.txt", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: app.path + "/f4.txt")
        try "new\n".write(toFile: app.path + "/added.txt", atomically: true, encoding: .utf8)
        chmod(app.path + "/f5.txt", 0o755)
        _ = try await c.call("image/patch", ["name": "r", "source": ["local": ["path": .string(app.path)]]])
        let b = try await c.call("build/wait", ["image": "r", "build": 2])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        let lines = try await c.call("build/logs", ["image": "r", "build": 2])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        // 17 of the 20 (not f3, f4 or f5), the Dockerfile and sub/deep.txt are the same.
        #expect(lines.contains { $0.contains("unpacked (19 unchanged file(s) linked from the last context)") }, "\(lines)")
        let image = try await UnpackedImage(layout: state.path + "/layouts/default/r")
        let ctx = image.rootfs + "/ctx"
        #expect(try String(contentsOfFile: ctx + "/f3.txt", encoding: .utf8) == "file 3, changed\n")
        #expect(!FileManager.default.fileExists(atPath: ctx + "/f4.txt"))
        #expect(try String(contentsOfFile: ctx + "/added.txt", encoding: .utf8) == "new\n")
        #expect(try String(contentsOfFile: ctx + "/f7.txt", encoding: .utf8) == "file 7\n")
        #expect(try String(contentsOfFile: ctx + "/sub/deep.txt", encoding: .utf8) == "deep\n")
        var st = stat()
        #expect(lstat(ctx + "/f5.txt", &st) == 0 && st.st_mode & 0o777 == 0o755, "mode \(String(st.st_mode & 0o777, radix: 8))")
        #expect(lstat(ctx + "/f6.txt", &st) == 0 && st.st_mode & 0o777 == 0o644)
    }
}
