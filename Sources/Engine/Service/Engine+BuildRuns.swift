import BuildRuntime
import Foundation
import SlipwayProtocol

extension Engine {
    // MARK: How builds are named to clients

    /// Tells every session a build's status: by image and build, with the run's name when the
    /// build is a build run; a stand-alone run by its name only.
    func broadcastBuildStatus(_ key: BuildKey, status: BuildState, previous: BuildState?, phase: Build.Phase?, message: String?) {
        let run = key.standaloneRun ?? (try? store.buildRun(namespace: key.namespace, image: key.image, build: key.number))?.name  // only an extra: the status is sent without it
        sessions.broadcast(.buildStatusChanged(.init(namespace: key.namespace, image: key.publicImage, build: key.publicBuild, buildrun: run,
                                                     status: status, previous: previous, phase: phase?.rawValue, message: message, time: Timestamp.now())))
    }

    /// The name of the build run a build of an image is, if it is one (its log lines carry it).
    public nonisolated func runName(of key: BuildKey) -> String? {
        guard key.standaloneRun == nil else { return nil }  // those lines carry it already
        return (try? store.buildRun(namespace: key.namespace, image: key.image, build: key.number))?.name  // only an extra: lines are sent without it
    }

    /// What the events of an image's builds are about: the image, or the stand-alone run it carries.
    nonisolated func eventObject(namespace: String, image: String) -> EventObject {
        if let run = BuildKey.standaloneRun(ofImage: image) {
            return EventObject(kind: "BuildRun", namespace: namespace, name: run)
        }
        return EventObject(kind: "Image", namespace: namespace, name: image)
    }
}

/// A build run with its build, for clients.
public struct BuildRunView: Sendable {
    public var run: BuildRun
    public var build: Build
}

extension Engine {
    // MARK: Submitting





    // MARK: Reading









    // MARK: Lifetimes


}
