import Foundation
import Testing
@testable import BuildRuntime

/// launch.toml `[[slices]]`: Go's filepath.Match on each component, the first slice wins, and
/// globs outside /workspace fail the build.
@Suite struct AppSlicesTests {
    func slices(_ toml: String) throws -> AppSlices {
        var s = AppSlices()
        try s.add(from: try TOMLParser.parse(toml), buildpack: BuildpackDescriptor(api: "0.10", id: "test/slicer", version: "1.0.0"))
        return s
    }

    @Test(arguments: [
        ("*.css", "site.css", true), ("*.css", "site.js", false), ("a?c", "abc", true), ("a?c", "ac", false),
        ("[a-c]x", "bx", true), ("[^a-c]x", "bx", false), ("[^a-c]x", "dx", true), ("\\*", "*", true), ("\\*", "a", false),
        ("*", "", true), ("a*b*c", "aXbYc", true), ("a*b*c", "aXbY", false), ("[]]", "]", true),
    ])
    func globsMatchAsGoDoes(_ pattern: String, _ name: String, _ expected: Bool) {
        #expect(AppSlices.match(Array(pattern.utf8)[...], Array(name.utf8)[...]) == expected)
    }

    @Test func theFirstSliceTakesAPathOrAFolderAboveIt() throws {
        let s = try slices("""
            [[slices]]
            paths = ["static/*.css", "/workspace/vendor"]
            [[slices]]
            paths = ["lib", "static", "./docs/*/index.md"]
            """)
        #expect(s.count == 2)
        #expect(s.slice(of: "static/site.css") == 0)
        #expect(s.slice(of: "static/app.js") == 1)
        #expect(s.slice(of: "static") == 1)
        #expect(s.slice(of: "vendor/dep/a.txt") == 0)
        #expect(s.slice(of: "lib") == 1 && s.slice(of: "lib/x/y") == 1)
        #expect(s.slice(of: "docs/v1/index.md") == 1 && s.slice(of: "docs/v1/other.md") == nil)
        #expect(s.slice(of: "main.txt") == nil && s.slice(of: "vendored") == nil)
    }

    @Test(arguments: ["/etc/*", "../outside", "lib/../../x", "[a-"])
    func aGlobOutsideTheWorkspaceOrMalformedFailsTheBuild(_ path: String) {
        #expect(throws: RuntimeError.self) { try slices("[[slices]]\npaths = [\"\(path.replacingOccurrences(of: "\\", with: "\\\\"))\"]") }
    }
}
