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
    /// Bytes handed over and not yet written (`buffer` plus the `spare` being written).
    private nonisolated(unsafe) var unwritten = 0
    /// Callers of `waitForRoom` to resume once `unwritten` is at or below `lowWater`.
    private nonisolated(unsafe) var roomWaiters: [CheckedContinuation<Void, Never>] = []
    /// Above this many unwritten bytes, `waitForRoom` blocks; it resumes at `lowWater`.
    static let highWater = 8 << 20
    /// How often the idle writer looks for more to write before it sleeps.
    static let checksBeforeSleeping = 2
    static let lowWater = 4 << 20

    /// Buffers of channels that ended, kept for the next ones (at most `keptBuffers`, each of
    /// at most `keptCapacity` bytes): under load, a new connection's output would otherwise grow
    /// its buffers from nothing — fresh pages and a copy at every doubling, for every client.
    private static let recycled = Mutex<[[UInt8]]>([])
    static let keptBuffers = 32
    static let keptCapacity = 2 << 20

    init(sink: any ByteSink) {
        self.sink = sink
        Self.recycled.withLock { kept in
            if let b = kept.popLast() { buffer = b }
            if let b = kept.popLast() { spare = b }
        }
        // The thread holds the channel until `close`, then writes what is left and ends.
        let t = Thread { self.writerLoop() }
        t.stackSize = 1 << 18
        t.start()
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
        if sleeping { condition.broadcast() }  // as in `send(body:)`
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
            // Broadcast: `flush` callers wait on the same condition, and a signal could wake
            // one of them instead of the writer.
            if sleeping { condition.broadcast() }
        } else {
            pending.append(body)
        }
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
        while !buffer.isEmpty || writing { condition.wait() }
        condition.unlock()
    }

    private func writerLoop() {
        while true {
            condition.lock()
            var idleChecks = 0
            while buffer.isEmpty && !closed {
                // Under load the next reply is usually a moment away: look again (yielding the
                // CPU) before sleeping, which spares a sleep and a wake-up per reply.
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
