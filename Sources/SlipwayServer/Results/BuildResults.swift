import Foundation
import SlipwayProtocol
import Engine



/// A row of `build/list`, as `kp build list` shows it.
public struct BuildRow: Codable, Sendable {
    public var namespace: String
    public var imageName: String
    public var number: Int
    public var status: BuildState
    /// The image the build produced (`repo@sha256:…`).
    public var image: String?
    public var started: String?
    public var finished: String?
    public var reasons: [BuildReasonKind]
    public var reasonSummary: String

    public init(_ b: Build) {
        namespace = b.namespace
        imageName = b.image
        number = b.number
        status = b.status
        image = b.latestImage
        started = b.started
        finished = b.finished
        reasons = b.reasonKinds
        reasonSummary = BuildReasonCalculator.summary(b.reasonKinds)
    }
}

/// `build/list` result.
public struct BuildListResult: Codable, Sendable {
    public var builds: [BuildRow]
    /// Set while more remain: pass it as `continue` for the next page.
    public var `continue`: String?

    public init(builds: [BuildRow], continue next: String? = nil) {
        self.builds = builds
        self.continue = next
    }
}

/// A FROM image of a Dockerfile build, in its build status.
public struct BaseImage: Codable, Sendable, Equatable {
    public var name: String
    public var digest: String
}

/// `build/status`: everything `kp build status` shows.
public struct BuildStatusResult: Codable, Sendable {
    public var namespace: String
    public var imageName: String
    public var number: Int
    public var image: String?
    public var imageDigest: String?
    public var status: BuildState
    public var phase: String?
    public var reasons: [BuildReason]
    public var reasonSummary: String
    public var builder: String?
    public var runImage: String?
    public var stackID: String?
    public var source: SourceInfo
    public var buildpacks: [BuildpackInfo]
    /// Dockerfile strategy: every FROM image and the manifest digest it resolved to.
    public var bases: [BaseImage]?
    public var created: String
    public var started: String?
    public var finished: String?
    public var message: String?

    public init(_ b: Build) {
        namespace = b.namespace
        imageName = b.image
        number = b.number
        image = b.latestImage
        imageDigest = b.imageDigest
        status = b.status
        phase = b.phase
        reasons = b.reasons
        reasonSummary = BuildReasonCalculator.summary(b.reasonKinds)
        builder = b.builderImage
        runImage = b.runImage
        stackID = b.stackID
        let local = b.inputs.sourceType == .local
        source = SourceInfo(type: b.inputs.sourceType, url: local ? nil : b.inputs.sourceURL, revision: local ? nil : b.inputs.sourceRevision,
                            ref: b.inputs.sourceRef, path: nil, digest: local ? b.inputs.sourceRevision : nil, subPath: b.inputs.subPath)
        buildpacks = b.buildpacks
        bases = b.inputs.dockerfile?.bases.map { $0.sorted { $0.key < $1.key }.map { BaseImage(name: $0.key, digest: $0.value) } }
        created = b.created
        started = b.started
        finished = b.finished
        message = b.message
    }
}


/// `build/logs` result: the lines (without follow), or the final status (with follow).
public struct BuildLogsResult: Codable, Sendable {
    public var build: Int
    public var status: BuildState
    public var lines: [BuildLogLine]?

    public init(build: Int, status: BuildState, lines: [BuildLogLine]? = nil) {
        self.build = build
        self.status = status
        self.lines = lines
    }
}



/// `event/list` result.
public struct EventListResult: Codable, Sendable {
    public var events: [SystemEvent]
    /// Set while more events remain: pass it as `continue` for the next page.
    public var `continue`: String?

    public init(events: [SystemEvent], continue next: String? = nil) {
        self.events = events
        self.continue = next
    }
}

/// Times in event params.
enum EventTimes {
    /// The time `since` names, or InvalidParams.
    static func parsed(_ text: String) throws -> Date {
        guard let date = Timestamp.parse(text) else {
            throw EngineError.invalid("since must be an RFC 3339 time such as 2026-11-29T10:00:00Z", field: "since")
        }
        return date
    }
}
