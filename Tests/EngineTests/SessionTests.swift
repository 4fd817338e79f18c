import SlipwayProtocol
@testable import Engine
import Foundation
import Synchronization
import Testing
import TestSupport

/// One engine, several sessions: each gets what it subscribed to, in order.
@Suite struct SessionTests {
    /// What a session was sent: notifications, and the log lines it read when told a log grew.
    enum Item: Sendable {
        case notification(EngineNotification)
        case line(BuildLogLine)
        var kind: NotificationKind {
            switch self {
            case .notification(let n): return n.kind
            case .line: return .buildLog
            }
        }
    }

    final class Recorder: Sendable {
        let items = Mutex<[Item]>([])
        func record(_ session: EngineSession) -> Task<Void, Never> {
            Task {
                for await m in session.messages {
                    switch m {
                    case .notification(let n): items.withLock { $0.append(.notification(n)) }
                    case .logAvailable(let key):
                        while case let lines = session.readLog(key), !lines.isEmpty {
                            items.withLock { $0 += lines.map(Item.line) }
                        }
                    case .barrier(let c): c.resume()
                    }
                }
            }
        }
    }

    @Test func sessionsHaveTheirOwnSubscriptions() async throws {
        let state = TempDir("state")
        let engine = try Engine(stateDirectory: state.url, options: EngineOptions(launcherPath: Repo.binDir.appendingPathComponent("slipway-launcher").path))
        let quiet = engine.openSession(), logs = engine.openSession(), other = engine.openSession()
        _ = quiet.configure(enable: [], disable: [.event, .imageStatusChanged], namespace: nil)
        _ = logs.configure(enable: [.buildLog], disable: [], namespace: nil)
        _ = other.configure(enable: [.buildLog], disable: [], namespace: "elsewhere")
        let (rq, rl, ro) = (Recorder(), Recorder(), Recorder())
        let tasks = [rq.record(quiet), rl.record(logs), ro.record(other)]

        _ = try await engine.createClusterStack(StackSpec(name: "base", buildImage: HostStack.build, runImage: HostStack.run, id: "io.slipway.test"))
        _ = try await engine.createClusterStore(name: "default", buildpacks: [Repo.buildpacks.appendingPathComponent("build-script").path,
                                                                              Repo.buildpacks.appendingPathComponent("procfile").path])
        _ = try await engine.createBuilder(BuilderSpec(name: "default", stack: "base", store: "default",
                                                       order: [OrderGroup(group: [OrderEntry(id: "slipway/procfile")])]))
        let spec = ImageSpec(name: "multi", source: SourceSpec(local: .init(path: HelloApp.path)))
        let change = try await engine.createImage(spec)
        let build = try await engine.wait(namespace: "default", image: "multi", number: change.build, timeout: 120)
        #expect(build.status == .SUCCESS)
        for s in [quiet, logs, other] { await s.flush() }

        let q = rq.items.withLock { $0 }, l = rl.items.withLock { $0 }, o = ro.items.withLock { $0 }
        #expect(q.allSatisfy { $0.kind == .buildStatusChanged })
        #expect(q.count == 3)
        let lines = l.compactMap { n -> BuildLogLine? in if case .line(let line) = n { return line }; return nil }
        #expect(!lines.isEmpty)
        #expect(lines.map(\.seq) == Array(1...lines.count))
        #expect(l.contains { $0.kind == .event })
        #expect(l.contains { $0.kind == .imageStatusChanged })
        // The log line that says the build succeeded comes before SUCCESS in the same session.
        let lastLog = l.lastIndex { $0.kind == .buildLog }!
        let success = l.firstIndex { if case .notification(.buildStatusChanged(let s)) = $0 { return s.status == .SUCCESS }; return false }!
        #expect(lastLog < success)
        // A session limited to another namespace hears nothing about "default" images.
        #expect(o.allSatisfy { n in
            if case .notification(.event(let e)) = n { return e.object.namespace == nil }  // cluster-scoped objects
            return false
        })
        for s in [quiet, logs, other] { await engine.closeSession(s) }
        for t in tasks { await t.value }
    }

    /// The writer tells sessions of a line after writing it, so a subscription's reader may read
    /// the line first, catch up and go; the late word of that line must not make a new reader
    /// that delivers it again (seen as a repeated seq under load).
    @Test func aLateWordOfALineAlreadyReadDeliversItOnce() throws {
        let dir = TempDir("late-log")
        let session = EngineSession(id: 1)
        _ = session.configure(enable: [.buildLog], disable: [], namespace: nil)
        let key = BuildKey(namespace: "default", image: "a", number: 1, incarnation: "i")
        let path = dir.path + "/1.log"
        func line(_ seq: Int) -> String {
            let l = BuildLogLine(namespace: "default", image: "a", build: 1, buildrun: nil, seq: seq, phase: "build", stream: "stdout", line: "line \(seq)", time: "t")
            let text = BuildLogFile.encode(l)
            return text.hasSuffix("\n") ? text : text + "\n"
        }
        try (line(1) + line(2)).write(toFile: path, atomically: false, encoding: .utf8)
        session.logAdvanced(key, path: path, seq: 1, offset: 0)
        #expect(session.readLog(key).map(\.seq) == [1, 2])  // line 2 read before its word came
        #expect(session.readLog(key).isEmpty)  // caught up: the reader goes
        session.logAdvanced(key, path: path, seq: 2, offset: Int64(line(1).utf8.count))
        #expect(session.readLog(key).isEmpty)
        // A new line after that is read, once.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(line(3).utf8))
        try handle.close()
        session.logAdvanced(key, path: path, seq: 3, offset: Int64((line(1) + line(2)).utf8.count))
        #expect(session.readLog(key).map(\.seq) == [3])
    }
}
