import Foundation
import MamoriTesting
import Testing

/// The BGP test peers (BIRD 2 and GoBGP) work without Mamori's speaker: peered with each other on
/// loopback, GoBGP announces RTBH and FlowSpec routes that BIRD's RIB shows (through the harness's
/// parsers), then withdraws them.
@Suite(.timeLimit(.minutes(5)))
struct PeerHarnessTests {
    /// BIRD passive on 127.0.0.1, gobgpd active from 127.0.0.2 (as Mamori's speaker will be).
    static func peered(birdExpects neighborAS: UInt32 = 65002, gobgpAS: UInt32 = 65002) async throws -> (BIRDPeer, GoBGPPeer) {
        var b = BIRDPeer.Configuration()
        b.neighborAS = neighborAS
        let bird = try await BIRDPeer(b)
        var g = GoBGPPeer.Configuration()
        g.localAS = gobgpAS
        g.passive = false
        g.neighborPort = bird.port
        let gobgp: GoBGPPeer
        do { gobgp = try await GoBGPPeer(g) } catch {
            bird.stop()
            throw error
        }
        return (bird, gobgp)
    }

    @Test func gobgpAnnouncesRTBHAndFlowSpecToBIRD() async throws {
        let (bird, gobgp) = try await Self.peered()
        defer {
            gobgp.stop()
            bird.stop()
        }
        try await bird.waitEstablished()
        try await gobgp.waitEstablished()
        #expect(try await bird.sessionState == "Established")
        #expect(try await gobgp.neighborState == "established")

        try await gobgp.gobgp(
            ["global", "rib", "add", "-a", "ipv4", "203.0.113.7/32", "community", "65535:666,no-export", "nexthop", "192.0.2.1"])
        try await gobgp.gobgp([
            "global", "rib", "add", "-a", "ipv6", "2001:db8::7/128", "community", "65535:666", "large-community", "65001:1:2", "nexthop",
            "2001:db8::1",
        ])
        let flow4 = ["match", "destination", "203.0.113.7/32", "protocol", "udp", "source-port", "==123"]
        try await gobgp.gobgp(["global", "rib", "add", "-a", "ipv4-flowspec"] + flow4 + ["then", "discard"])
        let flow4Rate = ["match", "destination", "203.0.113.8/32", "protocol", "tcp", "destination-port", "==80"]
        try await gobgp.gobgp(["global", "rib", "add", "-a", "ipv4-flowspec"] + flow4Rate + ["then", "rate-limit", "1000"])
        let flow6 = ["match", "destination", "2001:db8::7/128", "protocol", "udp", "source-port", "==123"]
        try await gobgp.gobgp(["global", "rib", "add", "-a", "ipv6-flowspec"] + flow6 + ["then", "discard"])

        // GoBGP's own RIB, through its parser.
        let gobgp4 = try await gobgp.routes(family: "ipv4")
        #expect(gobgp4.map(\.nlri) == ["203.0.113.7/32"])
        #expect(gobgp4.first?.communities == ["65535:666", "65535:65281"])
        #expect(gobgp4.first?.nextHop == "192.0.2.1")
        let gobgpFlow4 = try await gobgp.routes(family: "ipv4-flowspec")
        #expect(
            Set(gobgpFlow4.map(\.nlri)) == [
                "[destination: 203.0.113.7/32][protocol: ==udp][source-port: ==123]",
                "[destination: 203.0.113.8/32][protocol: ==tcp][destination-port: ==80]",
            ])
        #expect(Set(gobgpFlow4.flatMap(\.extendedCommunities)) == ["traffic-rate:0:0", "traffic-rate:0:1000"])

        // BIRD's RIB.
        let master4 = try await bird.waitForRoutes(table: "master4") { $0.count == 1 }
        let rtbh = try #require(master4.first)
        #expect(rtbh.network == "203.0.113.7/32")
        #expect(rtbh.gateway == "blackhole")
        #expect(rtbh.nextHop == "192.0.2.1")
        #expect(rtbh.asPath == [65002])
        #expect(rtbh.communities == ["65535:666", "65535:65281"])
        #expect(rtbh.hasCommunity(65535, 666))
        #expect(rtbh.isBest)
        #expect(rtbh.fromProtocol == "peer")

        let master6 = try await bird.waitForRoutes(table: "master6") { $0.count == 1 }
        #expect(master6.first?.network == "2001:db8::7/128")
        #expect(master6.first?.nextHop == "2001:db8::1")
        #expect(master6.first?.communities == ["65535:666"])
        #expect(master6.first?.largeCommunities == ["65001:1:2"])

        let flowtab4 = try await bird.waitForRoutes(table: "flowtab4") { $0.count == 2 }
        let discard = try #require(flowtab4.first { $0.network == "flow4 { dst 203.0.113.7/32; proto 17; sport 123; }" }, "\(flowtab4)")
        #expect(discard.extendedCommunities == ["generic, 0x80060000, 0x0"])
        #expect(discard.trafficRate == 0)
        let limit = try #require(flowtab4.first { $0.network == "flow4 { dst 203.0.113.8/32; proto 6; dport 80; }" }, "\(flowtab4)")
        #expect(limit.trafficRate == 1000)

        let flowtab6 = try await bird.waitForRoutes(table: "flowtab6") { $0.count == 1 }
        #expect(flowtab6.first?.network == "flow6 { dst 2001:db8::7/128; next header 17; sport 123; }")
        #expect(flowtab6.first?.trafficRate == 0)

        // Withdrawals.
        try await gobgp.gobgp(["global", "rib", "del", "-a", "ipv4", "203.0.113.7/32"])
        try await gobgp.gobgp(["global", "rib", "del", "-a", "ipv4-flowspec"] + flow4)
        try await gobgp.gobgp(["global", "rib", "del", "-a", "ipv6-flowspec"] + flow6)
        try await bird.waitForRoutes(table: "master4") { $0.isEmpty }
        try await bird.waitForRoutes(table: "flowtab6") { $0.isEmpty }
        let remaining = try await bird.waitForRoutes(table: "flowtab4") { $0.count == 1 }
        #expect(remaining.first?.trafficRate == 1000)
        #expect(try await bird.lastError == nil)
    }

    @Test func ibgpSessionCarriesRoutes() async throws {
        let (bird, gobgp) = try await Self.peered(birdExpects: 65001, gobgpAS: 65001)
        defer {
            gobgp.stop()
            bird.stop()
        }
        try await bird.waitEstablished()
        try await gobgp.gobgp(["global", "rib", "add", "-a", "ipv4", "198.51.100.9/32", "community", "65535:666", "nexthop", "127.0.0.1"])
        let routes = try await bird.waitForRoutes(table: "master4") { $0.count == 1 }
        #expect(routes.first?.network == "198.51.100.9/32")
        #expect(routes.first?.asPath == [])
        #expect(routes.first?.nextHop == "127.0.0.1")
        #expect(routes.first?.hasCommunity(65535, 666) == true)
    }

    /// The other way round: gobgpd passive on 127.0.0.2 (as it waits for Mamori's speaker), BIRD
    /// active from 127.0.0.1, and BIRD sees gobgpd's route.
    @Test func birdConnectsToPassiveGoBGP() async throws {
        let gobgp = try await GoBGPPeer(GoBGPPeer.Configuration())
        defer { gobgp.stop() }
        var b = BIRDPeer.Configuration()
        b.passive = false
        b.neighborPort = gobgp.port
        let bird = try await BIRDPeer(b)
        defer { bird.stop() }
        try await gobgp.waitEstablished()
        try await bird.waitEstablished()
        try await gobgp.gobgp(["global", "rib", "add", "-a", "ipv4", "203.0.113.9/32", "community", "65535:666", "nexthop", "192.0.2.1"])
        let routes = try await bird.waitForRoutes(table: "master4") { $0.count == 1 }
        #expect(routes.first?.network == "203.0.113.9/32")
        #expect(routes.first?.hasCommunity(65535, 666) == true)
    }

    /// A wrong AS makes BIRD refuse the OPEN: the session does not come up and BIRD says why.
    @Test func birdReportsTheLastError() async throws {
        let (bird, gobgp) = try await Self.peered(birdExpects: 65099)
        defer {
            gobgp.stop()
            bird.stop()
        }
        var error: String?
        let deadline = ContinuousClock.now + .seconds(60)
        while error == nil, ContinuousClock.now < deadline {
            error = try await bird.lastError
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(error?.contains("Bad peer AS") == true, "\(error ?? "no error"): \(bird.log)")
        #expect(try await bird.sessionState != "Established")
    }

    /// The parsers on BIRD's output for several routes of one network and a status with a date.
    @Test func birdParsers() throws {
        let routes = BIRDRoute.parse(
            """
            BIRD 2.0.12 ready.
            Table master4:
            203.0.113.7/32       blackhole [peer 17:30:21.958 from 127.0.0.2] * (100/?) [AS65002?]
            \tType: BGP univ
            \tBGP.as_path: 65002 65010
            \tBGP.next_hop: 192.0.2.1
            \tBGP.community: (65535,666)
                                 unreachable [other 17:30:22.000 from 127.0.0.3] (100/-) [AS65003i]
            \tBGP.as_path: 65003
            \tBGP.ext_community: (rt, 65001, 1) (generic, 0x80060000, 0x447a0000)
            \tBGP.large_community: (65001, 1, 2)
            """)
        #expect(routes.count == 2)
        #expect(routes.map(\.network) == ["203.0.113.7/32", "203.0.113.7/32"])
        #expect(routes.map(\.isBest) == [true, false])
        #expect(routes.map(\.gateway) == ["blackhole", "unreachable"])
        #expect(routes.map(\.fromProtocol) == ["peer", "other"])
        #expect(routes[0].asPath == [65002, 65010])
        #expect(routes[0].communityPairs.map { "\($0.0)/\($0.1)" } == ["65535/666"])
        #expect(routes[1].extendedCommunities == ["rt, 65001, 1", "generic, 0x80060000, 0x447a0000"])
        #expect(routes[1].trafficRate == 1000)
        #expect(routes[1].largeCommunities == ["65001:1:2"])

        let status = try BIRDProtocolStatus.parse(
            """
            BIRD 2.0.12 ready.
            Name       Proto      Table      State  Since         Info
            peer       BGP        ---        start  2026-12-06 17:30:14  Active        Received: Bad peer AS
              BGP state:          Active
                Neighbor address: 127.0.0.2
                Last error:       Received: Bad peer AS
            """)
        #expect(status.state == "start")
        #expect(status.info == "Active        Received: Bad peer AS".split(separator: " ").joined(separator: " "))
        #expect(status.bgpState == "Active")
        #expect(status.lastError == "Received: Bad peer AS")
        #expect(status.neighborAddress == "127.0.0.2")
    }

    /// A missing program fails with the Debian package to install.
    @Test func missingDaemonSaysWhatToInstall() {
        #expect(throws: PeerError.self) { try ExternalPeer.require("bird-that-is-not-there", debianPackage: "bird2") }
    }
}
