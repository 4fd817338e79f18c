import Foundation

/// A fresh temporary folder, removed when the value is released.
public final class TempDir: Sendable {
    public let url: URL
    public var path: String { url.path }
    public init(_ label: String = "t") {
        url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("slipway-\(label)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit {
        // An engine still writing in a state directory can make one removal fail (a file
        // appears in a folder being removed); once the folder is gone the engine stops.
        for _ in 0..<5 where FileManager.default.fileExists(atPath: url.path) {
            try? FileManager.default.removeItem(at: url)
        }
    }
}
