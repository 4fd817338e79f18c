import Foundation
import Synchronization

/// Writes framed messages to the output file descriptor from one writer thread. Senders only
/// append to a buffer, so replies keep their order, a slow client never blocks a handler, and
/// under load many messages leave in one `write(2)`. Messages sent before the framing is known
/// (before the first input byte) are held until it is.
///
/// The rule behind its `nonisolated(unsafe)` fields: each is read and written only while
/// `condition` is locked, except `spare`, which only the writer thread touches (it swaps
/// `buffer` and `spare` under the lock, then writes `spare` unlocked while senders append to
/// `buffer`).
final class OutputChannel: Sendable {
    private let sink: any ByteSink
    private let condition = NSCondition()
    private nonisolated(unsafe) var buffer: [UInt8] = []
    /// The buffer being written; swapped with `buffer`, so neither is reallocated per write.
    private nonisolated(unsafe) var spare: [UInt8] = []
    /// Messages (serialised, not framed) sent before the framing was known.
    private nonisolated(unsafe) var pending: [[UInt8]] = []
    private nonisolated(unsafe) var currentFraming: Framing?
    private nonisolated(unsafe) var writing = false
    private nonisolated(unsafe) var closed = false
    /// The writer thread waits on `condition` (only then do senders signal it).
    private nonisolated(unsafe) var sleeping = false
    /// While set (`cork`), what is sent collects until `corkLimit` bytes, `uncork`, or
    /// `corkTimeout`, and then leaves in one write.
    private nonisolated(unsafe) var corked = false
    /// Callers of `flush` and `written` waiting: the writer does not hold corked bytes back
    /// from them.
    private nonisolated(unsafe) var flushWaiters = 0
    /// Callers of `written` to resume once all that was sent has been written.
    private nonisolated(unsafe) var writtenWaiters: [CheckedContinuation<Void, Never>] = []
    /// Bytes handed over and not yet written (`buffer` plus the `spare` being written).
    private nonisolated(unsafe) var unwritten = 0
    /// Callers of `waitForRoom` to resume once `unwritten` is at or below `lowWater`.
    private nonisolated(unsafe) var roomWaiters: [CheckedContinuation<Void, Never>] = []
    /// Above this many unwritten bytes, `waitForRoom` blocks; it resumes at `lowWater`.
    static let highWater = 8 << 20
    /// How often the idle writer looks for more to write before it sleeps.
    static let checksBeforeSleeping = 2
    static let lowWater = 4 << 20
    /// Corked output leaves once this much has collected (an engine-socket frame's worth)...
    static let corkLimit = 64 << 10
    /// ...or once it has waited this long (seconds), whatever holds up the uncork.
    private let corkTimeout: Double

    /// Buffers of channels that ended, kept for the next ones (at most `keptBuffers`, each of
    /// at most `keptCapacity` bytes): under load, a new connection's output would otherwise grow
    /// its buffers from nothing — fresh pages and a copy at every doubling, for every client.
    private static let recycled = Mutex<[[UInt8]]>([])
    static let keptBuffers = 16
    static let keptCapacity = 1 << 20

    init(sink: any ByteSink, corkTimeout: Double = 0.002) {
        self.sink = sink
        self.corkTimeout = corkTimeout
        Self.recycled.withLock { kept in
            if let b = kept.popLast() { buffer = b }
            if let b = kept.popLast() { spare = b }
        }
        // The thread holds the channel until `close`, then writes what is left and ends.
        LoopThreads.shared.run { self.writerLoop() }
    }

    var framing: Framing? {
        condition.lock()
        defer { condition.unlock() }
        return currentFraming
    }

    func setFraming(_ f: Framing) {
        condition.lock()
        currentFraming = f
        for body in pending {
            let framed = FrameEncoder.frame(body, as: f)
            buffer.append(contentsOf: framed)
            unwritten += framed.count
        }
        pending.removeAll()
        condition.broadcast()  // the writer, not a `flush` caller, must wake
        condition.unlock()
    }

    func send(_ message: JSONValue) { send(body: JSONWriter.write(message)) }

    /// Sends the success response to request `id` whose result is serialised already, written
    /// straight into the buffer (the same bytes as `OutgoingMessage.response(id:encodedResult:)`).
    func send(responseTo id: RequestID, encodedResult: EncodedJSON) {
        condition.lock()
        guard currentFraming == .newlineDelimited, !closed else {
            condition.unlock()
            send(body: OutgoingMessage.response(id: id, encodedResult: encodedResult))
            return
        }
        let before = buffer.count
        OutgoingMessage.appendResponse(id: id, encodedResult: encodedResult, to: &buffer)
        buffer.append(0x0A)
        unwritten += buffer.count - before
        wakeWriterIfDue()
        condition.unlock()
    }

    /// Sends one message, serialised (`JSONWriter`'s bytes: never a raw newline).
    func send(body: [UInt8]) {
        condition.lock()
        if closed {
            condition.unlock()
            return
        }
        if let f = currentFraming {
            let before = buffer.count
            if f == .newlineDelimited {
                buffer.append(contentsOf: body)
                buffer.append(0x0A)
            } else {
                buffer.append(contentsOf: FrameEncoder.frame(body, as: f))
            }
            unwritten += buffer.count - before
            wakeWriterIfDue()
        } else {
            pending.append(body)
        }
        condition.unlock()
    }

    /// Wakes the sleeping writer when what is buffered is due to leave. Call with `condition` locked.
    private func wakeWriterIfDue() {
        // Broadcast: `flush` callers wait on the same condition, and a signal could wake one of
        // them instead of the writer.
        if sleeping && (!corked || buffer.count >= Self.corkLimit) { condition.broadcast() }
    }

    /// Holds what is sent from now on back until `uncork` (or `corkLimit` bytes, or
    /// `corkTimeout`): a reading loop that answers a run of pipelined requests sends their
    /// replies in a few large writes rather than many small ones, each of which wakes the
    /// client (and, through the engine socket, its forwarder) once.
    func cork() {
        condition.lock()
        corked = true
        condition.unlock()
    }

    /// Lets what `cork` held back leave now.
    func uncork() {
        condition.lock()
        corked = false
        if sleeping && !buffer.isEmpty { condition.broadcast() }
        condition.unlock()
    }

    /// Returns at once while at most `highWater` bytes wait to be written; otherwise once the
    /// writer has brought that down to `lowWater`.
    func waitForRoom() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            condition.lock()
            if unwritten <= Self.highWater || closed {
                condition.unlock()
                c.resume()
                return
            }
            roomWaiters.append(c)
            condition.unlock()
        }
    }

    /// Lets the writer thread end once what was sent has been written; later sends are dropped.
    func close() {
        condition.lock()
        closed = true
        let waiters = roomWaiters
        roomWaiters.removeAll()
        condition.broadcast()
        condition.unlock()
        for c in waiters { c.resume() }
    }

    /// Returns once everything sent so far has been written.
    func flush() {
        condition.lock()
        flushWaiters += 1
        condition.broadcast()  // a writer holding corked bytes lets them go
        while !buffer.isEmpty || writing { condition.wait() }
        flushWaiters -= 1
        condition.unlock()
    }

    /// Returns once everything sent so far has been written, as `flush` does, without holding
    /// a thread meanwhile (for callers on the cooperative pool).
    func written() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            condition.lock()
            if buffer.isEmpty && !writing {
                condition.unlock()
                c.resume()
                return
            }
            writtenWaiters.append(c)
            flushWaiters += 1
            condition.broadcast()  // a writer holding corked bytes lets them go
            condition.unlock()
        }
    }

    private func writerLoop() {
        while true {
            condition.lock()
            var idleChecks = 0
            var corkDeadline: Date?
            while !closed {
                if buffer.isEmpty {
                    // Under load the next reply is usually a moment away: look again (yielding
                    // the CPU) before sleeping, which spares a sleep and a wake-up per reply.
                    if idleChecks < Self.checksBeforeSleeping {
                        idleChecks += 1
                        condition.unlock()
                        sched_yield()
                        condition.lock()
                        continue
                    }
                    sleeping = true
                    condition.wait()
                    sleeping = false
                    continue
                }
                guard corked && buffer.count < Self.corkLimit && flushWaiters == 0 else { break }
                let deadline = corkDeadline ?? Date(timeIntervalSinceNow: corkTimeout)
                corkDeadline = deadline
                sleeping = true
                let woken = condition.wait(until: deadline)
                sleeping = false
                if !woken { break }  // held long enough: what there is leaves
            }
            if buffer.isEmpty && closed {
                condition.unlock()
                recycleBuffers()
                return
            }
            swap(&buffer, &spare)
            writing = true
            condition.unlock()
            writeAll(spare)
            let done = spare.count
            spare.removeAll(keepingCapacity: true)
            condition.lock()
            writing = false
            unwritten -= done
            var resumed: [CheckedContinuation<Void, Never>] = []
            if unwritten <= Self.lowWater {
                resumed = roomWaiters
                roomWaiters.removeAll()
            }
            if buffer.isEmpty {
                resumed += writtenWaiters
                flushWaiters -= writtenWaiters.count
                writtenWaiters.removeAll()
            }
            condition.broadcast()
            condition.unlock()
            for c in resumed { c.resume() }
        }
    }

    /// Hands the buffers to the channels to come (the writer's last step: nothing touches them after).
    private func recycleBuffers() {
        condition.lock()
        var mine = [buffer, spare]
        buffer = []
        spare = []
        condition.unlock()
        Self.recycled.withLock { kept in
            for i in mine.indices where mine[i].capacity <= Self.keptCapacity && kept.count < Self.keptBuffers {
                mine[i].removeAll(keepingCapacity: true)
                kept.append(mine[i])
            }
        }
    }

    private func writeAll(_ bytes: [UInt8]) {
        // A peer that is gone gets nothing more; what was sent to it is dropped.
        _ = bytes.withUnsafeBytes { sink.write($0) }
    }
}
