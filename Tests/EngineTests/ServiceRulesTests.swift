import BuildRuntime
import Foundation
import SlipwayProtocol
import Testing
@testable import Engine

/// The rules of the engine's services that need no store, in process: what an image spec may
/// say, what a builder's order must hold, the events a build's end records, what a platform
/// says of a source, and how failures and pushed tags are written.
@Suite struct ServiceRulesTests {
    func field(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let e as EngineError {
            return e.field ?? "?"
        } catch {
            return "\(error)"
        }
    }

    @Test func imageLimitsAndDockerfileSettingsAreChecked() {
        #expect(field { try ImageValidation.validateLimits(ImageSpec(name: "a", buildTimeout: 600, successBuildHistoryLimit: 1)) } == nil)
        #expect(field { try ImageValidation.validateLimits(ImageSpec(name: "a", buildTimeout: 0)) } == "buildTimeout")
        #expect(field { try ImageValidation.validateLimits(ImageSpec(name: "a", successBuildHistoryLimit: 0)) } == "successBuildHistoryLimit")
        #expect(field { try ImageValidation.validateLimits(ImageSpec(name: "a", failedBuildHistoryLimit: 0)) } == "failedBuildHistoryLimit")
        #expect(field { try ImageValidation.validateLimits(ImageSpec(name: "a", dockerfile: "../Dockerfile")) } == "dockerfile")
        #expect(field { try ImageValidation.validateLimits(ImageSpec(name: "a", contextDir: "/abs")) } == "contextDir")
        #expect(field { try ImageValidation.validateLimits(ImageSpec(name: "a", buildArgs: ["1X": "v"])) } == "buildArgs")
        #expect(field { try ImageValidation.validateLimits(ImageSpec(name: "a", target: "-stage")) } == "target")
        #expect(field { try ImageValidation.validateLimits(ImageSpec(name: "a", dockerfile: "docker/Dockerfile", buildArgs: ["V": "1"], target: "final")) } == nil)
    }

    @Test func aBuildersOrderNeedsGroupsOfNamedBuildpacks() {
        #expect(field { try BuilderService.validate(order: []) } == "order")
        #expect(field { try BuilderService.validate(order: [OrderGroup(group: [])]) } == "order[0].group")
        #expect(field { try BuilderService.validate(order: [OrderGroup(group: [OrderEntry(id: "a")]), OrderGroup(group: [OrderEntry(id: "")])]) } == "order[1].group[0].id")
        #expect(field { try BuilderService.validate(order: [OrderGroup(group: [OrderEntry(id: "a")])]) } == nil)
    }

    @Test func aBuildsEndRecordsTheEventsOfHowItEnded() {
        var b = ImageStatusCalculatorTests.build(3, .SUCCESS, latestImage: "registry.test/app@sha256:1")
        b.buildpacks = [BuildpackInfo(id: "x/node", version: "1.0", homepage: nil)]
        #expect(BuildRunner.endEvents(of: b).map(\.reason) == ["Detected", "Exported", "Pushed", "Succeeded"])
        b.latestImage = "oci:/l@sha256:1"
        b.buildpacks = []
        #expect(BuildRunner.endEvents(of: b).map(\.reason) == ["Exported", "Succeeded"])
        let failed = BuildRunner.endEvents(of: ImageStatusCalculatorTests.build(4, .FAILURE, message: "boom"))
        #expect(failed.count == 1 && failed[0].type == .Warning && failed[0].message == "Build 4 failed: boom")
    }

    @Test func aFailureIsOneLine() {
        #expect(BuildRunner.oneLine("first\n  second  \n\nthird") == "first | second | third")
    }

    @Test func theProjectMetadataNamesTheSourceAsAPlatformDoes() {
        var git = SourceSpec(git: .init(url: "https://example.test/app.git", revision: "main"))
        git.resolved = ResolvedSource(snapshot: SnapshotSummary(digest: "sha256:s", files: 1, bytes: 1), ref: "refs/heads/main", commit: "abc")
        let g = BuildPlanner.projectMetadata(git).source
        #expect(g?.type == "git" && g?.version["commit"] == .string("abc") && g?.metadata["revision"] == .string("refs/heads/main"))
        let local = BuildPlanner.projectMetadata(SourceSpec(local: .init(path: "/src"))).source
        #expect(local?.type == "local" && local?.metadata["path"] == .string("/src"))
    }

    /// kpack's build-number tag, in UTC.
    @Test func aPushIsAlsoTaggedWithTheBuildNumber() {
        let date = Date(timeIntervalSince1970: 1_700_000_000)  // 2023-11-14 22:13:20 UTC
        #expect(RegistryService.buildNumberTag("latest", number: 7, date: date) == "latest-b7.20231114.221320")
    }
}
