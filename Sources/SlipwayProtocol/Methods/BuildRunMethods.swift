import Foundation

/// `buildrun/submit`: Submits a build run, as a code engine does.
public enum BuildRunSubmit: RPCMethod {
    public typealias Params = BuildRunSpec
    public typealias Result = BuildRunResult
    public static let method = "buildrun/submit"
    public static let access = MethodAccess.write
    /// A run, and what it builds: the image (a run of an image), or its builder and the
    /// namespace's secrets (a stand-alone run).
    public static func orderingKeys(_ p: Params) -> [String]? {
        let ns = p.namespace ?? "default"
        return [ObjectKey.buildRun(ns, p.name ?? "*"), ObjectKey.secrets(ns), p.image.map { ObjectKey.image(ns, $0) } ?? ObjectKey.builder(p.builder, in: ns)]
    }
    public static let summary = "Submits a build run, as a code engine does: with `image`, one more build of that image (build N+1, reason TRIGGER, as image/trigger); otherwise a stand-alone build from `source` with no configuration behind it, deleted --buildrun-ttl-succeeded (1 h) after it succeeds and --buildrun-ttl-failed (24 h) after it fails. Stand-alone runs count against the namespace's buildruns quota. A run logs, reports status and emits events as builds do; notifications of a stand-alone run carry `buildrun` instead of image and build."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound, .AlreadyExists, .FailedPrecondition, .PermissionDenied, .Unavailable, .QuotaExceeded]
}

/// `buildrun/get`: A build run and its status.
public enum BuildRunGet: RPCMethod {
    public typealias Params = BuildRunRef
    public typealias Result = BuildRunResult
    public static let method = "buildrun/get"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.buildRun(p.namespace ?? "default", p.name)] }
    public static let summary = "A build run and its status. For a day after a stand-alone run expired, NotFound says so and when (data.expired)."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `buildrun/list`: Build runs of a namespace by name, a page at a time.
public enum BuildRunList: RPCMethod {
    public typealias Params = NamespaceParams
    public typealias Result = BuildRunListResult
    public static let method = "buildrun/list"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.buildRun(p.namespace ?? "default", "*")] }
    public static let summary = "Build runs of a namespace by name, a page at a time."
    public static let errors: [ErrorKind] = [.InvalidParams]
}

/// `buildrun/logs`: As build/logs, for a run.
public enum BuildRunLogs: RPCMethod {
    public typealias Params = BuildRunLogsParams
    public typealias Result = BuildRunLogsResult
    public static let method = "buildrun/logs"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.buildRun(p.namespace ?? "default", p.name)] }
    public static let summary = "As build/logs, for a run."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `buildrun/wait`: Waits until the run ends (or timeout seconds pass).
public enum BuildRunWait: RPCMethod {
    public typealias Params = BuildRunWaitParams
    public typealias Result = BuildRunResult
    public static let method = "buildrun/wait"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.buildRun(p.namespace ?? "default", p.name)] }
    public static let summary = "Waits until the run ends (or timeout seconds pass)."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound, .RequestCancelled]
}

/// `buildrun/cancel`: Cancels a queued or running run.
public enum BuildRunCancel: RPCMethod {
    public typealias Params = BuildRunRef
    public typealias Result = BuildRunResult
    public static let method = "buildrun/cancel"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.buildRun(p.namespace ?? "default", p.name)] }
    public static let summary = "Cancels a queued or running run: it ends as FAILURE with message \"canceled\"."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound, .FailedPrecondition]
}

/// `buildrun/delete`: Deletes a run.
public enum BuildRunDelete: RPCMethod {
    public typealias Params = BuildRunRef
    public typealias Result = NullResult
    public static let method = "buildrun/delete"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.buildRun(p.namespace ?? "default", p.name)] }
    public static let summary = "Deletes a run. A stand-alone run goes with its build, log, cache and (without a tag) its image; a run of an image stops being a run, and its build stays in the image's history."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `buildrun/events`: The events of a run (object kind BuildRun), a page at a time.
public enum BuildRunEvents: RPCMethod {
    public typealias Params = BuildRunEventsParams
    public typealias Result = EventListResult
    public static let method = "buildrun/events"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.buildRun(p.namespace ?? "default", p.name)] }
    public static let summary = "The events of a run (object kind BuildRun), a page at a time; also for a run that is gone, until they expire."
    public static let errors: [ErrorKind] = [.InvalidParams]
}
