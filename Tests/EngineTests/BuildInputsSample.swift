@testable import Engine

extension BuildInputs {
    /// The inputs of a local-source build with two buildpacks: what a test changes one field of
    /// to see which build reasons follow. Here, not in TestSupport: it needs the internal
    /// memberwise initializer (`@testable`), which a library target cannot use in a release build.
    static let sample = BuildInputs(
        builder: .default, sourceType: .local, sourceURL: "", sourceRevision: "sha256:aaa", sourceRef: nil, subPath: nil,
        env: ["A": "1"], buildpacks: ["x/node": "1.0.0", "x/npm": "2.0.0"], runImageDigest: "sha256:run1")
}
