import BuildRuntime
import Foundation
import SlipwayProtocol
import Testing
@testable import Engine

/// Every arrow of a build's life (`BuildLife`), in process: what each event makes of the build
/// and which effects, in which order, the engine is told to do.
@Suite struct BuildLifeTests {
    static let queued = ImageStatusCalculatorTests.build(1, .QUEUED)

    static func running() throws -> BuildLife {
        var life = BuildLife(queued: queued)
        _ = try life.handle(.started(BuildLife.starting(queued, at: "t1")))
        return life
    }

    static let digest = Digest("sha256:" + String(repeating: "a", count: 64))!
    static let result = BuildResult(imageDigest: digest, buildpacks: [BuildpackDescriptor(api: "0.10", id: "x/node", version: "2.0.0")],
                                    runImageDigest: digest, processes: [], layersAdded: 2, layersReused: 1)

    @Test func aStartedBuildRunsInThePreparePhaseAndIsAnnounced() throws {
        var life = BuildLife(queued: Self.queued)
        let effects = try life.handle(.started(BuildLife.starting(Self.queued, at: "t1")))
        #expect(effects == [.announce(.BUILDING, previous: .QUEUED)])
        #expect(life.stage == .running && life.build.status == .BUILDING && life.build.started == "t1" && life.build.currentPhase == .prepare)
    }

    @Test func aSuccessIsLoggedRecordedAnnouncedThenAnswered() throws {
        var life = try Self.running()
        let effects = try life.handle(.executed(.succeeded(Self.result, latestImage: "oci:/l@sha256:a"), phase: .export, at: "t2"))
        #expect(effects == [.log(phase: .completion, line: "Build 1 succeeded: 2 layer(s) added, 1 reused"), .closeLog(removeWork: true), .record])
        #expect(life.stage == .finishing(announced: .BUILDING))
        #expect(life.build.status == .SUCCESS && life.build.finished == "t2" && life.build.currentPhase == .export)
        #expect(life.build.latestImage == "oci:/l@sha256:a" && life.build.inputs.buildpacks == ["x/node": "2.0.0"])
        let readiness = BuildLife.ReadinessChange(now: .Ready, previous: .Building, latestImage: "oci:/l@sha256:a")
        #expect(try life.handle(.recorded(.recorded(readiness: readiness), at: "t3"))
                == [.announce(.SUCCESS, previous: .BUILDING), .announceReadiness(readiness), .answerWaiters, .startNext])
        #expect(life.stage == .ended)
    }

    @Test func aFailureIsLoggedInThePhaseItHappenedIn() throws {
        var life = try Self.running()
        let effects = try life.handle(.executed(.failed(message: "boom"), phase: .build, at: "t2"))
        #expect(effects == [.log(phase: .build, line: "ERROR: boom"), .closeLog(removeWork: true), .record])
        #expect(life.build.status == .FAILURE && life.build.message == "boom")
    }

    /// Canceled while queued, or unable to start: it ends as FAILURE and its followers heard
    /// it QUEUED last.
    @Test func aRefusedQueuedBuildIsRecordedAsFailed() throws {
        var life = BuildLife(queued: Self.queued)
        #expect(try life.handle(.refused(message: "canceled", at: "t1")) == [.record])
        #expect(life.build.status == .FAILURE && life.build.message == "canceled" && life.build.finished == "t1")
        #expect(try life.handle(.recorded(.recorded(readiness: nil), at: "t2")) == [.announce(.FAILURE, previous: .QUEUED), .answerWaiters, .startNext])
    }

    /// The database refused the end: the engine keeps the build as it ended, and followers and
    /// waiters still hear of it.
    @Test func anUnrecordableEndIsKeptAndStillAnswered() throws {
        var life = try Self.running()
        _ = try life.handle(.executed(.failed(message: "boom"), phase: .build, at: "t2"))
        #expect(try life.handle(.recorded(.refused, at: "t3")) == [.keepUnrecorded, .announce(.FAILURE, previous: .BUILDING), .answerWaiters, .startNext])
        #expect(life.stage == .ended && life.build.status == .FAILURE)
    }

    /// A build whose image was deleted ends as FAILURE with the message, however far it got.
    @Test func aBuildOfADeletedImageEndsWithoutRecording() throws {
        var queued = BuildLife(queued: Self.queued)
        #expect(try queued.handle(.imageGone(message: "image deleted", at: "t1")) == [.announce(.FAILURE, previous: .QUEUED), .answerWaiters, .startNext])
        var running = try Self.running()
        #expect(try running.handle(.imageGone(message: "image deleted", at: "t1"))
                == [.closeLog(removeWork: false), .announce(.FAILURE, previous: .BUILDING), .answerWaiters, .startNext])
        var finishing = try Self.running()
        _ = try finishing.handle(.executed(.succeeded(Self.result, latestImage: nil), phase: .completion, at: "t2"))
        #expect(try finishing.handle(.recorded(.imageGone(message: "image deleted"), at: "t3"))
                == [.announce(.FAILURE, previous: .BUILDING), .answerWaiters, .startNext])
        for life in [queued, running, finishing] {
            #expect(life.stage == .ended && life.build.status == .FAILURE && life.build.message == "image deleted")
        }
    }

    /// No arrow leads out of `ended`, and a build cannot finish before it runs.
    @Test func transitionsWithoutAnArrowAreRefused() throws {
        var ended = BuildLife(queued: Self.queued)
        _ = try ended.handle(.imageGone(message: "image deleted", at: "t1"))
        #expect(throws: BuildLife.InvalidTransition.self) { try ended.handle(.started(BuildLife.starting(Self.queued, at: "t2"))) }
        var queued = BuildLife(queued: Self.queued)
        #expect(throws: BuildLife.InvalidTransition.self) { try queued.handle(.executed(.failed(message: "x"), phase: .build, at: "t2")) }
        #expect(throws: BuildLife.InvalidTransition.self) { try queued.handle(.recorded(.refused, at: "t2")) }
        #expect(queued.stage == .queued)
    }

    /// The phase is stored and sent as the word the log uses, the rebaser's included.
    @Test func thePhaseKeepsItsWireWord() throws {
        var b = Self.queued
        b.currentPhase = .rebase
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(b)) as? [String: Any]
        #expect(json?["phase"] as? String == "rebase" && json?["currentPhase"] == nil)
        #expect(try JSONDecoder().decode(Build.self, from: JSONEncoder().encode(b)) == b)
    }
}
