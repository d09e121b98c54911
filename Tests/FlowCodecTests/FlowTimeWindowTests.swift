import FlowCodec
import MamoriCore
import Testing

/// The decoder's time screen (``FlowTimeWindow``): whatever a sender puts in a record's time
/// fields, decoding never traps, refused records are counted by reason, and what comes out has
/// times every later stage can compute with.
@Suite struct FlowTimeWindowTests {
    static let exporter = IPAddress("192.0.2.9")!
    /// 2026-12-01T00:00:00Z.
    static let now: Int64 = 1_764_547_200_000

    /// A template of source/destination address, ports, protocol, packets and the two 64-bit
    /// millisecond times, and one data record per (start, end) pair, as raw unsigned values.
    static func message(times: [(UInt64, UInt64)], exportTime: UInt32 = UInt32(now / 1000)) -> [UInt8] {
        var m = IPFIXMessageBuilder(exportTime: exportTime)
        m.template(
            id: 400,
            fields: [
                .init(id: 8, length: 4), .init(id: 12, length: 4), .init(id: 7, length: 2), .init(id: 11, length: 2),
                .init(id: 4, length: 1), .init(id: 2, length: 8), .init(id: 152, length: 8), .init(id: 153, length: 8),
            ])
        m.data(
            templateID: 400,
            records: times.enumerated().map { i, t in
                var w = ByteWriter()
                w.u32(0x0A00_0001 + UInt32(i))
                w.u32(0xC633_6401)
                w.u16(40_000)
                w.u16(443)
                w.u8(6)
                w.u64(3)
                w.u64(t.0)
                w.u64(t.1)
                return w.bytes
            })
        return m.bytes()
    }

    static let good = UInt64(now - 5_000)

    @Test("flowEndMilliseconds 2^64−1 (the datagram that stopped mamori serve) is refused and counted, the good record kept")
    func endAtMaximum() {
        var decoder = FlowDecoder()
        let (report, records) = decoder.decode(
            Self.message(times: [(Self.good, .max), (Self.good, Self.good + 1000)]), from: Self.exporter, at: Self.now)
        #expect(report.error == nil)
        #expect(report.timesOutOfRange == 1)
        #expect(report.flowRecords == 1)
        #expect(records.count == 1)
        #expect(records.first?.endMilliseconds == Int64(Self.good) + 1000)
        #expect(records.first?.sourceAddress == .v4(0x0A00_0002), "the good record is the second one, kept in order")
    }

    /// The extreme values the issue names, in either field, with any receive time: 0, −1 (2^64−1
    /// as sent), 2^63−1, 1970-01-01, 2262 (the end of Int64 nanoseconds) and 2^63.
    static let extremes: [UInt64] = [0, .max, UInt64(Int64.max), 1, 9_214_646_400_000, 1 << 63]

    @Test("extreme times never trap and never come out of the decoder outside 1970–2100", arguments: [FlowTimeWindow.anyTime, .live])
    func extremesNeverEscape(window: FlowTimeWindow) {
        var configuration = FlowDecoder.Configuration()
        configuration.timeWindow = window
        for receivedAt in [Self.now, 0, -1, Int64.max, Int64.min] {
            var decoder = FlowDecoder(configuration: configuration)
            var pairs: [(UInt64, UInt64)] = []
            for a in Self.extremes {
                for b in Self.extremes + [Self.good] {
                    pairs.append((a, b))
                    pairs.append((b, a))
                }
            }
            let (report, records) = decoder.decode(Self.message(times: pairs), from: Self.exporter, at: receivedAt)
            #expect(report.error == nil)
            #expect(report.flowRecords == records.count)
            #expect(report.flowRecords + report.rejectedTimes == pairs.count, "every record is either kept or counted as refused")
            for r in records {
                #expect(
                    FlowTimeWindow.isSane(start: r.startMilliseconds, end: r.endMilliseconds),
                    "\(r.startMilliseconds)…\(r.endMilliseconds) escaped at \(receivedAt)")
            }
        }
    }

    @Test("the live window refuses flows from the future and from long ago, by reason")
    func liveWindow() {
        var configuration = FlowDecoder.Configuration()
        configuration.timeWindow = .live
        var decoder = FlowDecoder(configuration: configuration)
        let now = UInt64(Self.now)
        let (report, records) = decoder.decode(
            Self.message(times: [
                (now - 1000, now), // fine
                (now - 1000, now + 9 * 60_000), // nine minutes ahead: a router's clock a little fast, kept
                (now, now + 11 * 60_000), // eleven minutes ahead: refused
                (now - 86_400_000 - 1, now), // started a day and a millisecond ago: refused
                (now - 3_600_000, now - 1_800_000), // an hour-long flow exported late: kept
                (1_000, 2_000), // 1970
                (now + 3_600_000, now), // starts an hour ahead, "ends" now: refused, not repaired into the future
                (now, 1_000), // ends in 1970: refused, not repaired
            ]), from: Self.exporter, at: Self.now)
        #expect(records.count == 3)
        #expect(report.timesAhead == 2)
        #expect(report.timesTooOld == 3)
        #expect(report.repairedTimes == 0)
        #expect(report.timesOutOfRange == 0)
    }

    @Test("anyTime keeps old captures: a 2016 flow decoded with a 2026 receive time is kept")
    func offlineKeepsOldTimes() {
        var decoder = FlowDecoder()
        let t: UInt64 = 1_451_606_400_000
        let (report, records) = decoder.decode(Self.message(times: [(t, t + 10)]), from: Self.exporter, at: Self.now)
        #expect(report.rejectedTimes == 0)
        #expect(records.count == 1)
    }

    @Test("an end before the start is repaired to the start and counted; the record is kept")
    func endBeforeStartRepaired() {
        var decoder = FlowDecoder()
        let (report, records) = decoder.decode(Self.message(times: [(Self.good, Self.good - 60_000)]), from: Self.exporter, at: Self.now)
        #expect(report.repairedTimes == 1)
        #expect(records.count == 1)
        #expect(records.first?.endMilliseconds == records.first?.startMilliseconds)
    }

    @Test("an IPFIX systemInitTimeMilliseconds of 2^63−1 with uptime-relative times neither traps nor escapes")
    func systemInitOverflow() {
        var decoder = FlowDecoder()
        var m = IPFIXMessageBuilder(exportTime: UInt32(Self.now / 1000))
        // flowStartSysUpTime (22), flowEndSysUpTime (21) and the record's own systemInitTimeMilliseconds (160).
        m.template(
            id: 401,
            fields: [
                .init(id: 8, length: 4), .init(id: 12, length: 4), .init(id: 22, length: 4), .init(id: 21, length: 4),
                .init(id: 160, length: 8),
            ])
        var w = ByteWriter()
        w.u32(0x0A00_0001)
        w.u32(0xC633_6401)
        w.u32(0xFFFF_FFFF)
        w.u32(0xFFFF_FFFF)
        w.u64(UInt64(Int64.max))
        m.data(templateID: 401, records: [w.bytes])
        let (report, records) = decoder.decode(m.bytes(), from: Self.exporter, at: Self.now)
        #expect(records.isEmpty)
        #expect(report.timesOutOfRange == 1)
    }

    @Test("check() is total: every combination of extreme start, end and now gives a verdict without trapping")
    func checkIsTotal() {
        let values: [Int64] = [.min, -1, 0, 1, Self.now, FlowTimeWindow.latestMilliseconds, FlowTimeWindow.latestMilliseconds + 1, .max]
        let windows = [FlowTimeWindow.anyTime, .live, FlowTimeWindow(maximumAgeMilliseconds: .max, maximumLeadMilliseconds: .max)]
        var accepted = 0
        for w in windows {
            for s in values {
                for e in values {
                    for n in values {
                        if w.check(start: s, end: e, now: n) == .accept {
                            accepted += 1
                            #expect(FlowTimeWindow.isSane(start: s, end: e))
                        }
                    }
                }
            }
        }
        #expect(accepted > 0)
    }

    @Test("bounds(now:) agree with check(): inside them a record in order is accepted, outside it is not")
    func boundsAgreeWithCheck() {
        let values: [Int64] = [
            .min, -1, 0, 1, Self.now - 86_400_001, Self.now - 86_400_000, Self.now - 1, Self.now, Self.now + 600_000, Self.now + 600_001,
            FlowTimeWindow.latestMilliseconds, FlowTimeWindow.latestMilliseconds + 1, .max,
        ]
        for w in [FlowTimeWindow.anyTime, .live] {
            for n in [Self.now, 0, -1, Int64.max] {
                let (lo, hi) = w.bounds(now: n)
                for s in values {
                    for e in values {
                        let inside = lo <= s && s <= e && e <= hi
                        #expect(inside == (w.check(start: s, end: e, now: n) == .accept), "\(s)…\(e) at \(n)")
                    }
                }
            }
        }
    }
}
