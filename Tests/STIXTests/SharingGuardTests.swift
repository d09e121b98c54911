import FlowCodec
import MamoriCore
import STIX
import Testing

@Suite struct SharingGuardTests {
    static let sharingGuard = SharingGuard(
        configuration: .init(
            subscriberPrefixes: PrefixSet([IPPrefix("198.51.100.0/24")!, IPPrefix("2001:db8:100::/40")!]),
            cgnatPools: [.init(prefix: IPPrefix("192.0.2.0/26")!, ports: 1024...65535)], accounts: ["yamada.taro", "noc-operator"]))

    /// An indicator of the C&C 203.0.113.5 with `extra` properties merged in.
    static func indicator(_ n: Int, _ extra: String = "") throws -> STIXObject {
        try .fromJSON(
            """
            {"type": "indicator", "spec_version": "2.1", "id": "indicator--0b7ba6e2-8a1b-4f5a-a0a8-0c8b7e1a2\(String(format3: n))",
             "created": "2026-12-06T10:00:00.000Z", "modified": "2026-12-06T10:00:00.000Z", "name": "C&C 203.0.113.5:443/tcp",
             "pattern_type": "stix", "pattern": "[ipv4-addr:value = '203.0.113.5']", "valid_from": "2026-12-06T10:00:00.000Z"
             \(extra.isEmpty ? "" : ", " + extra)}
            """)
    }

    static let hostile: [(String, String, SharingGuard.Reason)] = [
        ("subscriber address inside a pattern", #""x_pattern": "[ipv4-addr:value = '198.51.100.23']""#, .subscriberAddress),
        ("subscriber address in a description", #""description": "Seen from 198.51.100.23 every 60 s.""#, .subscriberAddress),
        ("subscriber address with a port", #""description": "from 198.51.100.23:51234""#, .subscriberAddress),
        (
            "subscriber address inside an extension",
            #""extensions": {"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e": {"extension_type": "property-extension", "victims": {"first": "198.51.100.9"}}}"#,
            .subscriberAddress
        ),
        ("IPv6 in the subscriber prefix, in a pattern", #""x_pattern": "[ipv6-addr:value = '2001:db8:100:1::5']""#, .subscriberAddress),
        ("IPv6 in brackets with a port", #""description": "to [2001:db8:1ff::77]:443""#, .subscriberAddress),
        ("IPv6 in upper case", #""x_host": "2001:DB8:100::1""#, .subscriberAddress),
        ("an IPv4-mapped IPv6 address", #""x_host": "::ffff:198.51.100.23""#, .subscriberAddress),
        ("a CIDR that overlaps a subscriber prefix", #""x_scope": "[ipv4-addr:value ISSUBSET '198.51.0.0/16']""#, .subscriberAddress),
        ("a CIDR inside a subscriber prefix", #""x_scope": "198.51.100.128/25""#, .subscriberAddress),
        ("an IPv6 prefix covering the subscribers'", #""x_scope": "2001:db8::/32""#, .subscriberAddress),
        ("an address as an integer", #""x_address": 3325256727"#, .subscriberAddress),
        ("a defanged address", #""description": "beacons from 198.51.100[.]23""#, .subscriberAddress),
        ("an address glued to letters", #""x_note": "ab198.51.100.23cd""#, .subscriberAddress),
        ("an address glued to digits", #""x_note": "id1198.51.100.23""#, .subscriberAddress),
        ("an IPv6 address glued to hex letters", #""x_note": "cafe2001:db8:100::1beef""#, .subscriberAddress),
        ("a PTR name with the address in dashes", #""x_host": "p198-51-100-23.pool.example-isp.jp""#, .subscriberAddress),
        ("an in-addr.arpa name", #""x_ptr": "23.100.51.198.in-addr.arpa""#, .subscriberAddress),
        ("an ip6.arpa name", #""x_ptr": "1.0.0.0.0.0.1.0.8.b.d.0.1.0.0.2.IP6.ARPA""#, .subscriberAddress),
        ("a CGNAT pool address", #""description": "via 192.0.2.17""#, .cgnatAddress),
        ("a CGNAT port in src_port", #""x_flow": {"src_port": 40123, "dst_port": 443}"#, .cgnatPort),
        ("a CGNAT port as text", #""x_flow": {"src_port": "40123"}"#, .cgnatPort),
        (
            "a CGNAT port in a pattern",
            #""x_pattern": "[network-traffic:dst_ref.value = '203.0.113.5' AND network-traffic:src_port = 40123]""#, .cgnatPort
        ),
        ("an inside address", #""x_note": "behind 10.1.2.3""#, .insideAddress),
        ("a CGNAT shared address", #""x_note": "100.64.0.77""#, .insideAddress),
        ("an IPv6 link-local address", #""x_note": "fe80::1%eth0""#, .insideAddress),
        ("an e-mail address in name", #""x_name": "contact hanako@example.jp""#, .emailAddress),
        ("a defanged e-mail address", #""x_name": "hanako[at]example[.]jp""#, .emailAddress),
        ("an e-mail address as a member name", #""x_contacts": {"hanako@example.jp": true}"#, .emailAddress),
        ("a host pseudonym in x_custom", #""x_custom": "host h:0123456789abcdef""#, .pseudonym),
        ("a subscriber pseudonym in nested arrays", #""x_nested": [[["fine", ["s:fedcba9876543210"]]]]"#, .pseudonym),
        ("an account name", #""x_analyst": "Checked by Yamada.Taro""#, .account),
        ("another account name", #""labels": ["noc-operator"]"#, .account),
        ("a TLP:RED marking", #""object_marking_refs": ["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"]"#, .marking),
        ("a TLP 1.0 RED marking", #""object_marking_refs": ["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"]"#, .marking),
    ]

    @Test func hostileObjectsAreRefusedWithTheirReason() throws {
        for (k, (what, extra, reason)) in Self.hostile.enumerated() {
            let object = try Self.indicator(k, extra)
            #expect(Self.sharingGuard.check(object) == reason, "\(what)")
            let bundle = Self.sharingGuard.screen([object])
            #expect(bundle.objects.isEmpty, "\(what)")
            #expect(bundle.report.refusals == [reason: 1], "\(what)")
        }
    }

    @Test func cleanObjectsPass() throws {
        let clean = [
            try Self.indicator(900),
            try Self.indicator(
                901, #""description": "C&C 203.0.113.5:443 and [2001:db8:5::5]:443, seen 2026-12-06T10:00:00.000Z, 41 times""#),
            try Self.indicator(902, #""x_counts": [41, 7, 12000], "x_ok": "deadbeef:cafe, 00:1a:2b:3c:4d:5e, v1.2.3, h:123, s:xyz""#),
            try Self.indicator(
                906,
                #""x_names": ["203-0-113-5.example.net", "5.113.0.203.in-addr.arpa", "826fe3cb-56b0-5620-9d30-4c17ed7b24e3", "2026-12-06", "c2[.]example[.]net"]"#
            ),
            try Self.indicator(903, #""labels": ["yamada", "taro-operator"], "confidence": 93"#),
            try Self.indicator(904, #""x_flow": {"src_port": 80, "dst_port": 40123}"#),
            try Self.indicator(905, #""object_marking_refs": ["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"]"#),
        ]
        for object in clean { #expect(Self.sharingGuard.check(object) == nil, "\(object.json.text())") }
        let bundle = Self.sharingGuard.screen(clean)
        #expect(bundle.objects == clean && bundle.report.refusedCount == 0 && bundle.report.allowed == clean.count)
    }

    /// One bad object never stops the others; what points at a refused object is refused too,
    /// along chains of references.
    @Test func refusalFollowsReferences() throws {
        let bad = try Self.indicator(1, #""description": "infected host 198.51.100.23""#)
        let good = try Self.indicator(2)
        let sighting = try STIXObject.fromJSON(
            """
            {"type": "sighting", "spec_version": "2.1", "id": "sighting--0b7ba6e2-8a1b-4f5a-a0a8-0c8b7e1a2f21", "created": "2026-12-06T10:00:00.000Z",
             "modified": "2026-12-06T10:00:00.000Z", "count": 3, "sighting_of_ref": "\(bad.id)"}
            """)
        let relationship = try STIXObject.fromJSON(
            """
            {"type": "relationship", "spec_version": "2.1", "id": "relationship--0b7ba6e2-8a1b-4f5a-a0a8-0c8b7e1a2f22", "created": "2026-12-06T10:00:00.000Z",
             "modified": "2026-12-06T10:00:00.000Z", "relationship_type": "related-to", "source_ref": "\(good.id)", "target_ref": "\(sighting.id)"}
            """)
        let nested = try STIXObject.fromJSON(
            """
            {"type": "x-mamori-note", "id": "x-mamori-note--0b7ba6e2-8a1b-4f5a-a0a8-0c8b7e1a2f23",
             "x_links": [{"about": {"object_refs": ["\(relationship.id)"]}}]}
            """)
        let unrelated = try STIXObject.fromJSON(
            """
            {"type": "relationship", "spec_version": "2.1", "id": "relationship--0b7ba6e2-8a1b-4f5a-a0a8-0c8b7e1a2f24", "created": "2026-12-06T10:00:00.000Z",
             "modified": "2026-12-06T10:00:00.000Z", "relationship_type": "related-to", "source_ref": "\(good.id)", "target_ref": "\(good.id)"}
            """)
        // The references come before and after what they point at: the order does not matter.
        let bundle = Self.sharingGuard.screen([nested, relationship, good, sighting, bad, unrelated])
        #expect(bundle.objects.map(\.id) == [good.id, unrelated.id])
        #expect(bundle.report.refusals == [.subscriberAddress: 1, .refersToRefused: 3])
        #expect(Set(bundle.report.refused.map(\.id)) == [bad.id, sighting.id, relationship.id, nested.id])
        // The bundle holds exactly what passed.
        #expect(bundle.json["objects"]?.arrayValue?.count == 2 && bundle.json["type"] == .string("bundle"))
    }

    @Test func theCeilingIsConfigured() throws {
        let amberStrict = try Self.indicator(3, #""object_marking_refs": ["marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"]"#)
        #expect(Self.sharingGuard.check(amberStrict) == .marking)
        var configuration = Self.sharingGuard.configuration
        configuration.ceiling = .amberStrict
        #expect(SharingGuard(configuration: configuration).check(amberStrict) == nil)
        configuration.ceiling = .clear
        #expect(
            SharingGuard(configuration: configuration).check(
                try Self.indicator(4, #""object_marking_refs": ["\#(TLP.green.markingDefinitionID)"]"#)) == .marking)
    }
}

extension String {
    /// `n` in three decimal digits (the tests' ids differ in their last digits).
    init(format3 n: Int) {
        let s = String(n)
        self = String(repeating: "0", count: Swift.max(0, 3 - s.count)) + s
    }
}
