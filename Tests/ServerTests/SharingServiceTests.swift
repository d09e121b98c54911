import Accounts
import Collector
import FlowCodec
import Foundation
import Hummingbird
import Logging
import MamoriCore
import MamoriTesting
import TAXIIClient
import Testing

@testable import Server

/// Indicators another carrier shared through the ISAC's hub (OASIS medallion on loopback) reach
/// Mamori's detectors: a subscriber's flows to the shared endpoint make an infected-device finding;
/// a revocation takes it out; garbage imports nothing; a restart keeps what was pulled.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct SharingServiceTests {
    static let now = Int64(Date().timeIntervalSince1970 * 1000)

    static func indicator(
        _ id: String, pattern: String, name: String, confidence: Int = 90, modified: String = "2026-11-01T00:00:00.000Z",
        revoked: Bool = false
    ) -> [String: any Sendable] {
        var o: [String: any Sendable] = [
            "type": "indicator", "spec_version": "2.1", "id": id, "created": "2026-11-01T00:00:00.000Z", "modified": modified,
            "name": name, "pattern_type": "stix", "pattern": pattern, "valid_from": "2026-11-01T00:00:00Z",
            "indicator_types": ["malicious-activity"], "confidence": confidence,
        ]
        if revoked { o["revoked"] = true }
        return o
    }

    static let emotet = "indicator--0e0b5a8c-6b5c-4c2b-9c55-6b8f5d1e0a01"

    static func application(_ dir: TemporaryDirectory, hub: MedallionPeer, collection: String) throws -> (
        some ApplicationProtocol, MamoriServices
    ) {
        let passwordFile = dir.path + "/isac.password"
        try "carrier-a's long password\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        var configuration = ServerTests.configuration(dataDirectory: dir.path)
        var peer = SharingPeerSettings(name: "isac", apiRoot: hub.apiRootURL, collection: collection)
        peer.user = "carrier-a"
        peer.passwordFile = passwordFile
        peer.timeoutSeconds = 10
        configuration.sharing.peers = [peer]
        var dependencies = ApplicationDependencies(logger: LogStore().logger(level: .critical), clock: TestClock(Self.now))
        dependencies.passwordHashing = BcryptPasswordHashing(cost: 4)
        return try buildApplication(configuration: configuration, dependencies: dependencies)
    }

    /// A subscriber's device contacting `destination` three times, two minutes apart.
    static func contacts(from source: String, to destination: String, port: UInt16, start: Int64) -> FlowBatch {
        FlowBatch(
            records: (0..<3).map { k in
                let t = start + Int64(k) * 120_000
                return FlowRecord(
                    sourceAddress: IPAddress(source)!, destinationAddress: IPAddress(destination)!, sourcePort: 40_000,
                    destinationPort: port, ipProtocol: 6, tcpFlags: 0x1B, bytes: 900, packets: 6, startMilliseconds: t,
                    endMilliseconds: t + 1000)
            })
    }

    @Test func aSharedIndicatorMakesASubscribersContactAFindingUntilRevoked() async throws {
        let shared = MedallionPeer.Collection(
            title: "C&C indicators",
            objects: [
                Self.indicator(
                    Self.emotet,
                    pattern: "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '198.51.100.77']",
                    name: "emotet"),
                Self.indicator(
                    "indicator--0e0b5a8c-6b5c-4c2b-9c55-6b8f5d1e0a02",
                    pattern: "[file:hashes.'SHA-256' = '\(String(repeating: "ab", count: 32))']",
                    name: "a file"),
                Self.indicator(
                    "indicator--0e0b5a8c-6b5c-4c2b-9c55-6b8f5d1e0a03", pattern: "[domain-name:value = 'c2.example']", name: "a name"),
            ])
        let hub = try await MedallionPeer(collections: [shared])
        defer { hub.stop() }
        let dir = try TemporaryDirectory()
        let (_, services) = try Self.application(dir, hub: hub, collection: shared.id)
        let sharing = try #require(services.sharing)

        let first = await sharing.pull("isac")
        // The address goes to the flow matcher; the name is held for the sinkhole (off here).
        #expect(first.error == nil && first.objects == 3 && first.imported == 2 && first.held == 2, "\(first)\n\(hub.log)")
        #expect(first.skipped == ["not_evaluable": 1], "\(first)")

        await services.detection.consume(Self.contacts(from: "198.18.0.5", to: "198.51.100.77", port: 443, start: Self.now - 600_000))
        await services.detection.evaluate()
        let devices = try await services.detection.store.findings(matching: FindingQuery(kind: .infectedDevice))
        let device = try #require(devices.first { $0.subject.address == "198.18.0.5" }, "\(devices.map(\.summary))")
        #expect(device.family == "emotet")
        let indicators = try await services.detection.store.findings(matching: FindingQuery(kind: .knownIndicator))
        let known = try #require(indicators.first { $0.subject.address == "198.51.100.77" })
        #expect(known.evidence.reasons.first?.contains("shared by taxii:isac") == true, "\(known.evidence.reasons)")
        #expect(abs(known.score - 0.9) < 1e-9)

        // Nothing new: the bookmark holds, nothing changes.
        let again = await sharing.pull("isac")
        #expect(again.error == nil && again.objects == 0 && again.held == 2, "\(again)")

        // A restart matches at once, from what was saved.
        let (_, restarted) = try Self.application(dir, hub: hub, collection: shared.id)
        let saved = try #require(restarted.sharing?.status().first)
        #expect(saved.indicators == 2 && saved.bookmark != nil && saved.bookmark == sharing.status().first?.bookmark)

        // The other carrier revokes it: it stops matching.
        let revocation = try JSONSerialization.data(
            withJSONObject: Self.indicator(
                Self.emotet, pattern: "[ipv4-addr:value = '198.51.100.77']", name: "emotet", modified: "2026-12-01T00:00:00.000Z",
                revoked: true))
        let status = try await TAXIIClient.withClient(
            TAXIIPeer(
                name: "other-carrier", apiRoot: hub.apiRootURL, collection: shared.id,
                credentials: .basic(user: "carrier-a", password: "carrier-a's long password"))
        ) { try await $0.add([revocation]) }
        #expect(status.successes == 1)
        let revoked = await sharing.pull("isac")
        #expect(revoked.error == nil && revoked.revoked == 1 && revoked.held == 1, "\(revoked)")
        await services.detection.consume(Self.contacts(from: "198.18.0.6", to: "198.51.100.77", port: 443, start: Self.now - 300_000))
        await services.detection.evaluate()
        let after = try await services.detection.store.findings(matching: FindingQuery(kind: .infectedDevice))
        #expect(!after.contains { $0.subject.address == "198.18.0.6" }, "\(after.map(\.summary))")
    }

    @Test func aBrokenIndicatorIsSkippedAndAGarbagePageImportsNothing() async throws {
        // An indicator without `created` is skipped and counted; the good one beside it is kept.
        var broken = Self.indicator(
            "indicator--0e0b5a8c-6b5c-4c2b-9c55-6b8f5d1e0a09", pattern: "[ipv4-addr:value = '198.51.100.9']", name: "x")
        broken["created"] = nil
        let good = Self.indicator(
            "indicator--0e0b5a8c-6b5c-4c2b-9c55-6b8f5d1e0a08", pattern: "[ipv4-addr:value = '198.51.100.8']", name: "y")
        // An abused reflector (anomalous-activity): contacting it says nothing bad about a subscriber's device.
        var reflector = Self.indicator(
            "indicator--0e0b5a8c-6b5c-4c2b-9c55-6b8f5d1e0a07", pattern: "[ipv4-addr:value = '198.51.100.7']", name: "NTP reflector")
        reflector["indicator_types"] = ["anomalous-activity"]
        let mixed = MedallionPeer.Collection(title: "mixed", objects: [good, broken, reflector])
        // An object with no id: the page is not a TAXII envelope Mamori can use.
        let garbage = MedallionPeer.Collection(title: "garbage", objects: [good, ["type": "indicator", "spec_version": "2.1"]])
        let hub = try await MedallionPeer(collections: [mixed, garbage])
        defer { hub.stop() }

        let dir = try TemporaryDirectory()
        let (_, services) = try Self.application(dir, hub: hub, collection: mixed.id)
        let sharing = try #require(services.sharing)
        let outcome = await sharing.pull("isac")
        #expect(outcome.error == nil && outcome.imported == 1 && outcome.skipped["malformed_object"] == 1, "\(outcome)")
        #expect(outcome.skipped["indicator_type"] == 1, "\(outcome)")

        let other = try TemporaryDirectory()
        let (_, services2) = try Self.application(other, hub: hub, collection: garbage.id)
        let sharing2 = try #require(services2.sharing)
        let failed = await sharing2.pull("isac")
        #expect(failed.error != nil, "\(failed)")
        let s = try #require(sharing2.status().first)
        #expect(s.indicators == 0 && s.bookmark == nil && s.lastError != nil, "\(s)")

        // A wrong password file: a clear error, and still nothing imported.
        try "wrong\n".write(toFile: other.path + "/isac.password", atomically: true, encoding: .utf8)
        let refused = await sharing2.pull("isac")
        #expect(refused.error?.contains("401") == true, "\(refused)")
        #expect(await sharing2.pull("nobody").error == "no sharing peer named nobody")
    }

    @Test("sharing.peers: parsed, with clear refusals")
    func configuration() throws {
        let yaml = """
            sharing:
              peers:
                - name: isac
                  api_root: https://hub.example/api1/
                  collection: 91a7b528-80eb-42ed-a74d-c6fbd5a26116
                  user: carrier-a
                  password_file: /etc/mamori/isac.password
                  pull_minutes: 5
            """
        let peer = try #require(try MamoriConfiguration.parse(yaml: yaml).sharing.peers.first)
        #expect(peer.name == "isac" && peer.apiRoot == "https://hub.example/api1/" && peer.pullMinutes == 5 && peer.user == "carrier-a")
        for (bad, words) in [
            ("    - {name: isac, api_root: ftp://x/, collection: c}", "must be an http(s) URL"),
            ("    - {name: isac, api_root: https://x/, collection: c, user: a}", "give user and password_file"),
            ("    - {name: 'a b', api_root: https://x/, collection: c}", "a-z, 0-9"),
            ("    - {name: isac, api_root: https://x/}", "needs a 'name', an 'api_root'"),
            ("    - {name: isac, api_root: https://x/, collection: c, pull_minutes: 0}", "pull_minutes must be between 1"),
        ] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try MamoriConfiguration.parse(yaml: "sharing:\n  peers:\n" + bad + "\n") }
            do {
                _ = try MamoriConfiguration.parse(yaml: "sharing:\n  peers:\n" + bad + "\n")
            } catch {
                #expect(error.reason.contains(words), "\(error)")
            }
        }
    }
}
