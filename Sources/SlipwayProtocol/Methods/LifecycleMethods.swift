import Foundation

/// `initialize`: LSP-style handshake.
public enum Initialize: RPCMethod {
    public typealias Params = InitializeParams
    public typealias Result = InitializeResult
    public static let method = "initialize"
    public static let access = MethodAccess.write
    public static let summary = "LSP-style handshake; optional, but if sent it must be the first message and only once."
    public static let errors: [ErrorKind] = [.InvalidRequest]
}

/// `shutdown`: After shutdown only `exit` is accepted.
public enum Shutdown: RPCMethod {
    public typealias Params = EmptyParams
    public typealias Result = NullResult
    public static let method = "shutdown"
    public static let access = MethodAccess.write
    public static let summary = "After shutdown only `exit` is accepted; `exit` then ends the process with code 0."
    public static let errors: [ErrorKind] = []
}

/// `rpc.discover`: returns the OpenRPC document.
public enum RPCDiscover: RPCMethod {
    public typealias Params = EmptyParams
    public typealias Result = AnyJSON
    public static let method = "rpc.discover"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [] }
    public static let summary = "Returns this document."
    public static let errors: [ErrorKind] = []
}

/// `session/subscribe`: Turns notification kinds on or off for this session, optionally for one namespace only.
public enum SessionSubscribe: RPCMethod {
    public typealias Params = SubscribeParams
    public typealias Result = SubscribeResult
    public static let method = "session/subscribe"
    public static let access = MethodAccess.write
    public static let summary = "Turns notification kinds on or off for this session, optionally for one namespace only. New sessions get build/statusChanged, image/statusChanged and event; build/log only for builds they follow (build/logs with follow) unless build/log is enabled here."
    public static let errors: [ErrorKind] = [.InvalidParams]
}
