import FlowCodec
import Foundation
import STIX
import Testing

/// The OASIS examples and the TAXII reference server's data: read, written again, and compared
/// as JSON — by this module and by Python's `json` — with nothing lost.
@Suite struct STIXFixtureTests {
    /// Python's verdict on two JSON files: `equal` when `json.load` gives equal values.
    static func pythonCompares(_ a: URL, _ b: URL) throws -> String {
        let script =
            "import json,sys\na=json.load(open(sys.argv[1]));b=json.load(open(sys.argv[2]))\nprint('equal' if a==b else 'different')"
        let result = try python(script, [a.path, b.path])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("a bundle reads and writes again without loss", arguments: Paths.stixFixtures)
    func roundTrip(name: String) throws {
        let bytes = try Paths.fixture(name)
        let original = try JSONValue.parse(bytes)
        let bundle = try STIXBundle.decode(bytes)
        #expect(bundle.objects.count == original["objects"]?.arrayValue?.count)
        let written = bundle.json.encoded(pretty: true)
        #expect(try JSONValue.parse(written).isSemanticallyEqual(to: original))
        #expect(bundle.json == original)

        let dir = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("written.json")
        try Data(written).write(to: copy)
        #expect(try Self.pythonCompares(Paths.fixtures.appendingPathComponent(name), copy) == "equal")
    }

    /// The objects of medallion's collection, every version of them, one by one and as a TAXII
    /// envelope.
    @Test func taxiiDataReadsWithoutLoss() throws {
        let data = try JSONValue.parse(Paths.fixture("taxii/default_data.json"))
        let collections = try #require(data["trustgroup1"]?["collections"]?.arrayValue)
        var all: [JSONValue] = []
        for c in collections { all += c["objects"]?.arrayValue ?? [] }
        #expect(all.count == 8)
        var written: [JSONValue] = []
        for json in all {
            let object = try STIXObject(json: json)
            #expect(object.json == json)
            written.append(try JSONValue.parse(object.json.encoded()))
        }
        #expect(JSONValue.array(written).isSemanticallyEqual(to: .array(all)))

        let dir = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(JSONValue.array(all).encoded()).write(to: dir.appendingPathComponent("a.json"))
        try Data(JSONValue.array(written).encoded(pretty: true)).write(to: dir.appendingPathComponent("b.json"))
        #expect(try Self.pythonCompares(dir.appendingPathComponent("a.json"), dir.appendingPathComponent("b.json")) == "equal")

        // As a TAXII envelope: both indicators (a file hash and URLs) are valid but not evaluable,
        // and only the latest of the three versions of the URL indicator is considered.
        let envelope = JSONValue.object(["more": .bool(false), "objects": .array(all)]).encoded()
        let imported = try STIXImport.envelope(envelope)
        #expect(imported.objects.count == 8)
        #expect(imported.indicators.isEmpty)
        #expect(
            imported.skipped.map(\.id).sorted() == [
                "indicator--6770298f-0fd8-471a-ab8c-1c658a46574e", "indicator--cd981c25-8042-4166-8945-51178443bdac",
            ])
        #expect(imported.skippedByCode == [.notEvaluable: 2])
        let markings = imported.objects.filter { $0.type == "marking-definition" }
        #expect(markings.count == 1)
        #expect(try MarkingDefinition(markings[0]).tlp == .green)
    }

    @Test func infrastructureExampleHasItsTypes() throws {
        let bundle = try STIXBundle.decode(Paths.fixture("stix/infrastructure.json"))
        let infrastructure = try bundle.objects.filter { $0.type == "infrastructure" }.map(Infrastructure.init)
        #expect(infrastructure.map(\.infrastructureTypes) == [["command-and-control"], ["hosting-target-lists"]])
        let relationships = try bundle.objects.filter { $0.type == "relationship" }.map(Relationship.init)
        #expect(relationships.map(\.relationshipType) == ["controls", "consists-of", "uses", "consists-of"])
        #expect(relationships[0].target.description == "malware--16f4f3f9-1b68-4abb-bb66-7639d49f1e30")
        // An id in upper case hex is read, and kept as written in the object.
        #expect(bundle.objects.contains { $0["id"]?.stringValue == "relationship--81f12913-1372-4c96-85ec-E9034ac98aba" })
        let observables = try bundle.objects.filter { $0.isObservable }.map(Observable.init)
        #expect(observables.map(\.value) == ["198.51.100.3", "example.com"])
        let malware = try bundle.objects.filter { $0.type == "malware" }.map(Malware.init)
        #expect(malware.map(\.isFamily) == [true, true] && malware[0].malwareTypes == ["remote-access-trojan"])
    }

    @Test func indicatorsImport() throws {
        let one = try STIXImport.bundle(Paths.fixture("stix/indicator-for-c2-ip-address.json"))
        #expect(one.indicators.count == 1 && one.skipped.isEmpty)
        let c2 = try #require(one.indicators.first)
        #expect(c2.id == "indicator--33fe3b22-0201-47cf-85d0-97c02164528d")
        #expect(c2.match.matches(address: IPAddress("10.0.0.0")!))
        #expect(!c2.match.matches(address: IPAddress("10.0.0.1")!))
        // valid_from has microseconds: read to the millisecond.
        #expect(c2.validFrom == STIXTimestamp.parse("2014-05-08T09:00:00.000Z"))
        #expect(c2.tlp == nil && !c2.revoked && c2.name == "IP Address for known C2 channel")

        let two = try STIXImport.bundle(Paths.fixture("stix/indicators-for-C2-with-COA.json"))
        #expect(two.objects.count == 8)
        #expect(two.indicators.map(\.id) == ["indicator--53fe3b22-0201-47cf-85d0-97c02164528d"])
        #expect(two.indicators.first?.source == .stix(createdBy: STIXIdentifier("identity--f690c992-8e7d-4b9a-9303-3312616c0220")))
        #expect(two.skipped.map(\.id) == ["indicator--a932fcc6-e032-476c-826f-cb970a5a1ade"])
        #expect(two.skipped.first?.reason == STIXError(.notEvaluable))
        #expect(two.skipped.first?.reason.reason.contains("file:hashes.SHA-256") == true)
    }

    @Test func malformedBundlesImportNothing() throws {
        let good = try String(decoding: Paths.fixture("stix/indicators-for-C2-with-COA.json"), as: UTF8.self)
        // One object without an id: the whole bundle is refused.
        let broken = good.replacingOccurrences(of: "\"id\": \"course-of-action--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\",", with: "")
        #expect(broken != good)
        #expect(throws: STIXError(.malformedObject)) { try STIXImport.bundle(Array(broken.utf8)) }
        let wrongType = good.replacingOccurrences(of: "\"type\": \"bundle\"", with: "\"type\": \"bundles\"")
        #expect(throws: STIXError(.malformedBundle)) { try STIXImport.bundle(Array(wrongType.utf8)) }
        let badTime = good.replacingOccurrences(of: "\"created\": \"2014-05-08T09:00:00.000Z\"", with: "\"created\": \"2014-05-08 09:00\"")
        #expect(throws: STIXError(.malformedObject)) { try STIXImport.bundle(Array(badTime.utf8)) }
        #expect(throws: STIXError(.malformedBundle)) { try STIXImport.bundle(Array(#"{"type":"bundle","id":"bundle--x"}"#.utf8)) }
        #expect(throws: STIXError(.malformedBundle)) {
            try STIXImport.bundle(Array(#"{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","objects":{}}"#.utf8))
        }
        // An empty bundle is a bundle.
        let empty = try STIXImport.bundle(Array(#"{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982"}"#.utf8))
        #expect(empty.objects.isEmpty && empty.indicators.isEmpty)
    }

    /// Unknown object types, custom properties and extensions survive, and an indicator that
    /// cannot be evaluated is skipped while the others are kept.
    @Test func unknownContentIsKept() throws {
        let text = """
            {"type": "bundle", "id": "bundle--0b7ba6e2-8a1b-4f5a-a0a8-0c8b7e1a2f11", "x_bundle_note": [1, 2.25],
             "objects": [
              {"type": "x-mamori-test", "id": "x-mamori-test--0b7ba6e2-8a1b-4f5a-a0a8-0c8b7e1a2f12", "nested": {"deep": [{"k": null}]}},
              {"type": "indicator", "spec_version": "2.1", "id": "indicator--0b7ba6e2-8a1b-4f5a-a0a8-0c8b7e1a2f13",
               "created": "2026-01-01T00:00:00Z", "modified": "2026-01-02T00:00:00.123456789Z", "pattern_type": "stix",
               "pattern": "[domain-name:value = 'C2.Example.NET.']", "valid_from": "2026-01-01T00:00:00Z", "confidence": 85,
               "object_marking_refs": ["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"],
               "x_vendor_score": 9.5, "extensions": {"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e": {"extension_type": "property-extension", "rank": 3}}},
              {"type": "indicator", "spec_version": "2.1", "id": "indicator--0b7ba6e2-8a1b-4f5a-a0a8-0c8b7e1a2f14",
               "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "pattern_type": "snort",
               "pattern": "alert tcp any any -> any any", "valid_from": "2026-01-01T00:00:00Z"},
              {"type": "indicator", "spec_version": "2.1", "id": "indicator--0b7ba6e2-8a1b-4f5a-a0a8-0c8b7e1a2f15",
               "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "pattern_type": "stix",
               "pattern": "[ipv4-addr:value = '198.51.100.1'", "valid_from": "2026-01-01T00:00:00Z"},
              {"type": "indicator", "spec_version": "2.1", "id": "indicator--0b7ba6e2-8a1b-4f5a-a0a8-0c8b7e1a2f16",
               "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "pattern_type": "stix",
               "pattern": "[ipv4-addr:value = '198.51.100.1']"}
             ]}
            """
        let bundle = try STIXBundle.decode(Array(text.utf8))
        #expect(bundle.json == (try JSONValue.parse(text)))
        let imported = try STIXImport.bundle(Array(text.utf8))
        #expect(imported.objects.count == 5)
        #expect(imported.indicators.count == 1)
        let c2 = try #require(imported.indicators.first)
        #expect(c2.match.matches(domain: "c2.example.net") && c2.match.domains == ["c2.example.net"])
        #expect(c2.tlp == .amber && c2.confidence == 85)
        #expect(c2.modified == STIXTimestamp.parse("2026-01-02T00:00:00.123Z"))
        #expect(imported.skippedByCode == [.notEvaluable: 1, .patternSyntax: 1, .malformedObject: 1])
    }
}
