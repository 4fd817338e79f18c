import Foundation

/// App-layer slices that buildpacks declare in `launch.toml` (`[[slices]] paths = [...]`): each
/// slice becomes a layer of its own holding the app files its globs match (a matched folder with
/// everything in it), so an unchanged slice keeps its digest and is never pushed again; what no
/// slice takes is the last app layer. Slices of earlier buildpacks come first, and a path an
/// earlier slice took is not another's. Globs follow Go's `filepath.Match`, relative to
/// `/workspace` (or absolute inside it), matched component by component.
struct AppSlices: Sendable, Equatable {
    /// Per slice, its globs, each split into path components.
    private(set) var slices: [[[String]]] = []

    var isEmpty: Bool { slices.isEmpty }
    var count: Int { slices.count }

    /// Adds the slices of buildpack `d`'s launch.toml; a glob outside /workspace, or malformed,
    /// fails the build naming the buildpack.
    mutating func add(from launch: TOMLTable, buildpack d: BuildpackDescriptor) throws {
        for slice in launch["slices"]?.tables ?? [] {
            var globs: [[String]] = []
            for value in slice["paths"]?.array ?? [] {
                guard let raw = value.string else { continue }
                func refuse(_ why: String) -> RuntimeError {
                    RuntimeError.buildFailed("buildpack \(d.id)@\(d.version) declared the slice path '\(PathSyntax.shortened(raw))', which \(why)")
                }
                var path = Substring(raw)
                if path.hasPrefix("/") {
                    guard path == "/workspace" || path.hasPrefix("/workspace/") else { throw refuse("is not inside /workspace") }
                    path = path.dropFirst("/workspace".count)
                }
                let parts = path.split(separator: "/").map(String.init).filter { $0 != "." }
                guard !parts.contains("..") else { throw refuse("leaves /workspace through '..'") }
                guard parts.allSatisfy({ Self.isWellFormed(Array($0.utf8)) }) else { throw refuse("is not a valid glob (an unclosed '[' or a trailing '\\')") }
                globs.append(parts)
            }
            slices.append(globs)
        }
    }

    /// The slice that takes `path` (relative to /workspace), or nil: the first slice with a
    /// glob matching the path or a folder above it.
    func slice(of path: String) -> Int? {
        let parts = path.split(separator: "/").map { Array($0.utf8) }
        for (i, globs) in slices.enumerated() {
            for glob in globs where glob.count <= parts.count {
                if zip(glob, parts).allSatisfy({ Self.match(Array($0.0.utf8)[...], $0.1[...]) }) { return i }
            }
        }
        return nil
    }

    /// Go's `filepath.Match` on one component: `*` any run of bytes, `?` one byte, `[...]` a
    /// class (ranges, `^` negates), `\` escapes.
    static func match(_ pattern: ArraySlice<UInt8>, _ name: ArraySlice<UInt8>) -> Bool {
        var p = pattern, n = name
        while let c = p.first {
            switch c {
            case UInt8(ascii: "*"):
                let rest = p.dropFirst()
                if rest.isEmpty { return true }
                var tail = n
                while true {
                    if match(rest, tail) { return true }
                    guard !tail.isEmpty else { return false }
                    tail = tail.dropFirst()
                }
            case UInt8(ascii: "?"):
                guard !n.isEmpty else { return false }
                p = p.dropFirst()
                n = n.dropFirst()
            case UInt8(ascii: "["):
                guard let b = n.first, let (matched, rest) = matchClass(p.dropFirst(), b), matched else { return false }
                p = rest
                n = n.dropFirst()
            case UInt8(ascii: "\\"):
                p = p.dropFirst()
                guard let e = p.first, n.first == e else { return false }
                p = p.dropFirst()
                n = n.dropFirst()
            default:
                guard n.first == c else { return false }
                p = p.dropFirst()
                n = n.dropFirst()
            }
        }
        return n.isEmpty
    }

    /// Matches byte `b` against the class after `[`; returns whether it matched and the
    /// pattern after `]`, or nil for a class with no end.
    static func matchClass(_ pattern: ArraySlice<UInt8>, _ b: UInt8) -> (Bool, ArraySlice<UInt8>)? {
        var p = pattern
        var negate = false
        if p.first == UInt8(ascii: "^") { negate = true; p = p.dropFirst() }
        var matched = false, first = true
        while true {
            guard var lo = p.first else { return nil }
            if lo == UInt8(ascii: "]") && !first { return (matched != negate, p.dropFirst()) }
            first = false
            p = p.dropFirst()
            if lo == UInt8(ascii: "\\") { guard let e = p.first else { return nil }; lo = e; p = p.dropFirst() }
            var hi = lo
            if p.first == UInt8(ascii: "-"), let next = p.dropFirst().first, next != UInt8(ascii: "]") {
                p = p.dropFirst(2)
                hi = next
                if hi == UInt8(ascii: "\\") { guard let e = p.first else { return nil }; hi = e; p = p.dropFirst() }
            }
            if lo <= b && b <= hi { matched = true }
        }
    }

    /// Whether a component is a glob Go accepts (every class closed, no trailing `\`).
    static func isWellFormed(_ pattern: [UInt8]) -> Bool {
        var p = pattern[...]
        while let c = p.first {
            p = p.dropFirst()
            if c == UInt8(ascii: "\\") {
                guard !p.isEmpty else { return false }
                p = p.dropFirst()
            } else if c == UInt8(ascii: "[") {
                guard let (_, rest) = matchClass(p, 0) else { return false }
                p = rest
            }
        }
        return true
    }
}

/// Writes one walk of the merged /workspace into the app layers: each slice's, then the rest.
/// Every entry goes to the layer of its slice; the folders above it are written into that
/// layer too (once, as the walk saw them), so each layer unpacks on its own.
/// One export uses it, on the thread that runs it.
final class AppSliceLayers: TarEntrySink {
    let prefix: String
    let slices: AppSlices
    /// One per slice, then the rest.
    let tars: [TarWriter]
    /// Entries written into each layer.
    private(set) var entries: [Int]
    private var folders: [String: (mode: Int, owner: TarWriter.Owner)] = [:]
    private var written: [Set<String>]

    init(prefix: String, slices: AppSlices, tars: [TarWriter]) {
        precondition(tars.count == slices.count + 1, "a tar per slice and one for the rest")
        self.prefix = prefix
        self.slices = slices
        self.tars = tars
        entries = Array(repeating: 0, count: tars.count)
        written = Array(repeating: [], count: tars.count)
    }

    private func route(_ path: String) -> (String, Int) {
        let rel = path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
        return (rel, slices.slice(of: rel) ?? slices.count)
    }

    /// Writes the folders above `rel` that `layer` lacks.
    private func ancestors(of rel: String, into layer: Int) throws {
        var path = ""
        for part in rel.split(separator: "/").dropLast() {
            path = path.isEmpty ? String(part) : path + "/" + part
            guard !written[layer].contains(path), let f = folders[path] else { continue }
            try tars[layer].addDirectory(prefix + path, mode: f.mode, owner: f.owner)
            written[layer].insert(path)
        }
    }

    func addDirectory(_ path: String, mode: Int, owner: TarWriter.Owner) throws {
        let (rel, layer) = route(path)
        folders[rel] = (mode, owner)
        try ancestors(of: rel, into: layer)
        try tars[layer].addDirectory(path, mode: mode, owner: owner)
        written[layer].insert(rel)
        entries[layer] += 1
    }

    func addSymlink(_ path: String, target: String, owner: TarWriter.Owner) throws {
        let (rel, layer) = route(path)
        try ancestors(of: rel, into: layer)
        try tars[layer].addSymlink(path, target: target, owner: owner)
        entries[layer] += 1
    }

    func addFile(_ path: String, fd: Int32, size: Int64, mode: Int, owner: TarWriter.Owner) throws {
        let (rel, layer) = route(path)
        try ancestors(of: rel, into: layer)
        try tars[layer].addFile(path, fd: fd, size: size, mode: mode, owner: owner)
        entries[layer] += 1
    }
}
