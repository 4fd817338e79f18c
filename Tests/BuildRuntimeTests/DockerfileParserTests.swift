import Foundation
import Testing
@testable import BuildRuntime

@Suite struct DockerfileParserTests {
    func parse(_ text: String) throws -> Dockerfile { try DockerfileParser().parse(text) }

    func failure(_ text: String) -> String {
        do {
            _ = try parse(text)
            return "parsed"
        } catch {
            return "\(error)"
        }
    }

    @Test func stagesInstructionsAndForms() throws {
        let d = try parse("""
            # syntax=docker/dockerfile:1
            ARG BASE=debian
            FROM $BASE AS Build
            RUN echo hi && \\
                # a comment inside the instruction
                echo there
            CMD ["run", "it"]
            ENTRYPOINT [not json
            COPY --from=build --chown=1:1 a b /dst/

            from scratch
            copy --from=build /x /x
            """)
        #expect(d.syntax == "docker/dockerfile:1")
        #expect(d.globalArgs.map(\.shellText) == ["BASE=debian"])
        #expect(d.stages.count == 2 && d.stages[0].name == "build" && d.stages[1].name == nil)
        let i = d.stages[0].instructions
        #expect(i.map(\.keyword) == [.run, .cmd, .entrypoint, .copy])
        #expect(i[0].arguments == .shell("echo hi &&     echo there") && i[0].line == 4)
        #expect(i[1].arguments == .exec(["run", "it"]))
        #expect(i[2].arguments == .shell("[not json"))
        #expect(i[3].flag("from") == .some("build") && i[3].flag("chown") == .some("1:1") && i[3].flag("chmod") == nil)
        #expect(d.stages[1].instructions[0].line == 12)
        #expect(d.stage(named: "BUILD") == 0 && d.stage(named: "1") == 1 && d.stage(named: "nope") == nil)
    }

    @Test func escapeDirectiveAndLineEndings() throws {
        let d = try parse("\u{FEFF}# escape=`\r\nFROM scratch\r\nCOPY a `\r\n  C:\\dst\r\n")
        #expect(d.escape == "`")
        #expect(d.stages[0].instructions[0].shellText == "a   C:\\dst")
        // After a comment, a directive is a comment too.
        #expect(try parse("# hello\n# escape=`\nFROM scratch\n").escape == "\\")
    }

    @Test func heredocs() throws {
        let d = try parse("""
            FROM scratch
            RUN <<EOF
            set -e
            echo "$HOME"
            EOF
            COPY <<-"CONF" <<LIST /etc/
            \t\tkey=$value
            \tCONF
            a
            LIST
            RUN cat <<<"not a heredoc" && echo "<<NOR"
            """)
        let i = d.stages[0].instructions
        #expect(i[0].heredocs == [.init(name: "EOF", content: "set -e\necho \"$HOME\"\n", expands: true)])
        #expect(i[1].heredocs == [.init(name: "CONF", content: "key=$value\n", expands: false), .init(name: "LIST", content: "a\n", expands: true)])
        #expect(i[2].heredocs.isEmpty && i[2].line == 11)
    }

    @Test func flags() throws {
        let d = try parse("""
            FROM --platform=$BUILDPLATFORM scratch
            RUN --mount=type=cache,target=/root/.cache --mount=type=bind,from=x,target=/y make
            ADD --checksum=sha256:abc https://example.com/a /a
            HEALTHCHECK --interval=5s --retries=3 CMD ["true"]
            """)
        #expect(d.stages[0].from.flag("platform") == .some("$BUILDPLATFORM"))
        let i = d.stages[0].instructions
        #expect(i[0].flagValues("mount") == ["type=cache,target=/root/.cache", "type=bind,from=x,target=/y"])
        #expect(i[0].shellText == "make")
        #expect(i[1].flag("checksum") == .some("sha256:abc"))
        #expect(i[2].flag("interval") == .some("5s") && i[2].shellText == #"CMD ["true"]"#)
    }

    @Test(arguments: [
        ("FROM scratch\nRUNN make\n", #"Dockerfile:2: unknown instruction "RUNN""#),
        ("FROM scratch\nCOPY --bogus=1 a b\n", "Dockerfile:2: unknown flag --bogus for COPY"),
        ("FROM scratch\nRUN --from=x make\n", "Dockerfile:2: unknown flag --from for RUN"),
        ("FROM scratch\nCOPY --from=a --from=b x y\n", "Dockerfile:2: --from is given twice"),
        ("RUN make\nFROM scratch\n", "Dockerfile:1: RUN before the first FROM"),
        ("# just a comment\n", "Dockerfile:1: the Dockerfile has no FROM"),
        ("FROM a AS x\nFROM b AS X\n", #"Dockerfile:2: duplicate stage name "x""#),
        ("FROM a AS 1st\n", #"Dockerfile:1: invalid stage name "1st""#),
        ("FROM a b c d\n", "Dockerfile:1: FROM takes an image"),
        ("FROM a\nCOPY only-one\n", "Dockerfile:2: COPY needs at least one source and a destination"),
        ("FROM a\nLABEL a=b c\n", #"Dockerfile:2: LABEL needs key=value pairs; "c" has no ="#),
        ("FROM a\nENV lonely\n", "Dockerfile:2: ENV needs key=value pairs"),
        ("FROM a\nARG 9lives\n", #"Dockerfile:2: ARG name "9lives" is not valid"#),
        ("FROM a\nSHELL /bin/bash -c\n", "Dockerfile:2: SHELL needs the JSON form"),
        ("FROM a\nHEALTHCHECK echo\n", "Dockerfile:2: HEALTHCHECK takes NONE or CMD"),
        ("FROM a\nONBUILD ONBUILD RUN x\n", "Dockerfile:2: ONBUILD ONBUILD is not allowed"),
        ("FROM a\nONBUILD FROM b\n", "Dockerfile:2: FROM is not allowed as an ONBUILD trigger"),
        ("FROM a\nONBUILD RUNN x\n", #"Dockerfile:2: unknown instruction "RUNN""#),
        ("FROM a\nRUN <<EOF\necho\n", "Dockerfile:2: heredoc <<EOF is not closed"),
        ("# escape=x\nFROM a\n", "Dockerfile:1: invalid escape token 'x'"),
        ("# escape=`\n# escape=\\\nFROM a\n", "Dockerfile:2: only one escape parser directive can be used"),
        ("FROM a\nWORKDIR\n", "Dockerfile:2: WORKDIR needs a value"),
    ])
    func mistakesNameTheLine(_ text: String, _ expected: String) {
        let message = failure(text)
        #expect(message.hasPrefix(expected), "\(message)")
    }

    @Test func legacyEnvAndOnbuild() throws {
        let d = try parse("FROM a\nENV PATH /usr/bin:/bin\nONBUILD RUN make\nMAINTAINER me\n")
        let i = d.stages[0].instructions
        #expect(i[0].shellText == "PATH /usr/bin:/bin" && i[1].shellText == "RUN make" && i[2].keyword == .maintainer)
    }

    @Test func aHugeDockerfileIsRefused() {
        #expect(failure("FROM a\n" + String(repeating: "#", count: DockerfileParser.maxBytes)).contains("larger than"))
    }
}
