import FlowCodec
import STIX
import Testing

/// A feed as PyMISP's feed generator writes it: `manifest.json` and one event file (here
/// written by hand in that layout; see Fixtures/SOURCES.md).
@Suite struct MISPFeedTests {
    static let manifest = """
        {
          "5c6b2a18-4a8c-4f55-9d5e-1b2c3d4e5f60": {
            "Orgc": {"name": "Example CERT", "uuid": "55f6ea5e-2c60-40e5-964f-47a8950d210f"},
            "Tag": [{"colour": "#FFC000", "name": "tlp:amber"}, {"colour": "#0088cc", "name": "misp-galaxy:malpedia=\\"Mirai\\""}],
            "info": "Mirai C2 servers", "date": "2026-12-01", "analysis": 2, "threat_level_id": 1, "timestamp": "1796551200"
          },
          "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d": {
            "Orgc": {"name": "Example CERT", "uuid": "55f6ea5e-2c60-40e5-964f-47a8950d210f"},
            "Tag": [{"colour": "#ffffff", "name": "tlp:white"}],
            "info": "Scanners", "date": "2026-11-30", "analysis": 1, "threat_level_id": 3, "timestamp": 1796464800
          }
        }
        """

    static let event = """
        {"Event": {
          "uuid": "5c6b2a18-4a8c-4f55-9d5e-1b2c3d4e5f60", "info": "Mirai C2 servers", "date": "2026-12-01", "analysis": "2",
          "threat_level_id": "1", "timestamp": "1796551200", "publish_timestamp": "1796551300", "published": true,
          "Orgc": {"name": "Example CERT", "uuid": "55f6ea5e-2c60-40e5-964f-47a8950d210f"},
          "Tag": [{"colour": "#FFC000", "name": "tlp:amber"}],
          "Attribute": [
            {"uuid": "a0000000-0000-4000-8000-000000000001", "type": "ip-dst", "category": "Network activity", "value": "203.0.113.5",
             "to_ids": true, "timestamp": "1796551200", "comment": "C2"},
            {"uuid": "a0000000-0000-4000-8000-000000000002", "type": "ip-dst|port", "category": "Network activity", "value": "203.0.113.6|23",
             "to_ids": true, "timestamp": "1796551200"},
            {"uuid": "a0000000-0000-4000-8000-000000000003", "type": "domain", "category": "Network activity", "value": "CNC.Example.NET",
             "to_ids": true, "timestamp": "1796551200", "Tag": [{"name": "tlp:red"}]},
            {"uuid": "a0000000-0000-4000-8000-000000000004", "type": "hostname|port", "category": "Network activity", "value": "c2.example.org|6667",
             "to_ids": true, "timestamp": "1796551200"},
            {"uuid": "a0000000-0000-4000-8000-000000000005", "type": "ip-dst", "category": "Network activity", "value": "198.51.100.0/24",
             "to_ids": true, "timestamp": "1796551200"},
            {"uuid": "a0000000-0000-4000-8000-000000000006", "type": "url", "category": "Network activity", "value": "http://cnc.example.net/bins/",
             "to_ids": true, "timestamp": "1796551200"},
            {"uuid": "a0000000-0000-4000-8000-000000000007", "type": "ip-dst", "category": "Network activity", "value": "203.0.113.9",
             "to_ids": false, "timestamp": "1796551200"},
            {"uuid": "a0000000-0000-4000-8000-000000000008", "type": "ip-dst", "category": "Network activity", "value": "not-an-address",
             "to_ids": true, "timestamp": "1796551200"},
            {"uuid": "a0000000-0000-4000-8000-000000000009", "type": "domain", "category": "Network activity", "value": "gone.example",
             "to_ids": true, "deleted": true, "timestamp": "1796551200"},
            {"uuid": "a0000000-0000-4000-8000-00000000000a", "type": "sha256", "category": "Payload delivery",
             "value": "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c", "to_ids": true, "timestamp": "1796551200"}
          ],
          "Object": [
            {"name": "ip-port", "meta-category": "network", "uuid": "b0000000-0000-4000-8000-000000000001",
             "Attribute": [
               {"uuid": "a0000000-0000-4000-8000-00000000000b", "type": "ip-src", "object_relation": "ip", "value": "2001:db8:5::5",
                "to_ids": "1", "timestamp": "1796551200"},
               {"uuid": "a0000000-0000-4000-8000-00000000000c", "type": "domain|ip", "object_relation": "domain", "value": "x.example|192.0.2.99",
                "to_ids": true, "timestamp": "1796551200"}
             ]}
          ]
        }}
        """

    @Test func manifestLists() throws {
        let entries = try MISPFeed.manifest(Array(Self.manifest.utf8))
        #expect(entries.map(\.uuid) == ["0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "5c6b2a18-4a8c-4f55-9d5e-1b2c3d4e5f60"])
        #expect(entries.map(\.tlp) == [.clear, .amber])
        #expect(entries.map(\.timestamp) == [1_796_464_800_000, december6])
        #expect(entries[1].organisation == "Example CERT" && entries[1].info == "Mirai C2 servers")
        #expect(entries[1].tags.contains("misp-galaxy:malpedia=\"Mirai\""))
    }

    @Test func eventImports() throws {
        let result = try MISPFeed.event(Array(Self.event.utf8))
        #expect(result.indicators.count == 7)
        func indicator(_ last: String) -> ImportedIndicator? { result.indicators.first { $0.id.hasSuffix(last) } }
        let ip = try #require(indicator("0001"))
        #expect(ip.match.matches(address: IPAddress("203.0.113.5")!) && ip.tlp == .amber && ip.modified == december6)
        #expect(ip.source == .misp(event: "5c6b2a18-4a8c-4f55-9d5e-1b2c3d4e5f60", organisation: "Example CERT"))
        let port = try #require(indicator("0002"))
        #expect(port.match.matches(address: IPAddress("203.0.113.6")!, destinationPort: 23))
        #expect(!port.match.matches(address: IPAddress("203.0.113.6")!, destinationPort: 24))
        let name = try #require(indicator("0003"))
        #expect(name.match.matches(domain: "cnc.example.net") && name.tlp == .red)
        #expect(try #require(indicator("0004")).match.matches(domain: "c2.example.org", destinationPort: 6667))
        #expect(try #require(indicator("0005")).match.matches(address: IPAddress("198.51.100.200")!))
        let fromObject = try #require(indicator("000b"))
        #expect(fromObject.match.matches(address: IPAddress("2001:db8:5::5")!))
        let pair = try #require(indicator("000c"))
        #expect(pair.match.matches(domain: "x.example") && pair.match.matches(address: IPAddress("192.0.2.99")!))

        #expect(
            Set(result.skipped.map(\.id)) == Set(["0006", "0007", "0008", "0009", "000a"].map { "a0000000-0000-4000-8000-00000000" + $0 }))
        #expect(result.skippedByCode == [.notEvaluable: 5])
        #expect(result.skipped.first { $0.id.hasSuffix("0007") }?.reason.reason == "to_ids is not set")
        #expect(result.skipped.first { $0.id.hasSuffix("0006") }?.reason.reason.contains("url") == true)
    }

    @Test func malformedFeedsAreRefused() {
        #expect(throws: STIXError(.malformedFeed)) { try MISPFeed.event(Array(#"{"response": []}"#.utf8)) }
        #expect(throws: STIXError(.malformedFeed)) { try MISPFeed.event(Array(#"{"Event": {"info": "no uuid"}}"#.utf8)) }
        #expect(throws: STIXError(.malformedFeed)) {
            try MISPFeed.event(Array(#"{"Event": {"uuid": "5c6b2a18-4a8c-4f55-9d5e-1b2c3d4e5f60", "Attribute": {}}}"#.utf8))
        }
        #expect(throws: STIXError(.malformedFeed)) {
            try MISPFeed.event(
                Array(#"{"Event": {"uuid": "5c6b2a18-4a8c-4f55-9d5e-1b2c3d4e5f60", "Attribute": [{"type": "ip-dst"}]}}"#.utf8))
        }
        #expect(throws: STIXError(.malformedFeed)) { try MISPFeed.manifest(Array(#"[]"#.utf8)) }
        #expect(throws: STIXError(.malformedFeed)) { try MISPFeed.manifest(Array(#"{"not-a-uuid": {}}"#.utf8)) }
        #expect(throws: STIXError(.malformedJSON)) { try MISPFeed.manifest(Array(#"{"#.utf8)) }
    }
}
