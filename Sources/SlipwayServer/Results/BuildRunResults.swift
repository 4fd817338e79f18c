import Engine
import Foundation
import SlipwayProtocol

/// A build run as `buildrun/submit`, `get`, `wait`, `cancel` and `list` show it: the run, and
/// the status of the build it is.
public struct BuildRunResult: Codable, Sendable {
    public var namespace: String
    public var name: String
    /// A run of an image: the image, and the build of it this run is.
    public var image: String?
    public var build: Int?
    /// No build configuration behind it: deleted `--buildrun-ttl-*` after it ends.
    public var standalone: Bool
    public var status: BuildState
    public var phase: String?
    public var message: String?
    public var reasons: [BuildReasonKind]
    public var builder: String?
    public var source: SourceInfo
    public var buildpacks: [BuildpackInfo]
    /// The image the run made: `oci:<layout>@sha256:…` (a stand-alone run without a tag keeps it
    /// in an OCI layout that goes away with the run), or the pushed `repo@sha256:…`.
    public var output: String?
    public var created: String
    public var started: String?
    public var finished: String?
    /// Stand-alone runs, once ended: when they are deleted.
    public var deleteAt: String?

    public init(_ v: BuildRunView) {
        let b = BuildStatusResult(v.build)
        namespace = v.run.namespace
        name = v.run.name
        standalone = v.run.standalone
        image = v.run.standalone ? nil : v.run.image
        build = v.run.standalone ? nil : v.run.build
        status = b.status
        phase = b.phase
        message = b.message
        reasons = v.build.reasonKinds
        builder = b.builder
        source = b.source
        buildpacks = b.buildpacks
        output = v.build.latestImage
        created = v.run.created
        started = b.started
        finished = b.finished
        deleteAt = v.run.deleteAt
    }
}

/// `buildrun/list` result.
public struct BuildRunListResult: Codable, Sendable {
    public var buildruns: [BuildRunResult]
    /// Set while more remain: pass it as `continue` for the next page.
    public var `continue`: String?
}

/// `buildrun/logs` result: the lines (without follow), or the final status (with follow).
public struct BuildRunLogsResult: Codable, Sendable {
    public var name: String
    public var status: BuildState
    public var lines: [BuildLogLine]?
}
