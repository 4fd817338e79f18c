import Foundation

/// An image unpacked by umoci into a runtime bundle, as a user without root would: `--rootless`
/// (no chown to the image's owners), so the same tests pass as root and as anyone else.
struct UnpackedImage {
    let dir: TempDir
    /// The image's root filesystem.
    var rootfs: String { dir.path + "/b/rootfs" }

    init(layout: String, tag: String = "latest") async throws {
        dir = TempDir("bundle")
        let r = try await sh("umoci unpack --rootless --image '\(layout):\(tag)' '\(dir.path)/b'")
        guard r.status == 0 else { throw TestFailure("umoci unpack --rootless: \(r.err)") }
    }
}
