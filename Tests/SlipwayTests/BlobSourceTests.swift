import Foundation
import JSONRPC
import Testing
import TestSupport

@Suite struct BlobSourceTests {
    @Test func archivesFromFileAndHTTPURLs() async throws {
        let files = TempDir("blobs")
        let app = HelloApp.path
        let r = try await sh("""
            set -e
            cd '\(files.path)'
            mkdir -p top && cp -r '\(app)' top/hello-1.0
            tar -czf app.tar.gz -C top hello-1.0
            cd '\(app)' && zip -qr '\(files.path)/app.zip' . && cp '\(files.path)/app.zip' '\(files.path)/app.jar'
            """)
        #expect(r.status == 0, "\(r.err)")
        let server = try FixtureServer("http_file_server.py", [files.path])
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let sources: [(String, JSONValue)] = [
            ("from-file", ["url": .string("file://\(files.path)/app.tar.gz"), "stripComponents": 1]),
            ("from-http", ["url": .string(server.url("app.zip"))]),
            ("from-redirect", ["url": .string(server.url("redirect/app.jar"))]),
        ]
        for (name, blob) in sources {
            _ = try await c.call("image/create", ["name": .string(name), "source": ["blob": blob]])
            let b = try await c.call("build/wait", ["image": .string(name), "build": 1])
            #expect(b["status"] == "SUCCESS", "\(name): \(JSONWriter.string(b))")
            #expect(b["source"]?["type"] == "Blob")
            #expect(b["source"]?["revision"]?.stringValue?.hasPrefix("sha256:") == true)
        }
        #expect(try await UnpackedImage.runProcess(layout: state.path + "/layouts/default/from-file").contains(HelloApp.expectedLine))

        // The same archive again is no change; a changed archive at the same URL is a CONFIG build.
        let same = try await c.call("image/patch", ["name": "from-http", "source": ["blob": ["url": .string(server.url("app.zip"))]]])
        #expect(same["changed"] == false)
        #expect(try await sh("cd '\(files.path)' && echo extra > NOTES && zip -q app.zip NOTES").status == 0)
        let changed = try await c.call("image/patch", ["name": "from-http", "source": ["blob": ["url": .string(server.url("app.zip"))]]])
        #expect(changed["changed"] == true)
        let b2 = try await c.call("build/wait", ["image": "from-http", "build": 2])
        #expect(b2["reasons"]?.arrayValue?.first?["reason"] == "CONFIG")
        #expect(b2["reasons"]?.arrayValue?.first?["field"] == "source")

        // Bad blob URLs: clear errors, nothing stored.
        let bad: [(String, Int)] = [("ftp://127.0.0.1/app.zip", -32602), ("file:relative.zip", -32602), (server.url("missing.zip"), 1006),
                                    ("http://127.0.0.1:9/app.zip", 1006), ("file:///no/such/app.zip", -32602)]
        for (url, code) in bad {
            let e = try await c.request("image/create", ["name": "bad", "source": ["blob": ["url": .string(url)]]])
            #expect(e["error"]?["code"]?.int == code, "\(url) → \(JSONWriter.string(e))")
            #expect(e["error"]?["data"]?["field"] == "source.blob.url", "\(url) → \(JSONWriter.string(e))")
        }
        #expect(try await c.request("image/get", ["name": "bad"])["error"]?["code"] == 1001)
    }
}
