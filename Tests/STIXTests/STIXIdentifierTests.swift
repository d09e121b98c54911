import STIX
import Testing

@Suite struct STIXIdentifierTests {
    /// RFC 9562's UUIDv5 against Python's `uuid.uuid5` (the DNS namespace and `python.org`).
    @Test func uuidV5() {
        let dns = STIXIdentifier.uuidBytes("6ba7b810-9dad-11d1-80b4-00c04fd430c8")!
        let id = STIXIdentifier(type: "x-test", uuidBytes: STIXIdentifier.uuidV5(namespace: dns, name: Array("python.org".utf8)))!
        #expect(id.uuid == "886313e1-3b8a-5372-9b90-0c9aee199e5d")
        #expect(id.version == 5)
        // The Mamori namespace is what its comment says: uuid5(NAMESPACE_DNS, "stix.mamori.invalid").
        let mamori = STIXIdentifier(
            type: "x-test", uuidBytes: STIXIdentifier.uuidV5(namespace: dns, name: Array("stix.mamori.invalid".utf8)))!
        #expect(mamori.uuid == "c76d3f7f-640d-5e21-af2e-4fd08ec4b483")
    }

    /// Observable ids as STIX 2.1 §2.9 makes them (values computed with Python's `uuid.uuid5`
    /// under `00abedb4-aa42-466c-9c01-fed23315a9b7` over the canonical JSON).
    @Test func observableIDs() {
        #expect(
            STIXIdentifier.observable(type: "ipv4-addr", contributing: ["value": .string("203.0.113.5")]).description
                == "ipv4-addr--826fe3cb-56b0-5620-9d30-4c17ed7b24e3")
        #expect(
            STIXIdentifier.observable(type: "ipv6-addr", contributing: ["value": .string("2001:db8::5")]).description
                == "ipv6-addr--088ee214-b1f7-557f-92b9-c401d94b2165")
        #expect(
            STIXIdentifier.observable(type: "domain-name", contributing: ["value": .string("c2.example.net")]).description
                == "domain-name--5e525b76-acd9-5c9b-ac79-afa42fa54ca7")
    }

    @Test func mamoriIDsAreStable() {
        let a = STIXIdentifier.mamori(type: "indicator", key: "[ipv4-addr:value = '203.0.113.5']|Example ISP")
        let b = STIXIdentifier.mamori(type: "indicator", key: "[ipv4-addr:value = '203.0.113.5']|Example ISP")
        let c = STIXIdentifier.mamori(type: "indicator", key: "[ipv4-addr:value = '203.0.113.6']|Example ISP")
        #expect(a == b && a != c && a.type == "indicator" && a.version == 5)
    }

    @Test func parsing() {
        #expect(STIXIdentifier("indicator--33fe3b22-0201-47cf-85d0-97c02164528d")?.type == "indicator")
        #expect(STIXIdentifier("relationship--81f12913-1372-4c96-85ec-E9034ac98aba")?.uuid == "81f12913-1372-4c96-85ec-e9034ac98aba")
        for bad in [
            "indicator-33fe3b22-0201-47cf-85d0-97c02164528d", "indicator--33fe3b22-0201-47cf-85d0-97c02164528",
            "Indicator--33fe3b22-0201-47cf-85d0-97c02164528d",
            "in--33fe3b22-0201-47cf-85d0-97c02164528d", "indicator--33fe3b22x0201-47cf-85d0-97c02164528d",
            "--33fe3b22-0201-47cf-85d0-97c02164528d",
            "indicator--33fe3b22-0201-47cf-85d0-97c02164528g",
        ] {
            #expect(STIXIdentifier(bad) == nil, "\(bad)")
        }
    }

    @Test func timestamps() {
        #expect(STIXTimestamp.format(milliseconds: december6) == "2026-12-06T10:00:00.000Z")
        #expect(STIXTimestamp.parse("2026-12-06T10:00:00Z") == december6)
        #expect(STIXTimestamp.parse("2026-12-06T10:00:00.1Z") == december6 + 100)
        #expect(STIXTimestamp.parse("2026-12-06T10:00:00.123456789Z") == december6 + 123)
        for bad in [
            "2026-12-06T10:00:00+00:00", "2026-12-06 10:00:00Z", "2026-12-06t10:00:00z", "2026-13-06T10:00:00Z", "2026-12-06T10:00Z", "",
        ] {
            #expect(STIXTimestamp.parse(bad) == nil, "\(bad)")
        }
    }
}

@Suite struct TLPTests {
    /// The TLP 2.0 ids of the OASIS extension (oasis-open/cti-stix-common-objects,
    /// extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d.json).
    @Test func officialIDs() {
        #expect(TLP.clear.markingDefinitionID.description == "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487")
        #expect(TLP.green.markingDefinitionID.description == "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb")
        #expect(TLP.amber.markingDefinitionID.description == "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421")
        #expect(TLP.amberStrict.markingDefinitionID.description == "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003")
        #expect(TLP.red.markingDefinitionID.description == "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1")
    }

    /// The marking definition object is the extension's example, property for property
    /// (examples/tlp-amber.json).
    @Test func markingDefinitionObject() throws {
        let example = try JSONValue.parse(
            """
            { "type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
              "created": "2022-10-01T00:00:00.000Z", "name": "TLP:AMBER",
              "extensions": { "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": { "extension_type": "property-extension", "tlp_2_0": "amber" } } }
            """)
        #expect(TLP.amber.markingDefinition.json == example)
        #expect(TLP.amberStrict.markingDefinition["name"] == .string("TLP:AMBER+STRICT"))
        for t in TLP.allCases { #expect(TLP(markingDefinitionObject: t.markingDefinition) == t) }
    }

    @Test func tlp1IsRecognised() throws {
        #expect(TLP(markingDefinition: STIXIdentifier("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9")!) == .clear)
        #expect(TLP(markingDefinition: STIXIdentifier("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da")!) == .green)
        #expect(TLP(markingDefinition: STIXIdentifier("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82")!) == .amber)
        #expect(TLP(markingDefinition: STIXIdentifier("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed")!) == .red)
        #expect(TLP(markingDefinition: STIXIdentifier("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ee")!) == nil)
        // A TLP 1.0 definition under another id, recognised by its content.
        let custom = try STIXObject.fromJSON(
            #"{"type":"marking-definition","id":"marking-definition--0b7ba6e2-8a1b-4f5a-a0a8-0c8b7e1a2f11","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","definition":{"tlp":"red"}}"#
        )
        #expect(TLP(markingDefinitionObject: custom) == .red)
    }

    @Test func orderDecidesWhatMayBeShared() {
        #expect(TLP.allCases == [.clear, .green, .amber, .amberStrict, .red])
        #expect(TLP.green.mayBeShared(under: .amber) && TLP.amber.mayBeShared(under: .amber))
        #expect(!TLP.amberStrict.mayBeShared(under: .amber) && !TLP.red.mayBeShared(under: .amberStrict))
        #expect(TLP(label: "tlp:white") == .clear && TLP(label: "TLP:AMBER+STRICT") == .amberStrict && TLP(label: "purple") == nil)
        #expect(TLP.amberStrict.description == "TLP:AMBER+STRICT")
    }
}
