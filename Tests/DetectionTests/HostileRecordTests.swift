import Detection
import FlowCodec
import MamoriCore
import MamoriTesting
import Testing

/// The detectors facing records nobody should send: extreme times, counters and ports, from any
/// caller (the collector screens times first; files and other callers may not). Nothing traps,
/// refused records are counted, and good traffic around them is still analysed.
@Suite struct HostileRecordTests {
    static let layout = DetectorUnitTests.layout
    static let extremeTimes: [Int64] = [0, -1, .max, .min, 1, 9_214_646_400_000, FlowTimeWindow.latestMilliseconds + 1]

    static func record(
        _ src: String, _ sport: UInt16, _ dst: String, _ dport: UInt16, proto: UInt8 = 17, flags: UInt8 = 0,
        packets: UInt64, bytes: UInt64, start: Int64, end: Int64
    ) -> FlowRecord {
        FlowRecord(
            exporter: .v4(1), sourceAddress: IPAddress(src)!, destinationAddress: IPAddress(dst)!, sourcePort: sport,
            destinationPort: dport,
            ipProtocol: proto, tcpFlags: flags, bytes: bytes, packets: packets, startMilliseconds: start, endMilliseconds: end)
    }

    @Test("an outbound record ending at Int64.max − the decoded 2^64−1 — is counted, not a crash (FlowAnalyzer.outbound regression)")
    func outboundEndAtMaximum() {
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: Self.layout, pseudonymKey: [7]))
        // What the IPFIX decoder made of flowEndMilliseconds = 2^64−1 before the time screen.
        analyzer.ingest(
            Self.record("198.18.1.9", 40_000, "203.0.113.5", 443, packets: 5, bytes: 500, start: 1_764_547_200_000, end: -1),
            receivedAt: 1_764_547_200_000)
        analyzer.ingest(
            Self.record("198.18.1.9", 40_000, "203.0.113.5", 443, packets: 5, bytes: 500, start: .min, end: .max),
            receivedAt: 1_764_547_200_000)
        #expect(analyzer.statistics.rejectedTimes == 2)
        #expect(analyzer.statistics.outbound == 0)
        _ = analyzer.evaluate(now: .max)
        _ = analyzer.evaluate(now: .min)
        #expect(analyzer.finish().isEmpty)
    }

    @Test("every extreme time, counter and port in every direction: no trap, all counted, and a flood after them is still found")
    func extremesThenRealFlood() throws {
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: Self.layout, pseudonymKey: [7]))
        let counters: [UInt64] = [0, 1, .max, UInt64(Int64.max)]
        let ports: [UInt16] = [0, 1, 23, 1023, 1024, .max]
        var sent = 0
        for s in Self.extremeTimes {
            for e in Self.extremeTimes + [1_000_000] {
                for c in counters {
                    for p in ports {
                        for received in [1_000_000, Int64.max, Int64.min, -1] {
                            // outbound (a subscriber to outside, as a SYN probe and as a UDP flow) and inbound
                            analyzer.ingest(
                                Self.record(
                                    "198.18.1.9", p, "203.0.113.5", p, proto: 6, flags: 0x02, packets: c, bytes: c, start: s, end: e),
                                receivedAt: received)
                            analyzer.ingest(
                                Self.record("198.18.0.7", p, "203.0.113.6", p, packets: c, bytes: c, start: s, end: e), receivedAt: received
                            )
                            analyzer.ingest(
                                Self.record("203.0.113.7", p, "198.18.1.10", p, packets: c, bytes: c, start: s, end: e),
                                receivedAt: received)
                            sent += 3
                        }
                    }
                }
            }
        }
        _ = analyzer.evaluate(now: 1_000_000)
        #expect(analyzer.statistics.records == sent)
        #expect(analyzer.statistics.rejectedTimes > 0)
        #expect(
            analyzer.statistics.rejectedTimes + analyzer.statistics.outbound + analyzer.statistics.inbound + analyzer.statistics.notCrossing
                + analyzer.statistics.specialPurpose == sent)

        // Then real traffic: 30 reflectors × 1,000 packets/s against one subscriber.
        let onset: Int64 = 2_000_000
        for i in 0..<30 {
            analyzer.ingest(
                Self.record("242.0.0.\(i + 1)", 123, "198.18.1.20", 40_000, packets: 1_000, bytes: 468_000, start: onset, end: onset + 999),
                receivedAt: onset + 1_000)
        }
        let found = analyzer.evaluate(now: onset + 1_000)
        #expect(found.contains { $0.kind == .inboundDDoS && $0.subject.address == "198.18.1.20" })
    }

    @Test("500,000 records of spoofed address pairs keep every table within its cap, and a real flood among them is still found")
    func spoofedPairsStayBounded() async throws {
        // Seconds of work: on a thread of its own, not one of the suite's cooperative pool.
        let (sizes, evictions, found) = try await offThePool { () -> ([String: Int], Int, [Finding]) in
            var c = DetectionConfiguration(network: Self.layout, pseudonymKey: [7])
            c.maximumPairs = 10_000
            c.maximumTableEntries = 5_000
            var analyzer = FlowAnalyzer(configuration: c)
            var g = SplitMix64(seed: 500)
            let t0: Int64 = 1_764_547_200_000
            for i in 0..<500_000 {
                // Either direction, any subscriber address of 198.18.0.0/15 and any outside address,
                // SYN probes, UDP and established TCP, a thousand records a second.
                let inside = IPAddress.v4(0xC612_0000 | UInt32(truncatingIfNeeded: g.next() & 0x1_FFFF))
                let outside = IPAddress.v4(0x0B00_0000 | UInt32(truncatingIfNeeded: g.next() & 0x00FF_FFFF))
                let t = t0 + Int64(i)
                let kind = g.next() % 3
                let (proto, flags): (UInt8, UInt8) = kind == 0 ? (6, 0x02) : kind == 1 ? (17, 0) : (6, 0x1B)
                let r =
                    g.next() % 2 == 0
                    ? FlowRecord(
                        sourceAddress: inside, destinationAddress: outside, sourcePort: UInt16(truncatingIfNeeded: g.next()),
                        destinationPort: UInt16(truncatingIfNeeded: g.next()),
                        ipProtocol: proto, tcpFlags: flags, bytes: 60 + g.next() % 1500, packets: 1 + g.next() % 40, startMilliseconds: t,
                        endMilliseconds: t + 500)
                    : FlowRecord(
                        sourceAddress: outside, destinationAddress: inside, sourcePort: UInt16(truncatingIfNeeded: g.next()),
                        destinationPort: UInt16(truncatingIfNeeded: g.next()),
                        ipProtocol: proto, tcpFlags: flags, bytes: 60 + g.next() % 1500, packets: 1 + g.next() % 400, startMilliseconds: t,
                        endMilliseconds: t + 500)
                analyzer.ingest(r, receivedAt: t + 500)
                if i % 10_000 == 0 { _ = analyzer.evaluate(now: t + 500) }
            }
            let sizes = analyzer.tableSizes
            // A real flood after the noise: 30 reflectors × 1,000 packets/s against one subscriber.
            let onset = t0 + 500_000 + 1_000
            for i in 0..<30 {
                analyzer.ingest(
                    Self.record(
                        "242.0.0.\(i + 1)", 123, "198.19.1.20", 40_000, packets: 1_000, bytes: 468_000, start: onset, end: onset + 999),
                    receivedAt: onset + 1_000)
            }
            return (sizes, analyzer.statistics.tableEvictions, analyzer.evaluate(now: onset + 1_000))
        }
        for (table, size) in sizes where table != "findings" {
            #expect(size <= (table == "pairs" ? 10_000 : 5_000), "\(table) holds \(size)")
        }
        #expect(evictions > 0)
        #expect(found.contains { $0.kind == .inboundDDoS && $0.subject.address == "198.19.1.20" })
    }

    @Test(
        "an inbound record stamped minutes ahead of its receipt does not push the victim's window ahead: a real flood right after is found")
    func recordAheadOfReceiptCannotBlindTheFloodAlarm() {
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: Self.layout, pseudonymKey: [7]))
        let now: Int64 = 1_764_547_200_000
        // One spoofed record against the victim, stamped nine minutes ahead, received now.
        analyzer.ingest(
            Self.record("203.0.113.66", 123, "198.19.1.21", 40_000, packets: 100, bytes: 46_800, start: now + 540_000, end: now + 540_999),
            receivedAt: now)
        #expect(analyzer.statistics.shiftedTimes == 1)
        // The real flood, a second later.
        for i in 0..<30 {
            analyzer.ingest(
                Self.record(
                    "242.0.0.\(i + 1)", 123, "198.19.1.21", 40_000, packets: 1_000, bytes: 468_000, start: now + 1_000, end: now + 1_999),
                receivedAt: now + 2_000)
        }
        let found = analyzer.evaluate(now: now + 2_000)
        #expect(found.contains { $0.kind == .inboundDDoS && $0.subject.address == "198.19.1.21" })
    }
}
