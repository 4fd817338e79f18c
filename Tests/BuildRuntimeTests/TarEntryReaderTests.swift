import Foundation
import Testing
import TestSupport
@testable import BuildRuntime

/// Reading chosen files of an image's layer tar into memory (the SBOMs a kept layer takes back
/// from the previous image): the tar is hostile, so only regular files are read, names are text,
/// and sizes are capped.
@Suite struct TarEntryReaderTests {
    /// A tar at `path` made by Python's tarfile: a regular file, a symlink and a hard link under
    /// wanted names, a `..` name, and a large file.
    static func hostileTar(_ path: String, large: Int) async throws {
        let script = """
            import io, tarfile, sys
            with tarfile.open(sys.argv[1], "w") as t:
                def add(name, data=b"", kind=tarfile.REGTYPE, link=""):
                    i = tarfile.TarInfo(name); i.type = kind; i.linkname = link; i.size = len(data) if kind == tarfile.REGTYPE else 0
                    t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
                add("layers/sbom/launch/a/sbom.cdx.json", b'{"bomFormat": "CycloneDX"}')
                add("layers/sbom/launch/b/sbom.cdx.json", kind=tarfile.SYMTYPE, link="/etc/passwd")
                add("layers/sbom/launch/c/sbom.cdx.json", kind=tarfile.LNKTYPE, link="etc/passwd")
                add("../layers/sbom/launch/d/sbom.cdx.json", b"up")
                add("layers/sbom/launch/big/sbom.cdx.json", b"x" * int(sys.argv[2]))
            """
        let r = try await sh("python3 -c '\(script.replacingOccurrences(of: "'", with: "'\\''"))' '\(path)' \(large)")
        guard r.status == 0 else { throw TestFailure(r.err) }
    }

    @Test func onlyRegularFilesAreReadAndNamesAreText() async throws {
        let dir = TempDir("tar-reader")
        try await Self.hostileTar(dir.path + "/l.tar", large: 10)
        let files = try TarEntryReader.files(ofArchive: dir.path + "/l.tar", label: "a layer", maxFileBytes: 100, maxTotalBytes: 1000) { $0.hasPrefix("layers/sbom/") }
        #expect(files["layers/sbom/launch/a/sbom.cdx.json"] == Array(#"{"bomFormat": "CycloneDX"}"#.utf8))
        #expect(files["layers/sbom/launch/b/sbom.cdx.json"] == nil)  // a symlink: never followed, never read
        #expect(files["layers/sbom/launch/big/sbom.cdx.json"]?.count == 10)
        // Names are text: `../x` is read as that name, never as a path resolved anywhere.
        let all = try TarEntryReader.files(ofArchive: dir.path + "/l.tar", label: "a layer", maxFileBytes: 100, maxTotalBytes: 1000) { _ in true }
        #expect(all["../layers/sbom/launch/d/sbom.cdx.json"] == Array("up".utf8) && all["layers/sbom/launch/d/sbom.cdx.json"] == nil)
        #expect(files.values.allSatisfy { !String(decoding: $0, as: UTF8.self).contains("root:") })
    }

    @Test func aFileOverTheCapFailsSayingSo() async throws {
        let dir = TempDir("tar-reader")
        try await Self.hostileTar(dir.path + "/l.tar", large: 5000)
        #expect(throws: RuntimeError.self) {
            _ = try TarEntryReader.files(ofArchive: dir.path + "/l.tar", label: "a layer", maxFileBytes: 1000, maxTotalBytes: 100_000) { _ in true }
        }
        do {
            _ = try TarEntryReader.files(ofArchive: dir.path + "/l.tar", label: "a layer", maxFileBytes: 100_000, maxTotalBytes: 1000) { _ in true }
            Issue.record("the total cap was not kept")
        } catch let e as RuntimeError {
            #expect(e.message.contains("over what may be read"))
        }
    }
}
