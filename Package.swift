// swift-tools-version:6.0
// Slipway: a container image build service speaking JSON-RPC 2.0 over stdio.
// No package dependencies: Foundation, Dispatch, Swift Testing and C system libraries only.
import PackageDescription

let package = Package(
    name: "Slipway",
    products: [
        .executable(name: "slipway", targets: ["slipway"]),
        .executable(name: "slipway-launcher", targets: ["SlipwayLauncher"]),
    ],
    targets: [
        // C system libraries, installed by scripts/setup.sh.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // Linux system calls glibc does not wrap (openat2); a header only, nothing to link.
        .systemLibrary(name: "CLinuxSyscalls"),

        // Layer 1: JSON-RPC 2.0 (framing, messages, connection). No domain knowledge.
        .target(name: "JSONRPC"),
        // Layer 3: build runtime (sources, TOML, OCI, sandbox, buildpacks lifecycle).
        .target(name: "BuildRuntime", dependencies: ["CArchive", "CCrypto", "CSeccomp", "CLinuxSyscalls", "CCurl"]),
        // Layer 2: the engine (domain, rules, scheduler, persistence).
        .target(name: "Engine", dependencies: ["BuildRuntime", "CSQLite"]),
        // Protocol types: params and results of every method, every notification.
        .target(name: "SlipwayProtocol", dependencies: ["JSONRPC", "Engine", "BuildRuntime"]),
        // Layer 4: the server (method table, notifications, command line).
        .target(
            name: "SlipwayServer", dependencies: ["JSONRPC", "SlipwayProtocol", "Engine", "BuildRuntime"],
            resources: [.copy("Resources/openrpc.json")]
        ),
        .executableTarget(name: "slipway", dependencies: ["SlipwayServer"]),
        // The CNB launcher placed in every exported image; C so it needs no Swift runtime.
        .executableTarget(
            name: "SlipwayLauncher",
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.unsafeFlags(["-static-executable", "-Xlinker", "--gc-sections", "-Xlinker", "-s"])]
        ),

        .testTarget(name: "JSONRPCTests", dependencies: ["JSONRPC"]),
        .testTarget(name: "BuildRuntimeTests", dependencies: ["BuildRuntime"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "BuildRuntime"]),
        .testTarget(
            name: "SlipwayTests",
            dependencies: ["slipway", "SlipwayLauncher", "SlipwayServer", "JSONRPC"],
            exclude: ["Fixtures"]
        ),
    ]
)
