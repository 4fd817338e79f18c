import Testing
@testable import JSONRPC

@Suite struct FramingTests {
    @Test func detectsNewlineDelimitedAndSplitsLines() {
        var f = MessageFramer()
        let events = f.push(Array("  \n{\"a\":1}\n[1]\r\n\n{\"b\"".utf8))
        #expect(f.framing == .newlineDelimited)
        #expect(events == [.message(Array("{\"a\":1}".utf8)), .message(Array("[1]".utf8))])
        #expect(f.push(Array(":2}\n".utf8)) == [.message(Array("{\"b\":2}".utf8))])
    }

    @Test func finalLineWithoutNewlineIsGivenAsUnterminatedAtEndOfInput() {
        var f = MessageFramer()
        #expect(f.push(Array("{\"x\":1}".utf8)).isEmpty)
        #expect(f.finish() == [.unterminated(Array("{\"x\":1}".utf8))])
    }

    /// A byte order mark is skipped; a first line that is not a header is newline-delimited
    /// JSON (and gets a parse error) instead of a header block that never ends.
    @Test func byteOrderMarkAndJunkBeforeJSON() {
        var bom = MessageFramer()
        #expect(bom.push([0xEF, 0xBB]).isEmpty)
        #expect(bom.push([0xBF] + Array("{\"a\":1}\n".utf8)) == [.message(Array("{\"a\":1}".utf8))])
        var lsp = MessageFramer()
        #expect(lsp.push([0xEF, 0xBB, 0xBF] + Array("content-length: 2\r\n\r\n{}".utf8)) == [.message(Array("{}".utf8))])
        #expect(lsp.framing == .contentLength)
        var junk = MessageFramer()
        #expect(junk.push(Array("hello\n{\"a\":1}\n".utf8)) == [.message(Array("hello".utf8)), .message(Array("{\"a\":1}".utf8))])
        #expect(junk.framing == .newlineDelimited)
        // "Con" could still become a header: nothing is decided until it can't.
        var waiting = MessageFramer()
        #expect(waiting.push(Array("Con".utf8)).isEmpty)
        #expect(waiting.framing == nil)
        #expect(waiting.push(Array("tent-Length: 2\r\n\r\n{}".utf8)) == [.message(Array("{}".utf8))])
    }

    /// A message refused for its charset is skipped by its Content-Length, so the next one is read whole.
    @Test func aRefusedMessageDoesNotSwallowTheNext() {
        var f = MessageFramer()
        let events = f.push(Array("Content-Length: 9\r\nContent-Type: application/json; charset=latin1\r\n\r\n{\"a\":\"x\"}Content-Length: 7\r\n\r\n{\"b\":1}".utf8))
        #expect(events.count == 2)
        if case .malformedHeader(let m) = events.first { #expect(m.contains("latin1")) } else { Issue.record("expected malformedHeader") }
        #expect(events.last == .message(Array("{\"b\":1}".utf8)))
    }

    /// A Content-Length that is no number leaves the body's end unknown: the framer drops bytes
    /// until the next header block, so every later message is read whole, however the stream
    /// is split, and the rest of the bad message is not answered again at the end of input.
    @Test(arguments: ["abc", "-5", "99999999999999999999999", "0x10", ""])
    func aHeaderWithoutAUsableLengthResynchronisesAtTheNextHeaderBlock(_ length: String) {
        let wire = Array(("Content-Length: \(length)\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}"
            + "Content-Length: 7\r\n\r\n{\"b\":1}"
            + "content-type: application/json\r\nContent-Length: 7\r\n\r\n{\"c\":2}").utf8)
        for split in [wire.count, 1, 5] {
            var f = MessageFramer()
            var events: [FrameEvent] = []
            var i = 0
            while i < wire.count {
                events += f.push(wire[i..<min(i + split, wire.count)])
                i += split
            }
            events += f.finish()
            #expect(events.count == 3, "split \(split): \(events)")
            if case .malformedHeader(let m) = events.first { #expect(m.contains("Content-Length")) } else { Issue.record("expected malformedHeader, split \(split)") }
            #expect(Array(events.dropFirst()) == [.message(Array("{\"b\":1}".utf8)), .message(Array("{\"c\":2}".utf8))])
        }
        var tail = MessageFramer()
        _ = tail.push(Array("Content-Length: x\r\n\r\n{\"a\":1}".utf8))
        #expect(tail.finish() == [])
    }

    /// A header block over the cap is refused once, and the next header block is read.
    @Test func anOverlongHeaderBlockResynchronises() {
        var f = MessageFramer()
        var events = f.push(Array(("Content-Length: 2\r\nX-Junk: " + String(repeating: "a", count: 20_000)).utf8))
        events += f.push(Array("\r\n\r\n{}Content-Length: 7\r\n\r\n{\"b\":1}".utf8))
        #expect(events.count == 2)
        #expect(events.last == .message(Array("{\"b\":1}".utf8)))
    }

    @Test func aBodyOrHeaderCutShortAtEndOfInputIsReported() {
        var body = MessageFramer()
        #expect(body.push(Array("Content-Length: 10\r\n\r\n{\"a\"".utf8)).isEmpty)
        #expect(body.finish() == [.truncated("the input ended after 4 of the 10 bytes its Content-Length announced")])
        var header = MessageFramer()
        #expect(header.push(Array("Content-Length: 10\r\n".utf8)).isEmpty)
        #expect(header.finish() == [.truncated("the input ended in the middle of a header block")])
    }

    @Test func detectsContentLengthAndReadsBodiesSplitAnywhere() {
        let body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}"
        let wire = Array("Content-Length: \(body.utf8.count)\r\nContent-Type: application/vscode-jsonrpc; charset=utf8\r\n\r\n\(body)Content-Length: 2\r\n\r\n{}".utf8)
        // Feed one byte at a time: framing must not depend on how reads split the stream.
        var f = MessageFramer()
        var events: [FrameEvent] = []
        for b in wire { events += f.push([b]) }
        #expect(f.framing == .contentLength)
        #expect(events == [.message(Array(body.utf8)), .message(Array("{}".utf8))])
    }

    @Test func rejectsUnsupportedCharsetAndMissingLength() {
        var f = MessageFramer()
        let e1 = f.push(Array("Content-Length: 2\r\nContent-Type: application/json; charset=latin1\r\n\r\n".utf8))
        #expect(e1.count == 1)
        if case .malformedHeader(let m) = e1[0] { #expect(m.contains("latin1")) } else { Issue.record("expected malformedHeader") }
        var g = MessageFramer()
        let e2 = g.push(Array("Content-Type: application/json\r\n\r\n".utf8))
        #expect(e2 == [.malformedHeader("header block has no Content-Length")])
    }

    @Test func oversizedContentLengthIsSkippedWithoutBuffering() {
        var f = MessageFramer(maxMessageSize: 10)
        var events = f.push(Array("Content-Length: 100000\r\n\r\n".utf8))
        #expect(events == [.oversized(size: 100000)])
        // Stream the body in chunks; nothing is reported until the next message.
        for _ in 0..<100 { events = f.push([UInt8](repeating: 0x41, count: 1000)); #expect(events.isEmpty) }
        #expect(f.push(Array("Content-Length: 2\r\n\r\n{}".utf8)) == [.message(Array("{}".utf8))])
    }

    @Test func oversizedLineIsDiscardedUntilItsNewline() {
        var f = MessageFramer(maxMessageSize: 16)
        #expect(f.push(Array("{\"a\":\"".utf8)).isEmpty)
        #expect(f.push([UInt8](repeating: 0x61, count: 50)).isEmpty)
        #expect(f.push([UInt8](repeating: 0x61, count: 50)).isEmpty)
        let events = f.push(Array("\"}\n{\"ok\":1}\n".utf8))
        #expect(events == [.oversized(size: 108), .message(Array("{\"ok\":1}".utf8))])
    }

    @Test func frameEncoderProducesBothFramings() {
        #expect(FrameEncoder.frame(Array("{}".utf8), as: .newlineDelimited) == Array("{}\n".utf8))
        #expect(FrameEncoder.frame(Array("{}".utf8), as: .contentLength) == Array("Content-Length: 2\r\n\r\n{}".utf8))
    }
}
