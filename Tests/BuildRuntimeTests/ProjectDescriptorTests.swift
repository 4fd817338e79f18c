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
        ("[[io.buildpacks.group]]\nuri = \"docker://example/bp:1\"", "Slipway does not fetch buildpacks named in an app"),
        ("[[io.buildpacks.group]]\nid = \"x\"\nuri = \"bp/\"", "by uri \"bp/\""),
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
