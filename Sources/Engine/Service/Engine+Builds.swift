import SlipwayProtocol
import BuildRuntime
import Foundation

extension Engine {
    // MARK: Queries













    // MARK: Scheduling


    /// Where a build's log is. A deleted image's build that is still ending writes to the file
    /// it opened, whose name is gone (`BuildLogWriter.abandon`).
    func logPath(_ key: BuildKey) -> String { path("logs", key.namespace, key.image, "\(key.number).log") }

    /// A build's scratch folder: by incarnation too, as a deleted image's build may still be
    /// ending (and removing its folder) while the build of the same number of an image created
    /// again under its name runs.
    func workPath(_ key: BuildKey) -> String { path("work", key.namespace, key.image, "\(key.number)-\(key.incarnation)") }


    /// Writes a problem that no client is waiting to hear about (a build that cannot be
    /// recorded) to stderr; it is also why the affected build ends as it does.
    nonisolated func report(_ message: String) {
        FileHandle.standardError.write(Data("slipway: \(redactor.redact(message))\n".utf8))
    }
















    /// The message of a build whose image was deleted before it finished.
    static let imageDeleted = "image deleted"
}
