import Detection
import FlowCodec
import Foundation
import MamoriCore
import Testing

/// No finding ever names a multicast, broadcast, link-local or other special-purpose address as a
/// C&C server, scan target or attack target — whatever the flows.
@Suite struct SpecialPurposeTests {
    /// One address from every special-purpose range of the IANA registries (and multicast).
    static let special = [
        "0.1.2.3", "10.9.8.7", "100.64.1.1", "127.0.0.53", "169.254.10.20", "172.16.5.5", "172.31.255.254", "192.0.0.8", "192.0.2.200",
        "192.168.1.1", "198.18.3.4", "198.19.255.255", "198.51.100.7", "203.0.113.99", "224.0.0.251", "239.255.255.250", "233.252.0.1",
        "240.1.2.3", "255.255.255.255",
        "::", "::1", "::7", "ff02::fb", "ff05::c", "fe80::1", "fd2d:ab8c:225::1", "fc00::9", "2001:db8::53", "3fff:1::1", "100::1",
        "64:ff9b:1::1", "2001:2::9", "5f00::1",
    ].map { IPAddress($0)! }

    static let internet = [
        "8.8.8.8", "1.1.1.1", "185.56.145.73", "192.0.0.9", "192.0.3.1", "198.17.255.255", "198.20.0.0", "172.32.0.1",
        "100.128.0.1", "223.255.255.255", "2606:4700::1111", "2001:4860:4860::8888", "64:ff9b::808:808",
    ].map { IPAddress($0)! }

    @Test func registryRangesAreSpecialAndTheirNeighboursAreNot() {
        for a in Self.special { #expect(SpecialPurposeAddress.contains(a), "\(a) should be special-purpose") }
        for a in Self.internet { #expect(!SpecialPurposeAddress.contains(a), "\(a) is on the Internet") }
        #expect(SpecialPurposeAddress.category(of: IPAddress("239.255.255.250")!) == "multicast")
        #expect(SpecialPurposeAddress.category(of: IPAddress("ff02::fb")!) == "multicast")
        #expect(SpecialPurposeAddress.category(of: IPAddress("169.254.0.1")!) == "link-local")
    }

    /// Random flows — beacons at rigid periods, scans, floods — between subscribers and
    /// special-purpose addresses, mixed with the same behaviour towards real Internet addresses:
    /// findings name only the Internet ones.
    @Test(
        "property: beacons, scans and floods towards special-purpose addresses are never findings, the same towards the Internet are",
        arguments: [1, 2, 3, 4])
    func noFindingNamesASpecialPurposeAddress(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let layout = NetworkLayout(subscriberPrefixes: [IPPrefix("100.70.0.0/16")!, IPPrefix("2001:db8:100::/40")!])
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: layout, pseudonymKey: Array("property".utf8)))
        let start: Int64 = 1_790_000_000_000
        var records: [FlowRecord] = []
        func flow(
            _ s: IPAddress, _ sp: UInt16, _ d: IPAddress, _ dp: UInt16, proto: UInt8, flags: UInt8, packets: UInt64, bytes: UInt64,
            at t: Int64, for ms: Int64 = 0
        ) {
            records.append(
                FlowRecord(
                    sourceAddress: s, destinationAddress: d, sourcePort: sp, destinationPort: dp, ipProtocol: proto, tcpFlags: flags,
                    bytes: bytes, packets: packets, startMilliseconds: t, endMilliseconds: t + ms))
        }
        func subscriber(_ v6: Bool) -> IPAddress {
            v6 ? .v6(high: 0x2001_0DB8_0100_0000 | (rng.next() & 0xFF), low: rng.next()) : .v4(0x6446_0000 | UInt32(rng.next() & 0xFFFF))
        }
        for (k, remote) in (Self.special + Self.internet.filter { $0 != IPAddress("192.0.0.9")! }).enumerated() {
            let v6 = remote.isIPv6
            let port = UInt16(1024 + rng.next() % 50_000)
            // Five bots beacon to it every 60 s (± 1 s), small uniform payloads, for an hour.
            for _ in 0..<5 {
                let bot = subscriber(v6)
                for i in 0..<60 {
                    flow(
                        bot, UInt16(30_000 + i), remote, port, proto: rng.next() % 2 == 0 ? 6 : 17, flags: 0x1B, packets: 4, bytes: 300,
                        at: start + Int64(i) * 60_000 + Int64(rng.next() % 1000), for: 200)
                }
            }
            // A host floods it: SYN-only, then UDP, 5,000 packets a second for a minute.
            let flooder = subscriber(v6)
            for s in 0..<60 {
                flow(
                    flooder, UInt16(40_000 + s), remote, 80, proto: k % 2 == 0 ? 6 : 17, flags: k % 2 == 0 ? 0x02 : 0, packets: 5_000,
                    bytes: 300_000, at: start + 600_000 + Int64(s) * 1000, for: 999)
            }
            // It floods a subscriber from outside: 30,000 packets a second.
            let victim = subscriber(v6)
            for s in 0..<10 {
                flow(
                    remote, 53, victim, UInt16(50_000 + s), proto: 17, flags: 0, packets: 30_000, bytes: 30_000 * 512,
                    at: start + 1_200_000 + Int64(s) * 1000, for: 999)
            }
        }
        // A host scans 300 addresses of the special-purpose space on port 23.
        let scanner = subscriber(false)
        for i in 0..<300 {
            let target = Self.special.filter { !$0.isIPv6 }[i % 19]
            let spread = IPAddress.v4(target.ipv4! &+ UInt32(i / 19))
            guard SpecialPurposeAddress.contains(spread) else { continue }
            flow(scanner, UInt16(20_000 + i), spread, 23, proto: 6, flags: 0x02, packets: 1, bytes: 60, at: start + Int64(i) * 1000)
        }
        for r in records.sorted(by: { $0.endMilliseconds < $1.endMilliseconds }) {
            analyzer.ingest(r, receivedAt: r.endMilliseconds)
            _ = analyzer.evaluate(now: r.endMilliseconds)
        }
        _ = analyzer.finish()
        let findings = analyzer.currentFindings
        for f in findings {
            if let a = IPAddress(f.subject.address.split(separator: "/").first.map(String.init) ?? ""), f.subject.type != .host {
                #expect(!SpecialPurposeAddress.contains(a), "\(f.kind.rawValue) names special-purpose \(f.subject)")
            }
            for flow in f.evidence.flows {
                for side in [flow.source, flow.destination] where !side.hasPrefix("h:") {
                    if let a = IPAddress(side), !layout.isSubscriber(a) {
                        #expect(!SpecialPurposeAddress.contains(a), "evidence names \(side)")
                    }
                }
            }
        }
        // The same behaviour towards the Internet is found: the property is not met by finding nothing.
        let c2 = Set(findings.filter { $0.kind == .commandAndControl }.map(\.subject.address))
        let targets = Set(findings.filter { $0.kind == .outboundDDoS }.map(\.subject.address))
        #expect(c2.count >= 6, "C&C found towards the Internet: \(c2.sorted())")
        #expect(targets.count >= 6, "outbound floods found towards the Internet: \(targets.sorted())")
        #expect(findings.contains { $0.kind == .inboundDDoS })
        #expect(analyzer.statistics.specialPurpose > 0)
    }
}
