import Synchronization

/// Collects the replies of one batch in request order, and hands them over when all are in.
actor BatchCollector {
    private var slots: [JSONValue?] = []
    private var filled = 0
    private var waiter: CheckedContinuation<[JSONValue], Never>?
    private var sealed = false

    nonisolated func reserve() -> Int {
        // Reservation happens synchronously during dispatch, before any fill can run.
        reservations.add(1, ordering: .relaxed).oldValue
    }
    private nonisolated let reservations = Atomic<Int>(0)

    func fill(_ slot: Int, _ value: JSONValue) {
        if slots.count <= slot { slots.append(contentsOf: Array(repeating: nil, count: slot - slots.count + 1)) }
        slots[slot] = value
        filled += 1
        resumeIfDone()
    }

    func results() async -> [JSONValue] {
        sealed = true
        if filled == reservations.load(ordering: .relaxed) { return slots.compactMap { $0 } }
        return await withCheckedContinuation { waiter = $0; resumeIfDone() }
    }

    private func resumeIfDone() {
        guard sealed, filled == reservations.load(ordering: .relaxed), let w = waiter else { return }
        waiter = nil
        w.resume(returning: slots.compactMap { $0 })
    }
}
