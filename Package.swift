// swift-tools-version:6.0
// Slipway: a container image build service speaking JSON-RPC 2.0 over stdio.
// No package dependencies: Foundation, Dispatch, Swift Testing and C system libraries only.
import PackageDescription

let package = Package(
    name: "Slipway",
    products: [
        // What editors, tools and pipelines run: a small static C forwarder to the shared engine.
        .executable(name: "slipway", targets: ["SlipwayForwarder"]),
        // The engine (`engine`, `--embedded`), started by the forwarder.
        .executable(name: "slipway-engine", targets: ["SlipwayEngineMain"]),
        .executable(name: "slipway-launcher", targets: ["SlipwayLauncher"]),
        .executable(name: "slipway-userns", targets: ["SlipwayUserNS"]),
        // kp's command line on Slipway (clients/slipctl).
        .executable(name: "slipctl", targets: ["slipctl"]),
        // Prints spec/openrpc.json, generated from the protocol's method types (`make openrpc`).
        .executable(name: "slipway-openrpc", targets: ["SlipwayOpenRPC"]),
    ],
    targets: [
        // C system libraries, installed by scripts/setup.sh.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // libdeflate: gzip's deflate, two to three times as fast as zlib's at the same level.
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // Linux system calls glibc does not wrap (openat2); a header only, nothing to link.
        .systemLibrary(name: "CLinuxSyscalls"),

        // The version, written once for the C forwarder and the Swift engine.
        .target(name: "CSlipwayVersion"),

        // Layer 1: JSON-RPC 2.0 (framing, messages, connection). No domain knowledge.
        .target(name: "JSONRPC"),
        // Layer 3: build runtime (sources, TOML, OCI, sandbox, buildpacks lifecycle).
        .target(name: "BuildRuntime", dependencies: ["CArchive", "CCrypto", "CSeccomp", "CLinuxSyscalls", "CCurl", "CZlib", "CDeflate", "CZstd"]),
        // The protocol's vocabulary: params of every method, notification payloads, the value
        // types both name. Foundation only, so the engine, the server and clients share it.
        .target(name: "SlipwayProtocol"),
        // Layer 2: the engine (domain, rules, scheduler, persistence).
        .target(name: "Engine", dependencies: ["SlipwayProtocol", "BuildRuntime", "CSQLite"]),
        // Layer 4: the server (method table, notifications, command line).
        .target(
            name: "SlipwayServer", dependencies: ["JSONRPC", "SlipwayProtocol", "Engine", "BuildRuntime", "CSlipwayVersion", "CLinuxSyscalls"],
            resources: [.copy("Resources/openrpc.json")]
        ),
        .executableTarget(name: "SlipwayEngineMain", dependencies: ["SlipwayServer"]),
        // `slipway`: relays stdio to the engine's socket; C and static so it starts as fast as /bin/true.
        .executableTarget(
            name: "SlipwayForwarder", dependencies: ["CSlipwayVersion"],
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.unsafeFlags(["-static-executable", "-Xlinker", "--gc-sections", "-Xlinker", "-s"])]
        ),
        // The CNB launcher placed in every exported image; C so it needs no Swift runtime.
        .executableTarget(
            name: "SlipwayLauncher",
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.unsafeFlags(["-static-executable", "-Xlinker", "--gc-sections", "-Xlinker", "-s"])]
        ),

        // Runs a command as root of a user namespace with a whole id range, over an overlay of
        // layers (Dockerfile RUN steps); C and static, like the launcher.
        .executableTarget(
            name: "SlipwayUserNS",
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.unsafeFlags(["-static-executable", "-Xlinker", "--gc-sections", "-Xlinker", "-s"])]
        ),

        // Clients: kp's command line, speaking JSON-RPC to `slipway` like any other client.
        .executableTarget(name: "slipctl", dependencies: ["JSONRPC", "SlipwayProtocol", "CSlipwayVersion"], path: "clients/slipctl"),
        // The OpenRPC document's generator: the document comes from SlipwayProtocol's types.
        .executableTarget(name: "SlipwayOpenRPC", dependencies: ["JSONRPC", "SlipwayProtocol"]),

        // What the test targets share: temporary folders, sh(), the `slipway` client, the host
        // stack, fixture servers and the Fixtures folder (scripts, buildpacks, the Dockerfile
        // corpus). A helper two suites use lives here, not in either suite.
        .target(name: "TestSupport", dependencies: ["JSONRPC", "SlipwayProtocol", "BuildRuntime", "Engine", "CLinuxSyscalls"], path: "Tests/TestSupport", exclude: ["Fixtures"]),

        // Each module's own tests, in process.
        .testTarget(name: "JSONRPCTests", dependencies: ["JSONRPC"]),
        // Also runs the built `slipway-userns` helper, which Dockerfile steps go through.
        .testTarget(name: "BuildRuntimeTests", dependencies: ["BuildRuntime", "TestSupport", "SlipwayUserNS"]),
        // SessionTests start an engine in process, which names the built launcher.
        .testTarget(name: "EngineTests", dependencies: ["Engine", "SlipwayProtocol", "BuildRuntime", "TestSupport", "SlipwayLauncher"]),
        .testTarget(name: "SlipwayServerTests", dependencies: ["SlipwayServer", "SlipwayProtocol", "Engine", "BuildRuntime", "JSONRPC", "TestSupport"]),
        // End to end: the built binaries (`slipway`, the engine, the launcher, `slipctl`) driven as
        // a user or an editor drives them.
        .testTarget(
            name: "SlipwayTests",
            dependencies: ["SlipwayForwarder", "SlipwayEngineMain", "SlipwayLauncher", "SlipwayUserNS", "slipctl", "SlipwayOpenRPC", "SlipwayServer", "SlipwayProtocol", "Engine", "BuildRuntime", "JSONRPC", "TestSupport"]
        ),
    ]
)
