import Foundation
import JSONRPC
import Testing
import TestSupport

/// What a user gives as a buildpack, a buildpackage or a stack layout is checked, and errors
/// name what the user gave, never a folder inside the state directory.
@Suite struct UntrustedPackageTests {
    @Test func buildpackErrorsNameWhatTheUserGaveAndExtensionsAreNamed() async throws {
        let work = TempDir("bp")
        let r = try await sh("""
            set -e
            cd '\(work.path)'
            mkdir -p noapi/bin ext
            printf '[buildpack]\\nid = "x/noapi"\\nversion = "1"\\n' > noapi/buildpack.toml
            printf '#!/bin/sh\\n' > noapi/bin/detect; cp noapi/bin/detect noapi/bin/build; chmod +x noapi/bin/*
            tar -czf noapi.tgz noapi
            printf 'api = "0.10"\\n[extension]\\nid = "x/ext"\\nversion = "1"\\n' > ext/extension.toml
            """)
        #expect(r.status == 0, "\(r.err)")
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        for given in ["noapi", "noapi.tgz"] {
            let e = try await c.request("clusterstore/create", ["name": "st", "buildpacks": [.string(work.path + "/" + given)]])
            let message = e["error"]?["message"]?.stringValue ?? ""
            #expect(message.contains("has no 'api'"), "\(message)")
            #expect(message.contains(given), "\(message)")
            #expect(!message.contains(".tmp-") && !message.contains(state.path), "an internal folder is named: \(message)")
        }
        let ext = try await c.request("clusterstore/create", ["name": "st", "buildpacks": [.string(work.path + "/ext")]])
        #expect(ext["error"]?["message"]?.stringValue?.contains("image extensions are not supported yet") == true, "\(JSONWriter.string(ext))")
    }

    /// A stack given as an OCI layout whose blob is a symlink to a host file, or whose content is
    /// not what its name says, is refused; nothing of the host is read into the content store.
    @Test func layoutBlobsAreVerifiedAndNeverFollowed() async throws {
        let layouts = TempDir("layouts")
        let host = TempDir("host")
        let marker = "HOST-MARKER-" + UUID().uuidString
        try marker.write(toFile: host.path + "/secret", atomically: false, encoding: .utf8)
        var refused: [String] = []
        for attack in ["symlink", "wrong-content"] {
            let layout = layouts.path + "/" + attack
            try await HostStack.ociLayout(at: layout, stackID: "io.slipway.test")
            // The largest blob is a layer of the build image.
            let blobs = layout + "/blobs/sha256"
            let largest = try FileManager.default.contentsOfDirectory(atPath: blobs).max {
                ((try? FileManager.default.attributesOfItem(atPath: blobs + "/" + $0)[.size] as? Int) ?? 0)
                    < ((try? FileManager.default.attributesOfItem(atPath: blobs + "/" + $1)[.size] as? Int) ?? 0)
            }!
            try FileManager.default.removeItem(atPath: blobs + "/" + largest)
            if attack == "symlink" {
                symlink(host.path + "/secret", blobs + "/" + largest)
            } else {
                try marker.write(toFile: blobs + "/" + largest, atomically: false, encoding: .utf8)
            }
            refused.append(layout)
        }
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        for layout in refused {
            let r = try await c.request("clusterstack/create", ["name": "s", "buildImage": .string("oci:\(layout):build"), "runImage": .string("oci:\(layout):run")])
            #expect(r["error"]?["code"] == -32602, "\(JSONWriter.string(r))")
        }
        let grep = try await sh("grep -rl '\(marker)' '\(state.path)/blobs' 2>/dev/null || true")
        #expect(grep.out.isEmpty, "host content reached the content store: \(grep.out)")
        #expect(try await c.call("clusterstack/list")["stacks"] == [])
    }
}
