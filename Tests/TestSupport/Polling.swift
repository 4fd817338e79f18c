import Foundation

/// `body`'s first value within `seconds`, asked every 50 ms; nil when it gave none in time.
public func poll<T>(_ seconds: Double = 60, _ body: () throws -> T?) async throws -> T? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if let value = try body() { return value }
        try await Task.sleep(for: .milliseconds(50))
    }
    return nil
}

/// Waits until `condition` holds, failing with `what` after `timeout` seconds.
public func waitUntil(timeout: Double = 60, _ what: String, _ condition: () throws -> Bool) async throws {
    guard try await poll(timeout, { try condition() ? true : nil }) != nil else { throw TestFailure("timed out waiting until \(what)") }
}
