import SlipwayProtocol
import BuildRuntime

/// A build's life as one state machine, so that every way a build can go — started, refused
/// before it ran, finished, canceled, deleted with its image, finished but not recordable —
/// is written in one place: queued → running → finishing → ended.
///
/// `handle` is pure: it changes the build as the event says and returns what the engine must
/// do, in order (`Effect`). The engine does the effects (writes, notifications, waking waiters)
/// and feeds back what recording found. Whoever waits for the build is answered exactly once,
/// on the way to `ended`, however it gets there.
struct BuildLife: Sendable {
    enum Stage: Sendable, Equatable {
        case queued, running
        /// Its end is known and being recorded; `announced` is the status followers last heard.
        case finishing(announced: BuildState)
        case ended
    }

    /// What ended a build that ran.
    enum Outcome: Sendable {
        /// `latestImage` is the reference it was written or pushed to, when one can be said.
        case succeeded(BuildResult, latestImage: String?)
        case failed(message: String)
    }

    /// What recording a finished build found.
    enum Recording: Sendable {
        /// Recorded; `readiness` is the image's change of readiness it made, if any.
        case recorded(readiness: ReadinessChange?)
        /// The database refused the write: the build is answered for as it ended, unrecorded.
        case refused
        /// Its image was deleted meanwhile: it ends with `message`, recording nothing.
        case imageGone(message: String)
    }

    /// An image's readiness before and after a build's end, and its latest image then.
    struct ReadinessChange: Sendable, Equatable {
        var now, previous: ReadyState
        var latestImage: String?
    }

    enum Event: Sendable {
        /// Its start (`starting(_:at:)` of the queued build, with its inputs) was stored.
        case started(Build)
        /// It cannot run (its log cannot be opened, its inputs read, its start stored), or it was
        /// canceled while queued: it ends as FAILURE with `message`.
        case refused(message: String, at: String)
        /// Its executor returned, in `phase`.
        case executed(Outcome, phase: BuildPhase, at: String)
        /// Its image was deleted while it waited or ran: it ends with `message`, recording nothing.
        case imageGone(message: String, at: String)
        /// What recording its end found.
        case recorded(Recording, at: String)
    }

    enum Effect: Sendable, Equatable {
        /// Append a system line to the build's log.
        case log(phase: BuildPhase, line: String)
        /// Close the build's log, and remove its scratch folder when `removeWork`.
        case closeLog(removeWork: Bool)
        /// Record the end on the image (and feed back `.recorded`).
        case record
        /// Keep the build as it ended: the engine answers for it until the next start.
        case keepUnrecorded
        /// Tell followers the build's status.
        case announce(BuildState, previous: BuildState)
        /// Tell followers the image's readiness changed.
        case announceReadiness(ReadinessChange)
        /// Answer whoever waits for the build, with the build as it is now.
        case answerWaiters
        /// Start what the queue may start now.
        case startNext
    }

    /// A transition the machine has no arrow for (a bug in the caller).
    struct InvalidTransition: Error, CustomStringConvertible {
        var stage: Stage
        var event: String
        var description: String { "a build \(stage) cannot take '\(event)'" }
    }

    private(set) var stage: Stage
    private(set) var build: Build

    init(queued build: Build) { (stage, self.build) = (.queued, build) }
    init(running build: Build) { (stage, self.build) = (.running, build) }

    /// The queued build as it starts: BUILDING from `at`, in the prepare phase. The engine adds
    /// what it is made from, stores it, and then hands it to `.started`.
    static func starting(_ queued: Build, at: String) -> Build {
        var b = queued
        b.status = .BUILDING
        b.started = at
        b.currentPhase = .prepare
        return b
    }

    mutating func handle(_ event: Event) throws(InvalidTransition) -> [Effect] {
        switch (stage, event) {
        case (.queued, .started(let stored)) where stored.status == .BUILDING:
            build = stored
            stage = .running
            return [.announce(.BUILDING, previous: .QUEUED)]
        case (.queued, .refused(let message, let at)):
            build.status = .FAILURE
            build.message = message
            build.finished = at
            stage = .finishing(announced: .QUEUED)
            return [.record]
        case (.running, .executed(let outcome, let phase, let at)):
            build.finished = at
            build.currentPhase = phase
            stage = .finishing(announced: .BUILDING)
            switch outcome {
            case .succeeded(let result, let latestImage):
                build.status = .SUCCESS
                build.imageDigest = result.imageDigest.string
                if let latestImage { build.latestImage = latestImage }
                build.buildpacks = result.buildpacks.map { BuildpackInfo(id: $0.id, version: $0.version, homepage: $0.homepage) }
                build.inputs.buildpacks = Dictionary(uniqueKeysWithValues: build.buildpacks.map { ($0.id, $0.version) })
                if !result.bases.isEmpty { build.inputs.dockerfile?.bases = result.bases }
                build.message = nil
                return [.log(phase: .completion, line: "Build \(build.number) succeeded: \(result.layersAdded) layer(s) added, \(result.layersReused) reused"),
                        .closeLog(removeWork: true), .record]
            case .failed(let message):
                build.status = .FAILURE
                build.message = message
                return [.log(phase: phase, line: "ERROR: " + message), .closeLog(removeWork: true), .record]
            }
        case (.queued, .imageGone(let message, let at)):
            return end(message: message, at: at, announced: .QUEUED)
        case (.running, .imageGone(let message, let at)):
            return [.closeLog(removeWork: false)] + end(message: message, at: at, announced: .BUILDING)
        case (.finishing(let announced), .recorded(.imageGone(let message), let at)):
            return end(message: message, at: at, announced: announced)
        case (.finishing(let announced), .recorded(.recorded(let readiness), _)):
            stage = .ended
            return [.announce(build.status, previous: announced)]
                + (readiness.map { [.announceReadiness($0)] } ?? [])
                + [.answerWaiters, .startNext]
        case (.finishing(let announced), .recorded(.refused, _)):
            stage = .ended
            return [.keepUnrecorded, .announce(build.status, previous: announced), .answerWaiters, .startNext]
        default:
            throw InvalidTransition(stage: stage, event: "\(event)")
        }
    }

    /// Ends a build that is no longer stored: followers and waiters hear it as FAILURE.
    private mutating func end(message: String, at: String, announced: BuildState) -> [Effect] {
        build.status = .FAILURE
        build.message = message
        build.finished = at
        stage = .ended
        return [.announce(.FAILURE, previous: announced), .answerWaiters, .startNext]
    }
}
