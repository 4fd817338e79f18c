import Foundation
import Synchronization
import Testing
@testable import JSONRPC

/// A sink that keeps each write it is given as one entry.
final class RecordingSink: ByteSink {
    let writes = Mutex<[[UInt8]]>([])

    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        writes.withLock { $0.append(Array(bytes)) }
        return true
    }

    var text: String { String(decoding: writes.withLock { $0.joined() }, as: UTF8.self) }
}

/// Polls `condition` until it holds or a generous deadline passes (tests share two cores).
func eventually(_ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return condition()
}

/// The output of a connection: corked replies leave together, and never later than the cork's
/// limit, its timeout or a flush allow.
@Suite struct OutputChannelTests {
    /// A channel of newline-delimited messages into a recording sink, corked.
    func corked(timeout: Double = 600) -> (RecordingSink, OutputChannel) {
        let sink = RecordingSink()
        let channel = OutputChannel(sink: sink, corkTimeout: timeout)
        channel.setFraming(.newlineDelimited)
        channel.cork()
        return (sink, channel)
    }

    @Test func corkedMessagesLeaveInOneWriteOnUncork() {
        let (sink, channel) = corked()
        for i in 0..<10 {
            channel.send(.int(Int64(i)))
            usleep(1000)  // time for a writer that did not hold corked output to write it
        }
        channel.uncork()
        channel.flush()
        #expect(sink.writes.withLock { $0.count } == 1)
        #expect(sink.text == (0..<10).map { "\($0)\n" }.joined())
        channel.close()
    }

    @Test func corkedOutputLeavesOnceItReachesTheLimit() async {
        let (sink, channel) = corked()
        let line = JSONValue.string(String(repeating: "x", count: 1000))
        for _ in 0..<(OutputChannel.corkLimit / 1000 + 2) { channel.send(line) }
        #expect(await eventually { !sink.writes.withLock { $0.isEmpty } }, "corked output over the limit was held back")
        channel.uncork()
        channel.close()
    }

    @Test func corkedOutputLeavesAfterTheTimeoutWithoutUncork() async {
        let (sink, channel) = corked(timeout: 0.05)
        channel.send(.string("late"))
        #expect(await eventually { sink.text == "\"late\"\n" })
        channel.close()
    }

    @Test func flushWritesCorkedOutput() {
        let (sink, channel) = corked()
        channel.send(.int(1))
        channel.flush()
        #expect(sink.text == "1\n")
        channel.close()
    }

    /// `written` returns once what was sent is written, corked or not, without holding a thread.
    @Test func writtenReturnsOnceEverythingSentIsWritten() async {
        let sink = RecordingSink()
        let channel = OutputChannel(sink: sink, corkTimeout: 600)
        channel.setFraming(.newlineDelimited)
        await channel.written()  // nothing to write
        channel.send(.int(1))
        await channel.written()
        #expect(sink.text == "1\n")
        channel.cork()
        channel.send(.int(2))
        await channel.written()
        #expect(sink.text == "1\n2\n")
        channel.close()
    }

    /// A response kept serialised is framed as any other message, in either framing.
    @Test func anEncodedResponseIsFramedLikeAnyMessage() {
        for framing in [Framing.newlineDelimited, .contentLength] {
            let sink = RecordingSink()
            let channel = OutputChannel(sink: sink)
            channel.setFraming(framing)
            channel.send(responseTo: .int(7), encodedResult: EncodedJSON(["a": "b"]))
            channel.flush()
            let body = #"{"jsonrpc":"2.0","id":7,"result":{"a":"b"}}"#
            #expect(sink.text == String(decoding: FrameEncoder.frame(Array(body.utf8), as: framing), as: UTF8.self))
            channel.close()
        }
    }
}
