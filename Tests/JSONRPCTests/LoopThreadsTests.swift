import Foundation
import Synchronization
import Testing
@testable import JSONRPC

/// Connection loops run on kept threads: a thread whose loop ended takes the next, and loops
/// that run at once never wait for one another's thread.
@Suite struct LoopThreadsTests {
    @Test func aThreadWhoseLoopEndedRunsTheNextLoop() async {
        let threads = LoopThreads(maxIdle: 4, idleLifetime: 600)
        let ran = Mutex<[pthread_t]>([])
        threads.run { ran.withLock { $0.append(pthread_self()) } }
        #expect(await eventually { threads.idleThreads == 1 })
        threads.run { ran.withLock { $0.append(pthread_self()) } }
        #expect(await eventually { ran.withLock { $0.count } == 2 })
        let both = ran.withLock { $0 }
        #expect(both.count == 2 && both[0] == both[1], "the second loop got a new thread")
    }

    @Test func loopsThatRunAtOnceEachGetAThreadAndAtMostMaxIdleAreKept() async {
        let threads = LoopThreads(maxIdle: 2, idleLifetime: 600)
        let started = Mutex(0)
        let gate = DispatchSemaphore(value: 0)
        for _ in 0..<6 {
            threads.run {
                started.withLock { $0 += 1 }
                gate.wait()
            }
        }
        #expect(await eventually { started.withLock { $0 } == 6 }, "a loop waited for another loop's thread")
        for _ in 0..<6 { gate.signal() }
        #expect(await eventually { threads.idleThreads == 2 })
        #expect(threads.idleThreads <= 2)
    }
}
