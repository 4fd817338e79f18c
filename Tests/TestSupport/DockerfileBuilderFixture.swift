import BuildRuntime
import Foundation
import Testing

/// A Dockerfile builder in process (no engine), with the real kernel, overlayfs, bwrap and
/// `slipway-userns`, and a base image from the host stack: what builder and attack tests build with.
public struct DockerfileBuilderFixture: Sendable {
    public let state: TempDir
    public let context: TempDir
    public let baseLayout: String
    public let builder: DockerfileBuilder

    /// Builds each Dockerfile text, expecting it to fail with a message containing the other.
    public func expectFailures(_ cases: [(String, String)], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for (text, expected) in cases {
            try text.write(toFile: context.path + "/Dockerfile", atomically: true, encoding: .utf8)
            do {
                _ = try await builder.build(request(state.path + "/bad")) { _, _, _ in }
                Issue.record("\(text) built", sourceLocation: sourceLocation)
            } catch {
                #expect("\(error)".contains(expected), "\(error)", sourceLocation: sourceLocation)
            }
        }
    }

    public func request(_ layout: String, args: [String: String] = [:]) -> DockerfileBuilder.Request {
        let base = baseLayout
        return DockerfileBuilder.Request(context: context.path, buildArgs: args, outputLayout: layout, outputTag: "latest") { name in
            guard name == "base" else { throw RuntimeError.notFound("no image \(name)") }
            return try OCILayout(path: base, create: false).image(tag: "run")
        }
    }

    public static let dockerfile = #"""
        ARG GREETING=hello
        FROM base AS build
        ARG GREETING
        ENV APP_HOME=/app
        WORKDIR $APP_HOME
        COPY app/ ./
        COPY --chown=1000:1000 --chmod=0750 data/x.txt /data/
        RUN echo "$GREETING from RUN in $PWD" > made.txt && rm -f /etc/group
        USER 1000
        RUN id -u > /tmp/uid && (test -r /data/x.txt && echo readable || echo unreadable) > /tmp/read-by-1000

        FROM base
        COPY --from=build /app /app
        COPY --from=build /tmp/uid /uid
        COPY --from=build /tmp/read-by-1000 /read-by-1000
        LABEL org.example.k="a value"
        EXPOSE 8080 53/udp
        STOPSIGNAL SIGTERM
        HEALTHCHECK --interval=5s --retries=2 CMD ["/app/hello.sh"]
        CMD ["/app/hello.sh"]
        """#

    /// A builder on a fresh state folder with the host stack as `base`, and a context holding
    /// `dockerfile` and the files it copies. Needs Dockerfile steps (`DockerfileSteps.canRun`).
    public static func make() async throws -> DockerfileBuilderFixture {
        let mapping = try IDMapping.forCurrentUser()
        let state = TempDir("dstate"), context = TempDir("context")
        try await HostStack.ociLayout(at: state.path + "/base", stackID: "io.slipway.test")
        let files = [
            "Dockerfile": dockerfile, ".dockerignore": "README.md\n", "README.md": "not in the image\n",
            "app/hello.sh": "#!/bin/sh\necho \"hello from the Dockerfile image\"\n", "data/x.txt": "one\n",
        ]
        for (p, t) in files {
            let url = context.url.appendingPathComponent(p)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try t.write(to: url, atomically: true, encoding: .utf8)
        }
        chmod(context.path + "/app/hello.sh", 0o755)
        let images = try ImageStore(stateDirectory: state.url)
        let runner = try await Self.runner(mapping: mapping, layersRoot: state.path + "/dockerfile/layers")
        let builder = DockerfileBuilder(images: images, layersRoot: runner.layersRoot, cacheDirectory: state.path + "/dockerfile/cache", runner: runner)
        return DockerfileBuilderFixture(state: state, context: context, baseLayout: state.path + "/base", builder: builder)
    }

    /// A step runner as the engine makes one (`DockerfileExecutor.builder`): as root, with
    /// inner-id layer folders where an id-mapped lower mounts here.
    public static func runner(mapping: IDMapping, layersRoot: String) async throws -> OverlayStepRunner {
        let runner = OverlayStepRunner(sandbox: try SandboxRunner(), namespace: UserNamespaceRunner(helper: Repo.userNamespaceHelper, mapping: mapping),
                                       layersRoot: layersRoot)
        guard await runner.innerIDFoldersUnavailableReason(scratch: layersRoot) == nil else { return runner }
        return OverlayStepRunner(sandbox: runner.sandbox, namespace: runner.namespace, layersRoot: layersRoot, innerIDFolders: true)
    }
}
