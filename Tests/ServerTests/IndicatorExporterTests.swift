import Accounts
import FlowCodec
import Foundation
import Hummingbird
import Logging
import MamoriCore
import MamoriTesting
import STIX
import TAXII
import TAXIIClient
import Testing

@testable import Server

/// An analyst's verdicts on C&C findings become STIX in the carrier's TAXII collection: a confirmed
/// C&C is shared (valid for the OASIS validator, nothing about a subscriber in it), a false positive
/// is published again revoked, and an endpoint inside the carrier's own subscriber space is refused
/// by the sharing guard.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct IndicatorExporterTests {
    static let now = Int64(Date().timeIntervalSince1970 * 1000)

    static func application(
        _ dir: TemporaryDirectory, clock: TestClock = TestClock(now), peers: [SharingPeerSettings] = [], reflectors: Bool = false
    ) throws -> (
        some ApplicationProtocol, MamoriServices
    ) {
        var configuration = ServerTests.configuration(dataDirectory: dir.path)
        configuration.sharing.export = SharingExportSettings(collection: "cnc", organisation: "Example Carrier")
        configuration.sharing.export?.reflectors = reflectors
        configuration.sharing.peers = peers
        var dependencies = ApplicationDependencies(logger: LogStore().logger(level: .critical), clock: clock)
        dependencies.passwordHashing = BcryptPasswordHashing(cost: 4)
        return try buildApplication(configuration: configuration, dependencies: dependencies)
    }

    /// A C&C finding about `endpoint` with the evidence detection gives it: subscriber hosts as
    /// pseudonyms, flow samples from subscriber addresses behind the CGNAT.
    static func commandAndControl(_ endpoint: String, port: UInt16 = 443) -> Finding {
        let subject = FindingSubject(type: .endpoint, address: endpoint, port: port, protocol: "tcp", ports: nil)
        var e = Evidence()
        e.features = [Feature(.contacts, 42), Feature(.hosts, 3)]
        e.cohortSize = 3
        e.cohort = ["h:3f9a0c", "h:77be12", "h:0c1d2e"]
        e.flows = [
            FlowSample(
                start: now - 60_000, end: now - 59_000, source: "198.18.0.5", sourcePort: 2040, destination: endpoint,
                destinationPort: port,
                protocol: "tcp", tcpFlags: 0x1B, packets: 6, bytes: 900, samplingInterval: 1)
        ]
        e.reasons = ["3 subscriber hosts beacon every 300 s (h:3f9a0c among them)"]
        return Finding(
            id: Finding.id(kind: .commandAndControl, subject: subject), kind: .commandAndControl, subject: subject, score: 0.87,
            firstSeen: now - 86_400_000, lastSeen: now - 60_000, detectedAt: now, updatedAt: now, family: "mirai",
            summary: "Likely C&C \(endpoint):\(port)/tcp contacted by 3 subscriber hosts", evidence: e)
    }

    /// Every version in the collection, as one STIX bundle's objects.
    static func published(_ services: MamoriServices) throws -> [[String: Any]] {
        let taxii = try #require(services.taxii)
        let collection = try #require(taxii.collection("cnc"))
        var query = try TAXIIQuery.parse([("limit", "1000"), ("match[version]", "all")])
        query.limit = 1000
        return try taxii.select(query, collection: collection).versions.map {
            try #require(try JSONSerialization.jsonObject(with: $0.json) as? [String: Any])
        }
    }

    /// Every string and number anywhere in `value`.
    static func leaves(_ value: Any) -> [String] {
        switch value {
        case let d as [String: Any]: d.flatMap { [$0.key] + leaves($0.value) }
        case let a as [Any]: a.flatMap(leaves)
        default: ["\(value)"]
        }
    }

    @Test func aConfirmedCommandAndControlIsSharedAndAFalsePositiveRevoked() async throws {
        let dir = try TemporaryDirectory()
        let clock = TestClock(Self.now)
        let (_, services) = try Self.application(dir, clock: clock)
        let finding = Self.commandAndControl("192.0.2.66")
        try await services.detection.store.upsert([finding])
        _ = try await services.detection.record(Verdict(verdict: .truePositive, analyst: "hana", at: Self.now), forFinding: finding.id)
        let objects = try Self.published(services)
        let types = Set(objects.compactMap { $0["type"] as? String })
        #expect(types.isSuperset(of: ["indicator", "infrastructure", "malware", "relationship", "sighting", "identity"]), "\(types)")
        let indicator = try #require(objects.first { $0["type"] as? String == "indicator" })
        #expect(
            (indicator["pattern"] as? String)?.contains("192.0.2.66") == true && (indicator["pattern"] as? String)?.contains("443") == true)
        #expect(indicator["confidence"] as? Int == 87)

        // Nothing about a subscriber, at any depth: no subscriber or CGNAT address, no pseudonym,
        // no subscriber-side port, no analyst.
        for leaf in objects.flatMap(Self.leaves) {
            #expect(!leaf.contains("198.18.") && !leaf.contains("h:") && !leaf.contains("hana") && leaf != "2040", "\(leaf)")
        }

        // The OASIS validator in strict mode (check 103, UUIDv4 ids, off: the ids are UUIDv5 so a
        // re-export is a new version).
        let validator = try ExternalPeer.pythonTool("stix2_validator")
        let file = dir.path + "/bundle.json"
        let bundle: [String: Any] = ["type": "bundle", "id": "bundle--\(UUID().uuidString.lowercased())", "objects": objects]
        try JSONSerialization.data(withJSONObject: bundle, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: file))
        let result = try await validator.runToExit(["--version", "2.1", "--strict", "--disable", "103", file], timeout: .seconds(120))
        #expect(result.status == 0 && (result.stdout + result.stderr).contains("STIX JSON: Valid"), "\(result.stdout)\(result.stderr)")
        #expect(!(result.stdout + result.stderr).contains("[!]") && !(result.stdout + result.stderr).contains("[X]"), "\(result.stdout)")

        // A day later, a false positive: the same indicator id, published again revoked.
        clock.advance(by: 86_400_000)
        _ = try await services.detection.record(
            Verdict(verdict: .falsePositive, analyst: "hana", at: Self.now + 1000), forFinding: finding.id)
        let versions = try Self.published(services).filter { $0["id"] as? String == indicator["id"] as? String }
        #expect(versions.count == 2 && versions.contains { $0["revoked"] as? Bool == true }, "\(versions)")
    }

    @Test func aSubscribersOwnAddressIsNeverShared() async throws {
        let dir = try TemporaryDirectory()
        let (_, services) = try Self.application(dir)
        let exporter = try #require(services.exporter)
        // A C&C hosted on a subscriber's line (inside the CGNAT pool): the guard refuses it.
        let finding = Self.commandAndControl("198.18.0.77")
        try await services.detection.store.upsert([finding])
        _ = try await services.detection.record(Verdict(verdict: .truePositive, analyst: "hana", at: Self.now), forFinding: finding.id)
        let report = try #require(await exporter.verdict(finding, Verdict(verdict: .truePositive, analyst: "hana", at: Self.now)))
        #expect(report.refusedCount > 0 && (report.refusals[.subscriberAddress] ?? report.refusals[.cgnatAddress]) != nil, "\(report)")
        let objects = try Self.published(services)
        #expect(!objects.contains { $0["type"] as? String == "indicator" }, "\(objects)")
        #expect(!objects.flatMap(Self.leaves).contains { $0.contains("198.18.0.77") })
    }

    /// `push: true`: what the analysts confirm also goes to the ISAC's hub (medallion), where
    /// another carrier's client reads it.
    @Test func aConfirmedCommandAndControlIsPushedToTheHub() async throws {
        let inbox = MedallionPeer.Collection(title: "carriers' C&C")
        let hub = try await MedallionPeer(collections: [inbox])
        defer { hub.stop() }
        let dir = try TemporaryDirectory()
        try "carrier-a's long password\n".write(toFile: dir.path + "/isac.password", atomically: true, encoding: .utf8)
        var peer = SharingPeerSettings(name: "isac", apiRoot: hub.apiRootURL, collection: inbox.id)
        peer.user = "carrier-a"
        peer.passwordFile = dir.path + "/isac.password"
        peer.push = true
        peer.pull = false
        let (_, services) = try Self.application(dir, peers: [peer])
        #expect(services.sharing?.peers.first?.pull == false, "a push-only peer is not pulled")
        let finding = Self.commandAndControl("192.0.2.91")
        try await services.detection.store.upsert([finding])
        _ = try await services.detection.record(Verdict(verdict: .truePositive, analyst: "hana", at: Self.now), forFinding: finding.id)
        let read = try await TAXIIClient.withClient(
            TAXIIPeer(
                name: "another-carrier", apiRoot: hub.apiRootURL, collection: inbox.id,
                credentials: .basic(user: "carrier-a", password: "carrier-a's long password"))
        ) { try await $0.pull(after: nil) }
        let texts = read.objects.map { String(decoding: $0, as: UTF8.self) }
        #expect(texts.contains { $0.contains("\"indicator\"") && $0.contains("192.0.2.91") }, "\(texts)\n\(hub.log)")
        #expect(!texts.contains { $0.contains("198.18.") || $0.contains("h:") }, "\(texts)")
    }

    @Test func aPeerThatRefusedAPushGetsItLaterAndANewPeerGetsTheBacklog() async throws {
        let inbox = MedallionPeer.Collection(title: "carriers' C&C")
        let hub = try await MedallionPeer(collections: [inbox])
        defer { hub.stop() }
        let dir = try TemporaryDirectory()
        let passwordFile = dir.path + "/isac.password"
        try "a wrong password\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        var peer = SharingPeerSettings(name: "isac", apiRoot: hub.apiRootURL, collection: inbox.id)
        peer.user = "carrier-a"
        peer.passwordFile = passwordFile
        peer.push = true
        peer.pull = false
        peer.timeoutSeconds = 10
        func hubObjects() async throws -> [String] {
            try await TAXIIClient.withClient(
                TAXIIPeer(
                    name: "another-carrier", apiRoot: hub.apiRootURL, collection: inbox.id,
                    credentials: .basic(user: "carrier-a", password: "carrier-a's long password"))
            ) { try await $0.pull(after: nil) }.objects.map { String(decoding: $0, as: UTF8.self) }
        }
        do {
            let (_, services) = try Self.application(dir, peers: [peer])
            let exporter = try #require(services.exporter)
            for address in ["192.0.2.91", "192.0.2.92"] {
                let finding = Self.commandAndControl(address)
                try await services.detection.store.upsert([finding])
                _ = try await services.detection.record(
                    Verdict(verdict: .truePositive, analyst: "hana", at: Self.now), forFinding: finding.id)
            }
            // The hub refused the credentials: nothing arrived, the bookmark did not move, the error is kept.
            #expect(try await hubObjects().isEmpty)
            let failed = try #require(exporter.pushStatus().first)
            #expect(failed.bookmark == nil && failed.lastError != nil, "\(failed)")
            // The password is mended (read at every push): the next try sends both, in order.
            try "carrier-a's long password\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
            let retried = await exporter.pushPending(to: peer)
            #expect(retried.error == nil && retried.sent > 0 && retried.bookmark != nil, "\(retried)\n\(hub.log)")
            let texts = try await hubObjects()
            #expect(texts.contains { $0.contains("192.0.2.91") } && texts.contains { $0.contains("192.0.2.92") }, "\(texts)")
            let again = await exporter.pushPending(to: peer)
            #expect(again.error == nil && again.sent == 0, "nothing new: \(again)")
        }
        // After a restart, a second push peer (a new ISAC member) gets the whole collection; the
        // first keeps its bookmark and gets nothing again.
        let second = MedallionPeer.Collection(title: "new member's inbox")
        let newHub = try await MedallionPeer(collections: [second])
        defer { newHub.stop() }
        var newPeer = SharingPeerSettings(name: "new-member", apiRoot: newHub.apiRootURL, collection: second.id)
        newPeer.user = "carrier-a"
        newPeer.passwordFile = passwordFile
        newPeer.push = true
        newPeer.pull = false
        let (_, restarted) = try Self.application(dir, peers: [peer, newPeer])
        let exporter = try #require(restarted.exporter)
        let first = await exporter.pushPending(to: peer)
        #expect(first.error == nil && first.sent == 0 && first.bookmark != nil, "\(first)")
        let backlog = await exporter.pushPending(to: newPeer)
        #expect(backlog.error == nil && backlog.sent > 0, "\(backlog)\n\(newHub.log)")
        let received = try await TAXIIClient.withClient(
            TAXIIPeer(
                name: "reader", apiRoot: newHub.apiRootURL, collection: second.id,
                credentials: .basic(user: "carrier-a", password: "carrier-a's long password"))
        ) { try await $0.pull(after: nil) }.objects.map { String(decoding: $0, as: UTF8.self) }
        #expect(received.contains { $0.contains("192.0.2.91") } && received.contains { $0.contains("192.0.2.92") }, "\(received)")
    }

    /// An NTP and SSDP reflection flood against a subscriber, as the inbound detector records it:
    /// flow samples from the reflectors' service ports to the victim's address.
    static func reflectionFlood(victim: String) -> Finding {
        let subject = FindingSubject(type: .host, address: victim, port: nil, protocol: nil, ports: nil)
        var e = Evidence()
        func flow(_ source: String, _ port: UInt16, _ proto: String = "udp") -> FlowSample {
            FlowSample(
                start: now - 30_000, end: now - 29_000, source: source, sourcePort: port, destination: victim, destinationPort: 40_000,
                protocol: proto, tcpFlags: 0, packets: 1_000, bytes: 468_000, samplingInterval: 1)
        }
        e.flows = [
            flow("192.0.2.11", 123), flow("192.0.2.11", 123), flow("192.0.2.12", 123), flow("2001:db8:ffff::1", 123),
            flow("203.0.113.40", 1900), flow("203.0.113.41", 443, "tcp"), flow("203.0.113.42", 40_001),
            // Spoofed, or a subscriber's own device: the guard refuses a subscriber-side address.
            flow("198.18.0.77", 123),
        ]
        e.features = [Feature(.sourcesSeen, 5)]
        return Finding(
            id: Finding.id(kind: .inboundDDoS, subject: subject), kind: .inboundDDoS, subject: subject, score: 0.95,
            firstSeen: now - 60_000, lastSeen: now - 1_000, detectedAt: now, updatedAt: now, family: nil,
            summary: "Inbound DDoS against \(victim): NTP reflection", evidence: e)
    }

    @Test func aConfirmedReflectionFloodSharesItsReflectorsButNeverTheVictim() async throws {
        let dir = try TemporaryDirectory()
        let clock = TestClock(Self.now)
        let (_, services) = try Self.application(dir, clock: clock, reflectors: true)
        let finding = Self.reflectionFlood(victim: "198.18.0.5")
        let exporter = try #require(services.exporter)
        let report = try #require(await exporter.verdict(finding, Verdict(verdict: .truePositive, analyst: "hana", at: Self.now)))
        #expect((report.refusals[.subscriberAddress] ?? 0) >= 1, "the subscriber-side source is refused: \(report)")
        let objects = try Self.published(services)
        let patterns = objects.filter { $0["type"] as? String == "indicator" }.compactMap { $0["pattern"] as? String }
        #expect(patterns.count == 3, "\(patterns)")
        for (address, port) in [("192.0.2.11", "123"), ("192.0.2.12", "123"), ("203.0.113.40", "1900")] {
            #expect(patterns.contains { $0.contains(address) && $0.contains(port) && $0.contains("udp") }, "\(address): \(patterns)")
        }
        #expect(!patterns.contains { $0.contains("203.0.113.41") || $0.contains("203.0.113.42") }, "not from an amplification port")
        let indicator = try #require(objects.first { $0["type"] as? String == "indicator" })
        #expect(indicator["indicator_types"] as? [String] == ["anomalous-activity"], "\(indicator)")
        for leaf in objects.flatMap(Self.leaves) {
            #expect(!leaf.contains("198.18.") && !leaf.contains("hana") && leaf != "40000", "\(leaf)")
        }
        let validator = try ExternalPeer.pythonTool("stix2_validator")
        let file = dir.path + "/reflectors.json"
        let bundle: [String: Any] = ["type": "bundle", "id": "bundle--\(UUID().uuidString.lowercased())", "objects": objects]
        try JSONSerialization.data(withJSONObject: bundle, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: file))
        let result = try await validator.runToExit(["--version", "2.1", "--strict", "--disable", "103", file], timeout: .seconds(120))
        #expect(result.status == 0 && (result.stdout + result.stderr).contains("STIX JSON: Valid"), "\(result.stdout)\(result.stderr)")

        // A false positive, an hour later, revokes what was shared.
        clock.advance(by: 3_600_000)
        await exporter.verdict(finding, Verdict(verdict: .falsePositive, analyst: "hana", at: Self.now + 1000))
        let revoked = try Self.published(services).filter { $0["type"] as? String == "indicator" && $0["revoked"] as? Bool == true }
        #expect(revoked.count == 3, "\(revoked.count)")

        // Off by default: the same verdict shares nothing.
        let other = try TemporaryDirectory()
        let (_, plain) = try Self.application(other)
        try await plain.detection.store.upsert([finding])
        _ = try await plain.detection.record(Verdict(verdict: .truePositive, analyst: "hana", at: Self.now), forFinding: finding.id)
        #expect(try Self.published(plain).filter { $0["type"] as? String == "indicator" }.isEmpty)
    }
}
