import Foundation
import Testing
@testable import SlipwayServer
import TestSupport

/// engine.log is rotated at its cap, one old file kept, without the engine reopening anything
/// but its own output.
@Suite struct EngineLogTests {
    @Test func theLogIsRotatedAtItsCap() throws {
        let dir = TempDir("log")
        let path = dir.path + "/engine.log"
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        func write(_ text: String) { _ = text.withCString { Glibc.write(fd, $0, strlen($0)) } }
        write(String(repeating: "a", count: 500))
        EngineLog.rotateIfLarge(path: path, limit: 1000, descriptors: [fd])
        #expect(!FileManager.default.fileExists(atPath: path + ".1"), "rotated below the cap")
        write(String(repeating: "b", count: 600))
        EngineLog.rotateIfLarge(path: path, limit: 1000, descriptors: [fd])
        #expect(try String(contentsOfFile: path + ".1", encoding: .utf8).count == 1100)
        write("after")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "after")
        // Again: the older file is replaced, never more than one kept.
        write(String(repeating: "c", count: 1000))
        EngineLog.rotateIfLarge(path: path, limit: 1000, descriptors: [fd])
        #expect(try String(contentsOfFile: path + ".1", encoding: .utf8).hasPrefix("afterccc"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["engine.log", "engine.log.1"])
    }
}
