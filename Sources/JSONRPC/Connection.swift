import Foundation
import Synchronization

/// How a connection's message loop ended.
public enum ConnectionEnd: Sendable, Equatable {
    /// Input reached end of file; every request read was answered. `cutShort` when the last
    /// message was incomplete (it was reported with `window/logMessage` or a parse error).
    case endOfInput(cutShort: Bool)
    /// The client sent `exit`; the process should exit with this code (0 after `shutdown`).
    case exit(code: Int32)
}

/// Maps an error a handler threw (other than `ResponseError`, cancellation and decoding
/// errors, which the connection maps itself) to the error sent to the client.
public typealias ErrorMapper = @Sendable (Error) -> ResponseError

/// Turns a request's params into what `$/logTrace` may show (secrets masked). The connection
/// knows nothing of which params are secret; the layer above does.
public typealias TraceRedactor = @Sendable (_ method: String, _ params: JSONValue) -> JSONValue

/// One JSON-RPC peer over a pair of byte streams (stdin/stdout, a socket, a pipe).
///
/// It detects the framing from the first non-blank byte, enforces the LSP base-protocol
/// lifecycle (`initialize` first and once if sent, `shutdown`, `exit`), runs requests
/// concurrently under the ordering rules of `MethodOrdering`, answers batches as one array,
/// handles `$/cancelRequest` and `$/setTrace`, and writes replies and notifications in the
/// connection's framing.
public final class Connection: Sendable {
    /// A number unique in this process, so the layer above can keep per-connection state.
    public let id: Int
    private let registry: MethodRegistry
    private let errorMapper: ErrorMapper
    private let traceRedactor: TraceRedactor
    private let maxMessageSize: Int
    private let output: OutputChannel
    private let state = Mutex(State())

    private static let nextID = Atomic<Int>(1)

    struct State {
        var messagesSeen = 0
        var initialized = false
        var shutdownReceived = false
        var trace = "off"
        var inflight: [RequestID: Task<Void, Never>] = [:]
        var allTasks: [Int: Task<Void, Never>] = [:]
        var nextTaskKey = 0
        /// Writes not yet finished, by task key, with what they touch.
        var pendingWrites: [Int: (keys: OrderingKeys, task: Task<Void, Never>)] = [:]
        /// Answers `shutdown` once every earlier request has been answered.
        var shutdownTask: Task<Void, Never>?
        /// Resumed when the number of running tasks drops below the limit.
        var capacityWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// At most this many requests of one connection run at once; reading waits beyond it, so a
    /// client that pipelines a million requests does not make a million tasks.
    static let maxInflight = 256

    public convenience init(outputFD: Int32, registry: MethodRegistry, maxMessageSize: Int = MessageFramer.defaultMaxMessageSize,
                            errorMapper: @escaping ErrorMapper, traceRedactor: @escaping TraceRedactor = { _, params in params })
    {
        self.init(output: FileDescriptorSink(fd: outputFD), registry: registry, maxMessageSize: maxMessageSize,
                  errorMapper: errorMapper, traceRedactor: traceRedactor)
    }

    public init(output sink: any ByteSink, registry: MethodRegistry, maxMessageSize: Int = MessageFramer.defaultMaxMessageSize,
                errorMapper: @escaping ErrorMapper, traceRedactor: @escaping TraceRedactor = { _, params in params })
    {
        self.id = Connection.nextID.add(1, ordering: .relaxed).oldValue
        self.registry = registry
        self.errorMapper = errorMapper
        self.traceRedactor = traceRedactor
        self.maxMessageSize = maxMessageSize
        self.output = OutputChannel(sink: sink)
    }

    /// The framing detected on input (replies use the same), or nil before the first byte.
    public var framing: Framing? { output.framing }

    /// Sends a notification to the client. Safe from any thread; messages keep their order.
    public func notify(_ method: String, _ params: some Encodable) {
        let value = (try? JSONValueEncoder().encode(params)) ?? .null  // the server's own value types always encode; null stands in if not
        output.send(OutgoingMessage.notification(method: method, params: value))
    }

    /// Sends a notification whose params are already JSON (the fast path for many small ones).
    public func notify(_ method: String, json params: JSONValue) {
        output.send(OutgoingMessage.notification(method: method, params: params))
    }

    /// Blocks until every message sent so far has been written (call before the process exits).
    public func flushOutput() { output.flush() }

    /// Returns once every message sent so far has been written, without blocking a thread (what
    /// a task on the cooperative pool calls instead of `flushOutput`).
    public func outputWritten() async { await output.written() }

    /// The connection's output thread ends with the connection.
    deinit { output.close() }

    /// Reports work-done progress for a request that carried a `workDoneToken` (LSP
    /// `$/progress`): `begin`, then any `report`s, then `end`. Does nothing without a token.
    public func progress(_ context: RequestContext, kind: String, title: String? = nil, message: String? = nil) {
        guard let token = context.workDoneToken else { return }
        var value = JSONObject([("kind", .string(kind))])
        if let title { value["title"] = .string(title) }
        if let message { value["message"] = .string(message) }
        output.send(OutgoingMessage.notification(method: "$/progress", params: ["token": token, "value": .object(value)]))
    }

    /// Sends `window/logMessage` (type 1 error, 2 warning, 3 info, 4 log).
    public func logMessage(_ message: String, type: Int = 3) {
        output.send(OutgoingMessage.notification(method: "window/logMessage", params: ["type": .int(Int64(type)), "message": .string(message)]))
    }

    /// Blocks the caller while more than `OutputChannel.highWater` bytes wait to be written to
    /// a client that is not reading (back-pressure: a slow reader slows what it is sent).
    public func waitForOutputRoom() async { await output.waitForRoom() }

    /// Reads from `inputFD` until end of input or `exit`, serving every message. Input is read
    /// only while the output has room: a client that does not read its replies stops being read.
    public func run(inputFD: Int32) async -> ConnectionEnd {
        await run(input: FileDescriptorSource(fd: inputFD))
    }

    /// Reads `input` until its end or `exit`, serving every message (see `run(inputFD:)`).
    public func run(input: any ByteSource) async -> ConnectionEnd {
        let (chunks, consumed) = Self.readChunks(input)
        var framer = MessageFramer(maxMessageSize: maxMessageSize)
        for await chunk in chunks {
            let events = framer.push(chunk)
            if output.framing == nil, let f = framer.framing { output.setFraming(f) }
            // The replies to a run of pipelined messages leave together (the writer holds them
            // back only while this loop answers them, or until it must wait: `waitForCapacity`).
            let corks = events.count > 1
            if corks { output.cork() }
            for event in events {
                await waitForCapacity()
                await output.waitForRoom()
                if let end = await handle(event) {
                    if corks { output.uncork() }
                    return await finishing(end)
                }
            }
            if corks { output.uncork() }
            consumed.signal()
        }
        var cutShort = false
        for event in framer.finish() {
            switch event {
            case .truncated(let why):
                cutShort = true
                logMessage("the last message was cut short: \(why); it was not handled", type: 1)
            case .unterminated(let bytes) where (try? JSONParser.parse(bytes)) == nil:  // only asks whether it parses: handle() says why not
                cutShort = true  // answered with a parse error below
                _ = await handle(.message(bytes))
            case .unterminated(let bytes):
                if let end = await handle(.message(bytes)) { return await finishing(end) }
            default:
                if let end = await handle(event) { return await finishing(end) }
            }
        }
        await drain()
        return .endOfInput(cutShort: cutShort)
    }

    /// On `exit` after `shutdown`, lets the shutdown reply (and so every earlier reply) out first.
    private func finishing(_ end: ConnectionEnd) async -> ConnectionEnd {
        if let t = state.withLock({ $0.shutdownTask }) { await t.value }
        return end
    }

    /// Waits until every request read so far has been answered.
    public func drain() async {
        while true {
            let tasks = state.withLock { Array($0.allTasks.values) }
            if tasks.isEmpty { return }
            for t in tasks { await t.value }
        }
    }

    private func waitForCapacity() async {
        guard state.withLock({ $0.allTasks.count >= Self.maxInflight }) else { return }
        output.uncork()  // the replies of the tasks that finish meanwhile must not wait for this loop
        await withCheckedContinuation { c in
            let full = state.withLock { s -> Bool in
                guard s.allTasks.count >= Self.maxInflight else { return false }
                s.capacityWaiters.append(c)
                return true
            }
            if !full { c.resume() }
        }
    }

    /// Removes a finished task from the bookkeeping and lets reading go on if it waited.
    private func taskFinished(key: Int, id: RequestID?) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            if let id { s.inflight.removeValue(forKey: id) }
            s.allTasks.removeValue(forKey: key)
            s.pendingWrites.removeValue(forKey: key)
            guard s.allTasks.count < Self.maxInflight else { return [] }
            defer { s.capacityWaiters.removeAll() }
            return s.capacityWaiters
        }
        for w in waiters { w.resume() }
    }

    // MARK: - Reading

    /// Chunks of input, read on a thread of their own (`LoopThreads`); the thread reads a chunk only when fewer
    /// than four are waiting to be handled (call `signal` on the gate for each chunk handled).
    private static func readChunks(_ source: any ByteSource) -> (AsyncStream<[UInt8]>, ChunkGate) {
        let room = ChunkGate(limit: 4)
        return (AsyncStream { continuation in
            LoopThreads.shared.run {
                while true {
                    room.wait()
                    guard let chunk = source.next() else { break }
                    continuation.yield(chunk)
                }
                continuation.finish()
            }
        }, room)
    }

    // MARK: - Dispatch

    private func handle(_ event: FrameEvent) async -> ConnectionEnd? {
        switch event {
        case .oversized(let size):
            let error = ResponseError(
                code: ResponseError.invalidRequestCode,
                message: "Invalid Request: the message is \(size) bytes, over the limit of \(maxMessageSize) bytes; send smaller messages (pass large content by path)",
                data: ["reason": "MessageTooLarge", "size": .int(Int64(size)), "limit": .int(Int64(maxMessageSize))])
            output.send(OutgoingMessage.response(id: nil, result: .failure(error)))
            return nil
        case .malformedHeader(let message):
            output.send(OutgoingMessage.response(id: nil, result: .failure(.parseError(message))))
            return nil
        case .truncated, .unterminated:
            return nil  // only at end of input, where `run` handles them
        case .message(let bytes):
            let value: JSONValue
            do {
                value = try JSONParser.parse(bytes)
            } catch {
                output.send(OutgoingMessage.response(id: nil, result: .failure(.parseError(error.description))))
                return nil
            }
            if case .array(let items) = value {
                return await handleBatch(items)
            }
            var reply: JSONValue?
            let end = await dispatch(IncomingMessage(value), batch: nil, reply: &reply)
            if let reply { output.send(reply) }
            return end
        }
    }

    private func handleBatch(_ items: [JSONValue]) async -> ConnectionEnd? {
        if items.isEmpty {
            output.send(OutgoingMessage.response(id: nil, result: .failure(.invalidRequest("an empty batch is not allowed"))))
            return nil
        }
        let collector = BatchCollector()
        var immediate: [JSONValue] = []
        for item in items {
            var reply: JSONValue?
            if let end = await dispatch(IncomingMessage(item), batch: collector, reply: &reply) { return end }
            if let reply { immediate.append(reply) }
        }
        let output = self.output
        trackTask(Task {
            let replies = immediate + (await collector.results())
            if !replies.isEmpty { output.send(.array(replies)) }
        })
        return nil
    }

    /// Handles one message in arrival order. Immediate replies (errors, lifecycle answers) go into
    /// `reply`; requests that run go into the batch collector, or are answered when done.
    private func dispatch(_ message: IncomingMessage, batch: BatchCollector?, reply: inout JSONValue?) async -> ConnectionEnd? {
        let seen = state.withLock { s -> Int in
            s.messagesSeen += 1
            return s.messagesSeen
        }
        switch message {
        case .response:
            return nil
        case .invalid(let id, let error):
            reply = OutgoingMessage.response(id: id, result: .failure(error))
            return nil
        case .notification(let method, let params):
            return handleNotification(method, params)
        case .request(let id, let method, let params):
            if let error = lifecycleError(method: method, firstMessage: seen == 1) {
                reply = OutgoingMessage.response(id: id, result: .failure(error))
                return nil
            }
            if method == "shutdown" {
                // Answered once every earlier request has been answered; later ones are refused.
                let earlier = state.withLock { s -> [Task<Void, Never>] in
                    s.shutdownReceived = true
                    return Array(s.allTasks.values)
                }
                let output = self.output
                let slot = batch?.reserve()
                let t = Task {
                    for task in earlier { await task.value }
                    let response = OutgoingMessage.response(id: id, result: .success(.null))
                    if let batch, let slot {
                        await batch.fill(slot, response)
                    } else {
                        output.send(response)
                    }
                }
                state.withLock { $0.shutdownTask = t }
                trackTask(t)
                return nil
            }
            guard let entry = registry.entry(method) else {
                reply = OutgoingMessage.response(id: id, result: .failure(.methodNotFound(method)))
                return nil
            }
            if method == "initialize" { state.withLock { $0.initialized = true } }
            await start(id: id, method: method, params: params, entry: entry, batch: batch)
            return nil
        }
    }

    private func lifecycleError(method: String, firstMessage: Bool) -> ResponseError? {
        state.withLock { s in
            if s.shutdownReceived {
                return .invalidRequest("the server received shutdown and accepts only 'exit' now")
            }
            if method == "initialize" {
                if s.initialized { return .invalidRequest("initialize may be sent only once per connection") }
                if !firstMessage {
                    return .invalidRequest("initialize must be the first message of a connection; it is optional, so omit it or send it first")
                }
            }
            return nil
        }
    }

    private func handleNotification(_ method: String, _ params: JSONValue?) -> ConnectionEnd? {
        switch method {
        case "exit":
            let code: Int32 = state.withLock { $0.shutdownReceived } ? 0 : 1
            return .exit(code: code)
        case "$/cancelRequest":
            guard let raw = params?["id"], let id = RequestID(raw) else { return nil }
            state.withLock { $0.inflight[id] }?.cancel()
        case "$/setTrace":
            if let v = params?["value"]?.stringValue, ["off", "messages", "verbose"].contains(v) {
                state.withLock { $0.trace = v }
            }
        default:
            if state.withLock({ $0.shutdownReceived }) { return nil }
            guard let handler = registry.notifications[method] else { return nil }
            trackTask(Task { await handler(params, self) })
        }
        return nil
    }

    private func start(id: RequestID, method: String, params: JSONValue?, entry: MethodRegistry.RequestEntry, batch: BatchCollector?) async {
        let context = RequestContext(id: id, method: method, connection: self, workDoneToken: params?["workDoneToken"])
        let trace = state.withLock { $0.trace }
        if trace != "off" {
            var o = JSONObject()
            o["message"] = .string("Received request '\(method) - (\(id))'.")
            if trace == "verbose", let params { o["verbose"] = .string("Params: " + JSONWriter.string(traceRedactor(method, params))) }
            output.send(OutgoingMessage.notification(method: "$/logTrace", params: .object(o)))
        }
        let errorMapper = self.errorMapper
        let output = self.output
        let started = ContinuousClock.now
        // A request answered from memory is answered here, in the reading loop, without a task of
        // its own (which costs more than such an answer) — unless a write of this connection is
        // pending, which it might have to wait for, or it is part of a batch. It never waits, so
        // it holds up nothing; it is done before the next message is read, so it needs no entry
        // for cancellation or `shutdown`.
        if entry.answersInline, batch == nil, state.withLock({ $0.pendingWrites.isEmpty }) {
            Self.answer(id: id, await Self.outcome(of: entry, params, context, errorMapper), to: output)
            if trace != "off" { Self.traceAnswer(method: method, id: id, started: started, to: output) }
            return
        }
        let slot = batch?.reserve()
        // A read's keys matter only against writes still pending; with none pending (the common
        // case: a pipeline of queries) they are not derived, which spares decoding its params a
        // second time. Only this loop adds pending writes, so none can appear before the task
        // is recorded below.
        let keys = entry.ordering == .write || state.withLock({ !$0.pendingWrites.isEmpty }) ? entry.keys(params) : OrderingKeys.none
        state.withLock { s in
            s.nextTaskKey += 1
            let key = s.nextTaskKey
            let dependencies = s.pendingWrites.isEmpty ? [] : s.pendingWrites.sorted { $0.key < $1.key }.filter { $0.value.keys.overlaps(keys) }.map(\.value.task)
            let t = Task { [weak self] in
                for d in dependencies { await d.value }
                let result = Task.isCancelled ? .failure(.cancelled) : await Self.outcome(of: entry, params, context, errorMapper)
                if let batch, let slot {
                    await batch.fill(slot, OutgoingMessage.response(id: id, result: result.map(\.value)))
                } else {
                    Self.answer(id: id, result, to: output)
                }
                if trace != "off" { Self.traceAnswer(method: method, id: id, started: started, to: output) }
                self?.taskFinished(key: key, id: id)
            }
            s.inflight[id] = t
            s.allTasks[key] = t
            if entry.ordering == .write { s.pendingWrites[key] = (keys, t) }
        }
    }

    /// Runs a request's handler; its answer, or the error to send for what it threw.
    private static func outcome(of entry: MethodRegistry.RequestEntry, _ params: JSONValue?, _ context: RequestContext,
                                _ errorMapper: ErrorMapper) async -> Result<MethodRegistry.Answer, ResponseError>
    {
        do {
            return .success(try await entry.handler(params, context))
        } catch let e as ResponseError {
            return .failure(e)
        } catch is CancellationError {
            return .failure(.cancelled)
        } catch let e as DecodingError {
            return .failure(ResponseError(decodingError: e))
        } catch {
            return .failure(errorMapper(error))
        }
    }

    /// Sends the response to request `id` (an answer kept serialised is sent as it is).
    private static func answer(id: RequestID, _ result: Result<MethodRegistry.Answer, ResponseError>, to output: OutputChannel) {
        if case .success(.encoded(let encoded)) = result {
            output.send(responseTo: id, encodedResult: encoded)
        } else {
            output.send(OutgoingMessage.response(id: id, result: result.map(\.value)))
        }
    }

    /// `$/logTrace` for an answered request (trace on).
    private static func traceAnswer(method: String, id: RequestID, started: ContinuousClock.Instant, to output: OutputChannel) {
        let ms = (ContinuousClock.now - started).components.attoseconds / 1_000_000_000_000_000
        output.send(OutgoingMessage.notification(
            method: "$/logTrace", params: ["message": .string("Sending response '\(method) - (\(id))'. Processing request took \(ms)ms")]))
    }

    private func trackTask(_ task: Task<Void, Never>) {
        let key = state.withLock { s -> Int in
            s.nextTaskKey += 1
            s.allTasks[s.nextTaskKey] = task
            return s.nextTaskKey
        }
        Task { [weak self] in
            await task.value
            self?.taskFinished(key: key, id: nil)
        }
    }
}
