import Foundation

/// Paths of the repository and the binaries `swift build` made.
public enum Repo {
    public static let root: URL = URL(fileURLWithPath: #filePath)  // Tests/TestSupport/Repo.swift
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static var binDir: URL { root.appendingPathComponent(".build/debug") }
    public static var slipway: String { binDir.appendingPathComponent("slipway").path }
    /// The built `slipway-userns`, which runs a Dockerfile step as root of a user namespace.
    public static var userNamespaceHelper: String { binDir.appendingPathComponent("slipway-userns").path }
    public static var buildpacks: URL { root.appendingPathComponent("buildpacks") }
    public static var examples: URL { root.appendingPathComponent("examples") }
    public static var fixtures: URL { root.appendingPathComponent("Tests/TestSupport/Fixtures") }
    /// Engine flags that let a Dockerfile name host paths (`FROM oci:…`) in the test's temporary
    /// folders and the repository, and sources there: without `--allow-source`, a Dockerfile
    /// names no host path at all.
    public static var hostPathArguments: [String] { ["--allow-source", NSTemporaryDirectory(), "--allow-source", root.path] }
}
