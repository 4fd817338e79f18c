import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// ADD of URLs: fetched by the builder (not in a step), mode 0600 unless --chmod, checked
/// against --checksum; and the attacks: a wrong checksum, file:// given or reached by a
/// redirect, and a peer that never stops sending.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileAddURLTests {
    @Test func addFetchesURLsAndRefusesWhatItShouldNot() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let files = TempDir("served")
        try FileManager.default.createDirectory(atPath: files.path + "/data", withIntermediateDirectories: true)
        try "a downloaded tool\n".write(toFile: files.path + "/data/tool.txt", atomically: true, encoding: .utf8)
        let sum = Digest.of(Data("a downloaded tool\n".utf8))
        let server = try FixtureServer("http_file_server.py", [files.path])
        let flood = try FixtureServer("hostile_peer.py", ["flood", files.path + "/record"])
        let url = "http://127.0.0.1:\(server.port)"
        let base = f.baseLayout
        func build(_ dockerfile: String, maxAddBytes: Int64 = 8 << 30) async throws -> (String, [String]) {
            try dockerfile.write(toFile: f.context.path + "/Dockerfile", atomically: true, encoding: .utf8)
            let layout = f.state.path + "/out-" + UUID().uuidString
            var request = DockerfileBuilder.Request(context: f.context.path, outputLayout: layout, outputTag: "latest") { _ in
                try OCILayout(path: base, create: false).image(tag: "run")
            }
            request.maxAddBytes = maxAddBytes
            // The peers are on loopback, which an ADD reaches only when allowed.
            request.publicNetwork = true
            request.addHostAllowList = ["127.0.0.1"]
            let lines = LineCollector()
            _ = try await f.builder.build(request) { _, _, l in lines.add(l) }
            return (layout, lines.all)
        }
        let (layout, log) = try await build("""
            FROM base
            ADD \(url)/data/tool.txt /opt/
            ADD --checksum=\(sum) \(url)/redirect/data/tool.txt /opt/checked
            ADD --chmod=0755 --chown=1000:1000 \(url)/data/tool.txt /opt/exec
            """)
        let image = try await UnpackedImage(layout: layout)
        #expect(try String(contentsOfFile: image.rootfs + "/opt/tool.txt", encoding: .utf8) == "a downloaded tool\n", "\(log)")
        #expect(try String(contentsOfFile: image.rootfs + "/opt/checked", encoding: .utf8) == "a downloaded tool\n")
        var st = stat()
        #expect(lstat(image.rootfs + "/opt/tool.txt", &st) == 0 && st.st_mode & 0o7777 == 0o600, "mode \(String(st.st_mode & 0o7777, radix: 8))")
        #expect(lstat(image.rootfs + "/opt/exec", &st) == 0 && st.st_mode & 0o7777 == 0o755)

        let refused: [(String, Int64, String)] = [
            ("FROM base\nADD --checksum=sha256:\(String(repeating: "0", count: 64)) \(url)/data/tool.txt /x\n", 8 << 30,
             "Dockerfile:2: ADD \(url)/data/tool.txt: the download's checksum is \(sum), not sha256:000"),
            ("FROM base\nADD file:///etc/passwd /x\n", 8 << 30, "Dockerfile:2: ADD file:///etc/passwd: only http:// and https:// URLs"),
            ("FROM base\nADD \(url)/to-file/etc/passwd /x\n", 8 << 30, "which is not an http(s) URL"),
            ("FROM base\nADD http://127.0.0.1:\(flood.port)/endless /x\n", 1 << 20, "larger than 1048576 bytes"),
            ("FROM base\nADD --checksum=md5:abc \(url)/data/tool.txt /x\n", 8 << 30, "Dockerfile:2: ADD --checksum=md5:abc is not sha256:"),
            ("FROM base\nCOPY --checksum=\(sum) data/x.txt /x\n", 8 << 30, "Dockerfile:2: unknown flag --checksum for COPY"),
        ]
        for (text, cap, expected) in refused {
            do {
                _ = try await build(text, maxAddBytes: cap)
                Issue.record("\(text) built")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: f.state.path + "/x"), "nothing written outside the build")
    }
}
