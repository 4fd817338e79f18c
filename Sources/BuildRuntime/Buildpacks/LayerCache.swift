import Foundation

/// The per-image cache of `cache = true` layers, kept between builds. Restore copies the layers
/// into the build's layers folder, so a build that fails leaves the cache as it was; save, after
/// a successful export, moves the cached layers into a fresh cache that replaces the old one
/// only once it is complete. Both sides hold what a build step wrote, so both go through
/// `ConfinedDirectory`: a cached layer that is a symlink, or whose `.toml` is not a regular
/// file, is never followed.
public struct LayerCache: Sendable {
    let directory: String

    /// Ends the name of the fresh cache a save fills beside the image's (`<image>.new`), which
    /// a collection keeps with the image's.
    public static let freshSuffix = ".new"

    /// Copies each buildpack's cached layers into `layers`; returns "id:layer" for each.
    func restore(into layers: ConfinedDirectory, buildpacks: [BuildpackDescriptor]) throws -> [String] {
        let cache: ConfinedDirectory
        do { cache = try ConfinedDirectory(path: directory) } catch let e as ConfinedPathError where e.kind == .missing { return [] }
        var restored: [String] = []
        for d in buildpacks where try cache.isDirectory(d.escapedID) {
            let from = try cache.openDirectory(d.escapedID)
            let to = try confined(d) { try layers.makeDirectories(d.escapedID) }
            for name in try from.entries() where name.hasSuffix(".toml") {
                let layer = String(name.dropLast(5))
                // Save only keeps real folders with regular .toml files; anything else is skipped.
                guard PathSyntax.isNormalComponent(layer), try from.isDirectory(layer),
                    let st = try from.status(name), (st.st_mode & S_IFMT) == S_IFREG
                else { continue }
                // The layer comes back with its metadata but no [types]: a buildpack that wants it
                // cached, launched or built with again says so again (Buildpack API 0.6 and later).
                let text = try confined(d) { try from.readText(name, maxBytes: StepRunner.maxMetadataBytes) }
                guard var toml = try? TOMLParser.parse(text) else { continue }  // a damaged entry is not restored
                toml["types"] = nil
                try confined(d) {
                    try to.remove(name)
                    try to.remove(layer)
                    try to.createFile(name, contents: Array(TOMLWriter.write(toml).utf8))
                    try from.copy(layer, to: to, as: layer)
                }
                restored.append(d.id + ":" + layer)
            }
        }
        return restored
    }

    /// Moves the cached layers out of `layers` into a fresh cache; returns "id:layer" for each.
    func save(from layers: ConfinedDirectory, buildpacks: [BuildpackDescriptor], cached: Set<String>) throws -> [String] {
        let freshPath = directory + Self.freshSuffix
        try ConfinedDirectory.removeTree(atPath: freshPath)
        let fresh = try ConfinedDirectory(path: freshPath, create: true)
        var saved: [String] = []
        for d in buildpacks {
            for key in cached.sorted() where key.hasPrefix(d.id + ":") {
                let layer = String(key.dropFirst(d.id.count + 1))
                try confined(d) {
                    let src = try layers.openDirectory(d.escapedID)
                    guard try src.isDirectory(layer) else {
                        throw ConfinedPathError(.wrongType("not a layer folder"), src.display(layer))
                    }
                    guard let st = try src.status(layer + ".toml"), (st.st_mode & S_IFMT) == S_IFREG else {
                        throw ConfinedPathError(.wrongType("not a regular file"), src.display(layer + ".toml"))
                    }
                    let dst = try fresh.makeDirectories(d.escapedID)
                    try src.move(layer, to: dst, as: layer)
                    try src.move(layer + ".toml", to: dst, as: layer + ".toml")
                }
                saved.append(key)
            }
        }
        try ConfinedDirectory.removeTree(atPath: directory)
        guard rename(freshPath, directory) == 0 else {
            throw RuntimeError.io("cannot replace the build cache: \(String(cString: strerror(errno)))")
        }
        return saved
    }
}
