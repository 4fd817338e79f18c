import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// ONBUILD triggers of a base image, and `<Dockerfile>.dockerignore` beside the Dockerfile.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileTriggersAndIgnoreTests {
    @Test func onbuildTriggersRunInTheChildAndAreNotPassedOn() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let parentContext = TempDir("parent"), childContext = TempDir("child")
        try "FROM base\nONBUILD COPY marker /from-trigger\nONBUILD RUN echo triggered > /onbuild-ran\n"
            .write(toFile: parentContext.path + "/Dockerfile", atomically: true, encoding: .utf8)
        try "FROM parent\nRUN cat /onbuild-ran\n".write(toFile: childContext.path + "/Dockerfile", atomically: true, encoding: .utf8)
        try "from the child's context\n".write(toFile: childContext.path + "/marker", atomically: true, encoding: .utf8)
        let parentLayout = f.state.path + "/parent", childLayout = f.state.path + "/child"
        let base = f.baseLayout
        _ = try await f.builder.build(.init(context: parentContext.path, outputLayout: parentLayout, outputTag: "latest") { _ in
            try OCILayout(path: base, create: false).image(tag: "run")
        }) { _, _, _ in }
        let lines = LineCollector()
        _ = try await f.builder.build(.init(context: childContext.path, outputLayout: childLayout, outputTag: "latest") { name in
            try OCILayout(path: name == "parent" ? parentLayout : base, create: false).image(tag: name == "parent" ? "latest" : "run")
        }) { _, _, l in lines.add(l) }
        #expect(lines.all.contains("triggered"), "\(lines.all)")
        let child = try OCILayout(path: childLayout, create: false).image(tag: "latest")
        #expect(child.config.config.OnBuild == nil)
        #expect(try OCILayout(path: parentLayout, create: false).image(tag: "latest").config.config.OnBuild?.count == 2)
        let unpacked = try await UnpackedImage(layout: childLayout)
        #expect(try String(contentsOfFile: unpacked.rootfs + "/from-trigger", encoding: .utf8) == "from the child's context\n")
    }

    @Test func anIgnoreFileBesideTheDockerfileWins() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let context = TempDir("ignore")
        let files = ["build/app.Dockerfile": "FROM base\nCOPY . /ctx/\n", "build/app.Dockerfile.dockerignore": "b\nbuild\n", ".dockerignore": "a\n", "a": "a", "b": "b"]
        for (p, t) in files {
            try FileManager.default.createDirectory(atPath: (context.path + "/" + p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try t.write(toFile: context.path + "/" + p, atomically: true, encoding: .utf8)
        }
        let layout = f.state.path + "/ignored"
        let base = f.baseLayout
        _ = try await f.builder.build(.init(context: context.path, dockerfile: "build/app.Dockerfile", outputLayout: layout, outputTag: "latest") { _ in
            try OCILayout(path: base, create: false).image(tag: "run")
        }) { _, _, _ in }
        let unpacked = try await UnpackedImage(layout: layout)
        let copied = Set(try FileManager.default.contentsOfDirectory(atPath: unpacked.rootfs + "/ctx"))
        #expect(copied == [".dockerignore", "a"], "\(copied)")
    }

    /// A path a `!` rule takes back from an ignored folder comes with the folders above it, in
    /// COPY and in a bind mount of the context, each with its own mode, as BuildKit's fsutil
    /// walker sends them (the folder's stat, not a made-up 0755); what the folder holds
    /// otherwise stays out.
    @Test func theFoldersAboveAPathTakenBackKeepTheirModes() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let context = TempDir("taken-back")
        let files = ["Dockerfile": """
            FROM base
            COPY . /ctx/
            RUN --mount=type=bind,target=/mnt ls -ld /ctx/private /ctx/private/shared /mnt/private /mnt/private/shared | cut -c1-10 > /modes; ls /ctx/private /mnt/private > /names
            """, ".dockerignore": "private\n!private/shared\n", "private/secret": "s", "private/shared/x": "x"]
        for (p, t) in files {
            try FileManager.default.createDirectory(atPath: (context.path + "/" + p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try t.write(toFile: context.path + "/" + p, atomically: true, encoding: .utf8)
        }
        chmod(context.path + "/private", 0o750)
        chmod(context.path + "/private/shared", 0o700)
        let layout = f.state.path + "/taken-back"
        let base = f.baseLayout
        _ = try await f.builder.build(.init(context: context.path, outputLayout: layout, outputTag: "latest") { _ in
            try OCILayout(path: base, create: false).image(tag: "run")
        }) { _, _, _ in }
        let unpacked = try await UnpackedImage(layout: layout)
        #expect(try String(contentsOfFile: unpacked.rootfs + "/modes", encoding: .utf8) == "drwxr-x---\ndrwx------\ndrwxr-x---\ndrwx------\n")
        #expect(try String(contentsOfFile: unpacked.rootfs + "/names", encoding: .utf8) == "/ctx/private:\nshared\n\n/mnt/private:\nshared\n")
    }
}
