import SlipwayProtocol
import BuildRuntime
import Testing
@testable import Engine

@Suite struct BuildReasonCalculatorTests {
    static let base = BuildInputs.sample

    func reasons(_ last: BuildInputs?, succeeded: Bool = true, _ change: (inout BuildInputs) -> Void) -> [BuildReasonKind] {
        var current = Self.base
        change(&current)
        return BuildReasonCalculator.reasons(last: last, lastSucceeded: succeeded, lastUsed: [], current: current).map(\.reason)
    }

    /// Dockerfile strategy: its settings are configuration; a moved FROM tag is STACK, and only
    /// after a successful build.
    @Test func dockerfileSettingsAndBases() {
        var last = Self.base
        last.dockerfile = DockerfileSettings(path: "Dockerfile", buildArgs: ["V": "1"], target: nil, contextDir: nil, bases: ["debian:12": "sha256:d1"])
        #expect(reasons(last) { $0.dockerfile = last.dockerfile }.isEmpty)
        #expect(reasons(last) { $0.dockerfile = last.dockerfile; $0.dockerfile?.buildArgs?["V"] = "2" } == [.CONFIG])
        #expect(reasons(last) { $0.dockerfile = last.dockerfile; $0.dockerfile?.target = "final" } == [.CONFIG])
        #expect(reasons(last) { $0.dockerfile = nil } == [.CONFIG])  // back to buildpacks
        let moved: (inout BuildInputs) -> Void = { $0.dockerfile = last.dockerfile; $0.dockerfile?.bases = ["debian:12": "sha256:d2"] }
        #expect(reasons(last, moved) == [.STACK])
        #expect(reasons(last, succeeded: false, moved).isEmpty)
        let r = BuildReasonCalculator.reasons(last: last, lastSucceeded: true, lastUsed: [], current: { var c = Self.base; moved(&c); return c }())
        #expect(r.first?.field == "FROM debian:12" && r.first?.old == "sha256:d1" && r.first?.new == "sha256:d2")
    }

    @Test func firstBuildIsConfig() {
        #expect(reasons(nil) { _ in } == [.CONFIG])
    }

    @Test func nothingChangedMeansNoBuild() {
        #expect(reasons(Self.base) { _ in }.isEmpty)
    }

    @Test func configChanges() {
        #expect(reasons(Self.base) { $0.env["A"] = "2" } == [.CONFIG])
        #expect(reasons(Self.base) { $0.sourceRevision = "sha256:bbb" } == [.CONFIG])
        #expect(reasons(Self.base) { $0.subPath = "api" } == [.CONFIG])
        #expect(reasons(Self.base) { $0.builder = BuilderReference(kind: .Builder, name: "other") } == [.CONFIG])
        let r = BuildReasonCalculator.reasons(last: Self.base, lastSucceeded: true, lastUsed: [], current: { var c = Self.base; c.env = ["A": "1", "B": "2"]; return c }())
        #expect(r.first?.field == "env")
        #expect(r.first?.old == "A=1")
        #expect(r.first?.new == "A=1 B=2")
    }

    @Test func newCommitOnTheSameRefIsCommitAndAnotherRefIsConfig() {
        var git = Self.base
        git.sourceType = .git
        git.sourceURL = "https://example.com/app.git"
        git.sourceRef = "main"
        git.sourceRevision = "c1"
        #expect(reasons(git) { $0 = git; $0.sourceRevision = "c2" } == [.COMMIT])
        #expect(reasons(git) { $0 = git; $0.sourceRef = "release"; $0.sourceRevision = "c2" } == [.CONFIG])
    }

    @Test func builderAndStackOnlyAfterASuccessfulBuild() {
        #expect(reasons(Self.base) { $0.buildpacks["x/node"] = "1.1.0" } == [.BUILDER])
        #expect(reasons(Self.base, succeeded: false) { $0.buildpacks["x/node"] = "1.1.0" }.isEmpty)
        #expect(reasons(Self.base) { $0.runImageDigest = "sha256:run2" } == [.STACK])
        #expect(reasons(Self.base, succeeded: false) { $0.runImageDigest = "sha256:run2" }.isEmpty)
        // A buildpack the last build did not use does not matter.
        #expect(reasons(Self.base) { $0.buildpacks["x/python"] = "3.0.0" }.isEmpty)
        let detail = BuildReasonCalculator.reasons(last: Self.base, lastSucceeded: true,
                                                   lastUsed: [], current: { var c = Self.base; c.buildpacks["x/node"] = "1.1.0"; return c }())
        #expect(detail == [BuildReason(.BUILDER, field: "buildpacks", old: "x/node 1.0.0", new: "x/node 1.1.0")])
    }

    /// As kpack decides it: what counts is the buildpacks the last build ran, from its builder.
    /// One of them gone from the builder, or at another version, is BUILDER with the change; a
    /// buildpack of the builder the build did not run, or one the app brought, is not.
    @Test func builderWhenABuildpackTheLastBuildUsedIsGoneOrChanged() {
        let used = [BuildpackInfo(id: "x/node", version: "1.0.0", homepage: nil), BuildpackInfo(id: "app/inline", version: "0.0.1", homepage: nil)]
        func reasons(_ change: (inout BuildInputs) -> Void, succeeded: Bool = true) -> [BuildReason] {
            var current = Self.base
            change(&current)
            return BuildReasonCalculator.reasons(last: Self.base, lastSucceeded: succeeded, lastUsed: used, current: current)
        }
        #expect(reasons { _ in }.isEmpty)
        #expect(reasons { $0.buildpacks["x/npm"] = nil }.isEmpty)  // not run by the last build
        #expect(reasons { $0.buildpacks["x/node"] = nil } == [BuildReason(.BUILDER, field: "buildpacks", old: "x/node 1.0.0", new: "(removed)")])
        #expect(reasons { $0.buildpacks["x/node"] = "1.2.0" } == [BuildReason(.BUILDER, field: "buildpacks", old: "x/node 1.0.0", new: "x/node 1.2.0")])
        #expect(reasons({ $0.buildpacks["x/node"] = nil }, succeeded: false).isEmpty)
        #expect(reasons { $0.buildpacks["app/inline"] = "0.0.1" }.isEmpty)  // the app's own, never the builder's at that build
    }

    @Test func severalReasonsCombine() {
        #expect(reasons(Self.base) { $0.env = [:]; $0.buildpacks["x/npm"] = "2.1.0"; $0.runImageDigest = "sha256:run2" } == [.CONFIG, .BUILDER, .STACK])
    }

    @Test(arguments: [
        ([BuildReasonKind.CONFIG], "CONFIG"),
        ([.CONFIG, .COMMIT], "CONFIG+"),
        ([.COMMIT, .CONFIG], "CONFIG+"),
        ([.BUILDER, .COMMIT], "COMMIT+"),
        ([.STACK, .BUILDER], "BUILDER+"),
        ([.STACK], "STACK"),
        ([.TRIGGER], "TRIGGER"),
        ([.TRIGGER, .STACK], "TRIGGER+"),
        ([.TRIGGER, .TRIGGER], "TRIGGER"),
        ([], ""),
    ])
    func summary(_ reasons: [BuildReasonKind], _ expected: String) {
        #expect(BuildReasonCalculator.summary(reasons) == expected)
    }
}
