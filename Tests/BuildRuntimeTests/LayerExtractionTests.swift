import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// How `ArchiveExtractor` applies what a layer holds besides plain files: hard links (kept as
/// hard links within the layer, and refused when they name anything but a file the same layer
/// wrote) and whiteouts (which hide only what lower layers put there, whatever the tar order).
/// Layers are extracted one after another into one folder, as `DockerfileBuilder.unpack` and
/// `ImageStore.rootfs` do.
@Suite struct LayerExtractionTests {
    static func lstatOf(_ path: String) -> stat? {
        var st = stat()
        return lstat(path, &st) == 0 ? st : nil
    }

    static func names(_ path: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    /// Extracts `layers` in order into `root` with one extractor, as a chain of layers is.
    static func extract(_ layers: [RawTar], into root: String, _ extractor: ArchiveExtractor = ArchiveExtractor(policy: .imageLayer)) throws {
        for (i, layer) in layers.enumerated() {
            let path = root + ".layer\(i + 1).tar"
            try layer.write(to: path)
            try extractor.extract(archiveAt: path, into: root, name: "layer \(i + 1)")
        }
    }

    /// The message with which extracting `layers` into `root` is refused; it must name `entry`.
    static func refusal(_ layers: [RawTar], into root: String, policy: ArchiveExtractor.Policy, entry: String) throws -> String {
        do {
            try extract(layers, into: root, ArchiveExtractor(policy: policy))
        } catch let e as RuntimeError {
            #expect(e.message.contains("'\(entry)'"), "\(e.message)")
            return e.message
        }
        Issue.record("the hard link '\(entry)' was extracted (\(policy))")
        return ""
    }

    // MARK: Hard links

    /// GNU tar stores a file's further names as hard link entries (type 1), which libarchive
    /// reports with no file type: each becomes a hard link to the file written first, for a
    /// layer and for a source archive, and adds no bytes to what the cap counts.
    @Test func hardLinksOfALayerOrASourceArchiveAreExtractedAsHardLinks() throws {
        let dir = tempDir()
        let content = String(repeating: "tool ", count: 1000)
        try write(dir + "/src/bin/tool", content, mode: 0o755)
        try FileManager.default.createDirectory(atPath: dir + "/src/other", withIntermediateDirectories: true)
        #expect(link(dir + "/src/bin/tool", dir + "/src/bin/alias") == 0)
        #expect(link(dir + "/src/bin/tool", dir + "/src/other/alias") == 0)
        _ = try Process.run("/usr/bin/tar", ["-C", dir + "/src", "-cf", dir + "/links.tar", "bin", "other"])
        let listing = try Process.run("/usr/bin/tar", ["-tvf", dir + "/links.tar"])
        #expect(listing.components(separatedBy: " link to ").count == 3, "\(listing)")  // two of the three names

        for policy in [ArchiveExtractor.Policy.imageLayer, .source] {
            let out = dir + "/out-\(policy)"
            // The cap is the file's size: the two links add nothing to it.
            let summary = try ArchiveExtractor(policy: policy, limits: .init(maxTotalBytes: Int64(content.utf8.count)))
                .extract(archiveAt: dir + "/links.tar", into: out)
            #expect(summary.bytes == Int64(content.utf8.count))
            let tool = try #require(Self.lstatOf(out + "/bin/tool"))
            for name in ["bin/alias", "other/alias"] {
                let st = try #require(Self.lstatOf(out + "/" + name), "\(policy): \(name) is missing")
                #expect(st.st_ino == tool.st_ino && st.st_dev == tool.st_dev, "\(policy): \(name)")
                #expect(try String(contentsOfFile: out + "/" + name, encoding: .utf8) == content)
            }
            #expect(tool.st_nlink == 3)
            #expect(tool.st_mode & 0o777 == 0o755)
        }
    }

    /// A hard link names the file at that name when it comes: one replaced later keeps the old
    /// content; one replaced earlier is the new file; one a whiteout of the same layer names is
    /// still there (a whiteout hides only lower layers); a further name of a FIFO is left out
    /// like the FIFO.
    @Test func aHardLinkNamesTheFileAtThatNameWhenItComes() throws {
        let root = tempDir() + "/root"
        var layer = RawTar()
        layer.add(Array("early".utf8), data: Array("v1".utf8))
        layer.add(Array("early-link".utf8), type: UInt8(ascii: "1"), link: Array("early".utf8))
        layer.add(Array("early".utf8), data: Array("v2".utf8))
        layer.add(Array("late".utf8), data: Array("v1".utf8))
        layer.add(Array("late".utf8), data: Array("v2".utf8))
        layer.add(Array("late-link".utf8), type: UInt8(ascii: "1"), link: Array("late".utf8))
        layer.add(Array("kept".utf8), data: Array("mine".utf8))
        layer.add(Array(".wh.kept".utf8))
        layer.add(Array("kept-link".utf8), type: UInt8(ascii: "1"), link: Array("./kept".utf8))
        layer.add(Array("pipe".utf8), type: UInt8(ascii: "6"))
        layer.add(Array("pipe-link".utf8), type: UInt8(ascii: "1"), link: Array("pipe".utf8))
        try Self.extract([layer], into: root)

        #expect(try String(contentsOfFile: root + "/early-link", encoding: .utf8) == "v1")
        #expect(try String(contentsOfFile: root + "/early", encoding: .utf8) == "v2")
        #expect(Self.lstatOf(root + "/early-link")?.st_nlink == 1)
        #expect(Self.lstatOf(root + "/late-link")?.st_ino == Self.lstatOf(root + "/late")?.st_ino)
        #expect(try String(contentsOfFile: root + "/late-link", encoding: .utf8) == "v2")
        #expect(Self.lstatOf(root + "/kept-link")?.st_ino == Self.lstatOf(root + "/kept")?.st_ino)
        #expect(Self.lstatOf(root + "/pipe") == nil && Self.lstatOf(root + "/pipe-link") == nil)
    }

    /// A hard link shares its target's inode, owner and mode: mapped owners come from the
    /// target's entry, never the link's, and when they could not be set the ledger notes the
    /// link as it notes the target, so the owner is still set through the link after a later
    /// layer removes the target's name.
    @Test func aHardLinkTakesItsTargetsOwnerAndStaysInTheOwnerLedger() throws {
        let root = tempDir() + "/root"
        let mapping = IDMapping(users: [.init(inner: 0, outer: 200_000, count: IDMapping.size)],
                                groups: [.init(inner: 0, outer: 300_000, count: IDMapping.size)], viaNewuidmap: false)
        let ledger = ArchiveOwnerLedger()
        let extractor = ArchiveExtractor(policy: .imageLayer, owners: mapping, ledger: ledger)
        // Written with Python's tarfile: owners on each entry, the link's differing from its target's.
        let script = """
            import io, tarfile, sys
            with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
                f = tarfile.TarInfo("usr/bin/tool"); f.size = 4; f.mode = 0o4750; f.uid = 1000; f.gid = 50
                t.addfile(f, io.BytesIO(b"tool"))
                l = tarfile.TarInfo("usr/bin/alias"); l.type = tarfile.LNKTYPE; l.linkname = "usr/bin/tool"; l.mode = 0o644; l.uid = 7; l.gid = 7
                t.addfile(l)
            with tarfile.open(sys.argv[2], "w", format=tarfile.GNU_FORMAT) as t:
                t.addfile(tarfile.TarInfo("usr/bin/.wh.tool"))
            """
        let dir = tempDir()
        _ = try Process.run("/usr/bin/env", ["python3", "-c", script, dir + "/1.tar", dir + "/2.tar"])
        try extractor.extract(archiveAt: dir + "/1.tar", into: root, name: "layer 1")
        let tool = try #require(Self.lstatOf(root + "/usr/bin/tool"))
        let alias = try #require(Self.lstatOf(root + "/usr/bin/alias"))
        #expect(alias.st_ino == tool.st_ino)
        let expected = ArchiveOwnerLedger.Owner(uid: 1000, gid: 50, mode: 0o4750)
        if getuid() == 0 {
            #expect(alias.st_uid == 201_000 && alias.st_gid == 300_050)
            #expect(alias.st_mode & 0o7777 == 0o4750)
            #expect(ledger.owners.isEmpty)
        } else {
            // Ids a user that is not root cannot give away: both names noted, alike.
            #expect(ledger.owners["usr/bin/tool"] == expected)
            #expect(ledger.owners["usr/bin/alias"] == expected)
        }
        try extractor.extract(archiveAt: dir + "/2.tar", into: root, name: "layer 2")
        #expect(Self.lstatOf(root + "/usr/bin/tool") == nil)
        #expect(Self.lstatOf(root + "/usr/bin/alias")?.st_nlink == 1)
        if getuid() != 0 {
            #expect(ledger.owners["usr/bin/tool"] == nil)
            #expect(ledger.owners["usr/bin/alias"] == expected)
        }
    }

    /// A hard link may name only a regular file the same archive wrote before it, found inside
    /// the root: one to a path outside, to /etc/passwd, through or to a symlink, to a folder,
    /// to a name not (yet) in the archive or to a lower layer's file is refused with a message
    /// naming the entry, and no name of anything outside is made.
    @Test func hardLinksToAnythingButAFileOfTheSameLayerAreRefused() throws {
        let parent = tempDir()
        try write(parent + "/outside", "secret")
        func linkEntry(_ target: String) -> RawTar {
            var t = RawTar()
            t.add(Array("evil".utf8), type: UInt8(ascii: "1"), link: Array(target.utf8))
            return t
        }
        var n = 0
        func check(_ layers: [RawTar], policies: [ArchiveExtractor.Policy] = [.imageLayer, .source], says: String) throws {
            for policy in policies {
                n += 1
                let root = parent + "/root\(n)"
                let message = try Self.refusal(layers, into: root, policy: policy, entry: "evil")
                #expect(message.contains(says), "\(policy): \(message)")
                #expect(Self.lstatOf(root + "/evil") == nil)
                #expect(Self.lstatOf(parent + "/outside")?.st_nlink == 1, "\(policy)")
                #expect(Self.lstatOf("/etc/passwd")?.st_nlink == 1, "\(policy)")
            }
        }
        // Outside the root: refused as such in a source archive; in a layer, `..` and `/` stop
        // at the root, where the archive wrote no such file.
        try check([linkEntry("../outside")], policies: [.source], says: "outside the archive")
        try check([linkEntry("/etc/passwd")], policies: [.source], says: "outside the archive")
        try check([linkEntry("../outside")], policies: [.imageLayer], says: "not in the archive before it")
        try check([linkEntry("/etc/passwd")], policies: [.imageLayer], says: "does not exist in the archive")
        try check([linkEntry("../../../../../../../\(parent)/outside")], policies: [.imageLayer], says: "does not exist in the archive")

        // A symlink that points out, named by the link or passed through on its way.
        var symlinks = RawTar()
        symlinks.add(Array("out".utf8), type: UInt8(ascii: "2"), link: Array((parent + "/outside").utf8))
        symlinks.add(Array("up".utf8), type: UInt8(ascii: "2"), link: Array("../../../../../../..\(parent)".utf8))
        var toSymlink = symlinks
        toSymlink.add(Array("evil".utf8), type: UInt8(ascii: "1"), link: Array("out".utf8))
        try check([toSymlink], policies: [.imageLayer], says: "which is a symlink")
        var throughSymlink = symlinks
        throughSymlink.add(Array("evil".utf8), type: UInt8(ascii: "1"), link: Array("up/outside".utf8))
        try check([throughSymlink], policies: [.imageLayer], says: "does not exist in the archive")
        var sourceSymlink = RawTar()
        sourceSymlink.add(Array("d".utf8), type: UInt8(ascii: "2"), link: Array(".".utf8))
        sourceSymlink.add(Array("f".utf8), data: [1])
        sourceSymlink.add(Array("evil".utf8), type: UInt8(ascii: "1"), link: Array("d/f".utf8))
        try check([sourceSymlink], policies: [.source], says: "passes through a symlink")

        // A folder.
        var folder = RawTar()
        folder.add(Array("d/".utf8), type: UInt8(ascii: "5"))
        folder.add(Array("evil".utf8), type: UInt8(ascii: "1"), link: Array("d".utf8))
        try check([folder], says: "which is a folder")

        // A name that comes only after the link, or a file that a folder replaced.
        var later = RawTar()
        later.add(Array("evil".utf8), type: UInt8(ascii: "1"), link: Array("f".utf8))
        later.add(Array("f".utf8), data: [1])
        try check([later], says: "not in the archive before it")
        var replaced = RawTar()
        replaced.add(Array("f".utf8), data: [1])
        replaced.add(Array("f/".utf8), type: UInt8(ascii: "5"))
        replaced.add(Array("evil".utf8), type: UInt8(ascii: "1"), link: Array("f".utf8))
        try check([replaced], policies: [.imageLayer], says: "which is a folder")

        // A pax hard link carrying data of its own (libarchive would write it into the target).
        let script = """
            import io, tarfile, sys
            with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
                f = tarfile.TarInfo("f"); f.size = 1; t.addfile(f, io.BytesIO(b"1"))
                l = tarfile.TarInfo("evil"); l.type = tarfile.LNKTYPE; l.linkname = "f"; l.size = 3; l.pax_headers = {"comment": "pax"}
                t.addfile(l, io.BytesIO(b"new"))
            """
        _ = try Process.run("/usr/bin/env", ["python3", "-c", script, parent + "/data.tar"])
        for policy in [ArchiveExtractor.Policy.imageLayer, .source] {
            n += 1
            do {
                try ArchiveExtractor(policy: policy).extract(archiveAt: parent + "/data.tar", into: parent + "/root\(n)")
                Issue.record("a hard link with data was extracted (\(policy))")
            } catch let e as RuntimeError {
                #expect(e.message.contains("'evil'") && e.message.contains("carries data"), "\(e.message)")
            }
            #expect(try String(contentsOfFile: parent + "/root\(n)/f", encoding: .utf8) == "1")
        }

        // A lower layer's file: in OCI a hard link resolves within its own layer's tar.
        var lower = RawTar()
        lower.add(Array("f".utf8), data: [1])
        try check([lower, linkEntry("f")], policies: [.imageLayer], says: "a file this layer does not hold")
    }

    // MARK: Whiteouts

    /// An opaque marker hides what lower layers put in its folder, all the way down, and never
    /// what its own layer wrote there, before or after it in the tar (OCI layer.md: the marker
    /// applies first, whatever the order).
    @Test func anOpaqueMarkerHidesOnlyLowerLayersWhateverTheTarOrder() throws {
        var lower = RawTar()
        lower.add(Array("d/".utf8), type: UInt8(ascii: "5"))
        lower.add(Array("d/old".utf8), data: Array("old".utf8))
        lower.add(Array("d/sub/".utf8), type: UInt8(ascii: "5"))
        lower.add(Array("d/sub/oldchild".utf8), data: [1])
        lower.add(Array("d/bare/".utf8), type: UInt8(ascii: "5"))
        lower.add(Array("d/bare/oldchild".utf8), data: [1])
        lower.add(Array("keep/x".utf8), data: [1])
        let entries: [(String, UInt8, String)] = [
            ("d/new", UInt8(ascii: "0"), "new"), ("d/sub/", UInt8(ascii: "5"), ""), ("d/sub/newchild", UInt8(ascii: "0"), "n"),
            ("d/bare/newchild", UInt8(ascii: "0"), "n"),  // no entry of its own for d/bare: still the layer's folder
            ("d/link", UInt8(ascii: "1"), "d/new"),
        ]
        for markerAt in [0, 2, entries.count] {
            var upper = RawTar()
            for (i, (name, type, data)) in entries.enumerated() {
                if i == markerAt { upper.add(Array("d/.wh..wh..opq".utf8)) }
                upper.add(Array(name.utf8), type: type, link: type == UInt8(ascii: "1") ? Array(data.utf8) : [],
                          data: type == UInt8(ascii: "0") ? Array(data.utf8) : [])
            }
            if markerAt == entries.count { upper.add(Array("d/.wh..wh..opq".utf8)) }
            let root = tempDir() + "/root"
            try Self.extract([lower, upper], into: root)
            #expect(try Self.names(root + "/d") == ["bare", "link", "new", "sub"], "marker at \(markerAt)")
            #expect(try Self.names(root + "/d/sub") == ["newchild"], "marker at \(markerAt)")
            #expect(try Self.names(root + "/d/bare") == ["newchild"], "marker at \(markerAt)")
            #expect(try String(contentsOfFile: root + "/d/new", encoding: .utf8) == "new")
            #expect(Self.lstatOf(root + "/d/link")?.st_ino == Self.lstatOf(root + "/d/new")?.st_ino)
            #expect(try Self.names(root + "/keep") == ["x"])
        }
        // The root's own marker, after the layer's entries.
        var upper = RawTar()
        upper.add(Array("d/new".utf8), data: [1])
        upper.add(Array(".wh..wh..opq".utf8))
        let root = tempDir() + "/root"
        try Self.extract([lower, upper], into: root)
        #expect(try Self.names(root) == ["d"])
        #expect(try Self.names(root + "/d") == ["new"])
    }

    /// A whiteout of a name its own layer also holds leaves the layer's entry (a layer should
    /// not hold both; whiteouts apply to lower layers only): a file stays as the layer wrote
    /// it, a folder keeps the layer's entries and loses the lower ones.
    @Test func aWhiteoutLeavesItsOwnLayersEntry() throws {
        var lower = RawTar()
        lower.add(Array("f".utf8), data: Array("lower".utf8))
        lower.add(Array("g/lower".utf8), data: [1])
        lower.add(Array("h/lower".utf8), data: [1])
        var upper = RawTar()
        upper.add(Array("f".utf8), data: Array("upper".utf8))
        upper.add(Array(".wh.f".utf8))
        upper.add(Array("g/".utf8), type: UInt8(ascii: "5"))
        upper.add(Array("g/mine".utf8), data: [1])
        upper.add(Array(".wh.g".utf8))
        upper.add(Array(".wh.h".utf8))
        let root = tempDir() + "/root"
        try Self.extract([lower, upper], into: root)
        #expect(try String(contentsOfFile: root + "/f", encoding: .utf8) == "upper")
        #expect(try Self.names(root + "/g") == ["mine"])
        #expect(Self.lstatOf(root + "/h") == nil)
    }
}
