import Detection
import FlowCodec
import Foundation
import MamoriCore
import MamoriTesting
import Testing

/// The peer-to-peer application hypothesis (issue 17): a BitTorrent host's timed contacts with
/// its peers are not C&C for that alone, a P2P botnet's gossip still is, and the finding says
/// which hypothesis was tested and why it failed.
@Suite(.heavyWork) struct PeerToPeerTests {
    let unit = DetectorUnitTests()
    static let hour: Int64 = 3_600_000

    func analyse(_ records: [FlowRecord]) -> (findings: [Finding], statistics: AnalyzerStatistics) {
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: DetectorUnitTests.layout, pseudonymKey: [11]))
        for r in records.sorted(by: { $0.endMilliseconds < $1.endMilliseconds }) {
            analyzer.ingest(r, receivedAt: r.endMilliseconds)
            _ = analyzer.evaluate(now: r.endMilliseconds)
        }
        _ = analyzer.finish()
        return (analyzer.currentFindings, analyzer.statistics)
    }

    /// Both directions of one UDP exchange between `host`:`localPort` and `peer`:`peerPort`.
    func exchange(_ host: String, _ localPort: UInt16, _ peer: String, _ peerPort: UInt16, bytes: UInt64, at t: Int64) -> [FlowRecord] {
        [
            unit.flow(host, localPort, peer, peerPort, proto: 17, flags: 0, packets: 1, bytes: bytes, start: t),
            unit.flow(peer, peerPort, host, localPort, proto: 17, flags: 0, packets: 1, bytes: bytes + 20, start: t + 40),
        ]
    }

    /// Two hosts that each ping one DHT node on a timer for two hours: a cohort of two with
    /// rigid timing and small datagrams, which on its own is what a C&C looks like.
    func timedPings(hosts: [String], node: String = "243.7.7.7") -> [FlowRecord] {
        var out: [FlowRecord] = []
        for (h, host) in hosts.enumerated() {
            for k in 0..<24 {
                out += exchange(host, 51_413, node, 6881, bytes: 120, at: 600_000 + Int64(h) * 7_000 + Int64(k) * 300_000)
            }
        }
        return out
    }

    /// What a BitTorrent client does besides: DHT queries from its one socket to many peers on
    /// random high ports, answered, and a download from a peer.
    func swarm(_ host: String, peers: Int, content: Bool) -> [FlowRecord] {
        var out: [FlowRecord] = []
        for p in 0..<peers {
            out += exchange(
                host, 51_413, "243.1.\(p / 200).\(p % 200 + 1)", UInt16(20_000 + p * 97), bytes: 300, at: 700_000 + Int64(p) * 20_000)
        }
        if content {
            let start: Int64 = 900_000
            out.append(
                unit.flow(host, 41_000, "243.1.0.1", 20_000, flags: 0x1B, packets: 400, bytes: 20_000, start: start, duration: 60_000))
            out.append(
                unit.flow("243.1.0.1", 20_000, host, 41_000, flags: 0x1B, packets: 900, bytes: 1_200_000, start: start, duration: 60_000))
        }
        return out
    }

    @Test("the control: two hosts pinging one node on a timer, with nothing else, are a C&C finding")
    func timedPingsAloneAreFound() {
        let (findings, _) = analyse(timedPings(hosts: ["198.18.1.60", "198.18.1.61"]))
        #expect(
            findings.contains { $0.kind == .commandAndControl && $0.subject.description == "243.7.7.7:6881/udp" },
            "\(findings.map(\.summary))")
    }

    @Test("the same pings from BitTorrent hosts (many answering peers, one socket, content moved) are no finding, and counted")
    func bitTorrentHostsAreNotBots() {
        let hosts = ["198.18.1.60", "198.18.1.61"]
        let (findings, statistics) = analyse(timedPings(hosts: hosts) + hosts.flatMap { swarm($0, peers: 30, content: true) })
        #expect(!findings.contains { $0.kind == .commandAndControl || $0.kind == .infectedDevice }, "\(findings.map(\.summary))")
        #expect(statistics.suppressedPeerToPeer > 0)
    }

    @Test(
        "hosts with many peers but no content moved (a P2P botnet's gossip) are still found, and the finding says why the hypothesis failed"
    )
    func gossipWithoutContentIsStillFound() throws {
        let hosts = ["198.18.1.60", "198.18.1.61"]
        let (findings, statistics) = analyse(timedPings(hosts: hosts) + hosts.flatMap { swarm($0, peers: 30, content: false) })
        let c2 = try #require(
            findings.first { $0.kind == .commandAndControl && $0.subject.description == "243.7.7.7:6881/udp" }, "\(findings.map(\.summary))"
        )
        #expect(statistics.suppressedPeerToPeer == 0)
        let reasons = c2.evidence.reasons.joined(separator: " | ")
        #expect(reasons.contains("a peer of a peer-to-peer application"), "\(reasons)")
        #expect(reasons.contains("no content moved"), "\(reasons)")
        #expect(!reasons.contains("peer(s) answer on high ports"), "30 peers answered: \(reasons)")
    }

    @Test("a host with few peers is no P2P application, whatever it moves")
    func fewPeersAreNoApplication() throws {
        let hosts = ["198.18.1.60", "198.18.1.61"]
        let (findings, _) = analyse(timedPings(hosts: hosts) + hosts.flatMap { swarm($0, peers: 4, content: true) })
        let c2 = try #require(findings.first { $0.kind == .commandAndControl }, "\(findings.map(\.summary))")
        #expect(c2.evidence.reasons.contains { $0.contains("peer(s) answer on high ports (< 8)") }, "\(c2.evidence.reasons)")
    }

    @Test("peers that never answer (spoofed or scanned) make no P2P host")
    func oneWayTrafficIsNoPeer() {
        let hosts = ["198.18.1.60", "198.18.1.61"]
        var noise: [FlowRecord] = []
        for host in hosts {
            // 40 sources send to the host's port, and a big one; the host never sends to them.
            for p in 0..<40 {
                noise.append(
                    unit.flow(
                        "243.2.0.\(p + 1)", UInt16(30_000 + p), host, 51_413, proto: 17, flags: 0, packets: 100, bytes: 150_000,
                        start: 650_000 + Int64(p) * 1_000))
            }
        }
        let (findings, statistics) = analyse(timedPings(hosts: hosts) + noise)
        #expect(
            findings.contains { $0.kind == .commandAndControl && $0.subject.description == "243.7.7.7:6881/udp" },
            "\(findings.map(\.summary))")
        #expect(statistics.suppressedPeerToPeer == 0)
    }

    @Test("NTP on a timer from two hosts is a time server, not C&C; the same timer with bigger datagrams on 123/udp is judged")
    func timeServer() throws {
        func polls(bytes: UInt64) -> [FlowRecord] {
            var out: [FlowRecord] = []
            for (h, host) in ["198.18.1.70", "198.18.1.71"].enumerated() {
                for k in 0..<12 {
                    let t = 600_000 + Int64(h) * 11_000 + Int64(k) * 2_048_000
                    out.append(
                        unit.flow(host, 40_000 + UInt16(k), "240.9.9.9", 123, proto: 17, flags: 0, packets: 1, bytes: bytes, start: t))
                    out.append(
                        unit.flow("240.9.9.9", 123, host, 40_000 + UInt16(k), proto: 17, flags: 0, packets: 1, bytes: bytes, start: t + 30))
                }
            }
            return out
        }
        let (ntp, statistics) = analyse(polls(bytes: 76))
        #expect(!ntp.contains { $0.kind == .commandAndControl }, "\(ntp.map(\.summary))")
        #expect(statistics.suppressedTimeService > 0)
        let (other, _) = analyse(polls(bytes: 400))
        let c2 = try #require(other.first { $0.kind == .commandAndControl }, "\(other.map(\.summary))")
        #expect(c2.evidence.reasons.contains { $0.contains("not NTP-sized") }, "\(c2.evidence.reasons)")
    }
}
