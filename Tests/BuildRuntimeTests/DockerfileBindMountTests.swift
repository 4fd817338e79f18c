import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// RUN --mount=type=bind (from a stage, an image, or the context with its ignore rules;
/// read-only unless rw, writes dropped), type=tmpfs and COPY --from an image: what the step
/// sees, what stays out of the image and the context, and how a bound file's change reaches the
/// step cache.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileBindMountTests {
    @Test func bindAndTmpfsMountsShowTheirSourceAndLeaveNoTrace() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let context = TempDir("bind")
        try """
            FROM base AS tools
            RUN mkdir -p /opt/tool && echo "from the tools stage" > /opt/tool/msg

            FROM base
            RUN --mount=type=bind,from=tools,source=/opt/tool,target=/mnt/tool cat /mnt/tool/msg > /seen-stage
            RUN --mount=type=bind,from=base,source=/etc,target=/mnt/etc test -f /mnt/etc/passwd && echo yes > /seen-image
            RUN --mount=type=bind,source=data,target=/mnt/data ls -a /mnt/data > /seen-context && cat /mnt/data/x.txt >> /seen-context && readlink /mnt/data/link >> /seen-context
            RUN --mount=type=bind,source=data,target=/mnt/data,rw echo changed > /mnt/data/x.txt && cat /mnt/data/x.txt > /seen-rw
            RUN --mount=type=bind,target=/mnt/data,source=data sh -c 'echo no > /mnt/data/y'; echo $? > /ro-exit
            RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && ls /scratch > /seen-tmpfs
            COPY --from=base /etc/passwd /from-image/
            """.write(toFile: context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: context.path + "/data", withIntermediateDirectories: true)
        try "one\n".write(toFile: context.path + "/data/x.txt", atomically: true, encoding: .utf8)
        try "never shown\n".write(toFile: context.path + "/data/ignored.txt", atomically: true, encoding: .utf8)
        try "data/ignored.txt\n".write(toFile: context.path + "/.dockerignore", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: context.path + "/data/link", withDestinationPath: "/etc/shadow")
        let base = f.baseLayout
        func build(_ name: String) async throws -> (String, [String]) {
            let lines = LineCollector()
            let layout = f.state.path + "/" + name
            _ = try await f.builder.build(.init(context: context.path, outputLayout: layout, outputTag: "latest") { ref in
                guard ref == "base" else { throw RuntimeError.notFound("no image \(ref)") }
                return try OCILayout(path: base, create: false).image(tag: "run")
            }) { _, _, l in lines.add(l) }
            return (layout, lines.all)
        }
        let (first, log) = try await build("first")
        let unpacked = try await UnpackedImage(layout: first)
        let root = unpacked.rootfs
        func read(_ p: String) -> String { (try? String(contentsOfFile: root + p, encoding: .utf8)) ?? "<missing \(p)>" }
        #expect(read("/seen-stage") == "from the tools stage\n", "\(log)")
        #expect(read("/seen-image") == "yes\n")
        // The context as the build sees it: the ignored file is not there, the symlink is a link
        // (never followed on the host side).
        #expect(read("/seen-context") == ".\n..\nlink\nx.txt\none\n/etc/shadow\n", "\(log)")
        #expect(read("/seen-rw") == "changed\n")
        #expect(read("/ro-exit") != "0\n" && !read("/ro-exit").hasPrefix("<missing"), "a read-only bind refused the write: \(read("/ro-exit"))")
        #expect(read("/seen-tmpfs") == "x\n")
        #expect(read("/from-image/passwd").contains("root:"), "COPY --from an image by name")
        // Nothing mounted is in the image, and the context is unchanged.
        for p in ["/mnt", "/scratch", "/opt/tool"] {
            #expect(!FileManager.default.fileExists(atPath: root + p), "\(p) is in the image")
        }
        #expect(try String(contentsOfFile: context.path + "/data/x.txt", encoding: .utf8) == "one\n")
        // Unchanged: every step cached. A bound context file changed: the steps that bind it run.
        let (_, again) = try await build("again")
        #expect(again.filter { $0.contains("not cached") }.isEmpty, "\(again)")
        try "two\n".write(toFile: context.path + "/data/x.txt", atomically: true, encoding: .utf8)
        let (changed, third) = try await build("changed")
        #expect(third.filter { $0.contains("not cached") }.count == 5, "\(third)")
        let changedImage = try await UnpackedImage(layout: changed)
        let seen = try String(contentsOfFile: changedImage.rootfs + "/seen-context", encoding: .utf8)
        #expect(seen.contains("two\n"))
    }

    @Test func badMountsFailNamingTheLine() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let cases: [(String, String)] = [
            ("FROM base\nRUN --mount=type=bind,source=../x,target=/x true\n", "Dockerfile:2: RUN --mount=type=bind,source=../x leaves what it mounts"),
            ("FROM base\nRUN --mount=type=bind,source=nothing,target=/x true\n", "Dockerfile:2: RUN --mount=type=bind,source=nothing: no such file or folder"),
            ("FROM base\nRUN --mount=type=bind,source=app true\n", "Dockerfile:2: RUN --mount=type=bind needs an absolute target=PATH"),
            ("FROM base\nRUN --mount=type=ssh,target=/x true\n", "Dockerfile:2: RUN --mount=type=ssh is not supported"),
        ]
        try await f.expectFailures(cases)
    }
}
