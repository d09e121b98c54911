import BGPSpeaker
import BGPWire
import FlowCodec
import Foundation
import MamoriTesting
import Testing

/// A third implementation reads what Mamori sends: ExaBGP (Python, its own FlowSpec decoder)
/// shows the RTBH routes with their communities and the FlowSpec rules with their components and
/// action, in IPv4 and IPv6; withdrawals remove them; stopping sends a Cease.
@Suite(.timeLimit(.minutes(5)))
struct ExaBGPTests {
    @Test func exabgpDecodesRTBHAndFlowSpecAndTheirWithdrawal() async throws {
        let exabgp = try await ExaBGPPeer()
        defer { exabgp.stop() }
        let speaker = BGPSpeakerTests.speaker(
            localAS: 65002, routerID: "127.0.0.2",
            neighbor: BGPNeighborConfiguration(
                name: "exabgp", address: "127.0.0.1", port: exabgp.port, peerAS: 65001, localAddress: "127.0.0.2", holdTime: 9))
        speaker.announce(BGPSpeakerTests.rtbh("203.0.113.7/32", nextHop: "192.0.2.1"))
        let running = Task { try await speaker.run() }
        defer { running.cancel() }
        try await BGPSpeakerTests.waitFor("established", speaker)
        try await exabgp.waitForState("up")
        speaker.announce(BGPSpeakerTests.rtbh("2001:db8::7/128", nextHop: "2001:db8::1"))
        speaker.announce(
            BGPSpeakerTests.flow(destination: "203.0.113.7/32", protocols: [17], sourcePorts: [123], packetLength: 468...468))
        speaker.announce(BGPSpeakerTests.flow(destination: "203.0.113.8/32", protocols: [6], destinationPorts: [80], rate: 1000))
        speaker.announce(BGPSpeakerTests.flow(destination: "2001:db8::7/128", protocols: [17], sourcePorts: [53]))
        let routes = try await exabgp.waitForRoutes { $0.count == 5 }
        func route(_ family: String, _ nlri: String) throws -> ExaBGPRoute {
            try #require(routes.first { $0.family == family && $0.nlri == nlri }, "\(routes)")
        }
        let v4 = try route("ipv4 unicast", "203.0.113.7/32")
        #expect(v4.nextHop == "192.0.2.1")
        #expect(Set(v4.communities) == ["65535:666", "65535:65281", "65002:100"])
        #expect(v4.asPath == [65002])
        let v6 = try route("ipv6 unicast", "2001:db8::7/128")
        #expect(v6.nextHop == "2001:db8::1")
        #expect(v6.communities.contains("65535:666"))
        let ntp = try route("ipv4 flow", "flow destination-ipv4 203.0.113.7/32 protocol =udp source-port =123 packet-length =468")
        #expect(ntp.nextHop == nil)
        #expect(ntp.extendedCommunities == ["rate-limit:0"])
        let web = try route("ipv4 flow", "flow destination-ipv4 203.0.113.8/32 protocol =tcp destination-port =80")
        #expect(web.extendedCommunities == ["rate-limit:1000"])
        // ExaBGP writes an IPv6 FlowSpec prefix with its offset (RFC 8956): /128/0.
        let dns = try route("ipv6 flow", "flow destination-ipv6 2001:db8::7/128/0 next-header =udp source-port =53")
        #expect(dns.extendedCommunities == ["rate-limit:0"])

        speaker.withdraw(.prefix(IPPrefix("203.0.113.7/32")!))
        speaker.withdraw(BGPSpeakerTests.flow(destination: "2001:db8::7/128", protocols: [17], sourcePorts: [53]).nlri)
        let after = try await exabgp.waitForRoutes { $0.count == 3 }
        #expect(!after.contains { $0.nlri == "203.0.113.7/32" || $0.family == "ipv6 flow" }, "\(after)")

        running.cancel()
        _ = try? await running.value
        try await exabgp.waitForState("down")
        #expect(speaker.status().first?.lastNotificationSent?.hasPrefix("6/2 Cease") == true)
        // ExaBGP 4.2.21 (Debian's) reads a Cease only up to its RFC 8203 text, whose decoding
        // raises a TypeError there (fixed upstream: Exa-Networks/exabgp#1302) and ends in
        // "can not decode … message of type 3" (NOTIFICATION). A fixed ExaBGP says it received (6,2).
        let down = try exabgp.messages().last { $0["type"] as? String == "state" }
        let reason = (down?["neighbor"] as? [String: Any])?["reason"] as? String ?? ""
        #expect(
            reason.contains("notification received (6,2)") || reason.contains("message of type \"3\""), "\(exabgp.log)")
    }
}
