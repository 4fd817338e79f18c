import Foundation
import Synchronization

/// A serial executor backed by one thread of its own: the engine's executor, on which its
/// state and its SQLite calls live.
///
/// The engine writes SQLite synchronously, so that a change, its events and its cache update
/// happen as one step that no other request can interleave with (what the per-object ordering
/// of writes, and "acknowledged only after commit", rest on). On Swift's cooperative pool that
/// blocking work would take one of its few threads (two on a 2-core machine) for every fsync;
/// on this thread it delays only the engine's own next job, never a log reader, a build's
/// tasks or another client's connection.
final class PersistenceExecutor: SerialExecutor, Sendable {
    private let queue: JobQueue

    /// Starts the thread, named `name` (seen in `top -H` and in a debugger).
    init(name: String) {
        let queue = JobQueue()
        self.queue = queue
        let thread = Thread {
            Thread.current.name = name
            queue.run()
        }
        // Jobs run JSON coding and SQLite on this stack, as they would on a pool thread's.
        thread.stackSize = 8 << 20
        thread.start()
    }

    deinit {
        // No job can be pending: an actor (and its executor) outlives the jobs it has. The
        // thread ends once it has seen the queue closed.
        queue.close()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        queue.push(UnownedJob(job), on: asUnownedSerialExecutor())
    }

    /// Whether the caller runs on this executor's thread.
    var runsCurrentThread: Bool { queue.isCurrentThread }

    /// Traps unless the caller runs on this executor's thread (what `assumeIsolated` asks).
    func checkIsolated() {
        precondition(queue.isCurrentThread, "not on the engine's executor thread")
    }

    /// The jobs waiting for the thread, in the order they were enqueued. The thread takes all
    /// that are waiting at once and runs them in order, and is woken only when it sleeps: under
    /// load a job costs an append and no system call.
    private final class JobQueue: Sendable {
        private struct State {
            var jobs: [(job: UnownedJob, executor: UnownedSerialExecutor)] = []
            var closed = false
            /// Set by the thread when it found nothing to run and is about to wait.
            var sleeping = false
            var thread: pthread_t?
        }
        private let state = Mutex(State())
        private let wake = DispatchSemaphore(value: 0)

        var isCurrentThread: Bool { state.withLock { $0.thread }.map { pthread_equal($0, pthread_self()) != 0 } ?? false }

        func push(_ job: UnownedJob, on executor: UnownedSerialExecutor) {
            if state.withLock({ s -> Bool in
                s.jobs.append((job, executor))
                defer { s.sleeping = false }
                return s.sleeping
            }) { wake.signal() }
        }

        func close() {
            if state.withLock({ s -> Bool in
                s.closed = true
                defer { s.sleeping = false }
                return s.sleeping
            }) { wake.signal() }
        }

        /// Runs jobs, in order, until the queue is closed and empty.
        func run() {
            state.withLock { $0.thread = pthread_self() }
            var batch: [(job: UnownedJob, executor: UnownedSerialExecutor)] = []
            while true {
                let closed = state.withLock { s -> Bool in
                    swap(&batch, &s.jobs)
                    if batch.isEmpty && !s.closed { s.sleeping = true }
                    return s.closed
                }
                if batch.isEmpty {
                    if closed { return }
                    wake.wait()
                    continue
                }
                for item in batch { item.job.runSynchronously(on: item.executor) }
                batch.removeAll(keepingCapacity: true)
            }
        }
    }
}
