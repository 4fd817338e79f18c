import Foundation
import JSONRPC
import Testing
@testable import SlipwayServer

/// The frames of the engine socket, split from bytes as they arrive.
@Suite struct EngineFrameTests {
    static func frame(_ type: Character, _ payload: [UInt8]) -> [UInt8] {
        let n = UInt32(payload.count)
        return [type.asciiValue!, UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + payload
    }

    @Test func framesAreSplitWhereverTheBytesBreak() throws {
        let stream = Self.frame("H", Array("{\"version\":\"1\"}".utf8)) + Self.frame("D", Array(repeating: 7, count: 70_000)) + Self.frame("E", [])
        for chunk in [1, 3, 5, 4096, stream.count] {
            var reader = FrameReader()
            var frames: [(UInt8, Int)] = []
            var offset = 0
            while offset < stream.count {
                reader.push(stream[offset..<min(offset + chunk, stream.count)])
                offset += chunk
                while let f = try reader.next() { frames.append((f.type, f.payload.count)) }
            }
            #expect(frames.map(\.0) == [UInt8(ascii: "H"), UInt8(ascii: "D"), UInt8(ascii: "E")], "chunks of \(chunk)")
            #expect(frames.map(\.1) == [15, 70_000, 0], "chunks of \(chunk)")
        }
    }

    @Test func aFrameOverTheLimitIsRefused() {
        var reader = FrameReader()
        reader.push([UInt8(ascii: "D"), 0x7F, 0xFF, 0xFF, 0xFF])
        #expect(throws: FrameReader.Malformed.self) { try reader.next() }
    }

    /// Welcome and close payloads are the words the C forwarder reads, byte for byte.
    @Test func welcomeAndClosePayloadsAreTheForwardersWords() {
        #expect(Welcome.ok.payload == "ok")
        #expect(Welcome.retry("the engine is stopping").payload == "retry the engine is stopping")
        #expect(Welcome.fail(status: 2, "unknown argument").payload == "fail 2 unknown argument")
        #expect(Closing(status: 1, "slipway: stopped\n").payload == "1\nslipway: stopped\n")
        #expect(Closing(status: 0, "").payload == "0\n")
        let read = Closing(payload: Array("3\nsome text\nmore\n".utf8))
        #expect(read == Closing(status: 3, "some text\nmore\n"))
        #expect(Closing(payload: Array("x\n".utf8)).status == 1)
    }

    /// `engine status|stop` travel in the hello as `command` and `now`, and are read back once.
    @Test func theHelloCarriesTheControlCommand() {
        let stop = EngineHello.parse(Array(#"{"version":"1","command":"stop","now":true}"#.utf8))
        #expect(stop?.command == .stop(now: true))
        #expect(EngineHello.parse(Array(#"{"version":"1","command":"status","now":false}"#.utf8))?.command == .status)
        #expect(EngineHello.parse(Array(#"{"version":"1","args":[],"pid":1}"#.utf8))?.command == nil)
    }
}
