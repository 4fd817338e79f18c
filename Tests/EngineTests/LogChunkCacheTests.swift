import SlipwayProtocol
@testable import Engine
import Foundation
import Testing
import TestSupport

/// Readers of one build log share what was parsed of it, and never a chunk of another file.
@Suite struct LogChunkCacheTests {
    let key = BuildKey(namespace: "default", image: "a", number: 1, incarnation: "i")

    func row(_ seq: Int, _ text: String) -> String {
        BuildLogFile.encode(BuildLogLine(namespace: "default", image: "a", build: 1, seq: seq, phase: "build", stream: "stdout", line: text, time: "2026-12-08T00:00:00.000Z"))
    }

    /// Ten followers read each chunk at the same offsets: the second reader gets the lines the
    /// first parsed (here the file's bytes were changed in place between the two reads, which a
    /// log never is, to tell where the lines came from), and reads on from where they end.
    @Test func aSecondReaderAtTheSameOffsetTakesTheParsedChunk() throws {
        let dir = TempDir("logcache")
        let path = dir.path + "/1.log"
        try (row(1, "first") + row(2, "tab\there")).write(toFile: path, atomically: false, encoding: .utf8)
        var a = LogCursor(path: path, nextSeq: 1)
        #expect(a.read(key: key, maxBytes: 1 << 16).map(\.line) == ["first", "tab\there"])
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: 0)
        handle.write(Data(row(1, "FIRST").utf8))
        try handle.close()
        var b = LogCursor(path: path, nextSeq: 1)
        #expect(b.read(key: key, maxBytes: 1 << 16).map(\.line) == ["first", "tab\there"])
        #expect(b.offset == a.offset)
        var c = LogCursor(path: path, nextSeq: 2)
        #expect(c.read(key: key, maxBytes: 1 << 16).map(\.line) == ["tab\there"], "the reader's own nextSeq still applies")
        // A third reader's chunk after the shared one is read from the file.
        try FileHandle(forWritingAtPath: path).map { h in
            h.seekToEndOfFile()
            h.write(Data(row(3, "third").utf8))
            try h.close()
        }
        #expect(b.read(key: key, maxBytes: 1 << 16).map(\.line) == ["third"])
    }

    /// A log made again under the same path (an image deleted and created again) is another
    /// file: its readers get its own lines, even where it has the old one's size and inode.
    @Test func aLogMadeAgainUnderTheSamePathIsReadAfresh() throws {
        let dir = TempDir("logcache2")
        let path = dir.path + "/1.log"
        try row(1, "old build").write(toFile: path, atomically: false, encoding: .utf8)
        var a = LogCursor(path: path, nextSeq: 1)
        #expect(a.read(key: key, maxBytes: 1 << 16).map(\.line) == ["old build"])
        try FileManager.default.removeItem(atPath: path)
        try row(1, "new build").write(toFile: path, atomically: false, encoding: .utf8)
        var b = LogCursor(path: path, nextSeq: 1)
        #expect(b.read(key: key, maxBytes: 1 << 16).map(\.line) == ["new build"])
    }
}
