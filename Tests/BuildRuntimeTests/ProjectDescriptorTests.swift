import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// project.toml as the project descriptor spec (0.2 and the legacy 0.1) gives it, and what a
/// hostile one cannot do.
@Suite struct ProjectDescriptorTests {
    static func message(_ text: String) -> String {
        do {
            _ = try ProjectDescriptor.parse(text)
            return "parsed"
        } catch let e as RuntimeError {
            #expect(e.kind == .buildFailed)
            return e.message
        } catch {
            return "\(error)"
        }
    }

    @Test func schema02() throws {
        let d = try ProjectDescriptor.parse("""
            [_]
            schema-version = "0.2"
            id = "io.example.app"
            name = "Example"
            version = "1.2.3"
            authors = ["A <a@example.com>"]
            [[_.licenses]]
            type = "MIT"
            [_.metadata]
            team = "x"

            [io.buildpacks]
            builder = "example/builder"
            exclude = ["/README.md", "inline-bp/"]
            [[io.buildpacks.build.env]]
            name = "GREETING"
            value = "hi"
            [[io.buildpacks.group]]
            id = "slipway/procfile"
            [[io.buildpacks.group]]
            id = "me/tasks"
            [io.buildpacks.group.script]
            api = "0.10"
            inline = "echo from inline"
            """)
        #expect(d.schemaVersion == "0.2")
        #expect(d.info.id == "io.example.app" && d.info.name == "Example" && d.info.version == "1.2.3")
        #expect(d.info.licenses == [.init(type: "MIT", uri: nil)] && d.info.metadata["team"] == .string("x"))
        #expect(d.builder == "example/builder")
        #expect(d.exclude == ["/README.md", "inline-bp/"] && d.include.isEmpty)
        #expect(d.buildEnv == [.init(name: "GREETING", value: "hi")])
        #expect(d.group == [.buildpack(id: "slipway/procfile", version: nil),
                            .inline(.init(id: "me/tasks", version: "0.0.0", api: "0.10", shell: "/bin/sh", script: "echo from inline"))])
    }

    @Test func legacy01() throws {
        let d = try ProjectDescriptor.parse("""
            [project]
            id = "old"
            version = "0.1"
            [build]
            include = ["src/", "Procfile"]
            [[build.buildpacks]]
            id = "slipway/procfile"
            version = "1.0.0"
            [[build.env]]
            name = "MODE"
            value = "legacy"
            [metadata]
            k = 1
            """)
        #expect(d.schemaVersion == "0.1" && d.info.id == "old" && d.info.metadata["k"] == .integer(1))
        #expect(d.include == ["src/", "Procfile"])
        #expect(d.group == [.buildpack(id: "slipway/procfile", version: "1.0.0")])
        #expect(d.buildEnv == [.init(name: "MODE", value: "legacy")])
    }

    @Test(arguments: [
        ("[_]\nschema-version = \"9.9\"", "schema-version \"9.9\""),
        ("[io.buildpacks]\ninclude = [\"a\"]\nexclude = [\"b\"]", "both include and exclude"),
        ("[[io.buildpacks.group]]\nuri = \"../other-app/bp\"", "has io.buildpacks.group[0].uri \"../other-app/bp\", which leads out of its folder with '..'"),
        ("[[io.buildpacks.group]]\nuri = \"file://bp/../../x\"", "leads out of its folder with '..'"),
        ("[[io.buildpacks.group]]\nuri = \"ftp://example.com/bp.tgz\"", "has a scheme Slipway does not fetch from"),
        ("[[io.buildpacks.group]]\nuri = \"urn:cnb:builder:\"", "does not name a buildpack as urn:cnb:builder:ID"),
        ("[[io.buildpacks.group]]\nuri = \"urn:cnb:registry:bad id@\"", "does not name a buildpack as urn:cnb:registry:ID"),
        ("[[io.buildpacks.group]]\nuri = \"docker://\"", "names no image reference after docker://"),
        ("[[io.buildpacks.group]]\nuri = \"\"", "is not a uri pack reads"),
        ("[[io.buildpacks.group]]\nuri = \"bp/\"\n[io.buildpacks.group.script]\napi = \"0.10\"\ninline = \"true\"", "with both uri and script"),
        ("[[io.buildpacks.build.env]]\nname = \"../../etc/x\"\nvalue = \"v\"", "not an environment variable"),
        ("[[io.buildpacks.build.env]]\nname = \"CNB_APP_DIR\"\nvalue = \"v\"", "not an environment variable"),
        ("[[io.buildpacks.group]]\nid = \"../../escape\"\n[io.buildpacks.group.script]\napi = \"0.10\"\ninline = \"x\"", "no valid id"),
        ("[[io.buildpacks.group]]\nid = \"me/x\"\n[io.buildpacks.group.script]\ninline = \"x\"", "without api"),
        ("[[io.buildpacks.group]]\nid = \"me/x\"\n[io.buildpacks.group.script]\napi = \"0.1\"\ninline = \"x\"", "api \"0.1\""),
        ("[[io.buildpacks.group]]\nid = \"me/x\"\n[io.buildpacks.group.script]\napi = \"0.10\"\ninline = \"x\"\nshell = \"sh\"", "absolute path"),
        ("[_]\nid = 3", "_.id that is not a string"),
        ("[_]\nauthors = \"me\"", "_.authors that is not an array of strings"),
        ("[[_.licenses]]\nname = \"x\"", "neither type nor uri"),
        ("[io]\nbuildpacks = 1", "io.buildpacks that is not a table"),
        ("not toml at all", "is not valid TOML"),
    ])
    func badDescriptorsNameTheFileAndTheKey(_ text: String, _ expected: String) {
        let m = Self.message(text)
        #expect(m.hasPrefix("project.toml "), "\(m)")
        #expect(m.contains(expected), "\(m)")
    }

    @Test func groupEntriesResolveAgainstTheBuilder() throws {
        let bp = { (id: String, v: String) in
            BuildpackRef(descriptor: BuildpackDescriptor(api: "0.10", id: id, version: v), directory: "/bp/\(id)/\(v)", optional: true)
        }
        let order = [[bp("a", "1.0.0"), bp("b", "1.0.0")], [bp("a", "2.0.0")]]
        let d = try ProjectDescriptor.parse("""
            [[io.buildpacks.group]]
            id = "a"
            [[io.buildpacks.group]]
            id = "me/inline"
            version = "3"
            [io.buildpacks.group.script]
            api = "0.9"
            inline = "true"
            """)
        var written: [String] = []
        let group = try #require(try d.resolveGroup(against: order) { written.append($0.id); return "/inline/" + $0.id })
        #expect(group.map(\.descriptor.id) == ["a", "me/inline"])
        #expect(group[0].descriptor.version == "2.0.0" && !group[0].optional)  // the newest, and required
        #expect(group[1].directory == "/inline/me/inline" && group[1].descriptor.version == "3" && written == ["me/inline"])

        let missing = try ProjectDescriptor.parse("[[io.buildpacks.group]]\nid = \"a\"\nversion = \"9\"")
        #expect(throws: RuntimeError.self) { try missing.resolveGroup(against: order) { _ in "" } }
        #expect(try ProjectDescriptor.parse("").resolveGroup(against: order) { _ in "" } == nil)
    }

    /// Each uri form pack reads becomes its own entry: paths in the app (relative, file://,
    /// absolute, archives), the builder's and the registry's ids, buildpackages and downloads.
    @Test(arguments: [
        ("bash-script-buildpack/", ProjectDescriptor.BuildpackURI.app(path: "bash-script-buildpack", absolute: false)),
        ("./bps/./one", .app(path: "bps/one", absolute: false)),
        (".", .app(path: "", absolute: false)),
        ("bp.tgz", .app(path: "bp.tgz", absolute: false)),
        ("example.com/bp.cnb", .app(path: "example.com/bp.cnb", absolute: false)),
        ("file://bps/one/", .app(path: "bps/one", absolute: false)),
        ("file:///home/me/app/bp%20one", .app(path: "/home/me/app/bp one", absolute: true)),
        ("file://localhost/workspace/bp", .app(path: "/workspace/bp", absolute: true)),
        ("/workspace/bp.tar", .app(path: "/workspace/bp.tar", absolute: true)),
        ("urn:cnb:builder:slipway/procfile", .builder(id: "slipway/procfile", version: nil)),
        ("urn:cnb:builder:slipway/procfile@0.1.0", .builder(id: "slipway/procfile", version: "0.1.0")),
        ("urn:cnb:registry:paketo-buildpacks/node@1.2.3", .registry(id: "paketo-buildpacks/node", version: "1.2.3")),
        ("docker://gcr.io/team/bp:1", .package(reference: "gcr.io/team/bp:1")),
        ("localhost:5000/team/bp@sha256:" + String(repeating: "a", count: 64), .package(reference: "localhost:5000/team/bp@sha256:" + String(repeating: "a", count: 64))),
        ("https://example.com/bp.tgz", .download(url: "https://example.com/bp.tgz")),
        ("HTTP://example.com/bp.tgz", .download(url: "HTTP://example.com/bp.tgz")),
    ])
    func uriKinds(_ uri: String, _ expected: ProjectDescriptor.BuildpackURI) throws {
        let d = try ProjectDescriptor.parse("[[build.buildpacks]]\nuri = \"\(uri)\"\nid = \"me/bp\"\n")
        #expect(d.group == [.located(expected, id: "me/bp", version: nil)])
    }

    /// `urn:cnb:builder:` and `urn:cnb:registry:` are found among the builder's buildpacks (the
    /// registry form, when absent, says to add it to the ClusterStore); a fetched buildpack's
    /// id and version must be the ones the entry gives.
    @Test func locatedEntriesResolve() throws {
        let bp = { (id: String, v: String) in
            BuildpackRef(descriptor: BuildpackDescriptor(api: "0.10", id: id, version: v), directory: "/bp/\(id)/\(v)", optional: true)
        }
        let order = [[bp("a", "1.0.0"), bp("a", "2.0.0")]]
        let d = try ProjectDescriptor.parse("""
            [[io.buildpacks.group]]
            uri = "urn:cnb:builder:a@1.0.0"
            [[io.buildpacks.group]]
            uri = "urn:cnb:registry:a"
            [[io.buildpacks.group]]
            uri = "bps/mine"
            id = "me/mine"
            version = "0.0.1"
            """)
        #expect(d.namesBuildpacksInApp)
        let mine = bp("me/mine", "0.0.1")
        let group = try #require(try d.resolveGroup(against: order, fetched: [2: mine]) { _ in "" })
        #expect(group.map(\.descriptor.version) == ["1.0.0", "2.0.0", "0.0.1"] && group.allSatisfy { !$0.optional })
        #expect(group[2].directory == mine.directory)

        func message(_ text: String, fetched: [Int: BuildpackRef] = [:]) -> String {
            do {
                _ = try ProjectDescriptor.parse(text).resolveGroup(against: order, fetched: fetched) { _ in "" }
                return ""
            } catch let e as RuntimeError { return e.message } catch { return "\(error)" }
        }
        let registry = message("[[io.buildpacks.group]]\nuri = \"urn:cnb:registry:b/c@1\"")
        #expect(registry.contains("urn:cnb:registry:b/c@1; Slipway has no buildpack registry") && registry.contains("add it to the builder's ClusterStore"), "\(registry)")
        #expect(message("[[io.buildpacks.group]]\nuri = \"urn:cnb:builder:a@3\"").contains("which the builder does not have (it has a@1.0.0, a@2.0.0)"))
        #expect(message("[[io.buildpacks.group]]\nuri = \"bp\"\nid = \"me/other\"", fetched: [0: mine])
            .contains("names buildpack me/other by uri, but the buildpack there is me/mine@0.0.1"))
        #expect(message("[[io.buildpacks.group]]\nuri = \"bp\"\nversion = \"9\"", fetched: [0: mine])
            .contains("names buildpack me/mine version 9 by uri, but the buildpack there is version 0.0.1"))
    }

    @Test func inlineBuildpackFiles() {
        let inline = ProjectDescriptor.InlineBuildpack(id: "me/x", version: "1", api: "0.10", shell: "/bin/bash", script: "echo \"hi\"")
        let files = Dictionary(uniqueKeysWithValues: inline.files.map { ($0.path, $0.contents) })
        #expect(files["bin/build"] == "#!/bin/bash\necho \"hi\"\n")
        #expect(files["bin/detect"] == "#!/bin/bash\nexit 0\n")
        let toml = try? BuildpackDescriptor.parse(files["buildpack.toml"] ?? "", source: "inline")
        #expect(toml?.id == "me/x" && toml?.api == "0.10")
    }

    static func tree(_ paths: [String]) throws -> (String, ConfinedDirectory) {
        let root = tempDir()
        for p in paths {
            let url = URL(fileURLWithPath: root + "/" + p)
            if p.hasSuffix("/") {
                try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            } else {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data("x".utf8).write(to: url)
            }
        }
        return (root, try ConfinedDirectory(path: root))
    }

    static func listing(_ root: String) -> [String] {
        (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).sorted()
    }

    @Test func excludeRemovesWhatMatches() throws {
        let (root, dir) = try Self.tree(["README.md", "docs/README.md", "bp/bin/build", "src/main.sh", "project.toml"])
        let d = try ProjectDescriptor.parse("[io.buildpacks]\nexclude = [\"/README.md\", \"bp/\"]")
        #expect(try d.filter(dir) == 2)
        #expect(Self.listing(root) == ["docs", "docs/README.md", "project.toml", "src", "src/main.sh"])
    }

    @Test func includeKeepsOnlyWhatMatches() throws {
        let (root, dir) = try Self.tree(["README.md", "src/main.sh", "src/notes.txt", "lib/x/y.sh", "Procfile", "project.toml", "empty/"])
        let d = try ProjectDescriptor.parse("[io.buildpacks]\ninclude = [\"*.sh\", \"Procfile\"]")
        #expect(try d.filter(dir) > 0)
        #expect(Self.listing(root) == ["Procfile", "lib", "lib/x", "lib/x/y.sh", "project.toml", "src", "src/main.sh"])
    }

    /// A project.toml that is a symlink is refused, not followed.
    @Test func aSymlinkedDescriptorIsRefused() throws {
        let (root, dir) = try Self.tree(["secret"])
        try FileManager.default.createSymbolicLink(atPath: root + "/project.toml", withDestinationPath: root + "/secret")
        #expect { try ProjectDescriptor.load(from: dir) } throws: { e in
            (e as? RuntimeError)?.message.contains("project.toml cannot be read") == true
        }
        let (_, empty) = try Self.tree([])
        #expect(try ProjectDescriptor.load(from: empty) == nil)
    }

    /// A huge project.toml is refused at the cap.
    @Test func aHugeDescriptorIsRefused() throws {
        let (root, dir) = try Self.tree([])
        try Data(repeating: 0x23, count: ProjectDescriptor.maxBytes + 1).write(to: URL(fileURLWithPath: root + "/project.toml"))
        #expect(throws: RuntimeError.self) { try ProjectDescriptor.load(from: dir) }
    }
}
