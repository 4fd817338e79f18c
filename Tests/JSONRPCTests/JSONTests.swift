import Testing
@testable import JSONRPC

@Suite struct JSONTests {
    @Test func parsesAndWritesRoundTrip() throws {
        let text = #"{"s":"a\"b\\c\nd\u00e9\ud83d\ude00","i":-12,"d":1.5,"e":1e3,"t":true,"n":null,"a":[1,[2]],"o":{}}"#
        let v = try JSONParser.parse(Array(text.utf8))
        #expect(v["s"] == .string("a\"b\\c\nd\u{e9}😀"))
        #expect(v["i"] == .int(-12))
        #expect(v["d"] == .double(1.5))
        #expect(v["e"] == .double(1000))
        let out = JSONWriter.string(v)
        #expect(!out.contains("\n"))
        #expect(try JSONParser.parse(Array(out.utf8)) == v)
    }

    @Test(arguments: ["{", "{\"a\":}", "[1,]", "01", "\"\u{01}\"", "{\"a\":1} x", "nul", "\"\\x\"", "\"\\ud800\""])
    func rejectsInvalidJSON(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    /// Numbers keep their text where an `Int64` would not give it back: `-0`, integers beyond
    /// 64 bits, and numbers beyond a double's range, which JSON allows; these have no double value.
    @Test func numbersKeepTheirExactText() throws {
        for text in ["-0", "123456789012345678901234567890", "1e400", "-1e400", "1E+2", "0.10"] {
            let v = try JSONParser.parse(Array(text.utf8))
            #expect(v == .number(text))
            #expect(JSONWriter.string(v) == text)
        }
        #expect(try JSONParser.parse(Array("-12".utf8)) == .int(-12))
        #expect(try JSONParser.parse(Array("1e400".utf8)).doubleValue == nil)
        struct D: Codable { var d: Double }
        #expect(throws: DecodingError.self) { try JSONValueDecoder().decode(D.self, from: ["d": .number("1e400")]) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func rejectsDeepNesting() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(deep.utf8)) }
        let ok = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect((try? JSONParser.parse(Array(ok.utf8))) != nil)
    }

    struct Sample: Codable, Equatable {
        var name: String
        var count: Int?
        var tags: [String]
        var nested: Nested
        struct Nested: Codable, Equatable { var flag: Bool }
    }

    @Test func codableBridgeRoundTripsAndNamesTheBadField() throws {
        let s = Sample(name: "x", count: 3, tags: ["a"], nested: .init(flag: true))
        let v = try JSONValueEncoder().encode(s)
        #expect(JSONWriter.string(v) == #"{"name":"x","count":3,"tags":["a"],"nested":{"flag":true}}"#)
        #expect(try JSONValueDecoder().decode(Sample.self, from: v) == s)
        let bad: JSONValue = ["name": "x", "tags": ["a"], "nested": ["flag": "yes"]]
        do {
            _ = try decodeParams(Sample.self, bad)
            Issue.record("expected an error")
        } catch let e as ResponseError {
            #expect(e.code == -32602)
            #expect(e.data?["field"] == .string("nested.flag"))
        }
        do {
            _ = try decodeParams(Sample.self, ["tags": [], "nested": ["flag": true]])
            Issue.record("expected an error")
        } catch let e as ResponseError {
            #expect(e.data?["field"] == .string("name"))
            #expect(e.message.contains("Missing required param 'name'"))
        }
    }

    /// The field a decoding error names is dotted, with indexes in brackets.
    @Test func theBadFieldsPathNamesIndexesInBrackets() throws {
        struct Order: Codable { var order: [Group]; struct Group: Codable { var group: [Entry] }; struct Entry: Codable { var id: String } }
        do {
            _ = try decodeParams(Order.self, ["order": [["group": [["id": "a"], ["id": 1]]]]], strict: true)
            Issue.record("expected an error")
        } catch let e as ResponseError {
            #expect(e.data?["field"] == .string("order[0].group[1].id"))
        }
    }
}
