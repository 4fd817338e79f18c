import Engine
import Foundation
import JSONRPC
import SlipwayProtocol
import Testing
@testable import SlipwayServer

/// `image/get` answers from `ImageResourceCache`: what encoding the image gives, and never an
/// answer kept for an image that has changed since, or for another image of the same name.
@Suite struct ImageResourceCacheTests {
    /// The answer as JSON, and the bytes it must be: what encoding `image` and writing it gives.
    static func answer(_ cache: ImageResourceCache, _ image: Image) throws -> (value: JSONValue, exact: Bool) {
        let bytes = try cache.resource(of: image).bytes
        return (try JSONParser.parse(bytes), bytes == JSONWriter.write(try JSONValueEncoder().encode(ImageResource(image))))
    }

    @Test func answersTheImageAsItIsNowAndReusesTheEncodingOfAnUnchangedOne() throws {
        let cache = ImageResourceCache()
        var image = try ImageResourceTests.image(strategy: "buildpacks")
        let first = try Self.answer(cache, image)
        #expect(first.exact && first.value["name"] == "a")
        #expect(try cache.resource(of: image).bytes == JSONWriter.write(first.value))

        image.status.message = "Build 1 succeeded"
        image.env["GREETING"] = "hi"
        let changed = try Self.answer(cache, image)
        #expect(changed.exact)
        #expect(changed.value["status"]?["message"] == "Build 1 succeeded" && changed.value["env"]?["GREETING"] == "hi")

        var other = image
        other.namespace = "team"
        other.env = [:]
        let inTeam = try Self.answer(cache, other)
        #expect(inTeam.exact && inTeam.value["namespace"] == "team")
        #expect(try Self.answer(cache, image).value == changed.value)
    }

    @Test func startsOverPastItsCapacity() throws {
        let cache = ImageResourceCache()
        var image = try ImageResourceTests.image(strategy: "buildpacks")
        for i in 0...ImageResourceCache.capacity {
            image.name = "image-\(i)"
            #expect(try Self.answer(cache, image).value["name"] == .string("image-\(i)"))
        }
        #expect(cache.count == 1)
    }
}
