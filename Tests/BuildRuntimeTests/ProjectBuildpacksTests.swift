import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// The buildpacks an app's project.toml names by uri, brought in by the host: a folder, a .tgz
/// and a .cnb inside the app; downloads as ADD <url> makes them; and what an app may not make
/// the host read or fetch (`..`, a path outside the app, a symlink out, an archive or body over
/// the size cap, a redirect to a host the policy refuses).
@Suite struct ProjectBuildpacksTests {
    /// An app folder, a state directory, and the fetcher over them.
    struct Fixture {
        let dir = TempDir("project-bps")
        var app: String { dir.path + "/app" }
        let images: ImageStore

        init() throws {
            try FileManager.default.createDirectory(atPath: dir.path + "/app", withIntermediateDirectories: true)
            images = try ImageStore(stateDirectory: URL(fileURLWithPath: dir.path + "/state"))
        }

        /// Writes a buildpack folder at `path` (absolute).
        func writeBuildpack(_ path: String, id: String, version: String = "0.0.1") throws {
            try FileManager.default.createDirectory(atPath: path + "/bin", withIntermediateDirectories: true)
            try "api = \"0.10\"\n[buildpack]\nid = \"\(id)\"\nversion = \"\(version)\"\n".write(toFile: path + "/buildpack.toml", atomically: true, encoding: .utf8)
            for exe in ["detect", "build"] {
                try "#!/bin/sh\nexit 0\n".write(toFile: path + "/bin/" + exe, atomically: true, encoding: .utf8)
                chmod(path + "/bin/" + exe, 0o755)
            }
        }

        func fetcher(cap: Int64 = 64 << 20, downloader: BlobFetcher? = nil) throws -> ProjectBuildpacks {
            ProjectBuildpacks(app: try ConfinedDirectory(path: app, displayPath: "/workspace"), appRoots: ["/workspace", app], images: images,
                              root: dir.path + "/build/project-buildpacks", limits: .init(maxTotalBytes: cap), downloader: downloader,
                              fetchPackage: nil, log: { _, _, _ in })
        }

        /// What fetching the one entry `uri` gives: its buildpack's id@version, or the error's message.
        func fetch(_ uri: ProjectDescriptor.BuildpackURI, cap: Int64 = 64 << 20, downloader: BlobFetcher? = nil) async -> String {
            do {
                let got = try await fetcher(cap: cap, downloader: downloader).fetch([.located(uri, id: nil, version: nil)])
                guard let ref = got[0] else { return "nothing" }
                #expect(FileManager.default.fileExists(atPath: ref.directory + "/bin/build"), "\(ref.directory)")
                return "\(ref.descriptor.id)@\(ref.descriptor.version)"
            } catch let e as RuntimeError {
                return e.message
            } catch {
                return "\(error)"
            }
        }
    }

    @Test func aFolderATgzAndACNBInTheApp() async throws {
        let f = try Fixture()
        try f.writeBuildpack(f.app + "/bps/one", id: "me/one")
        try f.writeBuildpack(f.dir.path + "/two", id: "me/two", version: "2.0.0")
        try f.writeBuildpack(f.dir.path + "/root/cnb/buildpacks/me_three/3.0.0", id: "me/three", version: "3.0.0")
        let made = try await sh("""
            set -e
            cd '\(f.dir.path)'
            tar -czf app/two.tgz two
            umoci init --layout layout && umoci new --image layout:pkg
            umoci insert --rootless --image layout:pkg root /
            umoci config --image layout:pkg --config.label 'io.buildpacks.buildpackage.metadata={"id":"me/three","version":"3.0.0"}'
            (cd layout && tar -cf ../app/three.cnb .)
            """)
        #expect(made.status == 0, "\(made.err)")
        #expect(await f.fetch(.app(path: "bps/one", absolute: false)) == "me/one@0.0.1")
        #expect(await f.fetch(.app(path: "/workspace/bps/one", absolute: true)) == "me/one@0.0.1")
        #expect(await f.fetch(.app(path: "two.tgz", absolute: false)) == "me/two@2.0.0")
        #expect(await f.fetch(.app(path: f.app + "/three.cnb", absolute: true)) == "me/three@3.0.0")
        #expect(await f.fetch(.app(path: "missing", absolute: false)).contains("project.toml buildpack \"missing\" is not in the app"))
    }

    /// Nothing outside the app is read: `..`, an absolute path elsewhere, a symlink to a
    /// buildpack outside or through a symlinked folder; and an archive that would unpack past
    /// the size cap stops there.
    @Test func nothingOutsideTheAppAndNothingHuge() async throws {
        let f = try Fixture()
        let outside = f.dir.path + "/outside"
        try f.writeBuildpack(outside + "/bp", id: "evil/outside")
        #expect(symlink(outside + "/bp", f.app + "/link") == 0)
        #expect(symlink(outside, f.app + "/via") == 0)
        let escapes = [
            (ProjectDescriptor.BuildpackURI.app(path: "../outside/bp", absolute: false), "cannot be read"),
            (.app(path: outside + "/bp", absolute: true), "which is outside the app"),
            (.app(path: "/etc", absolute: true), "which is outside the app"),
            (.app(path: "link", absolute: false), "is a symlink, which is not followed"),
            (.app(path: "via/bp", absolute: false), "cannot be read"),
        ]
        for (uri, expected) in escapes {
            let m = await f.fetch(uri)
            #expect(m.contains(expected) && !m.contains("evil/outside"), "\(uri): \(m)")
        }
        // 4 MiB of zeros in a small .tgz, against a 1 MiB cap.
        try f.writeBuildpack(f.dir.path + "/big", id: "me/big")
        #expect(try await sh("cd '\(f.dir.path)' && head -c 4194304 /dev/zero > big/blob && tar -czf app/big.tgz big").status == 0)
        let m = await f.fetch(.app(path: "big.tgz", absolute: false), cap: 1 << 20)
        #expect(m.contains("project.toml buildpack \"big.tgz\" cannot be used") && m.contains("1048576"), "\(m)")
    }

    /// An http(s) archive is downloaded as ADD <url> is: only with the build's network, only
    /// to addresses the policy allows (redirects too), within the size cap.
    @Test func downloadsFollowTheADDPolicy() async throws {
        let f = try Fixture()
        let served = TempDir("served")
        try f.writeBuildpack(served.path + "/dl", id: "me/downloaded", version: "1.2.3")
        #expect(try await sh("cd '\(served.path)' && tar -czf bp.tgz dl").status == 0)
        let files = try FixtureServer("http_file_server.py", [served.path])
        let peer = try FixtureServer("add_url_peer.py", [f.dir.path + "/record"])
        func fetcher(_ allowed: [String], cap: Int64 = 1 << 20) throws -> BlobFetcher {
            BlobFetcher(budget: ByteBudget(limit: cap), addressPolicy: try OutboundAddressPolicy(allowing: allowed))
        }
        let url = files.url("bp.tgz")
        #expect(await f.fetch(.download(url: url), downloader: try fetcher(["127.0.0.1:\(files.port)"])) == "me/downloaded@1.2.3")
        let noNetwork = await f.fetch(.download(url: url))
        #expect(noNetwork.contains("the build's network is \"none\"") && noNetwork.contains("public network"), "\(noNetwork)")
        let refused = await f.fetch(.download(url: url), downloader: try fetcher([]))
        #expect(refused.contains("loopback") && refused.contains("--allow-add-host"), "\(refused)")
        // A redirect from an allowed host to one the policy refuses.
        let redirected = await f.fetch(.download(url: peer.url("redirect?to=" + url)), downloader: try fetcher(["127.0.0.1:\(peer.port)"]))
        #expect(redirected.contains("a build may not fetch from 127.0.0.1:\(files.port)"), "\(redirected)")
        // A body over the cap.
        let huge = await f.fetch(.download(url: peer.url("bytes/2000000")), downloader: try fetcher(["127.0.0.1:\(peer.port)"]))
        #expect(huge.contains("larger than 1048576 bytes"), "\(huge)")
    }
}
