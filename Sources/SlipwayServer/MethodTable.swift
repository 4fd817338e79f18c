import Engine
import Foundation
import JSONRPC
import SlipwayProtocol
import Synchronization

/// What every handler shares: the engine, each connection's engine session, and the list of
/// methods (for `initialize`).
public final class ServerContext: Sendable {
    public let engine: Engine
    public let maxMessageSize: Int
    private let sessions = Mutex<[Int: EngineSession]>([:])
    private let methods = Mutex<[String]>([])

    public init(engine: Engine, maxMessageSize: Int) {
        self.engine = engine
        self.maxMessageSize = maxMessageSize
    }

    /// Every request method, including those the connection answers itself.
    public var allMethods: [String] { methods.withLock { $0 } }
    func setMethods(_ m: [String]) { methods.withLock { $0 = m.sorted() } }

    /// The engine session of a connection, opened on first use.
    public func session(for connection: Connection) -> EngineSession {
        sessions.withLock { s in
            if let existing = s[connection.id] { return existing }
            let new = engine.openSession()
            s[connection.id] = new
            return new
        }
    }

    public func closeSession(for connection: Connection) async {
        guard let s = sessions.withLock({ $0.removeValue(forKey: connection.id) }) else { return }
        await engine.closeSession(s)
    }

    /// Sends a session's notifications to its connection, in order, until the session closes.
    /// Log lines are read from the log files when a log has grown, in batches, each sent only
    /// when the connection's output has room: a slow client slows its own log, nothing else.
    public func forwardNotifications(of session: EngineSession, to connection: Connection) async {
        for await message in session.messages {
            switch message {
            case .logAvailable(let key):
                let run = engine.runName(of: key)  // the lines of a run of an image carry its name too
                while true {
                    let lines = session.readLog(key)
                    if lines.isEmpty { break }
                    await connection.waitForOutputRoom()
                    for var l in lines {
                        if let run { l.buildrun = run }
                        connection.notify("build/log", json: l.json)
                    }
                }
            case .notification(let n):
                switch n {
                case .buildStatusChanged(let s): connection.notify("build/statusChanged", s)
                case .imageStatusChanged(let s): connection.notify("image/statusChanged", s)
                case .event(let e): connection.notify("event", e)
                }
            case .barrier(let c):
                c.resume()
            }
        }
    }
}

extension BuildLogLine {
    /// The params of `build/log`, built directly (the encoder's way costs several times more,
    /// and a followed build can send a million of them); the same members as the Codable form.
    var json: JSONValue {
        var o = JSONObject([("namespace", .string(namespace))])
        if let image { o["image"] = .string(image) }
        if let build { o["build"] = .int(Int64(build)) }
        if let buildrun { o["buildrun"] = .string(buildrun) }
        for (k, v) in [("seq", JSONValue.int(Int64(seq))), ("phase", .string(phase)), ("stream", .string(stream)), ("line", .string(line)), ("time", .string(time))] {
            o[k] = v
        }
        return .object(o)
    }
}

/// Maps every JSON-RPC method to an engine call.
public enum MethodTable {
    static let methodsOwnedByConnection = ["shutdown"]
    /// The params of a create, patch, save, add, remove or submit: at most 1 MiB (the message
    /// cap stays for everything else).
    static let maxWriteParamsBytes = 1 << 20
    static let clientNotifications = ["initialized", "exit", "$/cancelRequest", "$/setTrace"]

    public static func makeRegistry(_ ctx: ServerContext) -> MethodRegistry {
        var r = MethodRegistry()
        registerLifecycle(&r, ctx)
        registerPlatform(&r, ctx)
        registerSecrets(&r, ctx)
        registerImages(&r, ctx)
        registerBuilds(&r, ctx)
        registerBuildRuns(&r, ctx)
        ctx.setMethods(r.requestMethods + methodsOwnedByConnection)
        return r
    }

    // MARK: Lifecycle

    private static func registerLifecycle(_ r: inout MethodRegistry, _ s: ServerContext) {
        r.register("initialize", ordering: .write, acceptsUnknownParams: true) { (_: InitializeParams, ctx) in
            return InitializeResult(
                serverInfo: .init(name: "slipway", version: SlipwayVersion.current),
                capabilities: .init(
                    methods: s.allMethods, clientNotifications: clientNotifications,
                    notifications: NotificationKind.allCases.map(\.rawValue) + ["$/progress", "$/logTrace", "window/logMessage"],
                    framings: [Framing.newlineDelimited.rawValue, Framing.contentLength.rawValue],
                    maxMessageSize: s.maxMessageSize, buildStrategies: BuildStrategy.allCases.map(\.rawValue), sourceTypes: ["local", "git", "blob"]))
        }
        r.registerNotification("initialized") { (_: NoParams, _) in }
        r.register("rpc.discover", ordering: .read, keys: { _ in .none }) { (_: NoParams, _) -> JSONValue in
            try OpenRPCDocument.load()
        }
        r.register("session/subscribe", ordering: .write) { (p: SubscribeParams, ctx) in
            func kinds(_ names: [String]?, _ field: String) throws -> [NotificationKind] {
                try (names ?? []).enumerated().map { i, n in
                    guard let k = NotificationKind(rawValue: n) else {
                        throw EngineError.invalid("'\(n)' is not a notification kind; use one of \(NotificationKind.allCases.map(\.rawValue).joined(separator: ", "))",
                                                  field: "\(field)[\(i)]")
                    }
                    return k
                }
            }
            let enable = try kinds(p.enable, "enable"), disable = try kinds(p.disable, "disable")
            let ns: String?? = p.namespace.map { $0.isEmpty ? nil : $0 }
            let on = s.session(for: ctx.connection).configure(enable: enable, disable: disable, namespace: ns)
            return SubscribeResult(notifications: on.map(\.rawValue), namespace: p.namespace)
        }
    }

    // MARK: Stacks, stores, builders

    private static func registerPlatform(_ r: inout MethodRegistry, _ s: ServerContext) {
        r.register("clusterstack/create", ordering: .write, keys: RequestKeys.stackWrite, maxParamsBytes: maxWriteParamsBytes) { (p: Creating<StackSpec>, ctx) in try await s.engine.createClusterStack(p.spec) }
        r.register("clusterstack/patch", ordering: .write, keys: RequestKeys.stackWrite, maxParamsBytes: maxWriteParamsBytes) { (p: StackSpec, ctx) in try await s.engine.patchClusterStack(p, session: s.session(for: ctx.connection)) }
        r.register("clusterstack/refresh", ordering: .write, keys: RequestKeys.stackWrite) { (p: NameParams, ctx) in try await s.engine.refreshClusterStack(p.name, session: s.session(for: ctx.connection)) }
        r.register("clusterstack/get", ordering: .read, keys: RequestKeys.stackRead) { (p: NameParams, ctx) in try await s.engine.clusterStack(p.name) }
        r.register("clusterstack/status", ordering: .read, keys: RequestKeys.stackRead) { (p: NameParams, ctx) in try await s.engine.clusterStack(p.name) }
        r.register("clusterstack/list", ordering: .read, keys: RequestKeys.stackList) { (p: PageParams, ctx) in
            let page = try Paging.page(try await s.engine.clusterStacks(), key: \.name, p)
            return StackList(stacks: page.items, continue: page.next)
        }
        r.register("clusterstack/delete", ordering: .write, keys: RequestKeys.stackRead) { (p: NameParams, ctx) -> VoidResult in
            try await s.engine.deleteClusterStack(p.name)
            return VoidResult()
        }

        r.register("clusterstore/create", ordering: .write, keys: RequestKeys.storeWrite, maxParamsBytes: maxWriteParamsBytes) { (p: StoreParams, ctx) in
            try await s.engine.createClusterStore(name: p.name, buildpacks: p.buildpacks)
        }
        r.register("clusterstore/add", ordering: .write, keys: RequestKeys.storeWrite, maxParamsBytes: maxWriteParamsBytes) { (p: StoreParams, ctx) in
            try await s.engine.addToClusterStore(name: p.name, buildpacks: p.buildpacks, session: s.session(for: ctx.connection))
        }
        r.register("clusterstore/remove", ordering: .write, keys: RequestKeys.storeWrite, maxParamsBytes: maxWriteParamsBytes) { (p: StoreParams, ctx) in
            try await s.engine.removeFromClusterStore(name: p.name, buildpacks: p.buildpacks, session: s.session(for: ctx.connection))
        }
        r.register("clusterstore/get", ordering: .read, keys: RequestKeys.storeRead) { (p: NameParams, ctx) in try await s.engine.clusterStore(p.name) }
        r.register("clusterstore/status", ordering: .read, keys: RequestKeys.storeRead) { (p: NameParams, ctx) in
            StoreStatus(try await s.engine.clusterStore(p.name), buildersUsing: try await s.engine.buildersUsing(store: p.name))
        }
        r.register("clusterstore/list", ordering: .read, keys: RequestKeys.storeList) { (p: PageParams, ctx) in
            let page = try Paging.page(try await s.engine.clusterStores(), key: \.name, p)
            return StoreList(stores: page.items, continue: page.next)
        }
        r.register("clusterstore/delete", ordering: .write, keys: RequestKeys.storeRead) { (p: NameParams, ctx) -> VoidResult in
            try await s.engine.deleteClusterStore(p.name)
            return VoidResult()
        }

        // ClusterBuilders: no namespace in any param.
        r.register("clusterbuilder/create", ordering: .write, keys: RequestKeys.builderWrite(namespaced: false), maxParamsBytes: maxWriteParamsBytes) { (p: Creating<ClusterBuilderSpec>, ctx) in
            try await s.engine.createBuilder(p.spec.builderSpec)
        }
        r.register("clusterbuilder/patch", ordering: .write, keys: RequestKeys.builderWrite(namespaced: false), maxParamsBytes: maxWriteParamsBytes) { (p: ClusterBuilderSpec, ctx) in
            try await s.engine.patchBuilder(p.builderSpec, session: s.session(for: ctx.connection))
        }
        r.register("clusterbuilder/get", ordering: .read, keys: RequestKeys.builderRead(namespaced: false)) { (p: NameParams, ctx) in
            try await s.engine.builder(name: p.name, namespace: nil)
        }
        r.register("clusterbuilder/status", ordering: .read, keys: RequestKeys.builderRead(namespaced: false)) { (p: NameParams, ctx) in
            try await s.engine.builder(name: p.name, namespace: nil)
        }
        r.register("clusterbuilder/list", ordering: .read, keys: RequestKeys.builderList(namespaced: false)) { (p: PageParams, ctx) in
            let page = try Paging.page(try await s.engine.builders(namespace: nil), key: \.name, p)
            return BuilderList(builders: page.items, continue: page.next)
        }
        r.register("clusterbuilder/delete", ordering: .write, keys: RequestKeys.builderRead(namespaced: false)) { (p: NameParams, ctx) -> VoidResult in
            try await s.engine.deleteBuilder(name: p.name, namespace: nil)
            return VoidResult()
        }

        // Builders: in a namespace, "default" when none is given.
        r.register("builder/create", ordering: .write, keys: RequestKeys.builderWrite(namespaced: true), maxParamsBytes: maxWriteParamsBytes) { (p: Creating<BuilderSpec>, ctx) in
            var spec = p.spec
            spec.namespace = spec.namespace ?? "default"
            return try await s.engine.createBuilder(spec)
        }
        r.register("builder/patch", ordering: .write, keys: RequestKeys.builderWrite(namespaced: true), maxParamsBytes: maxWriteParamsBytes) { (p: BuilderSpec, ctx) in
            var spec = p
            spec.namespace = p.namespace ?? "default"
            return try await s.engine.patchBuilder(spec, session: s.session(for: ctx.connection))
        }
        r.register("builder/get", ordering: .read, keys: RequestKeys.builderRead(namespaced: true)) { (p: NamespacedNameParams, ctx) in
            try await s.engine.builder(name: p.name, namespace: p.resolvedNamespace)
        }
        r.register("builder/status", ordering: .read, keys: RequestKeys.builderRead(namespaced: true)) { (p: NamespacedNameParams, ctx) in
            try await s.engine.builder(name: p.name, namespace: p.resolvedNamespace)
        }
        r.register("builder/list", ordering: .read, keys: RequestKeys.builderList(namespaced: true)) { (p: NamespaceParams, ctx) in
            let page = try Paging.page(try await s.engine.builders(namespace: p.namespace ?? "default"), key: \.name, p)
            return BuilderList(builders: page.items, continue: page.next)
        }
        r.register("builder/delete", ordering: .write, keys: RequestKeys.builderRead(namespaced: true)) { (p: NamespacedNameParams, ctx) -> VoidResult in
            try await s.engine.deleteBuilder(name: p.name, namespace: p.resolvedNamespace)
            return VoidResult()
        }
    }

    // MARK: Secrets

    private static func registerSecrets(_ r: inout MethodRegistry, _ s: ServerContext) {
        r.register("secret/create", ordering: .write, keys: RequestKeys.secretWrite, maxParamsBytes: maxWriteParamsBytes) { (p: SecretSpec, ctx) in try await s.engine.createSecret(p) }
        r.register("system/gc", ordering: .write) { (p: CollectParams, ctx) in
            CollectResult(try await s.engine.collectGarbage(dryRun: p.dryRun == true), dryRun: p.dryRun == true)
        }
        r.register("system/df", ordering: .read) { (_: NoParams, ctx) in
            DiskUsageResult(try await s.engine.diskUsage())
        }
        r.register("quota/get", ordering: .read, keys: { p in [RequestKeys.image(RequestKeys.namespace(p), "*")] }) { (p: QuotaParams, ctx) in
            let ns = p.namespace ?? "default"
            return QuotaResult(namespace: ns, quota: await s.engine.quota, usage: try await s.engine.quotaUsage(namespace: ns))
        }
        r.register("secret/list", ordering: .read, keys: RequestKeys.secretList) { (p: NamespaceParams, ctx) in
            let page = try Paging.page(try s.engine.secrets(namespace: p.namespace ?? "default"), key: \.name, p)
            return SecretList(secrets: page.items, continue: page.next)
        }
        r.register("secret/delete", ordering: .write, keys: RequestKeys.secretWrite) { (p: NamespacedNameParams, ctx) -> VoidResult in
            try await s.engine.deleteSecret(namespace: p.resolvedNamespace, name: p.name)
            return VoidResult()
        }
    }

    // MARK: Images

    private static func registerImages(_ r: inout MethodRegistry, _ s: ServerContext) {
        r.register("image/create", ordering: .write, keys: RequestKeys.imageWrite, maxParamsBytes: maxWriteParamsBytes) { (p: Creating<ImageSpec>, ctx) in
            let c = try await s.engine.createImage(p.spec, session: s.session(for: ctx.connection))
            return CreateImageResult(image: c.image, build: c.build)
        }
        r.register("image/patch", ordering: .write, keys: RequestKeys.imageWrite, maxParamsBytes: maxWriteParamsBytes) { (p: ImageSpec, ctx) in
            let c = try await s.engine.patchImage(p, session: s.session(for: ctx.connection))
            return PatchImageResult(image: c.image, changed: c.changed, build: c.build)
        }
        r.register("image/save", ordering: .write, keys: RequestKeys.imageWrite, maxParamsBytes: maxWriteParamsBytes) { (p: ImageSpec, ctx) in
            let c = try await s.engine.saveImage(p, session: s.session(for: ctx.connection))
            return PatchImageResult(image: c.image, changed: c.changed, build: c.build)
        }
        r.register("image/get", ordering: .read, keys: RequestKeys.imageRead) { (p: NamespacedNameParams, ctx) in
            try await s.engine.image(p.resolvedNamespace, p.name)
        }
        r.register("image/status", ordering: .read, keys: RequestKeys.imageRead) { (p: NamespacedNameParams, ctx) in
            ImageStatusResult(try await s.engine.image(p.resolvedNamespace, p.name), cacheBytes: try await s.engine.cacheSize(namespace: p.resolvedNamespace, image: p.name))
        }
        r.register("image/list", ordering: .read, keys: RequestKeys.imageList) { (p: ImageListParams, ctx) in
            let ns: String? = p.allNamespaces == true ? nil : (p.namespace ?? "default")
            let page = try await s.engine.listImages(namespace: ns, filter: p.filter, after: try Paging.key(p.continue), limit: try Paging.limit(p.limit))
            return ImageListResult(images: page.rows, continue: page.next.map(Paging.token(after:)))
        }
        r.register("image/delete", ordering: .write, keys: RequestKeys.imageRead) { (p: NamespacedNameParams, ctx) -> VoidResult in
            try await s.engine.deleteImage(namespace: p.resolvedNamespace, name: p.name)
            return VoidResult()
        }
        r.register("image/trigger", ordering: .write, keys: RequestKeys.imageRead) { (p: NamespacedNameParams, ctx) in
            TriggerResult(build: try await s.engine.triggerImage(namespace: p.resolvedNamespace, name: p.name, session: s.session(for: ctx.connection)))
        }
    }

    /// Sends a build's log lines from `since` as `build/log` notifications until it ends (with
    /// LSP progress when asked), every line before the reply; returns the ended build.
    static func follow(_ s: ServerContext, _ ctx: RequestContext, _ key: BuildKey, since: Int, title: String) async throws -> Build {
        let session = s.session(for: ctx.connection)
        ctx.connection.progress(ctx, kind: "begin", title: title)
        do {
            let b = try await s.engine.followLogs(session: session, key: key, since: since)
            await session.flush()  // every line is sent before the reply
            session.unfollow(key)
            ctx.connection.progress(ctx, kind: "end", message: "\(key.standaloneRun.map { "build run \($0)" } ?? "build \(b.number)"): \(b.status.rawValue)")
            return b
        } catch {
            session.unfollow(key)
            throw error
        }
    }

    // MARK: Build runs

    private static func registerBuildRuns(_ r: inout MethodRegistry, _ s: ServerContext) {
        r.register("buildrun/submit", ordering: .write, keys: RequestKeys.buildRunSubmit, maxParamsBytes: maxWriteParamsBytes) { (p: BuildRunSpec, ctx) in
            BuildRunResult(try await s.engine.submitBuildRun(p, session: s.session(for: ctx.connection)))
        }
        r.register("buildrun/get", ordering: .read, keys: RequestKeys.buildRun) { (p: BuildRunRef, ctx) in
            BuildRunResult(try await s.engine.buildRun(namespace: p.namespace ?? "default", name: p.name))
        }
        r.register("buildrun/list", ordering: .read, keys: { p in [RequestKeys.buildRunKey(RequestKeys.namespace(p), "*")] }) { (p: NamespaceParams, ctx) in
            let page = try await s.engine.buildRuns(namespace: p.namespace ?? "default", after: try Paging.key(p.continue), limit: try Paging.limit(p.limit))
            return BuildRunListResult(buildruns: page.runs.map(BuildRunResult.init), continue: page.more ? page.runs.last.map { Paging.token(after: $0.run.name) } : nil)
        }
        r.register("buildrun/logs", ordering: .read, keys: RequestKeys.buildRun) { (p: BuildRunLogsParams, ctx) in
            let ns = p.namespace ?? "default"
            let key = try await s.engine.buildRunKey(namespace: ns, name: p.name)
            let since = max(1, p.since ?? 1)
            guard p.follow == true else {
                let lines = try await s.engine.logs(namespace: ns, image: key.image, number: key.number, since: since)
                return BuildRunLogsResult(name: p.name, status: try await s.engine.buildRun(namespace: ns, name: p.name).build.status, lines: lines)
            }
            let b = try await follow(s, ctx, key, since: since, title: "Following the log of build run \(p.name)")
            return BuildRunLogsResult(name: p.name, status: b.status, lines: nil)
        }
        r.register("buildrun/wait", ordering: .read, keys: RequestKeys.buildRun) { (p: BuildRunWaitParams, ctx) in
            if let t = p.timeout, t < 0 { throw EngineError.invalid("timeout must not be negative", field: "timeout") }
            let ns = p.namespace ?? "default"
            let key = try await s.engine.buildRunKey(namespace: ns, name: p.name)
            ctx.connection.progress(ctx, kind: "begin", title: "Waiting for build run \(p.name)")
            _ = try await s.engine.wait(for: key, timeout: p.timeout)
            let v = try await s.engine.buildRun(namespace: ns, name: p.name)
            ctx.connection.progress(ctx, kind: "end", message: "build run \(p.name): \(v.build.status.rawValue)")
            return BuildRunResult(v)
        }
        r.register("buildrun/cancel", ordering: .write, keys: RequestKeys.buildRun) { (p: BuildRunRef, ctx) in
            BuildRunResult(try await s.engine.cancelBuildRun(namespace: p.namespace ?? "default", name: p.name))
        }
        r.register("buildrun/delete", ordering: .write, keys: RequestKeys.buildRun) { (p: BuildRunRef, ctx) -> VoidResult in
            try await s.engine.deleteBuildRun(namespace: p.namespace ?? "default", name: p.name)
            return VoidResult()
        }
        r.register("buildrun/events", ordering: .read, keys: RequestKeys.buildRun) { (p: BuildRunEventsParams, ctx) in
            // Also the events of a run that is gone, until they expire.
            let ns = p.namespace ?? "default"
            let page = try await s.engine.events(StateStore.EventQuery(namespace: ns, object: EventObject(kind: "BuildRun", namespace: ns, name: p.name),
                                                                      afterID: try Paging.eventID(p.continue), limit: try Paging.limit(p.limit)))
            return EventListResult(events: page.events, continue: page.more ? page.events.last.map { Paging.token(after: String($0.id)) } : nil)
        }
    }

    // MARK: Builds and events

    private static func registerBuilds(_ r: inout MethodRegistry, _ s: ServerContext) {
        r.register("build/list", ordering: .read, keys: RequestKeys.buildList) { (p: BuildListParams, ctx) in
            let after = try Paging.key(p.continue).map { key -> (image: String, number: Int) in
                let parts = key.split(separator: "/")
                guard parts.count == 2, let n = Int(parts[1]) else { throw EngineError.invalid("continue is not a token of build/list; start again without it", field: "continue") }
                return (String(parts[0]), n)
            }
            let page = try await s.engine.builds(namespace: p.namespace ?? "default", image: p.image, after: after, limit: try Paging.limit(p.limit))
            let next = page.more ? page.builds.last.map { Paging.token(after: "\($0.image)/\($0.number)") } : nil
            return BuildListResult(builds: page.builds.map(BuildRow.init), continue: next)
        }
        r.register("build/status", ordering: .read, keys: RequestKeys.build) { (p: BuildParams, ctx) in
            BuildStatusResult(try await s.engine.build(namespace: p.resolvedNamespace, image: p.image, number: p.build))
        }
        r.register("build/logs", ordering: .read, keys: RequestKeys.build) { (p: BuildLogsParams, ctx) in
            let e = s.engine
            let ns = p.namespace ?? "default"
            let since = max(1, p.since ?? 1)
            guard p.follow == true else {
                let b = try await e.build(namespace: ns, image: p.image, number: p.build)
                let lines = try await e.logs(namespace: ns, image: p.image, number: b.number, since: since)
                return BuildLogsResult(build: b.number, status: b.status, lines: lines)
            }
            let key = try await e.buildKey(namespace: ns, image: p.image, number: p.build)
            let b = try await follow(s, ctx, key, since: since, title: "Following the log of \(p.image)")
            return BuildLogsResult(build: b.number, status: b.status, lines: nil)
        }
        r.register("build/wait", ordering: .read, keys: RequestKeys.build) { (p: BuildWaitParams, ctx) in
            if let t = p.timeout, t < 0 { throw EngineError.invalid("timeout must not be negative", field: "timeout") }
            ctx.connection.progress(ctx, kind: "begin", title: "Waiting for \(p.image)" + (p.build.map { " build \($0)" } ?? ""))
            let b = try await s.engine.wait(namespace: p.namespace ?? "default", image: p.image, number: p.build, timeout: p.timeout)
            ctx.connection.progress(ctx, kind: "end", message: "build \(b.number): \(b.status.rawValue)")
            return BuildStatusResult(b)
        }
        r.register("build/cancel", ordering: .write, keys: RequestKeys.build) { (p: BuildParams, ctx) in
            BuildStatusResult(try await s.engine.cancel(namespace: p.resolvedNamespace, image: p.image, number: p.build))
        }
        r.register("event/list", ordering: .read) { (p: EventListParams, ctx) in
            let page = try await s.engine.events(StateStore.EventQuery(
                namespace: p.namespace, object: p.object, type: p.type, reason: p.reason, since: try p.since.map { try EventTimes.parsed($0) },
                afterID: try Paging.eventID(p.continue), limit: try Paging.limit(p.limit)))
            return EventListResult(events: page.events, continue: page.more ? page.events.last.map { Paging.token(after: String($0.id)) } : nil)
        }
    }

}

/// The OpenRPC document served by `rpc.discover`: `spec/openrpc.json`, shipped as a resource.
enum OpenRPCDocument {
    static func load() throws -> JSONValue {
        guard let url = Bundle.module.url(forResource: "openrpc", withExtension: "json"), let data = try? Data(contentsOf: url) else {  // unreadable is as good as missing: said below
            throw EngineError(.unavailable, "the OpenRPC document is not installed next to the slipway binary")
        }
        do {
            return try JSONParser.parse(Array(data))
        } catch {
            throw EngineError.internal("the OpenRPC document is not valid JSON: \(error)")
        }
    }
}
