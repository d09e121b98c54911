import Foundation
import MamoriTesting
import Testing

/// `mamori bgp` against `mamori serve` with a `bgp:` section and a real BIRD as the carrier's
/// router: the status shows the session established and the rails; a FlowSpec rule announced
/// by hand lands in BIRD's flowtab4 and in `mamori bgp rules`; a black hole of the neighbour's
/// own address is refused by the protected_prefix rail; the kill switch empties BIRD's table
/// and refuses new rules until released; a withdrawal takes a rule out; unknown ids, arguments
/// that cannot work and a token without control_mitigation each fail with a one-line reason.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct BGPCommandTests {
    /// Mamori (AS 65002, 127.0.0.2) opens the session to BIRD (AS 65001, 127.0.0.1, passive).
    static func mamoriConfiguration(directory: String, http: Int, collector: Int, birdPort: Int) -> String {
        """
        data_directory: \(directory)/data
        log_level: warning
        http:
          listen: 127.0.0.1:\(http)
        collector:
          listen: [127.0.0.1:\(collector)]
        bgp:
          enabled: true
          local_as: 65002
          router_id: 127.0.0.2
          neighbors:
            - name: bird
              address: 127.0.0.1
              port: \(birdPort)
              peer_as: 65001
              local_address: 127.0.0.2
              hold_time: 30
              families: [ipv4-unicast, ipv6-unicast, ipv4-flowspec, ipv6-flowspec]
          blackhole:
            next_hop_ipv4: 192.0.2.1
            next_hop_ipv6: "100::1"
            communities: ["65002:666"]
            no_export: true
          protected: [198.51.100.0/24]
          triggers:
            inbound_flood: { mode: manual_approval, ttl_minutes: 30 }
            scanning: { mode: dry_run, ttl_minutes: 60 }

        """
    }

    @Test func operatorSteersMitigationsThroughBIRD() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let bird = try await BIRDPeer(BIRDPeer.Configuration())
        defer { bird.stop() }
        let dir = try TemporaryDirectory()
        let d = dir.path
        let http = try freeTCPPort()
        try Self.mamoriConfiguration(directory: d, http: http, collector: try freeUDPPort(), birdPort: bird.port)
            .write(toFile: d + "/mamori.yaml", atomically: true, encoding: .utf8)
        let operators = try await OperatorBootstrap(mamori, dataDirectory: d + "/data")
        let noc = try await operators.token("noc", scope: "read_findings,control_mitigation")
        let viewer = try await operators.token("viewer", scope: "read_findings")
        let server = try await SinkholeServeTests.serve(mamori, directory: d, http: http)
        defer { server.stop() }

        let online = ["--server", "127.0.0.1:\(http)"]
        func bgp(_ arguments: [String], token: String? = nil) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await mamori.runToExit(["bgp"] + arguments + online, environment: ["MAMORI_TOKEN": token ?? noc])
        }

        // The session comes up (Mamori connects; BIRD is passive).
        var status = ""
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let r = try await bgp(["status"])
            status = r.stdout + r.stderr
            if r.stdout.split(separator: "\n").contains(where: { $0.contains("bird") && $0.contains(" established ") }) { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        try #require(
            status.contains(" established "),
            "the session did not come up: \(status)\n\(SinkholeServeTests.log(d + "/mamori.log"))\n\(bird.log)")
        let session = status.split(separator: "\n").first { $0.contains("bird") && $0.contains("127.0.0.1:\(bird.port)") }
        #expect(
            session.map { $0.contains("65001") && $0.contains("established") && $0.contains("ipv4-flowspec") } == true,
            "\(status)")
        #expect(status.contains("BGP speaker: AS 65002, router id 127.0.0.2; kill switch off"), "\(status)")
        #expect(status.contains("198.51.100.0/24") && status.contains("127.0.0.1/32"), "the rails list the neighbour too: \(status)")
        #expect(status.contains("IPv4 /24, IPv6 /48"), "\(status)")
        let flood = status.split(separator: "\n").first { $0.contains("inbound_flood") }
        #expect(flood.map { $0.contains("manual_approval") && $0.contains("30 min") } == true, "\(status)")
        #expect(!status.contains("KILL SWITCH ENGAGED"), "\(status)")
        let json = try await bgp(["status", "--json"])
        #expect(json.status == 0 && json.stdout.contains("\"state\":\"established\""), "\(json)")

        // A FlowSpec rule by hand: announced, in BIRD's flowtab4, listed.
        let announced = try await bgp([
            "announce", "flowspec", "--destination", "203.0.113.7", "--protocol", "udp", "--source-port", "123", "--reason", "test",
        ])
        #expect(announced.status == 0 && announced.stdout.hasPrefix("announced: flowspec:"), "\(announced)")
        let ruleID = String(announced.stdout.dropFirst("announced: ".count).prefix { $0 != " " })
        #expect(ruleID.count == "flowspec:".count + 16, "\(announced.stdout)")
        let routes = try await bird.waitForRoutes(table: "flowtab4") { $0.count == 1 }
        #expect(
            routes.first.map { $0.network.contains("203.0.113.7/32") && $0.network.contains("sport 123") } == true, "\(routes)")
        #expect(routes.first?.trafficRate == 0, "a discard is a traffic-rate of 0: \(routes)")

        let rules = try await bgp(["rules"])
        let row = rules.stdout.split(separator: "\n").first { $0.contains(ruleID) }
        #expect(
            rules.status == 0 && row.map { $0.contains("dst 203.0.113.7/32 proto udp sport 123") && $0.contains("discard") } == true,
            "\(rules)")
        #expect(rules.stdout.contains("Announced (1):"), "\(rules.stdout)")
        let pending = try await bgp(["rules", "--state", "pending"])
        #expect(pending.status == 0 && pending.stdout.contains("none") && !pending.stdout.contains(ruleID), "\(pending)")
        #expect(try await bgp(["status"]).stdout.contains("Rules: 1 announced"))

        // A black hole of the neighbour's own address: the protected_prefix rail refuses it.
        let refused = try await bgp(["announce", "blackhole", "127.0.0.1", "--reason", "x"])
        #expect(refused.status != 0 && refused.stderr.contains("protected_prefix"), "\(refused)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "one line: \(refused.stderr)")
        let refusals = try await bgp(["rules", "--state", "refused"])
        #expect(
            refusals.stdout.split(separator: "\n").contains { $0.contains("protected_prefix") && $0.contains("dst 127.0.0.1/32") },
            "\(refusals)")

        // Arguments that cannot work are refused before anything is sent.
        let invalid: [([String], String)] = [
            (["announce", "flowspec", "--destination", "203.0.113.7", "--protocol", "bogus", "--reason", "x"], "neither a protocol name"),
            (["announce", "flowspec", "--destination", "203.0.113.7", "--destination-port", "2000-1000", "--reason", "x"], "backwards"),
            (["announce", "flowspec", "--destination", "203.0.113.7", "--destination-port", "70000", "--reason", "x"], "0 to 65535"),
            (
                [
                    "announce", "flowspec", "--destination", "203.0.113.7", "--protocol", "icmp", "--destination-port", "80", "--reason",
                    "x",
                ],
                "ports only match"
            ),
            (["announce", "flowspec", "--protocol", "udp", "--reason", "x"], "needs --destination or --source"),
            (["announce", "blackhole", "not-an-address", "--reason", "x"], "not an address"),
            (["kill"], "--reason"),
            (["withdraw", "nonsense"], "is not a rule id"),
        ]
        for (arguments, message) in invalid {
            let r = try await bgp(arguments)
            #expect(r.status != 0 && r.stderr.contains(message), "\(arguments): \(r)")
        }

        // A token that may read but not change.
        let forbidden = try await bgp(["kill", "--reason", "test"], token: viewer)
        #expect(forbidden.status != 0 && forbidden.stderr.contains("control_mitigation"), "\(forbidden)")
        #expect(try await bird.routes(table: "flowtab4").count == 1, "a refused kill withdraws nothing")

        // The kill switch: everything withdrawn, nothing new announced, until released.
        let kill = try await bgp(["kill", "--reason", "test"])
        #expect(kill.status == 0 && kill.stdout.contains("KILL SWITCH ENGAGED: 1 rule withdrawn"), "\(kill)")
        try await bird.waitForRoutes(table: "flowtab4") { $0.isEmpty }
        let killed = try await bgp(["status"])
        #expect(killed.stdout.hasPrefix("!!! KILL SWITCH ENGAGED") && killed.stdout.contains("test"), "\(killed)")
        #expect(killed.stdout.contains("Rules: 0 announced"), "\(killed)")
        let blocked = try await bgp(["announce", "flowspec", "--destination", "203.0.113.8", "--protocol", "tcp", "--reason", "x"])
        #expect(blocked.status != 0 && blocked.stderr.contains("kill_switch"), "\(blocked)")
        let release = try await bgp(["kill", "--release"])
        #expect(release.status == 0 && release.stdout.hasPrefix("kill switch released"), "\(release)")
        #expect(try await bgp(["status"]).stdout.contains("kill switch off"))

        // Unknown ids fail; withdrawing a known one takes it out of BIRD's table.
        let unknown = try await bgp(["withdraw", "flowspec:0000000000000000"])
        #expect(unknown.status != 0 && unknown.stderr.contains("no announced rule flowspec:0000000000000000"), "\(unknown)")
        for arguments in [["approve", "rtbh:0000000000000000"], ["reject", "rtbh:0000000000000000", "--reason", "x"]] {
            let r = try await bgp(arguments)
            #expect(r.status != 0 && r.stderr.contains("no rule rtbh:0000000000000000 waits for approval"), "\(arguments): \(r)")
        }
        let again = try await bgp([
            "announce", "flowspec", "--destination", "203.0.113.0/24", "--protocol", "tcp", "--destination-port", "80",
            "--destination-port", "1000-2000", "--packet-length", "40-1500", "--rate-limit", "125000", "--reason", "test", "--minutes",
            "5",
        ])
        #expect(again.status == 0 && again.stdout.contains("rate-limit 125000 B/s"), "\(again)")
        let limited = try await bird.waitForRoutes(table: "flowtab4") { $0.count == 1 }
        #expect(limited.first?.trafficRate == 125_000, "\(limited)")
        let id = String(again.stdout.dropFirst("announced: ".count).prefix { $0 != " " })
        let withdrawn = try await bgp(["withdraw", id])
        #expect(withdrawn.status == 0 && withdrawn.stdout.hasPrefix("withdrawn: \(id)"), "\(withdrawn)")
        try await bird.waitForRoutes(table: "flowtab4") { $0.isEmpty }
    }
}
