import Foundation
import JSONRPC

// slipway-openrpc: prints the OpenRPC document generated from the protocol's types.
//   swift run slipway-openrpc > Sources/SlipwayServer/Resources/openrpc.json   (or: make openrpc)
do {
    FileHandle.standardOutput.write(Data(OpenRPCGenerator.pretty(try OpenRPCGenerator.document()).utf8))
} catch {
    FileHandle.standardError.write(Data("slipway-openrpc: \(error)\n".utf8))
    exit(1)
}
