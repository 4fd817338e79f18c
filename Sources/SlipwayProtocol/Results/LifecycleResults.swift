import Foundation

/// `initialize` params (LSP-style; every field optional).
public struct InitializeParams: Codable, Sendable {
    /// Who the client says it is.
    public struct ClientInfo: Codable, Sendable {
        public var name: String
        public var version: String?
        public init(name: String, version: String? = nil) { self.name = name; self.version = version }
    }
    public var processId: Int?
    public var clientInfo: ClientInfo?
    public var capabilities: AnyJSON?
    public var trace: String?

    public init(processId: Int? = nil, clientInfo: ClientInfo? = nil, capabilities: AnyJSON? = nil, trace: String? = nil) {
        self.processId = processId
        self.clientInfo = clientInfo
        self.capabilities = capabilities
        self.trace = trace
    }
}

/// `initialize` result: who we are and everything we serve.
public struct InitializeResult: Codable, Sendable {
    /// Who the server is.
    public struct ServerInfo: Codable, Sendable {
        public var name: String
        public var version: String
        public init(name: String, version: String) { self.name = name; self.version = version }
    }
    /// What the server serves, so a client need not guess.
    public struct Capabilities: Codable, Sendable {
        /// Every request method the server answers.
        public var methods: [String]
        /// Notifications the client may send.
        public var clientNotifications: [String]
        /// Notifications the server sends.
        public var notifications: [String]
        public var framings: [String]
        public var maxMessageSize: Int
        public var buildStrategies: [String]
        public var sourceTypes: [String]

        public init(methods: [String], clientNotifications: [String], notifications: [String], framings: [String], maxMessageSize: Int, buildStrategies: [String], sourceTypes: [String]) {
            self.methods = methods
            self.clientNotifications = clientNotifications
            self.notifications = notifications
            self.framings = framings
            self.maxMessageSize = maxMessageSize
            self.buildStrategies = buildStrategies
            self.sourceTypes = sourceTypes
        }
    }
    public var serverInfo: ServerInfo
    public var capabilities: Capabilities

    public init(serverInfo: ServerInfo, capabilities: Capabilities) {
        self.serverInfo = serverInfo
        self.capabilities = capabilities
    }
}

extension InitializeParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        ParamDescriptor("processId", ##"{"type": ["integer", "null"]}"##),
        ParamDescriptor("clientInfo", #"""
            {
              "type": "object",
              "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
              "additionalProperties": false
            }
            """#),
        ParamDescriptor("capabilities", ##"{"type": "object"}"##),
        ParamDescriptor("trace", ##"{"type": "string"}"##)
    ]
}

extension InitializeResult: NamedSchema {
    public static let schemaName = "InitializeResult"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "serverInfo": {
              "type": "object",
              "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
              "additionalProperties": false
            },
            "capabilities": {
              "type": "object",
              "properties": {
                "methods": {"type": "array", "items": {"type": "string"}},
                "clientNotifications": {"type": "array", "items": {"type": "string"}},
                "notifications": {"type": "array", "items": {"type": "string"}},
                "framings": {"type": "array", "items": {"type": "string"}},
                "maxMessageSize": {"type": "integer"},
                "buildStrategies": {
                  "type": "array",
                  "description": "Every strategy an image or build run may name.",
                  "items": {"type": "string", "enum": ["buildpacks", "dockerfile"]}
                },
                "sourceTypes": {"type": "array", "items": {"type": "string"}}
              },
              "additionalProperties": false
            }
          },
          "additionalProperties": false
        }
        """#
}
