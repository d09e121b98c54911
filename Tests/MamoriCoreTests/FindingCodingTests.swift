import Foundation
import MamoriCore
import Testing

/// The finding as JSON (`mamori analyze --json`, `/api/v1/findings`): the snake_case wire names
/// of docs/findings.md, the camelCase stored form that stays readable, a lossless round trip, and
/// the feature names defined in one place.
@Suite struct FindingCodingTests {
    static func finding() -> Finding {
        var evidence = Evidence()
        evidence.features = [
            Feature(.periodicity, 0.93),
            Feature(.medianInterval, 60, unit: "s"),
            Feature(.c2Contacts, 4, about: "203.0.113.7:443/tcp"),
            Feature(.scanDestinations(port: 23), 812),
        ]
        evidence.thresholds = [.atLeast("periodicity", 0.93, 0.8), .below("rarity", 0.2, 0.5)]
        evidence.flows = [
            FlowSample(
                start: 1_767_225_600_000, end: 1_767_225_601_000, source: "h:869c184e0005e06c", sourcePort: 51_514,
                destination: "203.0.113.7", destinationPort: 443, protocol: "tcp", tcpFlags: 0x1B, packets: 8, bytes: 5120,
                samplingInterval: 1)
        ]
        evidence.cohort = ["h:869c184e0005e06c"]
        evidence.cohortSize = 1
        evidence.related = ["c2-server:80e53a2710409849"]
        evidence.reasons = ["contacts every 60 s"]
        let subject = FindingSubject(type: .host, address: "100.64.0.9", port: nil, protocol: nil, ports: .init(first: 2048, last: 3071))
        var f = Finding(
            id: Finding.id(kind: .infectedDevice, subject: subject), kind: .infectedDevice, subject: subject, score: 0.875,
            firstSeen: 1_767_225_600_000, lastSeen: 1_767_229_200_000, detectedAt: 1_767_225_660_000, updatedAt: 1_767_229_260_000,
            family: "mirai", summary: "a host beacons to a C&C", evidence: evidence,
            verdict: Verdict(verdict: .truePositive, analyst: "aiko", note: "confirmed", at: 1_767_300_000_000))
        f.subscriber = FindingSubscriber(
            outcome: .attributed, pseudonym: "s:64669f68a0326973", candidates: [], confidence: 0.95, source: "radius",
            reason: "one RADIUS session", at: [1_767_225_600_000, 1_767_229_200_000])
        return f
    }

    static func object(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("a finding survives JSON encoding and decoding unchanged")
    func roundTrip() throws {
        let f = Self.finding()
        let decoded = try JSONDecoder().decode(Finding.self, from: try JSONEncoder().encode(f))
        #expect(decoded == f)
        var bare = f
        bare.family = nil
        bare.verdict = nil
        bare.subscriber = nil
        bare.evidence = Evidence()
        #expect(try JSONDecoder().decode(Finding.self, from: try JSONEncoder().encode(bare)) == bare)
    }

    @Test("the API's JSON is snake_case and reads back; the stored form (camelCase) is read by the same decoder")
    func apiRoundTrip() throws {
        let f = Self.finding()
        let api = try APIJSON.encoder().encode(f)
        #expect(try APIJSON.decoder().decode(Finding.self, from: api) == f)
        let stored = try JSONEncoder().encode(f)
        #expect(try Self.object(stored)["detectedAt"] != nil, "the stores keep the property names")
        #expect(try APIJSON.decoder().decode(Finding.self, from: stored) == f, "camelCase keys are still read, for one release")
        #expect(try JSONDecoder().decode(Finding.self, from: stored) == f)
    }

    @Test("the JSON carries the names docs/findings.md documents")
    func wireNames() throws {
        let json = try Self.object(try APIJSON.encoder().encode(Self.finding()))
        #expect(
            Set(json.keys) == [
                "id", "kind", "subject", "score", "first_seen", "last_seen", "detected_at", "updated_at", "family", "summary",
                "evidence", "verdict", "subscriber",
            ])
        #expect(json["kind"] as? String == "infected-device")
        let subject = try #require(json["subject"] as? [String: Any])
        #expect(subject["type"] as? String == "host")
        #expect(subject["address"] as? String == "100.64.0.9")
        #expect((subject["ports"] as? [String: Any])?["first"] as? Int == 2048)
        #expect((subject["ports"] as? [String: Any])?["last"] as? Int == 3071)

        let evidence = try #require(json["evidence"] as? [String: Any])
        #expect(Set(evidence.keys) == ["features", "thresholds", "flows", "cohort", "cohort_size", "related", "reasons"])
        let features = try #require(evidence["features"] as? [[String: Any]])
        #expect(
            features.map { $0["name"] as? String } == ["periodicity", "median_interval", "c2_contacts", "scan_destinations_port_23"],
            "feature names are plain strings in the JSON")
        #expect(features[1]["unit"] as? String == "s")
        #expect(features[2]["about"] as? String == "203.0.113.7:443/tcp")
        let threshold = try #require((evidence["thresholds"] as? [[String: Any]])?.first)
        #expect(Set(threshold.keys) == ["name", "value", "comparison", "limit", "crossed"])
        #expect(threshold["comparison"] as? String == ">=" && threshold["crossed"] as? Bool == true)
        let flow = try #require((evidence["flows"] as? [[String: Any]])?.first)
        #expect(
            Set(flow.keys) == [
                "start", "end", "source", "source_port", "destination", "destination_port", "protocol", "tcp_flags", "packets",
                "bytes", "sampling_interval",
            ])

        let verdict = try #require(json["verdict"] as? [String: Any])
        #expect(Set(verdict.keys) == ["verdict", "analyst", "note", "at"])
        #expect(verdict["verdict"] as? String == "true-positive")
        let subscriber = try #require(json["subscriber"] as? [String: Any])
        #expect(Set(subscriber.keys) == ["outcome", "pseudonym", "candidates", "confidence", "source", "reason", "at"])
        #expect(subscriber["outcome"] as? String == "attributed")
    }

    @Test("dictionary keys are data and pass the API's encoder unchanged; explicit snake_case keys stay as they are")
    func dictionaryKeys() throws {
        struct Answer: Encodable {
            var byAddress: [String: Int]
            var heldFrom: Int
            enum CodingKeys: String, CodingKey {
                case byAddress
                case heldFrom = "held_from"
            }
        }
        let text = String(
            decoding: try APIJSON.encoder().encode(Answer(byAddress: ["2001:DB8::1": 1, "User-Name": 2, "warnInfection": 3], heldFrom: 4)),
            as: UTF8.self)
        #expect(text == #"{"by_address":{"2001:DB8::1":1,"User-Name":2,"warnInfection":3},"held_from":4}"#)
    }

    @Test("the kinds, subject types, verdicts and attribution outcomes have their documented strings")
    func enumStrings() {
        #expect(
            FindingKind.allCases.map(\.rawValue).sorted()
                == ["c2-server", "inbound-ddos", "infected-device", "known-indicator", "outbound-ddos", "scanning"])
        #expect([FindingSubject.Kind.endpoint, .host, .address].map(\.rawValue) == ["endpoint", "host", "address"])
        #expect([Verdict.Kind.truePositive, .falsePositive].map(\.rawValue) == ["true-positive", "false-positive"])
        #expect([AttributionOutcome.attributed, .ambiguous, .unknown].map(\.rawValue) == ["attributed", "ambiguous", "unknown"])
    }

    @Test("a finding's id is kind: + 16 hex digits of FNV-1a over kind, type and subject: the same on every run and machine")
    func stableID() {
        let c2 = FindingSubject(type: .endpoint, address: "203.0.113.7", port: 443, protocol: "tcp", ports: nil)
        #expect(Finding.id(kind: .commandAndControl, subject: c2) == "c2-server:80e53a2710409849")
        let host = FindingSubject(type: .host, address: "100.64.0.9", port: nil, protocol: nil, ports: .init(first: 2048, last: 3071))
        #expect(Finding.id(kind: .scanning, subject: host) == "scanning:983f04ad6265d27e")
        var otherPort = c2
        otherPort.port = 8443
        #expect(Finding.id(kind: .commandAndControl, subject: otherPort) != Finding.id(kind: .commandAndControl, subject: c2))
        #expect(Finding.id(kind: .knownIndicator, subject: c2).hasPrefix("known-indicator:"))
    }

    @Test("subjects read as people write them: [v6]:port/proto, address:first-last")
    func subjectDescription() {
        #expect(
            FindingSubject(type: .endpoint, address: "2001:db8::1", port: 53, protocol: "udp", ports: nil).description
                == "[2001:db8::1]:53/udp")
        #expect(
            FindingSubject(type: .endpoint, address: "192.0.2.1", port: 80, protocol: "tcp", ports: nil).description == "192.0.2.1:80/tcp")
        #expect(
            FindingSubject(type: .host, address: "100.64.0.9", port: nil, protocol: nil, ports: .init(first: 1024, last: 2047)).description
                == "100.64.0.9:1024-2047")
        #expect(
            FindingSubject(type: .host, address: "2001:db8:1::/64", port: nil, protocol: nil, ports: nil).description == "2001:db8:1::/64")
        #expect(FindingSubject(type: .address, address: "198.51.100.7", port: nil, protocol: nil, ports: nil).description == "198.51.100.7")
    }
}

/// `FeatureName`: every name a finding's evidence may carry, and the per-port scan names.
@Suite struct FeatureNameTests {
    @Test("names used in docs/findings.md have those raw strings")
    func documentedNames() {
        let names: [(FeatureName, String)] = [
            (.periodicity, "periodicity"), (.payloadUniformity, "payload_uniformity"), (.medianInterval, "median_interval"),
            (.distinctHosts, "distinct_hosts"), (.cohortShare, "cohort_share"), (.rarity, "rarity"), (.cohortBotShare, "cohort_bot_share"),
            (.peakPacketsPerSecond, "peak_packets_per_second"), (.servicePoolAddresses, "service_pool_addresses"),
            (.servicePoolHosts, "service_pool_hosts"), (.c2Contacts, "c2_contacts"), (.indicatorContacts, "indicator_contacts"),
            (.attackPacketsPerSecond, "attack_packets_per_second"),
        ]
        for (name, raw) in names {
            #expect(name.rawValue == raw)
            #expect(name.description == raw)
            #expect(FeatureName(rawValue: raw) == name)
        }
    }

    @Test("per-port names, and scanDestinationsPort reading the port back from a scan_destinations_port_ name only")
    func perPort() {
        #expect(FeatureName.destinations(port: 23).rawValue == "destinations_port_23")
        #expect(FeatureName.scanDestinations(port: 2323).rawValue == "scan_destinations_port_2323")
        for port: UInt16 in [0, 22, 23, 445, 65535] {
            #expect(FeatureName.scanDestinations(port: port).scanDestinationsPort == port)
        }
        #expect(FeatureName.destinations(port: 23).scanDestinationsPort == nil, "a scanning finding's name is not a device's")
        #expect(FeatureName.periodicity.scanDestinationsPort == nil)
        #expect(FeatureName(rawValue: "scan_destinations_port_").scanDestinationsPort == nil)
        #expect(FeatureName(rawValue: "scan_destinations_port_65536").scanDestinationsPort == nil, "not a port")
        #expect(FeatureName(rawValue: "scan_destinations_port_x1").scanDestinationsPort == nil)
    }

    @Test("a feature name is a bare string in JSON, and any string decodes (names from newer versions are kept)")
    func coding() throws {
        let data = try JSONEncoder().encode([FeatureName.rarity, .scanDestinations(port: 23)])
        #expect(String(decoding: data, as: UTF8.self) == #"["rarity","scan_destinations_port_23"]"#)
        let decoded = try JSONDecoder().decode([FeatureName].self, from: Data(#"["rarity","something_new"]"#.utf8))
        #expect(decoded == [.rarity, FeatureName(rawValue: "something_new")])
    }
}
