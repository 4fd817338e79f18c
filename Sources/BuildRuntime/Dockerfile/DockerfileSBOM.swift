import CCrypto
import Foundation
import Synchronization

/// The SBOM of a Dockerfile image: one SPDX 2.3 document with a package per layer the
/// Dockerfile added (the layers after its final stage's base image), each holding the regular
/// files of that layer with their SHA-256 and SHA-1 checksums (SPDX wants SHA-1 for a file, and
/// a package verification code made from them). Kept with the build, not in the image; read
/// back by `build/sbom`.
public enum DockerfileSBOM {
    /// Most files one document lists; an image whose layers add more fails the build, saying so.
    public static let maxFiles = 500_000

    /// The document for `image`, whose first `baseLayers` layers came from its base.
    public static func document(image: OCIImage, baseLayers: Int, name: String, created: Date = Date()) throws -> SBOMDocument {
        var packages: [[String: Any]] = []
        var files: [[String: Any]] = []
        var relationships: [[String: Any]] = []
        let added = Array(image.manifest.layers.dropFirst(baseLayers))
        for (i, layer) in added.enumerated() {
            let packageID = "SPDXRef-Layer-\(i + 1)"
            let layerFiles = try LayerFileMemo.files(of: layer.digest) {
                try regularFiles(ofLayer: image.store.path(layer.digest), label: "layer \(i + 1) (\(layer.digest))")
            }
            var package: [String: Any] = [
                "SPDXID": packageID, "name": "layer \(i + 1)", "versionInfo": layer.digest.string,
                "downloadLocation": "NOASSERTION", "filesAnalyzed": !layerFiles.isEmpty,
                "checksums": [["algorithm": "SHA256", "checksumValue": layer.digest.hex]],
            ]
            if !layerFiles.isEmpty {
                package["packageVerificationCode"] = ["packageVerificationCodeValue": sha1Hex(Array(layerFiles.map(\.sha1).sorted().joined().utf8))]
            }
            guard files.count + layerFiles.count <= maxFiles else { throw tooManyFiles }
            packages.append(package)
            relationships.append(["spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": packageID])
            for (j, f) in layerFiles.enumerated() {
                let fileID = "SPDXRef-File-\(i + 1)-\(j + 1)"
                files.append([
                    "SPDXID": fileID, "fileName": "./" + f.path,
                    "checksums": [["algorithm": "SHA1", "checksumValue": f.sha1], ["algorithm": "SHA256", "checksumValue": f.sha256]],
                ])
                relationships.append(["spdxElementId": packageID, "relationshipType": "CONTAINS", "relatedSpdxElement": fileID])
            }
        }
        let stamp = ISO8601DateFormatter().string(from: created)
        let doc: [String: Any] = [
            "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
            "name": name, "documentNamespace": "https://slipway.invalid/spdx/dockerfile/" + image.manifestDigest.hex,
            "creationInfo": ["created": stamp, "creators": ["Tool: slipway"]],
            "packages": packages, "files": files, "relationships": relationships,
        ]
        let bytes = try JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys, .withoutEscapingSlashes])
        return SBOMDocument(scope: .launch, buildpack: nil, layer: nil, format: .spdx, contents: Array(bytes))
    }

    /// The files of layers read lately, by layer digest (a layer's files are a function of its
    /// digest): a rebuild that changed nothing, or one step, reads only the layers that are new.
    /// At most `maxFiles` files are held; past that the memo starts again.
    enum LayerFileMemo {
        private static let memo = Mutex<(layers: [Digest: [LayerFile]], files: Int)>(([:], 0))

        static func files(of digest: Digest, read: () throws -> [LayerFile]) throws -> [LayerFile] {
            if let known = memo.withLock({ $0.layers[digest] }) { return known }
            let files = try read()
            memo.withLock { m in
                if m.files + files.count > maxFiles { m = ([:], 0) }
                m.layers[digest] = files
                m.files += files.count
            }
            return files
        }
    }

    static var tooManyFiles: RuntimeError {
        RuntimeError.buildFailed("the image's layers add more than \(maxFiles) files, more than its SBOM lists; add fewer files")
    }

    /// A regular file of a layer: its path (without a leading `/` or `./`) and checksums.
    struct LayerFile: Sendable {
        var path: String
        var sha1: String
        var sha256: String
    }

    /// The regular files of the layer blob at `path` (a tar, compressed or not), in archive order;
    /// whiteouts are not files the layer added.
    static func regularFiles(ofLayer path: String, label: String) throws -> [LayerFile] {
        var out: [LayerFile] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        try TarEntryReader.forEachRegularFile(ofArchive: path, label: "\(label) for the image's SBOM") { name, _, read in
            guard !name.isEmpty, !(name.split(separator: "/").last?.hasPrefix(".wh.") ?? false) else { return }
            guard out.count < maxFiles else { throw tooManyFiles }
            let sha256 = SHA256Hasher()
            let sha1 = EVP_MD_CTX_new()
            defer { EVP_MD_CTX_free(sha1) }
            EVP_DigestInit_ex(sha1, EVP_sha1(), nil)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try read($0) }
                if n == 0 { break }
                buffer.withUnsafeBytes { b in
                    let part = UnsafeRawBufferPointer(rebasing: b[0..<n])
                    sha256.update(part)
                    EVP_DigestUpdate(sha1, part.baseAddress, n)
                }
            }
            var sha1Bytes = [UInt8](repeating: 0, count: 20)
            var length: UInt32 = 0
            EVP_DigestFinal_ex(sha1, &sha1Bytes, &length)
            out.append(LayerFile(path: name, sha1: hexString(sha1Bytes), sha256: sha256.finish().hex))
        }
        return out
    }

    static func sha1Hex(_ bytes: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: 20)
        var length: UInt32 = 0
        let ctx = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(ctx) }
        EVP_DigestInit_ex(ctx, EVP_sha1(), nil)
        bytes.withUnsafeBytes { _ = EVP_DigestUpdate(ctx, $0.baseAddress, $0.count) }
        EVP_DigestFinal_ex(ctx, &out, &length)
        return hexString(out)
    }
}

extension DockerfileSBOM {
    /// The document of what a Dockerfile build wrote to its output layout: the layers after
    /// its final stage's base (all of them for `FROM scratch`).
    static func document(for result: DockerfileBuilder.Result, images: ImageStore, request: BuildRequest) throws -> SBOMDocument {
        let layout = try OCILayout(path: request.outputLayout, create: false)
        let image = try OCIImage.load(result.imageDigest, from: layout.store)
        let base = try result.finalBase.map { digest in
            try images.content.contains(digest) ? OCIImage.load(digest, from: images.content) : OCIImage.load(digest, from: layout.store)
        }
        return try document(image: image, baseLayers: base?.manifest.layers.count ?? 0, name: request.outputName)
    }
}
