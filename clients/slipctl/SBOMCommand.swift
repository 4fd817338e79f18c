import Foundation
import SlipwayProtocol

/// `slipctl build sbom IMAGE [-b N] [--format F] [--output-dir DIR]`: writes a build's SBOM
/// documents as `pack sbom download` does, each at its path under DIR (default the current
/// folder): `layers/sbom/launch/<buildpack>/<layer>/sbom.<ext>`, `layers/sbom/build/…`.
func downloadSBOMs(_ engine: EngineSession, image: String, namespace: String, build: Int?, format flag: String?, outputDirectory: String) throws -> Int32 {
    let format = try flag.map { name in
        guard let f = SBOMFormatName(rawValue: name) else {
            throw Arguments.Failure(message: "invalid argument \"\(name)\" for \"--format\" flag: use cdx, spdx or syft")
        }
        return f
    }
    let result = try engine.call(BuildSbom.self, BuildSBOMParams(image: image, namespace: namespace, build: build, format: format))
    guard !result.sboms.isEmpty else {
        emit("build \(result.build) of image \"\(image)\" has no SBOM" + (format.map { " of format \($0.rawValue)" } ?? ""))
        return 1
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    for entry in result.sboms {
        // The engine names the paths; one that would leave the output folder is not written.
        let parts = entry.path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            throw Arguments.Failure(message: "the engine named an SBOM path \"\(entry.path)\" that is not a plain relative path; nothing of it was written")
        }
        let file = URL(fileURLWithPath: outputDirectory).appendingPathComponent(entry.path)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try encoder.encode(entry.document).write(to: file, options: .atomic)
        emit(file.path)
    }
    return 0
}
