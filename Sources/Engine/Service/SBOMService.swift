import SlipwayProtocol
import BuildRuntime
import Foundation

/// A build's SBOM documents, kept beside its log (`logs/<ns>/<image>/<n>.sbom.json`): the launch
/// SBOMs (also in the image's SBOM layer) and the build SBOMs, which the platform spec keeps
/// outside the image. Written once when the build ends; read by `build/sbom`. Deleted with the
/// build's log (retention, image deletion).
enum SBOMService {
    /// Where the SBOMs of a build are kept.
    static func path(_ engine: isolated Engine, _ key: BuildKey) -> String {
        engine.path("logs", key.namespace, key.image, "\(key.number).sbom.json")
    }

    /// Where the SBOMs of the build that made `digest` (a rebase's previous image) are kept;
    /// nil when no build of the image has that digest now.
    static func path(_ engine: isolated Engine, of image: Image, digest: Digest) throws -> String? {
        try engine.store.builds(namespace: image.namespace, image: image.name).last { $0.imageDigest == digest.string }.map { path(engine, image.buildKey($0.number)) }
    }

    /// A rebase keeps the SBOMs of the image it rebased: they are copied to the new build's
    /// (`to`), if the earlier build had any. Blocking: run it on a `BlockingWork` thread.
    static func copy(from: String, to: String) throws {
        guard let data = FileManager.default.contents(atPath: from) else { return }  // no SBOMs before, none now
        try data.write(to: URL(fileURLWithPath: to), options: .atomic)
    }

    /// Writes `documents` (each already checked to be JSON of its format) as one JSON array of
    /// entries whose `document` is the document as the buildpack wrote it. Blocking: run it on
    /// a `BlockingWork` thread.
    static func write(_ documents: [SBOMDocument], to path: String) throws {
        var out = Data("[".utf8)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for (i, doc) in documents.enumerated() {
            let header = StoredHeader(scope: doc.scope.rawValue, buildpack: doc.buildpack, layer: doc.layer, format: doc.format.rawValue)
            var head = try encoder.encode(header)
            head.removeLast()  // the closing brace: the document follows
            if i > 0 { out.append(contentsOf: Array(",".utf8)) }
            out.append(head)
            out.append(contentsOf: Array(#","document":"#.utf8))
            out.append(contentsOf: doc.contents)
            out.append(contentsOf: Array("}".utf8))
        }
        out.append(contentsOf: Array("]".utf8))
        do {
            try out.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw RuntimeError.io("cannot keep the build's SBOMs at \(path): \(error.localizedDescription); free space in the state directory and trigger the build again")
        }
    }

    /// The stored fields of an entry besides its document.
    private struct StoredHeader: Codable {
        var scope: String
        var buildpack: String?
        var layer: String?
        var format: String
    }

    /// An entry as stored.
    private struct StoredEntry: Codable {
        var scope: String
        var buildpack: String?
        var layer: String?
        var format: String
        var document: AnyJSON
    }

    /// The SBOMs of a successful build, of `format` or all.
    static func sboms(_ engine: isolated Engine, namespace: String, image: String, number: Int?, format: SBOMFormatName?) async throws -> BuildSBOMResult {
        let key = try BuildService.buildKey(engine, namespace: namespace, image: image, number: number)
        let build = try BuildService.build(engine, namespace: namespace, image: image, number: key.number)
        guard build.status == .SUCCESS else {
            throw EngineError(.failedPrecondition, "build \(build.number) of image '\(image)' has no SBOM: it is \(build.status.rawValue), and only a successful build has one; pick a successful build from build/list")
        }
        let file = path(engine, key)
        let stored: [StoredEntry] = try await BlockingWork.run {
            // A build that ended before SBOMs were kept, or whose buildpacks wrote none, has no file.
            guard let data = FileManager.default.contents(atPath: file) else { return [] }
            do {
                return try JSONDecoder().decode([StoredEntry].self, from: data)
            } catch {
                throw EngineError.internal("the SBOMs kept with build \(key.number) of image '\(image)' cannot be read (\(error)); trigger a new build to make them again")
            }
        }
        let entries: [SBOMEntry] = stored.compactMap { e in
            guard format == nil || e.format == format?.rawValue, let f = SBOMFormat(rawValue: e.format), let scope = SBOMDocument.Scope(rawValue: e.scope) else { return nil }
            let doc = SBOMDocument(scope: scope, buildpack: e.buildpack, layer: e.layer, format: f, contents: [])
            return SBOMEntry(scope: e.scope, buildpack: e.buildpack, layer: e.layer, format: e.format, mediaType: f.mediaType, path: doc.path, document: e.document)
        }
        return BuildSBOMResult(build: key.number, sboms: entries)
    }
}
