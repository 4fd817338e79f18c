import Foundation
import Testing
@testable import BuildRuntime

/// The Dockerfile frontend on its own, with no sandbox, store or network (as BuildKit tests
/// dockerfile2llb): which stages a target needs and in what order, what instructions that make
/// no layer do to a stage, how cache keys follow from their inputs, and what it refuses.
@Suite struct DockerfileFrontendTests {
    func frontend(_ text: String, args: [String: String] = [:]) throws -> DockerfileFrontend {
        try DockerfileFrontend(parsing: text, file: "Dockerfile", buildArgs: args)
    }

    /// A stage from scratch after all its instructions (the layer steps only take their key).
    func evaluate(_ f: DockerfileFrontend, stage index: Int) throws -> BuildingStage {
        let graph = try f.graph(target: nil)
        var stage = BuildingStage(config: OCIImageConfig(config: .init(), diffIDs: []), key: StepCacheKey.scratch)
        var cmdSet = false
        for ins in f.dockerfile.stages[index].instructions { try f.apply(ins, to: &stage, globals: graph.globals, cmdSet: &cmdSet) }
        return stage
    }

    func refusal(_ body: () throws -> Void) -> String {
        do {
            try body()
            return ""
        } catch let e as RuntimeError {
            return e.kind == .buildFailed ? e.message : "not a build failure: \(e)"
        } catch {
            return "\(error)"
        }
    }

    static let fourStages = """
        FROM scratch AS base
        FROM base AS build
        COPY --from=base / /
        FROM scratch AS unrelated
        FROM build AS final
        """

    @Test func theTargetNeedsItsStagesAndTheirs() throws {
        let graph = try frontend(Self.fourStages).graph(target: nil)
        #expect(graph.target == 3)
        #expect(Set(graph.stages.keys) == [0, 1, 3])  // `unrelated` is not built
        #expect(graph.stages[0]?.dependencies == [])
        #expect(graph.stages[1]?.dependencies == [0])
        #expect(graph.stages[1]?.fromStage == 0)
        #expect(graph.stages[3]?.dependencies == [1])
        #expect(graph.stages[3]?.label == "[final]")
        #expect(graph.stages[0]?.from == "scratch" && graph.stages[0]?.fromStage == nil)
    }

    @Test func targetPrunesTheStagesAfterIt() throws {
        let f = try frontend(Self.fourStages)
        #expect(Set(try f.graph(target: "build").stages.keys) == [0, 1])
        #expect(Set(try f.graph(target: "unrelated").stages.keys) == [2])
        #expect(Set(try f.graph(target: "BASE").stages.keys) == [0])  // stage names ignore case
        #expect(refusal { _ = try f.graph(target: "nope") } == "target stage \"nope\" is not in Dockerfile")
    }

    @Test func copyFromAndMountFromAreDependencies() throws {
        let text = """
            ARG SOURCE=a
            FROM scratch AS a
            FROM scratch AS b
            FROM scratch AS c
            FROM scratch
            COPY --from=$SOURCE / /a
            RUN --mount=type=bind,from=b,target=/b true
            COPY --from=alpine:3 / /image
            """
        let graph = try frontend(text).graph(target: nil)
        #expect(graph.stages[3]?.dependencies == [0, 1])
        #expect(Set(graph.stages.keys) == [0, 1, 3])
        // A build arg changes which stage a --from names, and so the graph.
        #expect(try frontend(text, args: ["SOURCE": "c"]).graph(target: nil).stages[3]?.dependencies == [1, 2])
        // A stage named later is not an earlier stage: it is no dependency.
        #expect(try frontend("FROM scratch\nCOPY --from=later / /\nFROM scratch AS later").graph(target: "0").stages.keys.sorted() == [0])
    }

    @Test func globalArgsNameTheBaseImage() throws {
        let text = "ARG BASE=alpine\nARG TAG\nFROM ${BASE}:${TAG:-3}"
        #expect(try frontend(text).graph(target: nil).stages[0]?.from == "alpine:3")
        let given = try frontend(text, args: ["BASE": "debian", "TAG": "12"]).graph(target: nil)
        #expect(given.stages[0]?.from == "debian:12")
        #expect(given.stages[0]?.fromStage == nil)
        #expect(given.globals["TARGETOS"] == "linux")
    }

    @Test func argAndEnvSubstitution() throws {
        let text = """
            FROM scratch
            ARG V=1
            ENV A=$V B=x
            ENV C=${A}-$B
            ENV A=2 D=$A
            ENV LEGACY value with spaces
            LABEL l=$C
            WORKDIR /srv
            WORKDIR app/$V
            USER $V
            EXPOSE 80 53/udp
            """
        let stage = try evaluate(try frontend(text), stage: 0)
        let env = Dictionary(stage.env, uniquingKeysWith: { _, b in b })
        #expect(env["A"] == "2" && env["B"] == "x" && env["C"] == "1-x")
        #expect(env["D"] == "1")  // values are read with the variables as they were before this ENV
        #expect(env["LEGACY"] == "value with spaces")
        #expect(stage.config.config.Labels == ["l": "1-x"])
        #expect(stage.config.config.WorkingDir == "/srv/app/1")
        #expect(stage.config.config.User == "1")
        #expect(Set(stage.config.config.ExposedPorts?.keys ?? [:].keys) == ["80/tcp", "53/udp"])
        #expect(stage.runEnvironment["V"] == "1" && stage.runEnvironment["PATH"] == BuildingStage.defaultPath)
        let given = try evaluate(try frontend(text, args: ["V": "7"]), stage: 0)
        #expect(given.lookup("C") == "7-x" && given.config.config.User == "7")
    }

    @Test func entrypointDropsOnlyAnInheritedCmd() throws {
        let set = try evaluate(try frontend("FROM scratch\nCMD [\"a\"]\nENTRYPOINT [\"e\"]"), stage: 0)
        #expect(set.config.config.Cmd == ["a"] && set.config.config.Entrypoint == ["e"])
        let shell = try evaluate(try frontend("FROM scratch\nSHELL [\"/bin/bash\", \"-c\"]\nCMD run it"), stage: 0)
        #expect(shell.config.config.Cmd == ["/bin/bash", "-c", "run it"])
        let health = try evaluate(try frontend("FROM scratch\nHEALTHCHECK --interval=1m30s --retries=2 CMD true"), stage: 0)
        #expect(health.config.config.Healthcheck?.Interval == 90_000_000_000 && health.config.config.Healthcheck?.Retries == 2)
    }

    @Test func cacheKeysChangeWhenAndOnlyWhenTheirInputsDo() throws {
        let text = "FROM scratch\nARG V=1\nENV E=x\nRUN make"
        func runKey(_ f: DockerfileFrontend, mounts: [String] = [], network: Bool = false) throws -> Digest {
            let stage = try evaluate(f, stage: 0)
            return StepCacheKey.run(stage.key, environment: stage.runEnvironment, mounts: mounts, publicNetwork: network)
        }
        let base = try runKey(try frontend(text))
        #expect(try runKey(try frontend(text)) == base)
        // An arg the Dockerfile does not declare is no input; a declared one's value is.
        #expect(try runKey(try frontend(text, args: ["UNUSED": "1"])) == base)
        #expect(try runKey(try frontend(text, args: ["V": "2"])) != base)
        // The instruction's text, the environment, the mounts and the network are inputs.
        #expect(try runKey(try frontend("FROM scratch\nARG V=1\nENV E=y\nRUN make")) != base)
        #expect(try runKey(try frontend("FROM scratch\nARG V=1\nENV E=x\nRUN make all")) != base)
        #expect(try runKey(try frontend(text), mounts: ["cache /root/.cache"]) != base)
        #expect(try runKey(try frontend(text), network: true) != base)
        // A layer's digest is the input of the step that wrote it; and the base image's, of a stage.
        let key = StepCacheKey.scratch
        let one = Digest.of(Data("one".utf8)), two = Digest.of(Data("two".utf8))
        #expect(StepCacheKey.after(key, layer: one) == StepCacheKey.after(key, layer: one))
        #expect(StepCacheKey.after(key, layer: one) != StepCacheKey.after(key, layer: two))
        #expect(StepCacheKey.from(image: one) != StepCacheKey.from(image: two))
        #expect(StepCacheKey.from(image: one) != StepCacheKey.scratch)
    }

    @Test func badInputIsRefusedWithItsLine() throws {
        #expect(refusal { _ = try frontend("FROM scratch\nFROBNICATE x") }.hasPrefix("Dockerfile:2:"))
        let other = try frontend("FROM --platform=linux/s390x-other scratch")
        let graph = try other.graph(target: nil)
        #expect(refusal { try other.checkPlatform(of: graph.stages[0]!, globals: graph.globals) }.contains("only this machine's platform"))
        let host = try frontend("FROM --platform=$BUILDPLATFORM scratch")
        let hostGraph = try host.graph(target: nil)
        #expect(refusal { try host.checkPlatform(of: hostGraph.stages[0]!, globals: hostGraph.globals) } == "")
        #expect(refusal { _ = try evaluate(try frontend("FROM scratch\nENV A=${B:?B is needed}"), stage: 0) }.hasPrefix("Dockerfile:2:"))
        #expect(refusal { _ = try evaluate(try frontend("FROM scratch\nHEALTHCHECK --interval=soon CMD true"), stage: 0) }.contains("is not a duration"))
        #expect(refusal { _ = try frontend("FROM scratch").triggers(["ONBUILD RUN x"], of: "base", line: 1) }.contains("ONBUILD trigger"))
        #expect(refusal { _ = try frontend("FROM scratch").triggers(["RUN x"], of: "base", line: 1) } == "")
    }

    @Test func mountFlagsAreCheckedBeforeAnythingIsRead() throws {
        let cache = try MountSpec(parsing: "type=cache,target=/root/.cache,id=go,rw", file: "Dockerfile", line: 3)
        #expect(cache.kind == .cache && cache.target == "/root/.cache" && cache.options["id"] == "go" && cache.options["rw"] == "true")
        #expect(try MountSpec(parsing: "target=/src", file: "Dockerfile", line: 3).kind == .bind)
        for (spec, why) in [("type=secret,target=/s", "is not supported"), ("type=ssh", "is not supported"), ("type=bind,target=src", "absolute target"),
                            ("type=bind,target=/a/../..", "absolute target"), ("type=tmpfs,target=/", "absolute target"), ("type=cache", "absolute target")] {
            let message = refusal { _ = try MountSpec(parsing: spec, file: "Dockerfile", line: 3) }
            #expect(message.hasPrefix("Dockerfile:3:") && message.contains(why), "\(spec): \(message)")
        }
    }
}
