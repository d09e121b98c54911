import BGPSpeaker
import BGPWire
import FlowCodec
import Foundation
import Logging
import MamoriTesting
import MetricsTestKit
import Testing

/// Mamori's speaker against real BGP daemons on loopback: the routes it announces are in BIRD's
/// and GoBGP's RIBs with the attributes a router acts on, and gone when withdrawn.
@Suite(.timeLimit(.minutes(5)))
struct BGPSpeakerTests {
    static let carrierCommunity = BGPCommunity(65002, 100)

    static func rtbh(_ address: String, nextHop: String) -> BGPRoute {
        BGPRoute(
            nlri: .prefix(IPPrefix(address)!), nextHop: IPAddress(nextHop), communities: [.blackhole, .noExport, carrierCommunity])
    }

    static func flow(
        destination: String, protocols: [UInt8], sourcePorts: [UInt16] = [], destinationPorts: [UInt16] = [],
        packetLength: ClosedRange<UInt16>? = nil, rate: Float = 0
    ) -> BGPRoute {
        let spec = FlowSpec(
            destination: IPPrefix(destination)!, protocols: protocols, destinationPorts: destinationPorts, sourcePorts: sourcePorts,
            packetLength: packetLength)!
        return BGPRoute(nlri: .flowSpec(spec), extendedCommunities: [.trafficRate(bytesPerSecond: rate)])
    }

    static func speaker(
        localAS: UInt32, routerID: String, neighbor: BGPNeighborConfiguration, metrics: TestMetrics = TestMetrics(),
        retryInitial: Duration = .milliseconds(200), retryMaximum: Duration = .seconds(2), gracefulRestartTime: UInt16? = nil
    ) -> BGPSpeaker {
        var logger = Logger(label: "test.bgp")
        logger.logLevel = .debug
        return BGPSpeaker(
            configuration: BGPSpeakerConfiguration(
                localAS: localAS, routerID: BGPSpeakerConfiguration.routerID(routerID)!, neighbors: [neighbor],
                retryInitial: retryInitial, retryMaximum: retryMaximum, gracefulRestartTime: gracefulRestartTime),
            logger: logger, metricsFactory: metrics)
    }

    /// Waits (bounded) until the speaker's only neighbour reports `state`.
    static func waitFor(_ state: String, _ speaker: BGPSpeaker, timeout: Duration = .seconds(90)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if speaker.status().first?.state == state { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("neighbour never reached \(state): \(speaker.status())")
        throw CancellationError()
    }

    @Test func birdLearnsBlackholesAndFlowSpecRulesAndTheirWithdrawal() async throws {
        let bird = try await BIRDPeer(BIRDPeer.Configuration())
        defer { bird.stop() }
        let metrics = TestMetrics()
        // A router's hold time (BIRD's default): a short one expired under the whole suite's load
        // (BIRD stalled for seconds), and the session's re-announcements then broke the counts.
        let speaker = Self.speaker(
            localAS: 65002, routerID: "127.0.0.2",
            neighbor: BGPNeighborConfiguration(
                name: "bird", address: "127.0.0.1", port: bird.port, peerAS: 65001, localAddress: "127.0.0.2", holdTime: 240),
            metrics: metrics)
        // Announced before the session is up: sent when it comes up.
        speaker.announce(Self.rtbh("203.0.113.7/32", nextHop: "192.0.2.1"))
        let running = Task { try await speaker.run() }
        defer { running.cancel() }
        try await Self.waitFor("established", speaker)
        try await bird.waitEstablished()
        speaker.announce(Self.rtbh("2001:db8::7/128", nextHop: "2001:db8::1"))
        speaker.announce(Self.flow(destination: "203.0.113.7/32", protocols: [17], sourcePorts: [123], packetLength: 468...468))
        speaker.announce(Self.flow(destination: "203.0.113.8/32", protocols: [6], destinationPorts: [80], rate: 1000))
        speaker.announce(Self.flow(destination: "2001:db8::7/128", protocols: [17], sourcePorts: [53]))

        let master4 = try await bird.waitForRoutes(table: "master4") { $0.count == 1 }
        let rtbh = try #require(master4.first)
        #expect(rtbh.network == "203.0.113.7/32")
        #expect(rtbh.gateway == "blackhole")
        #expect(rtbh.nextHop == "192.0.2.1")
        #expect(rtbh.asPath == [65002])
        #expect(Set(rtbh.communities) == ["65535:666", "65535:65281", "65002:100"])
        #expect(rtbh.attributes["BGP.origin"] == "IGP")

        let master6 = try await bird.waitForRoutes(table: "master6") { $0.count == 1 }
        #expect(master6.first?.network == "2001:db8::7/128")
        #expect(master6.first?.nextHop?.hasPrefix("2001:db8::1") == true)
        #expect(master6.first?.hasCommunity(65535, 666) == true)

        let flowtab4 = try await bird.waitForRoutes(table: "flowtab4") { $0.count == 2 }
        let ntp = try #require(flowtab4.first { $0.network.contains("203.0.113.7/32") }, "\(flowtab4)")
        #expect(ntp.network == "flow4 { dst 203.0.113.7/32; proto 17; sport 123; length 468; }")
        #expect(ntp.trafficRate == 0)
        let web = try #require(flowtab4.first { $0.network.contains("203.0.113.8/32") }, "\(flowtab4)")
        #expect(web.network == "flow4 { dst 203.0.113.8/32; proto 6; dport 80; }")
        #expect(web.trafficRate == 1000)
        let flowtab6 = try await bird.waitForRoutes(table: "flowtab6") { $0.count == 1 }
        #expect(flowtab6.first?.network == "flow6 { dst 2001:db8::7/128; next header 17; sport 53; }")

        // A changed rule replaces the old one (same NLRI, new action).
        speaker.announce(Self.flow(destination: "203.0.113.8/32", protocols: [6], destinationPorts: [80], rate: 0))
        try await bird.waitForRoutes(table: "flowtab4") { routes in
            routes.contains { $0.network.contains("203.0.113.8") && $0.trafficRate == 0 }
        }

        speaker.withdraw(.prefix(IPPrefix("203.0.113.7/32")!))
        try await bird.waitForRoutes(table: "master4") { $0.isEmpty }
        #expect(try await bird.routes(table: "master6").count == 1)

        // Everything at once (the kill switch's path).
        speaker.replaceRoutes([])
        try await bird.waitForRoutes(table: "master6") { $0.isEmpty }
        try await bird.waitForRoutes(table: "flowtab4") { $0.isEmpty }
        try await bird.waitForRoutes(table: "flowtab6") { $0.isEmpty }

        let status = try #require(speaker.status().first)
        #expect(status.state == "established")
        #expect(status.families == ["ipv4-unicast", "ipv4-flowspec", "ipv6-unicast", "ipv6-flowspec"])
        #expect(status.holdTime == 240)
        #expect(status.peerIdentifier == "127.0.0.1")
        #expect(status.routesAdvertised == 0)
        #expect(status.announcements == 6)
        #expect(status.withdrawals == 5)
        let announcements = try metrics.expectCounter("mamori_bgp_announcements_total", [("neighbor", "bird")])
        #expect(announcements.totalValue == 6)
        let state = try metrics.expectGauge("mamori_bgp_session_state", [("neighbor", "bird")])
        #expect(state.lastValue == 6)
        #expect(try await bird.lastError == nil)
    }

    /// Graceful restart (RFC 4724) with BIRD, whose BGP is restart-aware by default: a speaker
    /// that stops leaving its routes closes without a NOTIFICATION and BIRD keeps them; the next
    /// Mamori announces what it still wants and End-of-RIB, and BIRD removes the rest. A speaker
    /// that stops with a Cease takes its routes with it.
    @Test func birdKeepsTheRoutesOverAGracefulRestart() async throws {
        let bird = try await BIRDPeer(BIRDPeer.Configuration())
        defer { bird.stop() }
        // A long hold time: under a loaded machine BIRD can stall for seconds, and when it wakes it
        // runs its timers before it reads its sockets — a short hold time then expires (and ends
        // graceful restart with a NOTIFICATION) before BIRD sees that the connection closed.
        func speaker() -> BGPSpeaker {
            Self.speaker(
                localAS: 65002, routerID: "127.0.0.2",
                neighbor: BGPNeighborConfiguration(
                    name: "bird", address: "127.0.0.1", port: bird.port, peerAS: 65001, localAddress: "127.0.0.2", holdTime: 240),
                gracefulRestartTime: 120)
        }
        func stopped(_ running: Task<Void, any Error>) async throws {
            running.cancel()
            _ = try? await running.value
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline, try await bird.sessionState == "Established" {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await bird.sessionState != "Established")
        }
        let kept = Self.rtbh("203.0.113.7/32", nextHop: "192.0.2.1")
        let dropped = Self.rtbh("203.0.113.8/32", nextHop: "192.0.2.1")

        let first = speaker()
        first.announce(kept)
        first.announce(dropped)
        let run1 = Task { try await first.run() }
        defer { run1.cancel() }
        try await Self.waitFor("established", first)
        try await bird.waitForRoutes(table: "master4") { $0.count == 2 }

        first.leaveRoutesWhenStopping()
        try await stopped(run1)
        #expect(first.status().first?.lastNotificationSent == nil)
        #expect(first.status().first?.lastError?.contains("graceful restart") == true, "\(first.status())")
        // The session is down, the routes stay — for a while, not only for an instant.
        for _ in 0..<10 {
            #expect(Set(try await bird.routes(table: "master4").map(\.network)) == ["203.0.113.7/32", "203.0.113.8/32"], "\(bird.log)")
            try await Task.sleep(for: .milliseconds(200))
        }

        // Back, wanting one of the two: End-of-RIB makes BIRD drop the other.
        let second = speaker()
        second.announce(kept)
        let run2 = Task { try await second.run() }
        defer { run2.cancel() }
        try await Self.waitFor("established", second)
        let after = try await bird.waitForRoutes(table: "master4") { $0.map(\.network) == ["203.0.113.7/32"] }
        #expect(after.first?.hasCommunity(65535, 666) == true)

        // Stopped with a Cease: the route goes with the session.
        try await stopped(run2)
        #expect(second.status().first?.lastNotificationSent?.hasPrefix("6/2 Cease") == true)
        try await bird.waitForRoutes(table: "master4", timeout: .seconds(30)) { $0.isEmpty }
    }

    /// GoBGP as an iBGP route reflector would be: it shows the routes with LOCAL_PREF and an
    /// empty AS path. Shutting Mamori down closes the session with a Cease.
    @Test func gobgpLearnsRoutesOverIBGPAndSeesTheCease() async throws {
        var g = GoBGPPeer.Configuration()
        g.localAS = 65001
        let gobgp = try await GoBGPPeer(g)
        defer { gobgp.stop() }
        let speaker = Self.speaker(
            localAS: 65001, routerID: "127.0.0.1",
            neighbor: BGPNeighborConfiguration(
                name: "gobgp", address: "127.0.0.2", port: gobgp.port, peerAS: 65001, localAddress: "127.0.0.1"))
        let running = Task { try await speaker.run() }
        defer { running.cancel() }
        try await gobgp.waitEstablished()
        speaker.announce(Self.rtbh("198.51.100.9/32", nextHop: "192.0.2.1"))
        speaker.announce(Self.rtbh("2001:db8::9/128", nextHop: "2001:db8::1"))
        speaker.announce(Self.flow(destination: "198.51.100.9/32", protocols: [17], sourcePorts: [1900], rate: 12500))
        speaker.announce(Self.flow(destination: "2001:db8::9/128", protocols: [17], sourcePorts: [11211]))

        let v4 = try await gobgp.waitForRoutes(family: "ipv4") { $0.count == 1 }
        #expect(v4.first?.nlri == "198.51.100.9/32")
        #expect(v4.first?.nextHop == "192.0.2.1")
        #expect(v4.first?.asPath == [])
        #expect(Set(v4.first?.communities ?? []) == ["65535:666", "65535:65281", "65002:100"])
        let v6 = try await gobgp.waitForRoutes(family: "ipv6") { $0.count == 1 }
        #expect(v6.first?.nlri == "2001:db8::9/128")
        #expect(v6.first?.nextHop == "2001:db8::1")
        let flow4 = try await gobgp.waitForRoutes(family: "ipv4-flowspec") { $0.count == 1 }
        #expect(flow4.first?.nlri == "[destination: 198.51.100.9/32][protocol: ==udp][source-port: ==1900]")
        #expect(flow4.first?.extendedCommunities == ["traffic-rate:0:12500"])
        let flow6 = try await gobgp.waitForRoutes(family: "ipv6-flowspec") { $0.count == 1 }
        #expect(flow6.first?.nlri.contains("2001:db8::9/128") == true, "\(flow6)")
        #expect(flow6.first?.extendedCommunities == ["traffic-rate:0:0"])

        speaker.withdraw(Self.flow(destination: "198.51.100.9/32", protocols: [17], sourcePorts: [1900]).nlri)
        try await gobgp.waitForRoutes(family: "ipv4-flowspec") { $0.isEmpty }

        running.cancel()
        _ = try? await running.value
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, try await gobgp.neighborState == "established" {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await gobgp.neighborState != "established")
        #expect(
            gobgp.log.contains("Administrative Shutdown") || gobgp.log.contains("administrative shutdown") || gobgp.log.contains("Cease"),
            "\(gobgp.log)")
        #expect(try await gobgp.routes(family: "ipv4").isEmpty)
        #expect(speaker.status().first?.lastNotificationSent == "6/2 Cease / Administrative Shutdown: \"Mamori shutting down\"")
    }

    /// TCP MD5 signatures (RFC 2385): with the router's key the session comes up and carries
    /// routes; with another key the router's kernel drops every segment and it never does.
    @Test func tcpMD5SignedSession() async throws {
        var b = BIRDPeer.Configuration()
        b.extraProtocolLines = ["password \"mamori-md5-key\";"]
        let bird = try await BIRDPeer(b)
        defer { bird.stop() }
        func neighbor(_ key: String) -> BGPNeighborConfiguration {
            BGPNeighborConfiguration(
                name: "bird", address: "127.0.0.1", port: bird.port, peerAS: 65001, localAddress: "127.0.0.2", md5Password: key)
        }
        let wrong = Self.speaker(localAS: 65002, routerID: "127.0.0.2", neighbor: neighbor("another-key"))
        let refused = Task { try await wrong.run() }
        try await Task.sleep(for: .seconds(3))
        #expect(wrong.status().first?.state != "established")
        #expect(wrong.status().first?.establishedCount == 0)
        refused.cancel()
        _ = try? await refused.value

        let right = Self.speaker(localAS: 65002, routerID: "127.0.0.2", neighbor: neighbor("mamori-md5-key"))
        right.announce(Self.rtbh("203.0.113.77/32", nextHop: "192.0.2.1"))
        let running = Task { try await right.run() }
        defer { running.cancel() }
        try await Self.waitFor("established", right)
        let routes = try await bird.waitForRoutes(table: "master4") { $0.count == 1 }
        #expect(routes.first?.network == "203.0.113.77/32")
    }
}
