import Foundation
import JSONRPC

// slipway-openrpc: prints the OpenRPC document generated from the protocol's types, or with
// --python the Python client's types generated from it.
//   make openrpc   (slipway-openrpc > Sources/SlipwayServer/Resources/openrpc.json,
//                   slipway-openrpc --python > clients/python/slipway/_types.py)
let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.isEmpty || arguments == ["--python"] else {
    FileHandle.standardError.write(Data("usage: slipway-openrpc [--python]\n".utf8))
    exit(2)
}
do {
    let document = try OpenRPCGenerator.document()
    let text = arguments == ["--python"] ? PythonTypes.module(document) : OpenRPCGenerator.pretty(document)
    FileHandle.standardOutput.write(Data(text.utf8))
} catch {
    FileHandle.standardError.write(Data("slipway-openrpc: \(error)\n".utf8))
    exit(1)
}
