import Foundation
import MamoriCore
import STIX
import Testing

@Suite struct JSONValueTests {
    @Test func readsEveryKindOfValue() throws {
        let v = try JSONValue.parse(#" { "a": [1, -2, 3.5, 1e3, true, false, null], "b": {"c": "d"}, "e": 12345678901234567890 } "#)
        #expect(v["a"] == .array([.integer(1), .integer(-2), .number(3.5), .number(1000), .bool(true), .bool(false), .null]))
        #expect(v["b"]?["c"] == .string("d"))
        #expect(v["e"] == .number(12_345_678_901_234_567_890))
    }

    @Test func readsEscapes() throws {
        let v = try JSONValue.parse(#"["a\"b\\c\/d\b\f\n\r\t", "\u00e9\u65e5", "\ud83d\ude00", "日本"]"#)
        #expect(v == .array([.string("a\"b\\c/d\u{8}\u{c}\n\r\t"), .string("é日"), .string("😀"), .string("日本")]))
    }

    @Test(
        "malformed JSON is refused",
        arguments: [
            "", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", "-", "1e", "tru", "nul", "\"abc", "\"\\x\"", "\"\\ud800\"",
            "\"\\udc00\"", "\"\\ud800\\u0041\"", "{\"a\":1,\"a\":2}", "[1] 2", "\"tab\there\"", "1e999", "[\"\\u12\"]",
        ])
    func malformed(text: String) {
        #expect(throws: STIXError(.malformedJSON)) { try JSONValue.parse(text) }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: STIXError(.malformedJSON)) { try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: STIXError(.malformedJSON)) { try JSONValue.parse([0x22, 0xED, 0xA0, 0x80, 0x22]) } // an encoded surrogate
        #expect(throws: STIXError(.malformedJSON)) { try JSONValue.parse([0x22, 0xFF, 0x22]) }
    }

    @Test func boundsAreKept() throws {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: STIXError(.limitExceeded)) { try JSONValue.parse(deep) }
        let fits = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect((try? JSONValue.parse(fits)) != nil)
        #expect(throws: STIXError(.limitExceeded)) { try JSONValue.parse("[1,2,3]", limits: .init(maximumBytes: 6)) }
        #expect(throws: STIXError(.limitExceeded)) { try JSONValue.parse("[1,2,3]", limits: .init(maximumValues: 3)) }
        // A deep document is refused, not a stack overflow.
        let hostile = String(repeating: "{\"a\":", count: 100_000)
        #expect(throws: STIXError(.limitExceeded)) { try JSONValue.parse(hostile) }
    }

    @Test func writesWhatItReads() throws {
        let text = #"{"type":"x","id":"x--1","z":[1,2.5,"\u0001\"\\é",null,true],"a":{}}"#
        let v = try JSONValue.parse(text)
        let compact = v.text()
        #expect(compact == #"{"type":"x","id":"x--1","a":{},"z":[1,2.5,"\u0001\"\\é",null,true]}"#)
        #expect(try JSONValue.parse(compact) == v)
        #expect(try JSONValue.parse(v.text(pretty: true)) == v)
        #expect(v.text(pretty: true).contains("\n  \"id\": \"x--1\",\n"))
    }

    /// RFC 8785 §3.2.3's sorting example (member names sorted by UTF-16 code units) and its
    /// string escaping.
    @Test func canonicalForm() throws {
        let v = try JSONValue.parse(
            #"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#
        )
        let names = try JSONValue.parse(v.canonicalEncoding).objectValue!.keys
        #expect(names.count == 7)
        let order = String(decoding: v.canonicalEncoding, as: UTF8.self)
        let expected = ["\\r", "1", "\u{80}", "ö", "€", "😀", "\u{fb33}"]
        var last = order.startIndex
        for name in expected {
            let r = try #require(order.range(of: "\"\(name)\":", range: last..<order.endIndex), "\(name) out of order in \(order)")
            last = r.upperBound
        }
        #expect(
            String(decoding: JSONValue.object(["b": .integer(1), "a": .string("x y")]).canonicalEncoding, as: UTF8.self)
                == #"{"a":"x y","b":1}"#)
    }

    @Test func semanticEqualityTreatsIntegersAndNumbersAlike() {
        #expect(JSONValue.integer(1).isSemanticallyEqual(to: .number(1.0)))
        #expect(!JSONValue.integer(1).isSemanticallyEqual(to: .number(1.5)))
        #expect(JSONValue.object(["a": .array([.integer(2)])]).isSemanticallyEqual(to: .object(["a": .array([.number(2)])])))
        #expect(!JSONValue.object(["a": .integer(2)]).isSemanticallyEqual(to: .object(["b": .integer(2)])))
    }

    /// Every truncated prefix of every fixture is refused, and never traps.
    @Test func truncatedFixturesAreRefused() throws {
        for name in Paths.stixFixtures + ["taxii/default_data.json"] {
            let bytes = try Paths.fixture(name)
            let end = bytes.lastIndex { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }!
            let step = bytes.count > 5_000 ? 7 : 1
            for n in stride(from: 0, to: end + 1, by: step) {
                #expect(throws: STIXError.self, "\(name) cut at \(n)") { try JSONValue.parse(bytes.prefix(n)) }
            }
            #expect((try? JSONValue.parse(bytes)) != nil)
        }
    }

    /// Seeded random bytes, and random mutations of a fixture, never trap the JSON reader, the
    /// bundle reader or the importers.
    @Test func randomInputNeverTraps() throws {
        var random = SplitMix64(seed: 0x5717)
        let fixture = try Paths.fixture("stix/infrastructure.json")
        for round in 0..<3_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(random.next() % 200)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                bytes = fixture
                for _ in 0..<(1 + Int(random.next() % 4)) {
                    bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
                }
            }
            _ = try? JSONValue.parse(bytes)
            _ = try? STIXBundle.decode(bytes)
            _ = try? STIXImport.bundle(bytes)
            _ = try? MISPFeed.event(bytes)
            _ = try? MISPFeed.manifest(bytes)
        }
    }
}
