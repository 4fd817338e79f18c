import Testing
@testable import BuildRuntime
import TestSupport

@Suite struct TOMLTests {
    @Test func parsesTheBuildpackSpecsShapes() throws {
        let doc = try TOMLParser.parse(#"""
            # a buildpack
            api = "0.10"
            [buildpack]
            id = "example/node"
            version = "1.2.3"
            "clear-env" = true
            homepage = 'https://example.com/a\b'

            [[stacks]]
            id = "io.buildpacks.stacks.jammy"
            [[stacks]]
            id = "*"

            [metadata.nested]
            ints = [1, 0x1F, 0o17, 0b101, 1_000, -7]
            floats = [1.5, -0.25, 1e3, inf, nan]
            when = 1979-05-27T07:32:00Z
            day = 1979-05-27
            inline = { a = 1, b.c = "d" }
            multi = """
            first
            second \
              joined"""
            literal = '''
            raw \n'''
            "quoted key" = "v\u00e9\t"

            [[processes]]
            type = "web"
            command = ["bash", "-c", "echo hi"]
            default = true
            """#)
        #expect(doc["api"]?.string == "0.10")
        #expect(doc["buildpack"]?["id"]?.string == "example/node")
        #expect(doc["buildpack"]?["clear-env"]?.bool == true)
        #expect(doc["buildpack"]?["homepage"]?.string == #"https://example.com/a\b"#)
        #expect(doc["stacks"]?.tables?.compactMap { $0["id"]?.string } == ["io.buildpacks.stacks.jammy", "*"])
        let nested = try #require(doc.table(at: ["metadata", "nested"]))
        #expect(nested["ints"]?.array?.compactMap(\.integer) == [1, 31, 15, 5, 1000, -7])
        #expect(nested["floats"]?.array?.count == 5)
        #expect(nested["when"] == .datetime("1979-05-27T07:32:00Z"))
        #expect(nested["day"] == .datetime("1979-05-27"))
        #expect(nested["inline"]?["b"]?["c"]?.string == "d")
        #expect(nested["multi"]?.string == "first\nsecond joined")
        #expect(nested["literal"]?.string == "raw \\n")
        #expect(nested["quoted key"]?.string == "v\u{e9}\t")
        #expect(doc["processes"]?.tables?.first?["command"]?.array?.compactMap(\.string) == ["bash", "-c", "echo hi"])
    }

    @Test(arguments: [
        "a = 1\na = 2",
        "[t]\n[t]",
        "a = {b = 1}\n[a]",
        "a = 1\n[a]",
        "a = \"unterminated",
        "a = 01",
        "a = 1 2",
        "[[t]]\n[t]",
        "= 1",
        "a = [1,",
    ])
    func rejectsInvalidDocuments(_ text: String) {
        #expect(throws: TOMLError.self) { try TOMLParser.parse(text) }
    }

    @Test func writerOutputParsesBackToTheSameValue() throws {
        var t = TOMLTable()
        t["api"] = .string("0.10")
        t["weird key"] = .string("quote \" backslash \\ newline \n tab \t")
        t["n"] = .integer(-3)
        t["f"] = .float(2.5)
        t["entries"] = .array([.table(TOMLTable([("name", .string("node")), ("metadata", .table(TOMLTable([("version", .string("18"))])))])),
                               .table(TOMLTable([("name", .string("npm"))]))])
        t["types"] = .table(TOMLTable([("launch", .boolean(true)), ("cache", .boolean(false))]))
        let text = TOMLWriter.write(t)
        #expect(try TOMLParser.parse(text) == t)
    }
}
