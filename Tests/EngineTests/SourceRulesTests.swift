import Foundation
import SlipwayProtocol
import Testing
@testable import Engine

/// The rules of `SourceService` and `ImageValidation` that need an engine's options but no
/// build, in process: a source's syntax, the `--allow-source` policy on host paths, an image's
/// tag, and the network an image may ask for.
@Suite struct SourceRulesTests {
    final class Fixture: Sendable {
        let root: URL
        let allowed: String
        let engine: Engine

        init(network: BuildNetwork = .public) throws {
            root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("source-rules-\(UUID().uuidString.prefix(8))")
            allowed = root.appendingPathComponent("allowed").path
            try FileManager.default.createDirectory(atPath: allowed + "/app", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: root.appendingPathComponent("outside").path, withIntermediateDirectories: true)
            var options = EngineOptions(launcherPath: "/bin/true", allowedSourceRoots: [allowed], gitPollInterval: nil)
            options.buildNetwork = network
            engine = try Engine(stateDirectory: root.appendingPathComponent("state"), options: options)
        }

        deinit {
            // Only temporary files are at stake.
            try? FileManager.default.removeItem(at: root)
        }
    }

    static func failure(_ body: () throws -> Void) -> (reason: EngineError.Reason, field: String?)? {
        do {
            try body()
            return nil
        } catch let e as EngineError {
            return (e.reason, e.field)
        } catch {
            return (.internal, "\(error)")
        }
    }

    @Test func aSourceHasOneKindAndSaneSettings() throws {
        let f = try Fixture()
        func field(_ s: SourceSpec) -> String? { Self.failure { try SourceService.checkSourceSyntax(f.engine, s) }?.field }
        #expect(field(SourceSpec(local: .init(path: f.allowed + "/app"))) == nil)
        #expect(field(SourceSpec()) == "source")
        #expect(field(SourceSpec(blob: .init(url: "https://example.test/a.tgz"), local: .init(path: "/app"))) == "source")
        #expect(field(SourceSpec(local: .init(path: "relative/app"))) == "source.local.path")
        #expect(field(SourceSpec(local: .init(path: "/app", watch: true, watchDebounceMs: 5))) == "source.local.watchDebounceMs")
        #expect(field(SourceSpec(blob: .init(url: "https://example.test/a.tgz", stripComponents: 40))) == "source.blob.stripComponents")
    }

    /// Host paths must be inside `--allow-source` folders, compared with symlinks resolved;
    /// whether a path outside exists is not told.
    @Test func hostPathsMustBeInsideTheAllowedFolders() throws {
        let f = try Fixture()
        try FileManager.default.createSymbolicLink(atPath: f.allowed + "/escape", withDestinationPath: f.root.appendingPathComponent("outside").path)
        func reason(_ path: String) -> EngineError.Reason? { Self.failure { try SourceService.checkAllowed(f.engine, path, field: "p") }?.reason }
        #expect(reason(f.allowed + "/app") == nil)
        #expect(reason(f.allowed + "/missing") == .invalidParams)
        #expect(reason(f.root.appendingPathComponent("outside").path) == .permissionDenied)
        #expect(reason(f.root.appendingPathComponent("outside/missing").path) == .permissionDenied)
        #expect(reason(f.allowed + "/escape") == .permissionDenied)
        #expect(reason(f.allowed + "/app/../../outside") == .permissionDenied)
    }

    static func tag(_ engine: isolated Engine, _ tag: String?) throws -> String { try SourceService.resolveTag(engine, tag, namespace: "ns", name: "app") }
    static func network(_ engine: isolated Engine, _ n: BuildNetwork?) throws { try ImageValidation.checkNetwork(engine, n) }

    @Test func anImagesTagIsALayoutOrARegistryTag() async throws {
        let f = try Fixture()
        let state = f.engine.stateDirectory.path
        #expect(try await Self.tag(f.engine, nil) == "oci:\(state)/layouts/ns/app:latest")
        #expect(try await Self.tag(f.engine, "registry.test/app:v1") == "registry.test/app:v1")
        let digest = "registry.test/app@sha256:" + String(repeating: "a", count: 64)
        await #expect(throws: EngineError.self) { try await Self.tag(f.engine, digest) }
    }

    @Test func anImageMayAskForAtMostTheEnginesNetwork() async throws {
        let f = try Fixture(network: .none)
        try await Self.network(f.engine, nil)
        try await Self.network(f.engine, BuildNetwork.none)
        do {
            try await Self.network(f.engine, .public)
            Issue.record("public was allowed on an engine started with --build-network none")
        } catch let e as EngineError {
            #expect(e.field == "network")
        }
    }
}
