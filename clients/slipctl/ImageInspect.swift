import Foundation
import SlipwayProtocol

// `slipctl image inspect NAME [-b N]`: the image a build made, as `pack inspect` shows one
// (stack, base image, buildpacks, processes), with its config, labels and layers. The engine
// has no method that reads an image; slipctl reads it where the build wrote it: an OCI layout
// on this machine (`oci:DIR@sha256:…`, read beneath DIR without following links), or a
// registry through `skopeo` (with the user's registry credentials, as pack uses its keychain).

/// What `image inspect` shows (and `--output json` prints).
struct InspectedImage: Encodable {
    struct Layer: Encodable { var digest: String; var size: Int64 }
    struct Process: Encodable { var type: String; var command: [String]; var args: [String] }
    struct Config: Encodable {
        var entrypoint: [String]?
        var cmd: [String]?
        var workingDir: String?
        var user: String?
        /// Names only: values may be secrets.
        var env: [String]
    }
    var reference: String
    var stack: String?
    var baseImage: String?
    var baseTopLayer: String?
    var buildpacks: [BuildpackVersion]
    var processes: [Process]
    var config: Config
    var labels: [String: String]
    var layers: [Layer]
}

/// The OCI documents read from the image (only the fields shown).
struct OCIManifest: Decodable {
    struct Descriptor: Decodable { var digest: String; var size: Int64 }
    var config: Descriptor
    var layers: [Descriptor]
}

struct OCIConfig: Decodable {
    struct Inner: Decodable {
        var Env: [String]?
        var Entrypoint: [String]?
        var Cmd: [String]?
        var WorkingDir: String?
        var User: String?
        var Labels: [String: String]?
    }
    var config: Inner?
}

/// `io.buildpacks.build.metadata` and `io.buildpacks.lifecycle.metadata`, the fields pack shows.
struct BuildLabel: Decodable {
    struct Process: Decodable { var type: String; var command: [String]?; var args: [String]? }
    var buildpacks: [BuildpackVersion]?
    var processes: [Process]?
}

struct LifecycleLabel: Decodable {
    struct RunImage: Decodable { var topLayer: String?; var reference: String? }
    var runImage: RunImage?
}

/// Reads an image's manifest and config blobs: from an OCI layout or through skopeo.
enum ImageBlobs {
    static let maxBlobBytes = 8 << 20

    /// The manifest and config of `reference` (`oci:DIR@sha256:…` or `REGISTRY/REPO@sha256:…`).
    static func read(_ reference: String) throws -> (manifest: Data, config: (OCIManifest) throws -> Data) {
        if reference.hasPrefix("oci:"), let at = reference.range(of: "@", options: .backwards) {
            let layout = String(reference[reference.index(reference.startIndex, offsetBy: 4)..<at.lowerBound])
            let digest = String(reference[at.upperBound...])
            let manifest = try layoutBlob(layout, digest)
            return (manifest, { try layoutBlob(layout, $0.config.digest) })
        }
        let manifest = try skopeo(["inspect", "--raw", "docker://" + reference], reference: reference)
        return (manifest, { _ in try skopeo(["inspect", "--config", "--raw", "docker://" + reference], reference: reference) })
    }

    /// A blob of the layout at `layout`, opened beneath it without following any link, at most
    /// `maxBlobBytes`.
    static func layoutBlob(_ layout: String, _ digest: String) throws -> Data {
        let hex = digest.hasPrefix("sha256:") ? String(digest.dropFirst(7)) : ""
        guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { throw Arguments.Failure(message: "\(digest) is not a sha256 digest") }
        var fd = open(layout, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Arguments.Failure(message: "cannot open the image layout \(layout): \(String(cString: strerror(errno)))") }
        for (component, flags) in [("blobs", O_DIRECTORY), ("sha256", O_DIRECTORY), (hex, 0)] {
            let next = openat(fd, component, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | flags)
            close(fd)
            guard next >= 0 else { throw Arguments.Failure(message: "the image layout \(layout) has no blob \(digest) (or it is a link): \(String(cString: strerror(errno)))") }
            fd = next
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        let data = try handle.read(upToCount: maxBlobBytes + 1) ?? Data()
        guard data.count <= maxBlobBytes else { throw Arguments.Failure(message: "blob \(digest) of \(layout) is larger than \(maxBlobBytes) bytes") }
        return data
    }

    private static func skopeo(_ arguments: [String], reference: String) throws -> Data {
        guard let path = EngineSession.which("skopeo") else { throw Arguments.Failure(message: "reading \(reference) from its registry needs skopeo on PATH") }
        let p = Process(), out = Pipe(), err = Pipe()
        p.executableURL = URL(fileURLWithPath: path)
        let host = registryHost(ofReference: reference)
        p.arguments = arguments + (host.hasPrefix("127.0.0.1") || host.hasPrefix("localhost") ? ["--tls-verify=false"] : [])
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0, data.count <= maxBlobBytes else {
            throw Arguments.Failure(message: "cannot read \(reference) from its registry: \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return data
    }
}

func inspectImage(_ words: [String], _ engine: () throws -> EngineSession) throws -> Int32 {
    let a = try Arguments(words, spec: CommandTable.spec("image", "inspect"))
    try a.expect(1...1)
    let out = try Output(a.value("output"))
    var build: Int?
    if let b = a.value("build") {
        guard let n = Int(b) else { throw Arguments.Failure(message: "invalid argument \"\(b)\" for \"-b, --build\" flag: not a number") }
        build = n
    }
    let name = a.positional[0], namespace = a.value("namespace") ?? "default"
    let status = try engine().call(BuildStatus.self, BuildParams(image: name, namespace: namespace, build: build))
    guard let reference = status.image else {
        throw Arguments.Failure(message: "build \(status.number) of image \"\(name)\" made no image (\(status.status.rawValue)): 'slipctl build status \(name)' says why")
    }
    let image = try inspected(reference)
    if out.structured != nil { try out.resource(image); return 0 }
    emit(KpFormat.inspection(image), terminator: "")
    return 0
}

/// Reads the image at `reference` into what `image inspect` shows.
func inspected(_ reference: String) throws -> InspectedImage {
    let decoder = JSONDecoder()
    let (manifestData, configData) = try ImageBlobs.read(reference)
    let manifest: OCIManifest, config: OCIConfig
    do {
        manifest = try decoder.decode(OCIManifest.self, from: manifestData)
        config = try decoder.decode(OCIConfig.self, from: try configData(manifest))
    } catch let e as Arguments.Failure {
        throw e
    } catch {
        throw Arguments.Failure(message: "\(reference) is not an OCI image manifest and config that slipctl reads: \(error)")
    }
    let labels = config.config?.Labels ?? [:]
    // A label that does not decode is shown as it is, under Labels; its fields are then unknown.
    let build = labels["io.buildpacks.build.metadata"].flatMap { try? decoder.decode(BuildLabel.self, from: Data($0.utf8)) }
    let lifecycle = labels["io.buildpacks.lifecycle.metadata"].flatMap { try? decoder.decode(LifecycleLabel.self, from: Data($0.utf8)) }
    let c = config.config
    return InspectedImage(
        reference: reference, stack: labels["io.buildpacks.stack.id"], baseImage: lifecycle?.runImage?.reference, baseTopLayer: lifecycle?.runImage?.topLayer,
        buildpacks: build?.buildpacks ?? [], processes: (build?.processes ?? []).map { .init(type: $0.type, command: $0.command ?? [], args: $0.args ?? []) },
        config: .init(entrypoint: c?.Entrypoint, cmd: c?.Cmd, workingDir: c?.WorkingDir, user: c?.User,
                      env: (c?.Env ?? []).map { String($0.prefix { $0 != "=" }) }),
        labels: labels, layers: manifest.layers.map { .init(digest: $0.digest, size: $0.size) })
}

extension KpFormat {
    /// `image inspect` as pack prints an image: stack, base image, buildpacks, processes; then
    /// the config, the labels (long values cut) and the layers.
    static func inspection(_ i: InspectedImage) -> String {
        var out = "Inspecting image: '\(i.reference)'\n\n"
        out += "Stack: \(i.stack ?? "--")\n\n"
        out += "Base Image:\n  Reference: \(i.baseImage ?? "--")\n  Top Layer: \(i.baseTopLayer ?? "--")\n\n"
        out += "Buildpacks:\n" + indented(i.buildpacks.isEmpty ? "(none)\n" : table(["ID", "VERSION", "HOMEPAGE"], i.buildpacks.map { [$0.id, $0.version, $0.homepage ?? "-"] })) + "\n"
        out += "Processes:\n" + indented(i.processes.isEmpty ? "(none)\n" : table(["TYPE", "COMMAND", "ARGS"], i.processes.map {
            [$0.type, $0.command.joined(separator: " "), $0.args.joined(separator: " ")]
        })) + "\n"
        let c = i.config
        out += "Config:\n  Entrypoint: \(c.entrypoint?.joined(separator: " ") ?? "--")\n  Cmd: \(c.cmd?.joined(separator: " ") ?? "--")\n"
        out += "  WorkingDir: \(c.workingDir ?? "--")\n  User: \(c.user ?? "--")\n  Env: \(c.env.isEmpty ? "--" : c.env.joined(separator: ", "))\n\n"
        out += "Labels:\n" + indented(i.labels.isEmpty ? "(none)\n" : table(["NAME", "VALUE"], i.labels.keys.sorted().map { key in
            let value = i.labels[key]!
            return [key, value.count > 60 ? value.prefix(57) + "..." : value]
        })) + "\n"
        out += "Layers:\n" + indented(table(["DIGEST", "SIZE"], i.layers.map { [$0.digest, byteSize($0.size)] }))
        return out
    }

    private static func indented(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")
    }
}
