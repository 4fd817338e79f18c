import Foundation
import Testing
import TestSupport

/// `slipctl import -f` of kp's dependency descriptor: its stores, stacks and builders, and the
/// `default` stack and builder it names, which an image then builds with.
@Suite struct SlipctlImportTests {
    @Test func importsADependencyDescriptor() async throws {
        let state = TempDir("state")
        let work = TempDir("import")
        try await HostStack.ociLayout(at: work.path + "/stack", stackID: "io.slipway.test")
        let descriptor = """
            # kp's format (kp import -f)
            apiVersion: kp.kpack.io/v1alpha3
            kind: DependencyDescriptor
            defaultClusterStack: "base"
            defaultClusterBuilder: base
            lifecycle:
              image: registry.example.invalid/lifecycle
            clusterStores:
            - name: default
              sources:
              - image: \(Repo.buildpacks.appendingPathComponent("build-script").path)
              - image: '\(Repo.buildpacks.appendingPathComponent("procfile").path)'
            clusterStacks:
            - name: base
              buildImage:
                image: oci:\(work.path)/stack:build
              runImage:
                image: oci:\(work.path)/stack:run
            clusterBuilders:
            - name: base
              clusterStack: base
              clusterStore: default
              order:
              - group:
                - id: slipway/build-script
                  optional: true
                - id: slipway/procfile
            """
        try descriptor.write(toFile: work.path + "/deps.yaml", atomically: true, encoding: .utf8)
        let r = try await KpSeedTests.kp(["import", "-f", work.path + "/deps.yaml"], state: state.path)
        #expect(r.status == 0 && r.out == """
            Importing ClusterStore 'default'...
            Importing ClusterStack 'base'...
            Importing ClusterStack 'default'...
            Importing ClusterBuilder 'base'...
            Importing ClusterBuilder 'default'...
            Imported resources

            """, "\(r)")
        let builders = try await KpSeedTests.kp(["clusterbuilder", "list"], state: state.path)
        let rows = builders.out.split(separator: "\n").map(KpSeedTests.words)
        #expect(rows.contains { $0.hasPrefix("base True io.slipway.test") } && rows.contains { $0.hasPrefix("default True io.slipway.test") }, "\(builders)")
        let built = try await KpSeedTests.kp(["image", "create", "app", "--local-path", HelloApp.path, "--wait"], state: state.path)
        #expect(built.status == 0, "\(built)")
        // Again: the same resources are updated, not refused as existing.
        #expect(try await KpSeedTests.kp(["import", "-f", work.path + "/deps.yaml"], state: state.path).status == 0)

        // What is not a descriptor is refused before any request, saying where.
        try "apiVersion: v1\nkind: ConfigMap\n".write(toFile: work.path + "/other.yaml", atomically: true, encoding: .utf8)
        let other = try await KpSeedTests.kp(["import", "-f", work.path + "/other.yaml"], state: state.path)
        #expect(other.status == 1 && other.err.contains("is a ConfigMap of v1, not a kp DependencyDescriptor"), "\(other)")
        try "apiVersion: kp.kpack.io/v1alpha3\nkind: DependencyDescriptor\nclusterStacks: [a, b]\n".write(toFile: work.path + "/flow.yaml", atomically: true, encoding: .utf8)
        let flow = try await KpSeedTests.kp(["import", "-f", work.path + "/flow.yaml"], state: state.path)
        #expect(flow.status == 1 && flow.err.contains("flow.yaml line 3: "), "\(flow)")
    }
}
