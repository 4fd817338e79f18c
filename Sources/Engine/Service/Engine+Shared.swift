import SlipwayProtocol
import BuildRuntime
import Foundation

/// What several services share: the engine's image catalog, where builds write, how builds are
/// named to clients, and the helpers that say what no client hears.
extension Engine {
    // MARK: How builds are named to clients

    /// Tells every session a build's status: by image and build, with the run's name when the
    /// build is a build run; a stand-alone run by its name only.
    func broadcastBuildStatus(_ key: BuildKey, status: BuildState, previous: BuildState?, phase: BuildPhase?, message: String?) {
        let run = key.standaloneRun ?? buildRunName(of: key)
        sessions.broadcast(.buildStatusChanged(.init(namespace: key.namespace, image: key.publicImage, build: key.publicBuild, buildrun: run,
                                                     status: status, previous: previous, phase: phase?.rawValue, message: message, time: Timestamp.now())))
    }

    /// The name of the build run a build of an image is, if it is one (its log lines carry it).
    public nonisolated func runName(of key: BuildKey) -> String? {
        guard key.standaloneRun == nil else { return nil }  // those lines carry it already
        return buildRunName(of: key)
    }

    /// The name of the run a build of an image is; nil when it is none, or when that cannot be
    /// read (said on stderr): the name is only an extra of a status or a log line, which is
    /// sent without it.
    private nonisolated func buildRunName(of key: BuildKey) -> String? {
        do {
            return try store.buildRun(namespace: key.namespace, image: key.image, build: key.number)?.name
        } catch {
            report("whether build \(key.number) of \(key.namespace)/\(key.image) is a build run cannot be read: \(error); it is shown without its run's name")
            return nil
        }
    }

    /// What the events of an image's builds are about: the image, or the stand-alone run it carries.
    nonisolated func eventObject(namespace: String, image: String) -> EventObject {
        if let run = BuildKey.standaloneRun(ofImage: image) {
            return EventObject(kind: "BuildRun", namespace: namespace, name: run)
        }
        return EventObject(kind: "Image", namespace: namespace, name: image)
    }

    // MARK: Images, as last committed

    func loadImages() throws -> [ImageKey: Image] {
        if let c = imageCatalog.all { return c }
        var c: [ImageKey: Image] = [:]
        for i in try store.objects(Image.self, kind: .image) { c[ImageKey(namespace: i.namespace, name: i.name)] = i }
        imageCatalog.load(c)
        return c
    }

    func imageIfExists(_ ns: String, _ name: String) throws -> Image? {
        if let published = imageCatalog.image(ImageKey(namespace: ns, name: name)) { return published }
        return try loadImages()[ImageKey(namespace: ns, name: name)]
    }

    /// The image, or `notFound` (what a service that changes it starts from).
    func existingImage(_ ns: String, _ name: String) throws -> Image {
        guard let i = try imageIfExists(ns, name) else { throw Self.imageNotFound(ns, name) }
        return i
    }

    /// The image as last committed. Read from the catalog on the caller's thread, with no turn
    /// on the engine's: a query of one image costs a lock, not two thread switches.
    public nonisolated func image(_ ns: String, _ name: String) async throws -> Image {
        let found: Image?
        if let published = imageCatalog.image(ImageKey(namespace: ns, name: name)) {
            found = published
        } else {
            found = try await imageIfExists(ns, name)  // the first query loads the table
        }
        guard let found else { throw Self.imageNotFound(ns, name) }
        return found
    }

    private static func imageNotFound(_ ns: String, _ name: String) -> EngineError {
        EngineError.notFound("image", name, namespace: ns, hint: "list images with image/list, or create it with image/create")
    }

    func saveImage(_ image: Image) throws {
        try store.put(image, kind: .image, namespace: image.namespace, name: image.name)
        imageCatalog.put(image, at: ImageKey(namespace: image.namespace, name: image.name))
    }

    // MARK: Quota

    public var quota: Quota { options.quota }

    // MARK: Where builds write, and what no client hears

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

    // MARK: Secrets

    var secretsDirectory: String { path("secrets") }

    /// `text` with every stored secret value replaced by `***` (what logs and errors get).
    public nonisolated func redact(_ text: String) -> String { redactor.redact(text) }
}
