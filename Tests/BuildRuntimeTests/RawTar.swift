import Foundation
@testable import BuildRuntime
import TestSupport

/// A tar archive made entry by entry from raw bytes, so tests can give names no tar tool would.
struct RawTar {
    var bytes: [UInt8] = []

    mutating func add(_ name: [UInt8], type: UInt8 = UInt8(ascii: "0"), link: [UInt8] = [], data: [UInt8] = []) {
        var shortName = name
        if name.count > 100 {
            let record = TarWriter.paxRecord("path", String(decoding: name, as: UTF8.self))
            append(TarWriter.header(name: Array("PaxHeaders/x".utf8), prefix: [], mode: 0o644, owner: .root, size: Int64(record.count),
                                    type: UInt8(ascii: "x"), link: []), record)
            shortName = Array(name.prefix(100))
        }
        append(TarWriter.header(name: shortName, prefix: [], mode: 0o755, owner: .root, size: Int64(data.count), type: type, link: link), data)
    }

    private mutating func append(_ header: [UInt8], _ data: [UInt8]) {
        bytes += header + data
        if data.count % 512 != 0 { bytes += [UInt8](repeating: 0, count: 512 - data.count % 512) }
    }

    func write(to path: String) throws {
        try Data(bytes + [UInt8](repeating: 0, count: 1024)).write(to: URL(fileURLWithPath: path))
    }
}
