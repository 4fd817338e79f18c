import Foundation

/// An image unpacked by umoci into a runtime bundle, as a user without root would: `--rootless`
/// (no chown to the image's owners), so the same tests pass as root and as anyone else.
public struct UnpackedImage {
    public let dir: TempDir
    /// The image's root filesystem.
    public var rootfs: String { dir.path + "/b/rootfs" }

    public init(layout: String, tag: String = "latest") async throws {
        dir = TempDir("bundle")
        let r = try await sh("umoci unpack --rootless --image '\(layout):\(tag)' '\(dir.path)/b'")
        guard r.status == 0 else { throw TestFailure("umoci unpack --rootless: \(r.err)") }
    }

    /// Runs `/cnb/process/<type>` of an OCI layout image under bwrap, as an unprivileged user.
    public static func runProcess(layout: String, tag: String = "latest", process: String = "web", args: [String] = []) async throws -> String {
        let bundle = try await UnpackedImage(layout: layout, tag: tag)
        let run = try await sh("""
            bwrap --bind '\(bundle.rootfs)' / --proc /proc --dev /dev --unshare-user --uid 1000 --gid 1000 --clearenv \
              --setenv PATH /cnb/process:/cnb/lifecycle:/usr/bin:/bin --setenv CNB_LAYERS_DIR /layers /cnb/process/\(process) \(args.map { "'\($0)'" }.joined(separator: " "))
            """)
        guard run.status == 0 else { throw TestFailure("running the image failed (\(run.status)): \(run.err)") }
        return run.out
    }
}
