import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

@Suite struct ExtractorTests {
    @Test func sourcePolicyRefusesWritingThroughASymlink() throws {
        let root = tempDir()
        symlink("/tmp", root + "/out")
        let x = ArchiveExtractor(policy: .source)
        #expect(throws: RuntimeError.self) { try x.paths.resolve(["out", "file"], in: try ConfinedDirectory(path: root), createMissing: true, entry: "e") }
    }

    @Test func imageLayerPolicyResolvesSymlinksInsideTheRoot() throws {
        let root = tempDir()
        try FileManager.default.createDirectory(atPath: root + "/usr/lib", withIntermediateDirectories: true)
        symlink("usr/lib", root + "/lib")
        symlink("/../../../..", root + "/evil")
        let x = ArchiveExtractor(policy: .imageLayer)
        let dir = try ConfinedDirectory(path: root)
        #expect(try x.paths.resolve(["lib", "libc.so"], in: dir, createMissing: true, entry: "e") == ["usr", "lib", "libc.so"])
        #expect(try x.paths.resolve(["evil", "etc"], in: dir, createMissing: true, entry: "e") == ["etc"])
    }

    /// Names from outside never reach Foundation's path helpers (a one-character name crashed
    /// the server): every odd name is either extracted or refused with an error.
    @Test func oddEntryNamesAreExtractedOrRefusedNeverACrash() throws {
        let names: [[UInt8]] = [[], Array(".".utf8), Array("..".utf8), Array("a".utf8), Array(repeating: UInt8(ascii: "n"), count: 4000),
                                Array("\n".utf8), [0xFF, 0xFE, 0x41], Array("a/".utf8), Array("/".utf8), Array("./a".utf8), Array("x/../../y".utf8)]
        for policy in [ArchiveExtractor.Policy.source, .imageLayer] {
            for name in names {
                let dir = tempDir()
                var tar = RawTar()
                tar.add(name, data: Array("hello".utf8))
                try tar.write(to: dir + "/odd.tar")
                do {
                    try ArchiveExtractor(policy: policy).extract(archiveAt: dir + "/odd.tar", into: dir + "/out")
                } catch is RuntimeError {
                    continue  // refused with a message: fine
                }
            }
        }
        // The one-character name of the crash report is extracted as a file.
        let dir = tempDir()
        var tar = RawTar()
        tar.add(Array("a".utf8), data: Array("hello".utf8))
        try tar.write(to: dir + "/a.tar")
        try ArchiveExtractor(policy: .source).extract(archiveAt: dir + "/a.tar", into: dir + "/out")
        #expect(try String(contentsOfFile: dir + "/out/a", encoding: .utf8) == "hello")
    }

    /// A whiteout names one file of its folder: `.wh...` (a whiteout of `..`) must not delete
    /// the folder above the root, which holds every unpacked build image.
    @Test func whiteoutsOfDotDotOrDotAreRefusedAndNothingAboveTheRootGoes() throws {
        let parent = tempDir()
        try write(parent + "/sibling/keep", "precious")
        for evil in [".wh...", "sub/.wh...", ".wh..", ".wh.", "sub/.wh.."] {
            var tar = RawTar()
            tar.add(Array("sub/".utf8), type: UInt8(ascii: "5"))
            tar.add(Array(evil.utf8))
            try tar.write(to: parent + "/evil.tar")
            #expect(throws: RuntimeError.self, "\(evil)") {
                try ArchiveExtractor(policy: .imageLayer).extract(archiveAt: parent + "/evil.tar", into: parent + "/root")
            }
            #expect(try String(contentsOfFile: parent + "/sibling/keep", encoding: .utf8) == "precious")
            #expect(FileManager.default.fileExists(atPath: parent + "/root"))
        }
        // A normal whiteout and an opaque folder still work.
        var tar = RawTar()
        tar.add(Array("d/".utf8), type: UInt8(ascii: "5"))
        tar.add(Array("d/gone".utf8), data: [1])
        tar.add(Array("d/also".utf8), data: [1])
        tar.add(Array("e/".utf8), type: UInt8(ascii: "5"))
        tar.add(Array("e/x".utf8), data: [1])
        try tar.write(to: parent + "/base.tar")
        var upper = RawTar()
        upper.add(Array("d/.wh.gone".utf8))
        upper.add(Array("e/.wh..wh..opq".utf8))
        try upper.write(to: parent + "/upper.tar")
        let x = ArchiveExtractor(policy: .imageLayer)
        try x.extract(archiveAt: parent + "/base.tar", into: parent + "/image")
        try x.extract(archiveAt: parent + "/upper.tar", into: parent + "/image")
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent + "/image/d") == ["also"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent + "/image/e").isEmpty)
    }

    /// A layer cannot write through a symlink it planted, to anywhere outside the root.
    @Test func layersCannotWriteOutsideTheRootThroughSymlinks() throws {
        let parent = tempDir()
        var tar = RawTar()
        tar.add(Array("escape".utf8), type: UInt8(ascii: "2"), link: Array(parent.utf8))
        tar.add(Array("escape/pwned".utf8), data: Array("x".utf8))
        tar.add(Array("up".utf8), type: UInt8(ascii: "2"), link: Array("../../../../../..\(parent)".utf8))
        tar.add(Array("up/pwned2".utf8), data: Array("x".utf8))
        try tar.write(to: parent + "/evil.tar")
        try ArchiveExtractor(policy: .imageLayer).extract(archiveAt: parent + "/evil.tar", into: parent + "/root")
        #expect(!FileManager.default.fileExists(atPath: parent + "/pwned"))
        #expect(!FileManager.default.fileExists(atPath: parent + "/pwned2"))
        // Resolved inside the root instead, as the container would see it.
        #expect(FileManager.default.fileExists(atPath: parent + "/root" + parent + "/pwned"))
    }

    /// Caps count bytes written, so a bomb stops at the cap with a message naming it, even when
    /// the headers lie (zip entries streamed without sizes).
    @Test func tarAndZipBombsStopAtTheCap() throws {
        let dir = tempDir()
        let script = """
            import io, tarfile, zipfile, gzip
            zeros = b"\\0" * (8 << 20)
            with tarfile.open("\(dir)/bomb.tar.gz", "w:gz") as t:
                for i in range(4):
                    info = tarfile.TarInfo(f"f{i}"); info.size = len(zeros); t.addfile(info, io.BytesIO(zeros))
            class Stream(io.RawIOBase):
                def __init__(self, f): self.f = f
                def writable(self): return True
                def write(self, b): return self.f.write(b)
            with open("\(dir)/bomb.zip", "wb") as raw:
                with zipfile.ZipFile(Stream(raw), "w", zipfile.ZIP_DEFLATED) as z:
                    for i in range(4):
                        with z.open(f"f{i}", "w") as w: w.write(zeros)
            """
        _ = try Process.run("/usr/bin/env", ["python3", "-c", script])
        let capped = ArchiveExtractor(policy: .source, limits: .init(maxTotalBytes: 20 << 20))
        for bomb in ["bomb.tar.gz", "bomb.zip"] {
            do {
                try capped.extract(archiveAt: dir + "/" + bomb, into: dir + "/out-" + bomb, name: bomb)
                Issue.record("\(bomb) was extracted whole")
            } catch let e as RuntimeError {
                #expect(e.message.contains("\(20 << 20) bytes, the extraction cap"), "\(e.message)")
                #expect(e.message.contains(bomb))
            }
            let written = try FileManager.default.subpathsOfDirectory(atPath: dir + "/out-" + bomb).reduce(Int64(0)) { total, p in
                total + ((try? FileManager.default.attributesOfItem(atPath: dir + "/out-" + bomb + "/" + p)[.size] as? NSNumber)?.int64Value ?? 0)
            }
            #expect(written <= 20 << 20)
        }
        // Under the cap, the same archives extract.
        try ArchiveExtractor(policy: .source, limits: .init(maxTotalBytes: 40 << 20)).extract(archiveAt: dir + "/bomb.zip", into: dir + "/whole")
    }

    @Test func aLayerMissingOnlyItsFinalPaddingIsReadButCutDataIsNot() throws {
        let dir = tempDir()
        // A tar whose last file has 190 bytes of data: cut after the data (no padding, no
        // end blocks), and cut inside the data.
        let script = """
            import io, tarfile
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
                info = tarfile.TarInfo("dir/file"); data = b"x" * 190; info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            raw = buf.getvalue()
            open("\(dir)/no-padding.tar", "wb").write(raw[:512 + 190])
            open("\(dir)/cut-data.tar", "wb").write(raw[:512 + 100])
            """
        _ = try Process.run("/usr/bin/env", ["python3", "-c", script])
        let ok = try ArchiveExtractor(policy: .imageLayer).extract(archiveAt: dir + "/no-padding.tar", into: dir + "/a")
        #expect(ok.entries == 1)
        #expect(try String(contentsOfFile: dir + "/a/dir/file", encoding: .utf8).count == 190)
        #expect(throws: RuntimeError.self) { try ArchiveExtractor(policy: .imageLayer).extract(archiveAt: dir + "/cut-data.tar", into: dir + "/b") }
    }

    @Test func symlinkTargetsAreCheckedLexically() throws {
        let x = ArchiveExtractor(policy: .source)
        try x.paths.checkSymlinkStaysInside(relative: "a/b/link", target: "../c", entryName: "l")
        #expect(throws: RuntimeError.self) { try x.paths.checkSymlinkStaysInside(relative: "a/link", target: "../../x", entryName: "l") }
        #expect(throws: RuntimeError.self) { try x.paths.checkSymlinkStaysInside(relative: "link", target: "/etc/passwd", entryName: "l") }
    }
}
