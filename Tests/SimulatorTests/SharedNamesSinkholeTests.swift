import Foundation
import MamoriTesting
import Testing

/// Domain names another carrier shares through the ISAC's hub (OASIS medallion on loopback) reach
/// the carrier's resolvers (Unbound following Mamori's RPZ zone) when `sharing.sinkhole` says so:
/// a confident indicator is sinkholed, one below the minimum confidence is not, a popular name is
/// refused by the sinkhole's guard; the other carrier's revocation, once pulled, gives the true
/// answer back.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct SharedNamesSinkholeTests {
    static func indicator(_ n: Int, _ name: String, confidence: Int, revoked: Bool = false) -> [String: any Sendable] {
        var o: [String: any Sendable] = [
            "type": "indicator", "spec_version": "2.1", "id": "indicator--5d3c1a0e-7f2b-4c8d-9e1f-0a2b3c4d5e0\(n)",
            "created": "2026-11-01T00:00:00.000Z", "modified": revoked ? "2026-12-01T00:00:00.000Z" : "2026-11-01T00:00:00.000Z",
            "name": "botnet C&C name", "pattern_type": "stix", "pattern": "[domain-name:value = '\(name)']",
            "valid_from": "2026-11-01T00:00:00Z", "indicator_types": ["malicious-activity"], "confidence": confidence,
        ]
        if revoked { o["revoked"] = true }
        return o
    }

    @Test func sharedNamesAreSinkholedUntilRevoked() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let unbound = try ExternalPeer.require("unbound", debianPackage: "unbound")
        let curl = try ExternalPeer.require("curl", debianPackage: "curl")
        let collection = MedallionPeer.Collection(
            title: "ISAC C&C names",
            objects: [
                Self.indicator(1, "cc.example", confidence: 90), Self.indicator(2, "bad.example", confidence: 40),
                Self.indicator(3, "www.google.com", confidence: 95),
            ])
        let hub = try await MedallionPeer(collections: [collection])
        defer { hub.stop() }
        let dir = try TemporaryDirectory()
        let d = dir.path
        let (http, transfer, unboundPort) = (try freeTCPPort(), try freeTCPPort(), try freeUDPPort())
        try SinkholeServeTests.exampleZone.write(toFile: d + "/example.db", atomically: true, encoding: .utf8)
        try SinkholeServeTests.policy.write(toFile: d + "/policy.yaml", atomically: true, encoding: .utf8)
        try "prefix,subscriber\n127.0.0.1/32,A-0001\n".write(toFile: d + "/static.csv", atomically: true, encoding: .utf8)
        try SinkholeServeTests.unboundConfiguration(directory: d, port: unboundPort, primaryPort: transfer)
            .write(toFile: d + "/unbound.conf", atomically: true, encoding: .utf8)
        try "carrier-a's long password\n".write(toFile: d + "/isac.password", atomically: true, encoding: .utf8)
        try """
        data_directory: \(d)/data
        log_level: warning
        http:
          listen: 127.0.0.1:\(http)
        collector:
          listen: [127.0.0.1:\(try freeUDPPort())]
        attribution:
          static_assignments_file: \(d)/static.csv
        lawful:
          policy_file: \(d)/policy.yaml
        sinkhole:
          listen: 127.0.0.1:\(transfer)
          zone: rpz.mamori.
          exemption_zone: exempt.mamori.
          sinkhole_name: sinkhole.example.
          ttl: 5
          secondaries:
            - address: 127.0.0.1
              notify: 127.0.0.1:\(unboundPort)
        sharing:
          sinkhole:
            minimum_confidence: 70
          peers:
            - name: isac
              api_root: \(hub.apiRootURL)
              collection: \(collection.id)
              user: carrier-a
              password_file: \(d)/isac.password
              pull_minutes: 60

        """.write(toFile: d + "/mamori.yaml", atomically: true, encoding: .utf8)
        let operators = try await OperatorBootstrap(mamori, dataDirectory: d + "/data")
        let soc = try await operators.token("soc", scope: "read_findings,manage_sharing")
        let server = try await SinkholeServeTests.serve(mamori, directory: d, http: http)
        defer { server.stop() }
        let resolver = try unbound.start(["-d", "-c", d + "/unbound.conf"], outputFile: d + "/unbound.out")
        defer { resolver.stop() }
        let online = ["--server", "127.0.0.1:\(http)"]

        // Pulled at start: the confident name is sinkholed by the resolver.
        let sinkholed = try await SinkholeServeTests.ask(port: unboundPort, "cc.example", timeout: .seconds(90)) {
            SinkholeServeTests.sinkholed($0)
        }
        #expect(
            sinkholed.map(SinkholeServeTests.sinkholed) == true,
            "cc.example: \(String(describing: sinkholed)); Unbound: \(SinkholeServeTests.log(d + "/unbound.log")) \(SinkholeServeTests.log(d + "/unbound.out")); Mamori: \(SinkholeServeTests.log(d + "/mamori.log")); hub: \(hub.log)"
        )
        let weak = try await SinkholeServeTests.ask(port: unboundPort, "bad.example", timeout: .seconds(20)) {
            SinkholeServeTests.address($0, [203, 0, 113, 66])
        }
        #expect(
            weak.map { SinkholeServeTests.address($0, [203, 0, 113, 66]) } == true,
            "below the minimum confidence: \(String(describing: weak))")
        let list = try await mamori.runToExit(["rpz", "list"] + online, environment: ["MAMORI_TOKEN": soc])
        #expect(list.status == 0 && list.stdout.contains("cc.example.") && list.stdout.contains("taxii:isac"), "\(list)")
        #expect(!list.stdout.contains("google") && !list.stdout.contains("bad.example"), "\(list.stdout)")

        // The other carrier revokes the name; once pulled, the true answer comes back.
        let envelope = try JSONSerialization.data(withJSONObject: [
            "objects": [Self.indicator(1, "cc.example", confidence: 90, revoked: true)]
        ])
        try envelope.write(to: URL(fileURLWithPath: d + "/revocation.json"))
        let media = "application/taxii+json;version=2.1"
        let posted = try await curl.runToExit([
            "-s", "-S", "-f", "-u", "carrier-a:carrier-a's long password", "-H", "Content-Type: \(media)", "-H", "Accept: \(media)",
            "--data-binary", "@\(d)/revocation.json", "\(hub.apiRootURL)collections/\(collection.id)/objects/",
        ])
        #expect(posted.status == 0 && posted.stdout.replacingOccurrences(of: " ", with: "").contains("\"success_count\":1"), "\(posted)")
        let pull = try await mamori.runToExit(["share", "pull", "isac"] + online, environment: ["MAMORI_TOKEN": soc])
        #expect(pull.status == 0 && pull.stdout.contains("1 revoked"), "\(pull)")
        let truthful = try await SinkholeServeTests.ask(port: unboundPort, "cc.example", timeout: .seconds(60)) {
            SinkholeServeTests.address($0, [192, 0, 2, 10])
        }
        #expect(
            truthful.map { SinkholeServeTests.address($0, [192, 0, 2, 10]) } == true,
            "after the revocation: \(String(describing: truthful))")
        let after = try await mamori.runToExit(["rpz", "list"] + online, environment: ["MAMORI_TOKEN": soc])
        #expect(after.status == 0 && !after.stdout.contains("cc.example"), "\(after)")
    }
}
