import Foundation
import MamoriTesting
import Testing

/// `mamori share` against `mamori serve` with a `sharing:` section whose peer is OASIS medallion on
/// loopback: the peer is pulled at start and shows its indicator; a pull now finds nothing new;
/// the export is a STIX 2.1 bundle; a token without read_shared is refused with the reason.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct ShareCommandTests {
    @Test func operatorSeesPeersPullsAndExports() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let indicator: [String: any Sendable] = [
            "type": "indicator", "spec_version": "2.1", "id": "indicator--5d3c1a0e-7f2b-4c8d-9e1f-0a2b3c4d5e6f",
            "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z", "name": "qakbot",
            "pattern_type": "stix", "pattern": "[ipv4-addr:value = '198.51.100.33']", "valid_from": "2026-11-01T00:00:00Z",
            "indicator_types": ["malicious-activity"],
        ]
        let collection = MedallionPeer.Collection(title: "ISAC C&C", objects: [indicator])
        let hub = try await MedallionPeer(collections: [collection])
        defer { hub.stop() }
        let dir = try TemporaryDirectory()
        let d = dir.path
        let http = try freeTCPPort()
        try "carrier-a's long password\n".write(toFile: d + "/isac.password", atomically: true, encoding: .utf8)
        try """
        data_directory: \(d)/data
        log_level: warning
        http:
          listen: 127.0.0.1:\(http)
        collector:
          listen: [127.0.0.1:\(try freeUDPPort())]
        sharing:
          taxii:
            collections:
              - id: 91a7b528-80eb-42ed-a74d-c6fbd5a26116
                title: C&C indicators
                alias: cnc
                read: [role:viewer]
          peers:
            - name: isac
              api_root: \(hub.apiRootURL)
              collection: \(collection.id)
              user: carrier-a
              password_file: \(d)/isac.password
              pull_minutes: 60
              push: true
          export:
            collection: cnc
            organisation: Example Carrier

        """.write(toFile: d + "/mamori.yaml", atomically: true, encoding: .utf8)
        let operators = try await OperatorBootstrap(mamori, dataDirectory: d + "/data")
        let soc = try await operators.token("soc", scope: "read_findings,manage_sharing")
        let other = try await operators.token("other", scope: "read_cases,read_shared,write_shared")
        let server = try await SinkholeServeTests.serve(mamori, directory: d, http: http)
        defer { server.stop() }
        func share(_ arguments: [String], token: String? = nil) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await mamori.runToExit(
                ["share"] + arguments + ["--server", "127.0.0.1:\(http)"], environment: ["MAMORI_TOKEN": token ?? soc])
        }

        // Pulled at start: the peer holds one indicator.
        var peers = ""
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            peers = try await share(["peers"]).stdout
            if peers.contains("1 indicator(s)") { break }
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(peers.contains("isac") && peers.contains("1 indicator(s)") && !peers.contains("ERROR"), "\(peers)\n\(hub.log)")

        let pull = try await share(["pull", "isac"])
        #expect(pull.status == 0 && pull.stdout.contains("isac: 0 object(s)") && pull.stdout.contains("1 held"), "\(pull)")
        // Nothing confirmed yet: a push sends nothing, and says so; an unknown peer is refused.
        let push = try await share(["push", "isac", "--from-start"])
        #expect(push.status == 0 && push.stdout.contains("isac: 0 object(s) pushed; up to nothing yet"), "\(push)")
        let pushNobody = try await share(["push", "nobody"])
        #expect(pushNobody.status != 0 && pushNobody.stderr.contains("no sharing peer named nobody with push: true"), "\(pushNobody)")
        #expect(try await share(["peers"]).stdout.contains("push: up to nothing yet"))
        let unknown = try await share(["pull", "nobody"])
        #expect(unknown.status != 0 && unknown.stderr.contains("no sharing peer or MISP feed named nobody"), "\(unknown)")

        let export = try await share(["export", "--since", "2026-01-01", "--tlp", "green"])
        #expect(export.status == 0, "\(export)")
        let bundle = try #require(try JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [String: Any], "\(export.stdout)")
        #expect(bundle["type"] as? String == "bundle")
        #expect(export.stderr.contains("0 indicator(s)"), "no C&C was confirmed: \(export.stderr)")
        let badTLP = try await share(["export", "--tlp", "purple"])
        #expect(badTLP.status != 0 && badTLP.stderr.contains("tlp must be"), "\(badTLP)")

        // A bundle sent by other means: imported as source file:jpcert; a broken one imports nothing.
        let bundle2: [String: Any] = [
            "type": "bundle", "id": "bundle--6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
            "objects": [
                [
                    "type": "indicator", "spec_version": "2.1", "id": "indicator--7a1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                    "created": "2026-12-01T00:00:00.000Z", "modified": "2026-12-01T00:00:00.000Z", "pattern_type": "stix",
                    "pattern": "[ipv4-addr:value = '198.51.100.44']", "valid_from": "2026-12-01T00:00:00Z",
                ]
            ],
        ]
        try JSONSerialization.data(withJSONObject: bundle2).write(to: URL(fileURLWithPath: d + "/jpcert.json"))
        let imported = try await share(["import", d + "/jpcert.json", "--source", "jpcert"])
        #expect(imported.status == 0 && imported.stdout.contains("file:jpcert: 1 object(s), 1 indicator(s) imported"), "\(imported)")
        try "{\"type\": \"bundle\", \"objects\": [".write(toFile: d + "/broken.json", atomically: true, encoding: .utf8)
        let broken = try await share(["import", d + "/broken.json", "--source", "jpcert"])
        #expect(broken.status != 0 && broken.stderr.contains("not a STIX 2.1 bundle"), "\(broken)")

        let refused = try await share(["peers"], token: other)
        #expect(refused.status != 0 && refused.stderr.contains("read_findings"), "the TAXII permissions do not run the sharing: \(refused)")
    }
}
