import JSONRPC
import SlipwayProtocol
import Testing
@testable import SlipwayServer

/// The ordering keys of requests come from their method types, computed from the params as the
/// handler decodes them: the object a request is about and those it refers to, as the raw-JSON
/// keys were before.
@Suite struct RequestKeysTests {
    static func keys<M: RPCMethod>(_ m: M.Type, _ params: JSONValue) -> [String] { RequestKeys.of(m)(params).keys }

    @Test func writesNameTheirObjectAndWhatItRefersTo() {
        #expect(Self.keys(ImageCreate.self, ["name": "app", "namespace": "ns", "source": ["local": ["path": "/x"]], "builder": ["kind": "Builder", "name": "b"]])
                == ["image/ns/app", "secret/ns/*", "builder/ns/b"])
        #expect(Self.keys(ImageCreate.self, ["name": "app", "source": ["local": ["path": "/x"]]]) == ["image/default/app", "secret/default/*", "builder/cluster/default"])
        #expect(Self.keys(ImagePatch.self, ["name": "app", "builder": ["kind": "ClusterBuilder", "name": "c"]]) == ["image/default/app", "secret/default/*", "builder/cluster/c"])
        #expect(Self.keys(ClusterStackCreate.self, ["name": "s", "buildImage": "a", "runImage": "b"]) == ["stack/s", "secret/default/*"])
        // A builder pulls its image (and pushes its tag) with its namespace's secrets.
        #expect(Self.keys(ClusterBuilderCreate.self, ["name": "x", "stack": "s", "store": "t", "order": []]) == ["builder/cluster/x", "secret/default/*", "stack/s", "store/t"])
        #expect(Self.keys(BuilderCreate.self, ["name": "x", "namespace": "n", "image": "r.io/b:1"]) == ["builder/n/x", "secret/n/*"])
        // A patch of a builder or stack queues builds of the images on it: it touches every image.
        #expect(Self.keys(BuilderPatch.self, ["name": "x", "namespace": "n", "stack": "s"]) == ["builder/n/x", "secret/n/*", "stack/s", "image/*"])
        #expect(Self.keys(ClusterStackRefresh.self, ["name": "s"]) == ["stack/s", "secret/default/*", "image/*"])
        #expect(Self.keys(ClusterStoreDelete.self, ["name": "st"]) == ["store/st", "builder/*"])
        #expect(Self.keys(SecretDelete.self, ["name": "s"]) == ["secret/default/s"])
        #expect(Self.keys(BuildRunSubmit.self, ["image": "i"]) == ["buildrun/default/*", "secret/default/*", "image/default/i"])
        #expect(Self.keys(BuildRunSubmit.self, ["name": "r", "namespace": "n", "source": ["local": ["path": "/x"]], "builder": ["kind": "Builder", "name": "b"]])
                == ["buildrun/n/r", "secret/n/*", "builder/n/b"])
    }

    @Test func readsAndListsNameWhatTheyRead() {
        #expect(Self.keys(ImageList.self, ["allNamespaces": true]) == ["image/*"])
        #expect(Self.keys(ImageList.self, ["namespace": "n"]) == ["image/n/*"])
        #expect(Self.keys(BuildList.self, [:]) == ["image/default/*"])
        #expect(Self.keys(BuildStatus.self, ["image": "i", "build": 2]) == ["image/default/i"])
        #expect(Self.keys(BuildRunList.self, [:]) == ["buildrun/default/*"])
        #expect(Self.keys(QuotaGet.self, ["namespace": "q"]) == ["image/q/*"])
        #expect(Self.keys(ClusterBuilderList.self, [:]) == ["builder/cluster/*"])
        #expect(Self.keys(RPCDiscover.self, [:]) == [])
    }

    /// A method that names no objects, and params that do not decode (refused before the
    /// handler runs), are ordered after everything before them.
    @Test func unnamedAndUndecodableParamsOverlapEverything() {
        #expect(Self.keys(SystemGC.self, [:]) == ["*"])
        #expect(Self.keys(ImageGet.self, ["name": 5]) == ["*"])
    }
}
