import Foundation
import MamoriTesting
import Testing

/// `mamori serve` with a `bgp:` section peered with a real BIRD 2: the simulator's inbound
/// reflection flood against a subscriber becomes a mitigation in BIRD's RIB — a black hole of the
/// victim's host route, or a FlowSpec rule on it — with the finding behind it in the audit log.
@Suite(.serialized, .timeLimit(.minutes(6)))
struct BGPMitigationServeTests {
    static func configuration(directory d: String, http: Int, collector: Int, bird: Int) -> String {
        """
        data_directory: \(d)/data
        log_level: info
        http:
          listen: 127.0.0.1:\(http)
        collector:
          listen: [127.0.0.1:\(collector)]
        bgp:
          local_as: 65002
          router_id: 127.0.0.2
          neighbors:
            - name: bird
              address: 127.0.0.1
              port: \(bird)
              peer_as: 65001
              local_address: 127.0.0.2
          blackhole:
            next_hop_ipv4: 192.0.2.1
            communities: ["65002:666"]
          triggers:
            inbound_flood: { mode: automatic, ttl_minutes: 30 }
            inbound_reflection: { mode: automatic, ttl_minutes: 30 }

        """
    }

    @Test func simulatedFloodIsMitigatedInBIRD() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let bird = try await BIRDPeer(BIRDPeer.Configuration())
        defer { bird.stop() }
        let dir = try TemporaryDirectory()
        let d = dir.path
        let (http, collector) = (try freeTCPPort(), try freeUDPPort())
        try Self.configuration(directory: d, http: http, collector: collector, bird: bird.port)
            .write(toFile: d + "/mamori.yaml", atomically: true, encoding: .utf8)
        let server = try await SinkholeServeTests.serve(mamori, directory: d, http: http)
        defer { server.stop() }
        try await bird.waitEstablished()

        let labels = d + "/labels.json"
        let output = try await offThePool {
            try mamori.run(
                [
                    "simulate", "--to", "127.0.0.1:\(collector)", "--fast", "--subscribers", "300", "--duration", "10m", "--seed", "21",
                    "--labels", labels,
                ], timeout: .seconds(300))
        }
        #expect(output.contains("send_failures=0"), "\(output)")
        let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: labels))) as? [String: Any])
        let attacks = truth["attacks"] as? [[String: Any]] ?? []
        let inbound = try #require(attacks.first { $0["kind"] as? String == "ntp-dns-memcached-reflection" }, "\(attacks)")
        let victim = try #require(inbound["victimAddress"] as? String)

        // The rule for the victim, in BIRD: a black hole or a FlowSpec rule on its address.
        var found: String?
        let deadline = ContinuousClock.now + .seconds(60)
        while found == nil, ContinuousClock.now < deadline {
            let rtbh = try await bird.routes(table: "master4").first { $0.network == victim + "/32" }
            let flow = try await bird.routes(table: "flowtab4").first { $0.network.contains("dst \(victim)/32;") }
            if let rtbh {
                #expect(rtbh.hasCommunity(65535, 666) && rtbh.hasCommunity(65002, 666), "\(rtbh)")
                #expect(rtbh.nextHop == "192.0.2.1")
                found = "rtbh"
            } else if let flow {
                #expect(flow.trafficRate == 0, "\(flow)")
                found = "flowspec"
            } else {
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        let master4 = try await bird.routes(table: "master4")
        #expect(found != nil, "no rule for \(victim) in BIRD: \(master4) \(SinkholeServeTests.log(d + "/mamori.log"))")
        // Nothing else: the simulator's other traffic (BitTorrent, SSDP, NTP clients) made no black
        // hole; its outbound attacks and scans wait for approval or are dry runs by default.
        let others = try await bird.routes(table: "master4").filter { $0.network != victim + "/32" }
        #expect(others.isEmpty, "\(others)")
        let log = try String(contentsOfFile: d + "/mamori.log", encoding: .utf8)
        #expect(log.contains("mitigation announced") && log.contains(victim), "the announcement is logged")
    }
}
