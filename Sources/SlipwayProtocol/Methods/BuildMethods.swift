import Foundation

/// `build/list`: Build rows as `kp build list` shows them, by image and number, a page at a time.
public enum BuildList: RPCMethod {
    public typealias Params = BuildListParams
    public typealias Result = BuildListResult
    public static let method = "build/list"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.image(p.namespace ?? "default", p.image ?? "*")] }
    public static let summary = "Build rows as `kp build list` shows them, by image and number, a page at a time."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `build/status`: Everything `kp build status` shows.
public enum BuildStatus: RPCMethod {
    public typealias Params = BuildParams
    public typealias Result = BuildStatusResult
    public static let method = "build/status"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.image(p.namespace ?? "default", p.image)] }
    public static let summary = "Everything `kp build status` shows."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `build/logs`: a build's log lines, or (with follow) the lines as they are written until it ends.
public enum BuildLogs: RPCMethod {
    public typealias Params = BuildLogsParams
    public typealias Result = BuildLogsResult
    public static let method = "build/logs"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.image(p.namespace ?? "default", p.image)] }
    public static let summary = "Without follow: the lines. With follow: lines arrive as build/log notifications from `since` until the build ends (all sent before the reply), then the result has the final status."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound]
}

/// `build/wait`: Waits for the build to finish (or `timeout` seconds) and returns its status.
public enum BuildWait: RPCMethod {
    public typealias Params = BuildWaitParams
    public typealias Result = BuildStatusResult
    public static let method = "build/wait"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.image(p.namespace ?? "default", p.image)] }
    public static let summary = "Waits for the build to finish (or `timeout` seconds) and returns its status. Cancellable with $/cancelRequest."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound, .RequestCancelled]
}

/// `build/cancel`: Cancels a queued or running build.
public enum BuildCancel: RPCMethod {
    public typealias Params = BuildParams
    public typealias Result = BuildStatusResult
    public static let method = "build/cancel"
    public static let access = MethodAccess.write
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.image(p.namespace ?? "default", p.image)] }
    public static let summary = "Cancels a queued or running build: it ends as FAILURE with message \"canceled\"."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound, .FailedPrecondition]
}

/// `event/list`: System events kept for --event-ttl (default 60 minutes), in the order they last happened, a page at …
public enum EventList: RPCMethod {
    public typealias Params = EventListParams
    public typealias Result = EventListResult
    public static let method = "event/list"
    public static let access = MethodAccess.read
    public static let summary = "System events kept for --event-ttl (default 60 minutes), in the order they last happened, a page at a time. The same object, reason and message again bump count and lastTime (as kubectl aggregates)."
    public static let errors: [ErrorKind] = [.InvalidParams]
}
