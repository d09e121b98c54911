import Detection
import Evaluation
import FlowCodec
import Foundation
import MamoriCore
import MamoriTesting
import Testing

/// What real bots do that the simulator never did before issue 17, one behaviour at a time.
@Suite(.heavyWork) struct RealBotBehaviourTests {
    static let layout = DetectorUnitTests.layout
    let unit = DetectorUnitTests()

    func analyse(_ records: [FlowRecord]) -> [Finding] {
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: Self.layout, pseudonymKey: [9]))
        for r in records.sorted(by: { $0.endMilliseconds < $1.endMilliseconds }) {
            analyzer.ingest(r, receivedAt: r.endMilliseconds)
            _ = analyzer.evaluate(now: r.endMilliseconds)
        }
        _ = analyzer.finish()
        return analyzer.currentFindings
    }

    /// One connection held for an hour, a PING/PONG every 120 s cut into records by the
    /// exporter's inactive timeout, 1–2 packets each.
    func session(port: UInt16, packets: (Int) -> UInt64) -> [FlowRecord] {
        (0..<30).map { i in
            unit.flow(
                "198.18.1.30", 40_001, "203.0.113.66", port, flags: i == 0 ? 0x1A : 0x18, packets: packets(i), bytes: packets(i) * 60,
                start: 1_000_000 + Int64(i) * 120_000, duration: 200)
        }
    }

    @Test("an IRC-style session held open with small even keepalives is C&C; a chat with varied traffic, or the same on 443, is not")
    func longLivedSession() {
        let bot = analyse(session(port: 6667) { i in UInt64(1 + i % 2) })
        let c2 = bot.first { $0.kind == .commandAndControl }
        #expect(c2?.subject.description == "203.0.113.66:6667/tcp", "\(bot.map(\.summary))")
        #expect(c2?.evidence.features.contains { $0.name == .sessionMinutes && $0.value >= 55 } == true)
        #expect(bot.contains { $0.kind == .infectedDevice && $0.subject.address == "198.18.1.30" })
        // A person chatting: bursts of many packets between quiet spells.
        let person = analyse(session(port: 6667) { i in i % 5 == 0 ? 40 : 1 })
        #expect(!person.contains { $0.kind == .commandAndControl }, "\(person.map(\.summary))")
        // A kept-alive HTTPS session (push, WebSocket) is not judged by this rule.
        let https = analyse(session(port: 443) { i in UInt64(1 + i % 2) })
        #expect(!https.contains { $0.kind == .commandAndControl }, "\(https.map(\.summary))")
    }

    @Test("one host's ICMP flood (150 echoes a second to one target) is an attack; ping (one a second) is not")
    func oneHostIcmpFlood() {
        func pings(perSecond: UInt64) -> [FlowRecord] {
            (0..<60).map { s in
                unit.flow(
                    "198.18.1.40", 0, "203.0.113.90", 2048, proto: 1, flags: 0, packets: perSecond, bytes: perSecond * 84,
                    start: 5_000_000 + Int64(s) * 1000, duration: 999)
            }
        }
        let flood = analyse(pings(perSecond: 150))
        #expect(flood.contains { $0.kind == .outboundDDoS && $0.subject.address == "203.0.113.90" }, "\(flood.map(\.summary))")
        #expect(flood.contains { $0.kind == .infectedDevice && $0.subject.address == "198.18.1.40" })
        let ping = analyse(pings(perSecond: 1))
        #expect(ping.isEmpty, "\(ping.map(\.summary))")
    }

    @Test("one host's SYN flood of 70 one-packet connections a second is an attack, and its target no C&C")
    func oneHostSynFlood() {
        var records: [FlowRecord] = []
        for k in 0..<(70 * 60) {
            records.append(
                unit.flow(
                    "198.18.1.50", UInt16(10_000 + k % 50_000), "203.0.113.91", 80, flags: 0x02, packets: 1, bytes: 60,
                    start: 9_000_000 + Int64(k) * 1000 / 70))
        }
        let findings = analyse(records)
        #expect(findings.contains { $0.kind == .outboundDDoS && $0.subject.address == "203.0.113.91" }, "\(findings.map(\.summary))")
        #expect(!findings.contains { $0.kind == .commandAndControl }, "\(findings.map(\.summary))")
    }

    @Test("a 6-hourly beacon that skips cycles still scores as periodic; irregular intervals are not folded into a period")
    func missedCheckIns() throws {
        let hour: Int64 = 3_600_000
        let beacon = [0, 6, 12, 24, 30, 48, 54, 60].map { Int64($0) * hour + Int64.random(in: 0...5_000) }
        let score = try #require(BeaconScore(times: beacon, bytes: ByteStatistics()))
        #expect(score.timing >= 0.9, "timing \(score.timing)")
        #expect(abs(score.medianInterval - 6 * Double(hour)) < 60_000)
        // A person: intervals all over the place, some near multiples of the median.
        let person: [Int64] = [0, 40, 95, 130, 250, 262, 400, 433, 520, 610].map { $0 * 60_000 }
        let p = try #require(BeaconScore(times: person, bytes: ByteStatistics()))
        #expect(p.timing < 0.7, "timing \(p.timing)")
    }
}
