import SlipwayProtocol
import BuildRuntime
import Testing
@testable import Engine

/// The rules of `ImageStatusCalculator`, in process: what each state of the latest build makes
/// of an image's status, and what an ended build adds to its history.
@Suite struct ImageStatusCalculatorTests {
    static let fresh = ImageStatus(ready: .Unknown, nextBuildNumber: 1)

    static func build(_ number: Int, _ status: BuildState, reasons: [BuildReasonKind] = [.CONFIG], message: String? = nil,
                      latestImage: String? = nil) -> Build {
        var b = Build(namespace: "n", image: "a", number: number, status: status, reasons: reasons.map { BuildReason($0) }, created: "",
                      inputs: BuildReasonCalculatorTests.base, buildpacks: [])
        b.message = message
        b.latestImage = latestImage
        return b
    }

    @Test func aQueuedBuildMakesTheImageBuildingAndTakesANumber() {
        let s = ImageStatusCalculator.status(previous: Self.fresh, latest: Self.build(1, .QUEUED, reasons: [.CONFIG, .TRIGGER]))
        #expect(s.ready == .Building && s.message == "build 1 is queued")
        #expect(s.latestBuild == 1 && s.latestReason == BuildReasonCalculator.summary([.CONFIG, .TRIGGER]))
        #expect(s.nextBuildNumber == 2)
        #expect(s.lastSuccessfulBuild == nil && s.lastFailedBuild == nil && s.latestImage == nil)
    }

    @Test func aBuildThatJoinsTheQueuedOneTakesNoNewNumber() {
        var previous = Self.fresh
        previous.nextBuildNumber = 4
        let s = ImageStatusCalculator.status(previous: previous, latest: Self.build(3, .QUEUED))
        #expect(s.nextBuildNumber == 4 && s.latestBuild == 3)
    }

    @Test func theLatestBuildsSuccessMakesTheImageReadyWithItsImage() {
        let done = Self.build(1, .SUCCESS, latestImage: "oci:/x@sha256:1")
        var b = done
        b.inputs.dockerfile = DockerfileSettings(path: "Dockerfile", buildArgs: [:], target: nil, contextDir: nil, bases: ["debian": "sha256:d"])
        let s = ImageStatusCalculator.status(previous: Self.fresh, latest: b, ended: b)
        #expect(s.ready == .Ready && s.message == nil)
        #expect(s.latestImage == "oci:/x@sha256:1" && s.lastSuccessfulBuild?.number == 1 && s.lastFailedBuild == nil)
        #expect(s.dockerfileBases == ["debian": "sha256:d"])
    }

    @Test func theLatestBuildsFailureMakesTheImageNotReadyKeepingTheLastImage() {
        var previous = Self.fresh
        previous.latestImage = "oci:/x@sha256:1"
        previous.lastSuccessfulBuild = .init(number: 1, reason: "CONFIG")
        let failed = Self.build(2, .FAILURE, message: "boom")
        let s = ImageStatusCalculator.status(previous: previous, latest: failed, ended: failed)
        #expect(s.ready == .NotReady && s.message == "build 2 failed: boom")
        #expect(s.latestImage == "oci:/x@sha256:1" && s.lastSuccessfulBuild?.number == 1 && s.lastFailedBuild?.number == 2)
    }

    /// An earlier build that ends while a later one waits adds to the history; the image stays
    /// Building for the later one.
    @Test func anEarlierBuildsEndLeavesTheQueuedOneInCharge() {
        let queued = ImageStatusCalculator.status(previous: Self.fresh, latest: Self.build(2, .QUEUED))
        let s = ImageStatusCalculator.status(previous: queued, latest: Self.build(2, .QUEUED), ended: Self.build(1, .SUCCESS, latestImage: "oci:/x@sha256:1"))
        #expect(s.ready == .Building && s.message == "build 2 is queued" && s.latestBuild == 2)
        #expect(s.latestImage == "oci:/x@sha256:1" && s.lastSuccessfulBuild?.number == 1)
    }

    @Test func polledBasesChangeOnlyTheBases() {
        let ready = ImageStatusCalculator.status(previous: Self.fresh, latest: Self.build(1, .SUCCESS), ended: Self.build(1, .SUCCESS))
        let s = ImageStatusCalculator.status(previous: ready, latest: nil, polledBases: ["debian": "sha256:e"])
        var expected = ready
        expected.dockerfileBases = ["debian": "sha256:e"]
        #expect(s == expected)
    }

    @Test func anImageWithNoBuildKeepsItsReadiness() {
        #expect(ImageStatusCalculator.status(previous: Self.fresh, latest: nil) == Self.fresh)
    }
}
