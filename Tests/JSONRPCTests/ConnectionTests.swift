import Foundation
import Synchronization
import Testing
@testable import JSONRPC

/// Drives a real `Connection` over two OS pipes, the way a client process would.
final class PipePeer: Sendable {
    let toServer = Pipe()
    let fromServer = Pipe()
    let end: Task<ConnectionEnd, Never>
    /// What the test registry's methods write and count.
    let counter = Counter()
    private let inbox = Inbox()

    /// Bytes read from the server and not yet framed, plus framed messages not yet taken.
    final class Inbox: Sendable {
        let bytes = Mutex<[UInt8]>([])
        let framer = Mutex(MessageFramer())
        let pending = Mutex<[FrameEvent]>([])
    }

    struct Boom: Error {}

    final class Counter: Sendable {
        let value = Mutex(0)
        let keyed = Mutex<[String: Int]>([:])
        /// How many times the ordering keys of `getKey` were derived.
        let keysDerived = Mutex(0)
        /// What `inlineMark` and `mark` did, in order.
        let marks = Mutex<[String]>([])
    }

    static func testRegistry(counter: Counter) -> MethodRegistry {
        var r = MethodRegistry()
        r.register("echo", ordering: .read) { (p: JSONValue, _) in p }
        r.register("initialize", ordering: .write) { (_: NoParams, _) in ["serverInfo": ["name": "test"]] as JSONValue }
        // Ends only when cancelled (the sleep bounds a failure): under a loaded CI run, the
        // cancel of the test that uses it was once read more than 30 s after the request.
        r.register("sleep", ordering: .read) { (_: NoParams, _) -> VoidResult in
            try await Task.sleep(for: .seconds(300))
            return VoidResult()
        }
        r.register("slowSet", ordering: .write) { (p: JSONValue, _) -> VoidResult in
            try await Task.sleep(for: .milliseconds(300))
            counter.value.withLock { $0 = Int(p["value"]?.int64Value ?? 0) }
            return VoidResult()
        }
        r.register("get", ordering: .read) { (_: NoParams, _) in counter.value.withLock { $0 } }
        // Keyed objects: a slow write of one key, reads of a key or of a prefix ("obj/*").
        r.register("setKey", ordering: .write, keys: { [$0?["key"]?.stringValue ?? ""] }) { (p: JSONValue, _) -> VoidResult in
            try await Task.sleep(for: .milliseconds(400))
            counter.keyed.withLock { $0[p["key"]?.stringValue ?? ""] = Int(p["value"]?.int64Value ?? 0) }
            return VoidResult()
        }
        r.register("getKey", ordering: .read, keys: { params in
            counter.keysDerived.withLock { $0 += 1 }
            return [params?["key"]?.stringValue ?? ""]
        }) { (p: JSONValue, _) in
            counter.keyed.withLock { $0[p["key"]?.stringValue ?? ""] ?? 0 }
        }
        r.registerEncoded("encoded", ordering: .read) { (p: JSONValue, _) in EncodedJSON(["echo": p, "text": "a\nb"]) }
        // Answered in the reading loop: what it does ends before the next message is handled.
        r.registerEncoded("inlineMark", ordering: .read, answersInline: true) { (_: NoParams, _) in
            counter.marks.withLock { $0.append("inline start") }
            try await Task.sleep(for: .milliseconds(200))
            counter.marks.withLock { $0.append("inline end") }
            return EncodedJSON("done")
        }
        r.register("mark", ordering: .read) { (_: NoParams, _) -> VoidResult in
            counter.marks.withLock { $0.append("mark") }
            return VoidResult()
        }
        r.registerEncoded("inlineGet", ordering: .read, answersInline: true) { (_: NoParams, _) in EncodedJSON(.int(Int64(counter.value.withLock { $0 }))) }
        r.register("fail", ordering: .read) { (_: NoParams, _) -> VoidResult in throw Boom() }
        struct Typed: Codable { var name: String; var n: Int }
        r.register("typed", ordering: .read) { (p: Typed, _) in p.name }
        return r
    }

    init(maxMessageSize: Int = 1 << 20) {
        let counter = self.counter
        let connection = Connection(
            outputFD: fromServer.fileHandleForWriting.fileDescriptor, registry: Self.testRegistry(counter: counter),
            maxMessageSize: maxMessageSize, errorMapper: { _ in ResponseError(code: 1234, message: "mapped") })
        let inFD = toServer.fileHandleForReading.fileDescriptor
        end = Task { await connection.run(inputFD: inFD) }
        let handle = fromServer.fileHandleForReading
        let inbox = self.inbox
        Thread {
            while true {
                let d = handle.availableData
                if d.isEmpty { break }
                inbox.bytes.withLock { $0.append(contentsOf: d) }
            }
        }.start()
    }

    func send(_ text: String) { toServer.fileHandleForWriting.write(Data(text.utf8)) }
    func closeInput() { try? toServer.fileHandleForWriting.close() }

    /// Next framed message from the server, or nil after `timeout`. The server's tasks share
    /// the cooperative pool (two threads on two cores) with every other test of the run, some of
    /// which hold a thread for seconds: the deadline is generous, and a reply comes as soon as
    /// it is written.
    func next(timeout: Double = 120) async -> JSONValue? {
        guard let body = await nextBody(timeout: timeout) else { return nil }
        return try? JSONParser.parse(body)
    }

    /// Next framed message's bytes, as the server wrote them, or nil after `timeout`.
    func nextBody(timeout: Double = 120) async -> [UInt8]? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let bytes = inbox.bytes.withLock { r -> [UInt8] in defer { r.removeAll() }; return r }
            let events = inbox.framer.withLock { $0.push(bytes) }
            inbox.pending.withLock { $0.append(contentsOf: events) }
            if let e = inbox.pending.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
                if case .message(let b) = e { return b }
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }

    /// All messages until `count` are in.
    func next(_ count: Int) async -> [JSONValue] {
        var out: [JSONValue] = []
        for _ in 0..<count { if let m = await next() { out.append(m) } }
        return out
    }
}

@Suite struct ConnectionTests {
    @Test func echoesIdTypesAndAnswersNullForVoid() async {
        let peer = PipePeer()
        peer.send(#"{"jsonrpc":"2.0","id":1,"method":"echo","params":{"x":1}}"# + "\n")
        peer.send(#"{"jsonrpc":"2.0","id":"1","method":"get"}"# + "\n")
        peer.send(#"{"jsonrpc":"2.0","id":2.5,"method":"slowSet","params":{"value":0}}"# + "\n")
        let replies = await peer.next(3)
        #expect(replies.count == 3)
        let byID = Dictionary(uniqueKeysWithValues: replies.map { (JSONWriter.string($0["id"]!), $0) })
        #expect(byID["1"]?["result"] == ["x": 1])
        #expect(byID["\"1\""]?["result"] == .int(0))
        #expect(byID["2.5"]?["result"] == .null)
        #expect(byID["2.5"]?.objectValue?.keys.contains("result") == true)
    }

    /// Each id comes back as the text it was sent as: `-0` is not `0`, and ids beyond an
    /// `Int64` or a double's range are answered, not refused with a parse error and id null.
    @Test func echoesEveryNumericIdAsItsExactText() async throws {
        let peer = PipePeer()
        let ids = ["-0", "1e400", "-1e400", "123456789012345678901234567890", "1.50", "2E3", "7"]
        for id in ids { peer.send(#"{"jsonrpc":"2.0","id":"# + id + #","method":"echo","params":{}}"# + "\n") }
        var echoed: [String] = []
        for _ in ids {
            let body = String(decoding: try #require(await peer.nextBody()), as: UTF8.self)
            #expect(body.contains("\"result\":{}"), "\(body)")
            let id = try #require(body.firstRange(of: "\"id\":").map { body[$0.upperBound...].prefix { $0 != "," && $0 != "}" } })
            echoed.append(String(id))
        }
        #expect(echoed.sorted() == ids.sorted())
    }

    /// One Content-Length that is not a number is answered -32700 and the connection reads on:
    /// the next request is answered.
    @Test func aBadContentLengthIsAnsweredAndTheNextRequestServed() async throws {
        let peer = PipePeer()
        let good = #"{"jsonrpc":"2.0","id":2,"method":"echo","params":{"k":"v"}}"#
        peer.send("Content-Length: ten\r\n\r\n" + #"{"jsonrpc":"2.0","id":1,"method":"echo","params":{}}"#
            + "Content-Length: \(good.utf8.count)\r\n\r\n" + good)
        let first = try #require(await peer.next())
        #expect(first["error"]?["code"] == .int(-32700))
        #expect(first["id"] == .null)
        let second = try #require(await peer.next())
        #expect(second["id"] == .int(2))
        #expect(second["result"] == ["k": "v"])
    }

    @Test func parseErrorInvalidRequestUnknownMethodInvalidParams() async throws {
        let peer = PipePeer()
        peer.send("{not json\n")
        var r = try #require(await peer.next())
        #expect(r["error"]?["code"] == .int(-32700)); #expect(r["id"] == .null)
        peer.send(#"{"jsonrpc":"2.0","id":5}"# + "\n")
        r = try #require(await peer.next())
        #expect(r["error"]?["code"] == .int(-32600)); #expect(r["id"] == .int(5))
        peer.send(#"{"jsonrpc":"2.0","id":6,"method":"nope"}"# + "\n")
        r = try #require(await peer.next())
        #expect(r["error"]?["code"] == .int(-32601))
        peer.send(#"{"jsonrpc":"2.0","id":7,"method":"typed","params":{"name":"a","n":"x"}}"# + "\n")
        r = try #require(await peer.next())
        #expect(r["error"]?["code"] == .int(-32602)); #expect(r["error"]?["data"]?["field"] == "n")
        peer.send(#"{"jsonrpc":"2.0","id":8,"method":"typed","params":["a",1]}"# + "\n")
        r = try #require(await peer.next())
        #expect(r["error"]?["code"] == .int(-32602))
        peer.send(#"{"jsonrpc":"2.0","id":9,"method":"fail"}"# + "\n")
        r = try #require(await peer.next())
        #expect(r["error"]?["code"] == .int(1234))
    }

    @Test func notificationsAreNeverAnsweredEvenOnError() async throws {
        let peer = PipePeer()
        peer.send(#"{"jsonrpc":"2.0","method":"nope"}"# + "\n")
        peer.send(#"{"jsonrpc":"2.0","method":"fail"}"# + "\n")
        peer.send(#"{"jsonrpc":"2.0","method":"echo","params":{"a":1}}"# + "\n")
        peer.send(#"{"jsonrpc":"2.0","id":"last","method":"get"}"# + "\n")
        let r = try #require(await peer.next())
        #expect(r["id"] == "last")
        let none = await peer.next(timeout: 0.3)
        #expect(none == nil)
    }

    @Test func batches() async throws {
        let peer = PipePeer()
        peer.send("[]\n")
        var r = try #require(await peer.next())
        #expect(r["error"]?["code"] == .int(-32600))
        #expect(r.arrayValue == nil)
        peer.send(#"[{"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":1}},{"jsonrpc":"2.0","method":"echo"},42,{"jsonrpc":"2.0","id":2,"method":"nope"}]"# + "\n")
        r = try #require(await peer.next())
        let items = r.arrayValue ?? []
        #expect(items.count == 3)
        #expect(items.contains { $0["id"] == .int(1) && $0["result"] == ["a": 1] })
        #expect(items.contains { $0["id"] == .null && $0["error"]?["code"] == .int(-32600) })
        #expect(items.contains { $0["id"] == .int(2) && $0["error"]?["code"] == .int(-32601) })
        peer.send(#"[{"jsonrpc":"2.0","method":"echo"},{"jsonrpc":"2.0","method":"echo"}]"# + "\n")
        peer.send(#"[1]"# + "\n")
        r = try #require(await peer.next())
        #expect(r.arrayValue?.count == 1)
        #expect(r.arrayValue?.first?["error"]?["code"] == .int(-32600))
    }

    @Test func slowReadDoesNotBlockFastRequestsAndCancelAnswersMinus32800() async throws {
        let peer = PipePeer()
        peer.send(#"{"jsonrpc":"2.0","id":"slow","method":"sleep"}"# + "\n")
        peer.send(#"{"jsonrpc":"2.0","id":"fast","method":"get"}"# + "\n")
        var r = try #require(await peer.next())
        #expect(r["id"] == "fast")
        peer.send(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"slow"}}"# + "\n")
        r = try #require(await peer.next())
        #expect(r["id"] == "slow")
        #expect(r["error"]?["code"] == .int(-32800))
    }

    @Test func readsSeeEarlierWrites() async {
        let peer = PipePeer()
        peer.send(#"{"jsonrpc":"2.0","id":1,"method":"slowSet","params":{"value":42}}"# + "\n" + #"{"jsonrpc":"2.0","id":2,"method":"get"}"# + "\n")
        let replies = await peer.next(2)
        #expect(replies.first { $0["id"] == .int(2) }?["result"] == .int(42))
    }

    /// A request waits only for earlier writes that share a key with it: a slow write of one
    /// object holds back reads of that object (and of a prefix covering it), not of others.
    @Test func requestsWaitOnlyForWritesOfTheSameObjects() async {
        let peer = PipePeer()
        peer.send([#"{"jsonrpc":"2.0","id":1,"method":"setKey","params":{"key":"obj/a","value":7}}"#,
                   #"{"jsonrpc":"2.0","id":2,"method":"getKey","params":{"key":"obj/b"}}"#,
                   #"{"jsonrpc":"2.0","id":3,"method":"getKey","params":{"key":"obj/a"}}"#,
                   #"{"jsonrpc":"2.0","id":4,"method":"getKey","params":{"key":"obj/*"}}"#,
                   #"{"jsonrpc":"2.0","id":5,"method":"echo","params":{"any":1}}"#].joined(separator: "\n") + "\n")
        let replies = await peer.next(5)
        let order = replies.compactMap { $0["id"]?.int64Value }
        #expect(order.firstIndex(of: 2)! < order.firstIndex(of: 1)!, "a read of another object waited for the write: \(order)")
        #expect(order.firstIndex(of: 3)! > order.firstIndex(of: 1)!)
        #expect(replies.first { $0["id"] == .int(3) }?["result"] == .int(7))
        #expect(replies.first { $0["id"] == .int(4) }?["result"] == .int(0))  // answered after the write
        #expect(order.firstIndex(of: 4)! > order.firstIndex(of: 1)!)
        // A method that names no keys overlaps everything, as every method did before keys.
        #expect(order.firstIndex(of: 5)! > order.firstIndex(of: 1)!)
    }

    /// A read's keys are derived (its params decoded for them) only while a write is pending:
    /// a pipeline of queries decodes each request's params once, in its handler.
    @Test func readsDeriveKeysOnlyWhileAWriteIsPending() async {
        let peer = PipePeer()
        peer.send((1...20).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"getKey","params":{"key":"obj/a"}}"# }.joined(separator: "\n") + "\n")
        #expect(await peer.next(20).count == 20)
        #expect(peer.counter.keysDerived.withLock { $0 } == 0)
        peer.send([#"{"jsonrpc":"2.0","id":21,"method":"setKey","params":{"key":"obj/a","value":3}}"#,
                   #"{"jsonrpc":"2.0","id":22,"method":"getKey","params":{"key":"obj/a"}}"#].joined(separator: "\n") + "\n")
        let replies = await peer.next(2)
        #expect(replies.first { $0["id"] == .int(22) }?["result"] == .int(3))
        #expect(peer.counter.keysDerived.withLock { $0 } == 1)
    }

    /// A result the handler keeps serialised goes out as the same bytes a value would, alone
    /// or in a batch.
    @Test func aPreEncodedResultIsAnsweredAsAValueIs() async throws {
        let peer = PipePeer()
        peer.send(#"{"jsonrpc":"2.0","id":"e","method":"encoded","params":{"n":1}}"# + "\n")
        let body = try #require(await peer.nextBody())
        #expect(String(decoding: body, as: UTF8.self) == #"{"jsonrpc":"2.0","id":"e","result":{"echo":{"n":1},"text":"a\nb"}}"#)
        peer.send(#"[{"jsonrpc":"2.0","id":7,"method":"encoded","params":{"n":2}},{"jsonrpc":"2.0","id":8,"method":"echo","params":{"m":3}}]"# + "\n")
        let batch = try #require(await peer.next()?.arrayValue)
        #expect(batch.first { $0["id"] == .int(7) }?["result"] == ["echo": ["n": 2], "text": "a\nb"])
        #expect(batch.first { $0["id"] == .int(8) }?["result"] == ["m": 3])
    }

    /// A method answered inline is answered in the reading loop, before the next message of
    /// the connection is handled: no task each (what makes `image/get` cheap).
    @Test func anInlineAnswerEndsBeforeTheNextMessageIsHandled() async {
        let peer = PipePeer()
        peer.send([#"{"jsonrpc":"2.0","id":1,"method":"inlineMark"}"#, #"{"jsonrpc":"2.0","id":2,"method":"mark"}"#].joined(separator: "\n") + "\n")
        let replies = await peer.next(2)
        #expect(replies.first { $0["id"] == .int(1) }?["result"] == "done")
        #expect(peer.counter.marks.withLock { $0 } == ["inline start", "inline end", "mark"])
    }

    /// An inline method still sees its connection's earlier writes (it runs as a task after
    /// them while one is pending), and is answered inside a batch's array.
    @Test func anInlineAnswerSeesEarlierWritesAndJoinsItsBatch() async throws {
        let peer = PipePeer()
        peer.send(#"{"jsonrpc":"2.0","id":1,"method":"slowSet","params":{"value":42}}"# + "\n" + #"{"jsonrpc":"2.0","id":2,"method":"inlineGet"}"# + "\n")
        let replies = await peer.next(2)
        #expect(replies.first { $0["id"] == .int(2) }?["result"] == .int(42))
        peer.send(#"[{"jsonrpc":"2.0","id":3,"method":"inlineGet"},{"jsonrpc":"2.0","id":4,"method":"echo","params":{"m":1}}]"# + "\n")
        let batch = try #require(await peer.next()?.arrayValue)
        #expect(batch.first { $0["id"] == .int(3) }?["result"] == .int(42))
        #expect(batch.count == 2)
    }

    /// Pipelined requests all answered, in order of their ids for inline answers, however the
    /// output groups them.
    @Test func manyPipelinedInlineRequestsAreAllAnswered() async {
        let peer = PipePeer()
        peer.send((1...2000).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"inlineGet"}"# }.joined(separator: "\n") + "\n")
        let replies = await peer.next(2000)
        #expect(replies.compactMap { $0["id"]?.int64Value } == Array(1...2000))
    }

    @Test func orderingKeysOverlapByKeyOrPrefix() {
        #expect(OrderingKeys(["image/default/a"]).overlaps(["image/default/a", "x"]))
        #expect(!OrderingKeys(["image/default/a"]).overlaps(["image/default/b"]))
        #expect(OrderingKeys(["image/default/*"]).overlaps(["image/default/b"]))
        #expect(OrderingKeys(["image/default/b"]).overlaps(["image/*"]))
        #expect(!OrderingKeys(["image/other/b"]).overlaps(["image/default/*"]))
        #expect(OrderingKeys.all.overlaps(["anything"]))
        #expect(!OrderingKeys.none.overlaps(.all))
    }

    @Test func lspFramingIsAnsweredInLSPFraming() async throws {
        let peer = PipePeer()
        let body = #"{"jsonrpc":"2.0","id":1,"method":"echo","params":{"k":"v"}}"#
        peer.send("Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let r = try #require(await peer.next())
        #expect(r["result"] == ["k": "v"])
    }

    @Test func messageOverTheCapIsRejected() async throws {
        let peer = PipePeer(maxMessageSize: 1000)
        peer.send(#"{"jsonrpc":"2.0","id":1,"method":"echo","params":{"x":""# + String(repeating: "a", count: 5000) + "\"}}\n")
        peer.send(#"{"jsonrpc":"2.0","id":2,"method":"get"}"# + "\n")
        let r = try #require(await peer.next())
        #expect(r["error"]?["code"] == .int(-32600))
        #expect(r["error"]?["data"]?["reason"] == "MessageTooLarge")
        #expect(await peer.next()?["id"] == .int(2))
    }

    @Test func lifecycleOrderAndExitCodes() async throws {
        let peer = PipePeer()
        peer.send(#"{"jsonrpc":"2.0","id":1,"method":"get"}"# + "\n")
        _ = await peer.next()
        peer.send(#"{"jsonrpc":"2.0","id":2,"method":"initialize"}"# + "\n")
        #expect(await peer.next()?["error"]?["code"] == .int(-32600))
        peer.send(#"{"jsonrpc":"2.0","method":"exit"}"# + "\n")
        #expect(await peer.end.value == .exit(code: 1))

        let p2 = PipePeer()
        p2.send(#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"# + "\n")
        #expect(await p2.next()?["result"]?["serverInfo"] != nil)
        p2.send(#"{"jsonrpc":"2.0","id":2,"method":"initialize"}"# + "\n")
        #expect(await p2.next()?["error"]?["code"] == .int(-32600))
        p2.send(#"{"jsonrpc":"2.0","id":3,"method":"shutdown"}"# + "\n")
        let s = try #require(await p2.next())
        #expect(s["result"] == .null)
        p2.send(#"{"jsonrpc":"2.0","id":4,"method":"get"}"# + "\n")
        #expect(await p2.next()?["error"]?["code"] == .int(-32600))
        p2.send(#"{"jsonrpc":"2.0","method":"exit"}"# + "\n")
        #expect(await p2.end.value == .exit(code: 0))
    }

    @Test func pipelinedShutdownAndExitAnswerEverythingBeforeThem() async {
        let peer = PipePeer()
        peer.send(#"{"jsonrpc":"2.0","id":1,"method":"slowSet","params":{"value":5}}"# + "\n"
                  + #"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"# + "\n" + #"{"jsonrpc":"2.0","method":"exit"}"# + "\n")
        #expect(await peer.end.value == .exit(code: 0))
        let replies = await peer.next(2)
        #expect(replies.map { $0["id"] } == [.int(1), .int(2)])
    }

    @Test func endOfInputAnswersEverythingFirst() async {
        let peer = PipePeer()
        peer.send(#"{"jsonrpc":"2.0","id":1,"method":"slowSet","params":{"value":1}}"#)  // no trailing newline
        peer.closeInput()
        #expect(await peer.end.value == .endOfInput(cutShort: false))
        #expect(await peer.next()?["id"] == .int(1))
    }

    @Test func setTraceSendsLogTrace() async {
        let peer = PipePeer()
        peer.send(#"{"jsonrpc":"2.0","method":"$/setTrace","params":{"value":"messages"}}"# + "\n")
        peer.send(#"{"jsonrpc":"2.0","id":1,"method":"get"}"# + "\n")
        let msgs = await peer.next(3)
        #expect(msgs.filter { $0["method"] == "$/logTrace" }.count == 2)
    }
}
