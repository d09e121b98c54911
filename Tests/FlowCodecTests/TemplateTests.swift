import FlowCodec
import Foundation
import MamoriCore
import NIOCore
import Testing

/// Template, sampling and sequence behaviour of the v9 / IPFIX decoder, on datagrams built by hand
/// with the test-only encoders in `Support/MessageBuilders.swift`.
@Suite struct TemplateTests {
    static let exporter = IPAddress("192.0.2.1")!
    static let t0: Int64 = 1_700_000_000_000

    static func record(_ i: Int, ipv6: Bool = false) -> FlowRecord {
        var g = SplitMix64(seed: UInt64(i) &* 7919)
        return StandardTemplate.random(ipv6: ipv6, using: &g)
    }

    /// `r` as the decoder should return it from `exporter` / `domain` / `proto`.
    static func expected(_ r: FlowRecord, domain: UInt32 = 0, proto: ExportProtocol = .ipfix, scale: UInt32 = 1) -> FlowRecord {
        var e = r
        e.exporter = exporter
        e.observationDomain = domain
        e.exportProtocol = proto
        if scale > 1 {
            e.samplingInterval = scale
            e.bytes &*= UInt64(scale)
            e.packets &*= UInt64(scale)
        }
        return e
    }

    static func templateMessage(
        id: UInt16 = 256, fields: [FieldSpecifier] = StandardTemplate.ipv4, sequence: UInt32 = 0, domain: UInt32 = 0
    ) -> [UInt8] {
        var m = IPFIXMessageBuilder(sequence: sequence, domain: domain)
        m.template(id: id, fields: fields)
        return m.bytes()
    }

    static func dataMessage(id: UInt16 = 256, records: [FlowRecord], sequence: UInt32 = 0, domain: UInt32 = 0) -> [UInt8] {
        var m = IPFIXMessageBuilder(sequence: sequence, domain: domain)
        m.data(templateID: id, records: records.map(StandardTemplate.encode))
        return m.bytes()
    }

    // MARK: - round trips

    @Test("IPFIX encode → decode round trip", arguments: [false, true])
    func ipfixRoundTrip(ipv6: Bool) {
        var decoder = FlowDecoder()
        let records = (0..<20).map { Self.record($0, ipv6: ipv6) }
        var m = IPFIXMessageBuilder(domain: 7)
        m.template(id: 300, fields: ipv6 ? StandardTemplate.ipv6 : StandardTemplate.ipv4)
        m.data(templateID: 300, records: records.map(StandardTemplate.encode))
        let (report, decoded) = decoder.decode(m.bytes(), from: Self.exporter, at: Self.t0)
        #expect(report.error == nil)
        #expect(report.templatesLearned == 1)
        #expect(report.flowRecords == 20)
        #expect(report.observationDomain == 7)
        #expect(decoded == records.map { Self.expected($0, domain: 7) })
    }

    @Test func netflowV9RoundTrip() {
        var decoder = FlowDecoder()
        let records = (0..<10).map { Self.record($0) }
        var p = NetFlowV9PacketBuilder(sourceID: 3)
        p.template(id: 260, fields: StandardTemplate.ipv4)
        p.data(templateID: 260, records: records.map(StandardTemplate.encode))
        let (report, decoded) = decoder.decode(p.bytes, from: Self.exporter, at: Self.t0)
        #expect(report.error == nil)
        #expect(report.exportProtocol == .netflowV9)
        #expect(decoded == records.map { Self.expected($0, domain: 3, proto: .netflowV9) })
    }

    @Test func netflowV5RoundTrip() {
        var decoder = FlowDecoder()
        var p = NetFlowV5PacketBuilder()
        p.unixNanoseconds = 250_000_000
        let exportMs = Int64(p.unixSeconds) * 1000 + 250
        p.records = (0..<30).map { (i: Int) -> FlowRecord in
            var r = FlowRecord()
            r.sourceAddress = .v4(0x0A00_0000 + UInt32(i))
            r.destinationAddress = .v4(0xC0A8_0001)
            r.sourcePort = UInt16(1000 + i)
            r.destinationPort = 443
            r.ipProtocol = 6
            r.tcpFlags = 0x1B
            r.typeOfService = 0x28
            r.bytes = UInt64(100 * i + 40)
            r.packets = UInt64(i + 1)
            r.startMilliseconds = exportMs - 60_000 + Int64(i)
            r.endMilliseconds = exportMs - 1000
            r.inputInterface = 3
            r.outputInterface = 7
            r.sourceAS = 64_500
            r.destinationAS = 65_001
            return r
        }
        let (report, decoded) = decoder.decode(p.bytes, from: Self.exporter, at: Self.t0)
        #expect(report.error == nil)
        #expect(decoded == p.records.map { Self.expected($0, proto: .netflowV5) })
    }

    // MARK: - template lifecycle

    @Test func dataBeforeItsTemplateIsAMissThenDecodes() {
        var decoder = FlowDecoder()
        let records = (0..<3).map { Self.record($0) }
        let data = Self.dataMessage(records: records)
        let (miss, none) = decoder.decode(data, from: Self.exporter, at: Self.t0)
        #expect(miss.templateMisses == 1)
        #expect(miss.flowRecords == 0)
        #expect(none.isEmpty)
        #expect(miss.error == nil, "a missing template is not malformed input")
        _ = decoder.decode(Self.templateMessage(), from: Self.exporter, at: Self.t0 + 1000)
        let (hit, decoded) = decoder.decode(data, from: Self.exporter, at: Self.t0 + 2000)
        #expect(hit.templateMisses == 0)
        #expect(decoded == records.map { Self.expected($0) })
    }

    @Test func netflowV9DataBeforeTemplate() {
        var decoder = FlowDecoder()
        let records = (0..<3).map { Self.record($0) }
        var data = NetFlowV9PacketBuilder(sequence: 0)
        data.data(templateID: 256, records: records.map(StandardTemplate.encode))
        #expect(decoder.decode(data.bytes, from: Self.exporter, at: Self.t0).0.templateMisses == 1)
        var tpl = NetFlowV9PacketBuilder(sequence: 1)
        tpl.template(id: 256, fields: StandardTemplate.ipv4)
        #expect(decoder.decode(tpl.bytes, from: Self.exporter, at: Self.t0).0.templatesLearned == 1)
        data.sequence = 2
        let (report, decoded) = decoder.decode(data.bytes, from: Self.exporter, at: Self.t0)
        #expect(report.templateMisses == 0)
        #expect(decoded == records.map { Self.expected($0, proto: .netflowV9) })
    }

    @Test func templatesAreKeptPerExporterAndDomain() {
        var decoder = FlowDecoder()
        _ = decoder.decode(Self.templateMessage(domain: 1), from: Self.exporter, at: Self.t0)
        let data = Self.dataMessage(records: [Self.record(1)], domain: 2)
        #expect(decoder.decode(data, from: Self.exporter, at: Self.t0).0.templateMisses == 1, "other domain")
        let data1 = Self.dataMessage(records: [Self.record(1)], domain: 1)
        #expect(decoder.decode(data1, from: IPAddress("192.0.2.99")!, at: Self.t0).0.templateMisses == 1, "other exporter")
        #expect(decoder.decode(data1, from: Self.exporter, at: Self.t0).0.flowRecords == 1)
    }

    @Test func ipfixTemplateWithdrawal() {
        var decoder = FlowDecoder()
        _ = decoder.decode(Self.templateMessage(id: 256), from: Self.exporter, at: Self.t0)
        _ = decoder.decode(Self.templateMessage(id: 257), from: Self.exporter, at: Self.t0)
        #expect(decoder.templates.count == 2)
        var w = IPFIXMessageBuilder()
        w.withdraw(templateID: 256)
        let (report, _) = decoder.decode(w.bytes(), from: Self.exporter, at: Self.t0)
        #expect(report.templatesWithdrawn == 1)
        #expect(report.error == nil)
        #expect(decoder.templates.count == 1)
        #expect(
            decoder.decode(Self.dataMessage(id: 256, records: [Self.record(1)]), from: Self.exporter, at: Self.t0).0.templateMisses == 1)
        #expect(decoder.decode(Self.dataMessage(id: 257, records: [Self.record(1)]), from: Self.exporter, at: Self.t0).0.flowRecords == 1)
        // Withdraw all templates of the session (template ID 2, count 0: RFC 7011 §8.1).
        var all = IPFIXMessageBuilder()
        all.withdrawAll()
        #expect(decoder.decode(all.bytes(), from: Self.exporter, at: Self.t0).0.templatesWithdrawn == 1)
        #expect(decoder.templates.count == 0)
        #expect(
            decoder.decode(Self.dataMessage(id: 257, records: [Self.record(1)]), from: Self.exporter, at: Self.t0).0.templateMisses == 1)
    }

    @Test func templateRedefinedMidStreamAppliesToFollowingData() {
        var decoder = FlowDecoder()
        let r = Self.record(5)
        _ = decoder.decode(Self.templateMessage(), from: Self.exporter, at: Self.t0)
        #expect(decoder.decode(Self.dataMessage(records: [r]), from: Self.exporter, at: Self.t0).1 == [Self.expected(r)])
        // Same ID, new layout: ports first, 4-byte counters, no times.
        let layout: [FieldSpecifier] = [
            .init(id: 7, length: 2), .init(id: 11, length: 2), .init(id: 8, length: 4), .init(id: 12, length: 4),
            .init(id: 1, length: 4), .init(id: 2, length: 4), .init(id: 4, length: 1),
        ]
        let (redefined, _) = decoder.decode(Self.templateMessage(fields: layout), from: Self.exporter, at: Self.t0 + 1)
        #expect(redefined.templatesLearned == 1)
        var w = ByteWriter()
        w.u16(1234)
        w.u16(80)
        w.address(.v4(0x0A01_0203))
        w.address(.v4(0x0A04_0506))
        w.u32(1500)
        w.u32(3)
        w.u8(17)
        var m = IPFIXMessageBuilder()
        m.data(templateID: 256, records: [w.bytes])
        let (report, decoded) = decoder.decode(m.bytes(), from: Self.exporter, at: Self.t0 + 2)
        #expect(report.flowRecords == 1)
        let d = decoded.first
        #expect(d?.sourcePort == 1234)
        #expect(d?.destinationPort == 80)
        #expect(d?.sourceAddress == .v4(0x0A01_0203))
        #expect(d?.destinationAddress == .v4(0x0A04_0506))
        #expect(d?.bytes == 1500)
        #expect(d?.packets == 3)
        #expect(d?.ipProtocol == 17)
        #expect(decoder.templates.count == 1)
    }

    @Test func templateExpiresAfterTimeout() {
        var config = FlowDecoder.Configuration()
        config.templateTimeoutSeconds = 60
        var decoder = FlowDecoder(configuration: config)
        _ = decoder.decode(Self.templateMessage(), from: Self.exporter, at: Self.t0)
        let data = Self.dataMessage(records: [Self.record(1)])
        #expect(decoder.decode(data, from: Self.exporter, at: Self.t0 + 59_000).0.flowRecords == 1)
        #expect(decoder.decode(data, from: Self.exporter, at: Self.t0 + 61_000).0.templateMisses == 1, "lookup checks expiry")
        #expect(decoder.expireTemplates(now: Self.t0 + 61_000) == 1)
        #expect(decoder.templates.count == 0)
        // A refresh restarts the clock.
        _ = decoder.decode(Self.templateMessage(), from: Self.exporter, at: Self.t0 + 100_000)
        #expect(decoder.decode(data, from: Self.exporter, at: Self.t0 + 150_000).0.flowRecords == 1)
    }

    @Test func templateSnapshotSurvivesRestart() throws {
        var before = FlowDecoder()
        var m = IPFIXMessageBuilder(domain: 4)
        m.template(id: 256, fields: StandardTemplate.ipv4)
        m.template(id: 257, fields: StandardTemplate.ipv6)
        m.optionsTemplate(id: 258, scope: [.init(id: 149, length: 4)], options: [.init(id: 34, length: 4)])
        _ = before.decode(m.bytes(), from: Self.exporter, at: Self.t0)
        var v9 = NetFlowV9PacketBuilder(sourceID: 9)
        v9.template(id: 300, fields: StandardTemplate.ipv4 + [.init(id: 6000, length: 3)])
        _ = before.decode(v9.bytes, from: IPAddress("2001:db8::1")!, at: Self.t0)
        let snapshot = before.templates.snapshot()
        #expect(snapshot.count == 4)
        // Through JSON, as the collector persists them.
        let json = try JSONEncoder().encode(snapshot)
        let loaded = try JSONDecoder().decode([PersistedTemplate].self, from: json)
        #expect(loaded == snapshot)

        var after = FlowDecoder()
        #expect(after.restoreTemplates(loaded, now: Self.t0 + 10_000) == 4)
        #expect(after.templates.snapshot() == snapshot)
        let r = Self.record(3, ipv6: true)
        var data = IPFIXMessageBuilder(domain: 4)
        data.data(templateID: 257, records: [StandardTemplate.encode(r)])
        #expect(after.decode(data.bytes(), from: Self.exporter, at: Self.t0 + 20_000).1 == [Self.expected(r, domain: 4)])
        var v9data = NetFlowV9PacketBuilder(sourceID: 9)
        v9data.data(templateID: 300, records: [StandardTemplate.encode(r) + [1, 2, 3]])
        // ipv4 template: the IPv6 record would not fit; use a v4 record.
        let r4 = Self.record(4)
        v9data = NetFlowV9PacketBuilder(sourceID: 9)
        v9data.data(templateID: 300, records: [StandardTemplate.encode(r4) + [1, 2, 3]])
        let (v9report, v9records) = after.decode(v9data.bytes, from: IPAddress("2001:db8::1")!, at: Self.t0 + 20_000)
        #expect(v9report.templateMisses == 0)
        #expect(v9records.first?.sourceAddress == r4.sourceAddress)

        // Templates already expired at restore time are skipped.
        var late = FlowDecoder()
        #expect(late.restoreTemplates(loaded, now: Self.t0 + 1_900_000) == 0)
    }

    @Test func perSessionTemplateLimit() {
        var config = FlowDecoder.Configuration()
        config.maxTemplatesPerSession = 4
        var decoder = FlowDecoder(configuration: config)
        var m = IPFIXMessageBuilder()
        for id in 256..<262 { m.template(id: UInt16(id), fields: StandardTemplate.ipv4) }
        let (report, _) = decoder.decode(m.bytes(), from: Self.exporter, at: Self.t0)
        #expect(report.templatesLearned == 4)
        #expect(report.error == FlowDecodingError(.tooManyTemplates))
        #expect(decoder.templates.count == 4)
        // Refreshing a known template is still accepted; another session has its own budget.
        #expect(decoder.decode(Self.templateMessage(id: 257), from: Self.exporter, at: Self.t0).0.error == nil)
        #expect(decoder.decode(Self.templateMessage(id: 300), from: IPAddress("192.0.2.2")!, at: Self.t0).0.templatesLearned == 1)
        #expect(decoder.templates.count == 5)
    }

    // MARK: - sampling

    @Test("v9 options data announcing 1:N scales following flows", arguments: [10 as UInt32, 512])
    func netflowV9SamplingOption(n: UInt32) {
        var decoder = FlowDecoder()
        var p = NetFlowV9PacketBuilder(sourceID: 1)
        // Scope: System (type 1, 4 bytes); options: SAMPLING_INTERVAL (34, 4), SAMPLING_ALGORITHM (35, 1).
        p.optionsTemplate(id: 257, scope: [.init(id: 1, length: 4)], options: [.init(id: 34, length: 4), .init(id: 35, length: 1)])
        var w = ByteWriter()
        w.u32(0)
        w.u32(n)
        w.u8(2)
        p.data(templateID: 257, records: [w.bytes])
        p.template(id: 256, fields: StandardTemplate.ipv4)
        let records = (0..<3).map { Self.record($0) }
        p.data(templateID: 256, records: records.map(StandardTemplate.encode))
        let (report, decoded) = decoder.decode(p.bytes, from: Self.exporter, at: Self.t0)
        #expect(report.optionsRecords == 1)
        #expect(decoded == records.map { Self.expected($0, domain: 1, proto: .netflowV9, scale: n) })
        #expect(
            decoder.announcedSamplingInterval(
                for: ExportSessionKey(exporter: Self.exporter, observationDomain: 1, exportProtocol: .netflowV9)) == n)
    }

    /// IPFIX sampling announcements in the forms exporters use (RFC 5101 34, RFC 5477 305/306 and
    /// 309/310). The Cisco form (IOS XR, see pmacct test 104) sends selectorAlgorithm 3 with
    /// samplingPacketInterval 1 *and* samplingSize 1 / samplingPopulation 256: the rate is 1:256.
    @Test(
        "IPFIX options data announcing 1:N",
        arguments: [
            ("samplingInterval", [FieldSpecifier(id: 34, length: 4)], [UInt64(100)], UInt32(100)),
            ("packetInterval+Space", [.init(id: 305, length: 4), .init(id: 306, length: 4)], [1, 99], 100),
            ("size/population", [.init(id: 309, length: 4), .init(id: 310, length: 4)], [1, 256], 256),
            (
                "cisco algorithm 3",
                [.init(id: 304, length: 2), .init(id: 305, length: 4), .init(id: 309, length: 4), .init(id: 310, length: 4)],
                [3, 1, 1, 256], 256
            ),
        ])
    func ipfixSamplingOption(name: String, options: [FieldSpecifier], values: [UInt64], n: UInt32) {
        var decoder = FlowDecoder()
        var m = IPFIXMessageBuilder(domain: 5)
        m.optionsTemplate(id: 400, scope: [.init(id: 149, length: 4)], options: options)
        var w = ByteWriter()
        w.u32(5)
        for (f, v) in zip(options, values) { w.uint(v, length: Int(f.length)) }
        m.data(templateID: 400, records: [w.bytes])
        m.template(id: 256, fields: StandardTemplate.ipv4)
        let records = (0..<3).map { Self.record($0) }
        m.data(templateID: 256, records: records.map(StandardTemplate.encode))
        let (report, decoded) = decoder.decode(m.bytes(), from: Self.exporter, at: Self.t0)
        #expect(report.optionsRecords == 1, "\(name)")
        #expect(decoded == records.map { Self.expected($0, domain: 5, scale: n) }, "\(name)")
    }

    /// Per-sampler announcements (flowSamplerId 48 / selectorId 302) apply to records naming that sampler.
    @Test func samplerSpecificInterval() {
        var decoder = FlowDecoder()
        var m = IPFIXMessageBuilder()
        m.optionsTemplate(id: 400, scope: [.init(id: 302, length: 4)], options: [.init(id: 34, length: 4)])
        var a = ByteWriter()
        a.u32(7)
        a.u32(64)
        var b = ByteWriter()
        b.u32(8)
        b.u32(1000)
        m.data(templateID: 400, records: [a.bytes, b.bytes])
        m.template(id: 256, fields: StandardTemplate.ipv4 + [.init(id: 302, length: 4)])
        let r = Self.record(1)
        m.data(
            templateID: 256,
            records: [
                StandardTemplate.encode(r) + [0, 0, 0, 7], StandardTemplate.encode(r) + [0, 0, 0, 8],
                StandardTemplate.encode(r) + [0, 0, 0, 9],
            ])
        let (_, decoded) = decoder.decode(m.bytes(), from: Self.exporter, at: Self.t0)
        #expect(decoded.map(\.samplingInterval) == [64, 1000, 1])
        #expect(decoded.first?.bytes == r.bytes &* 64)
    }

    @Test func samplingOverrideAppliesOnlyWithoutAnnouncement() {
        var config = FlowDecoder.Configuration()
        config.samplingOverrides = [Self.exporter: 10]
        var decoder = FlowDecoder(configuration: config)
        let r = Self.record(2)
        _ = decoder.decode(Self.templateMessage(), from: Self.exporter, at: Self.t0)
        #expect(decoder.decode(Self.dataMessage(records: [r]), from: Self.exporter, at: Self.t0).1 == [Self.expected(r, scale: 10)])
        // Another exporter: no override.
        _ = decoder.decode(Self.templateMessage(), from: IPAddress("192.0.2.7")!, at: Self.t0)
        #expect(decoder.decode(Self.dataMessage(records: [r]), from: IPAddress("192.0.2.7")!, at: Self.t0).1.first?.samplingInterval == 1)
        // Once the exporter announces 1:100, the announcement wins.
        var m = IPFIXMessageBuilder()
        m.optionsTemplate(id: 400, scope: [.init(id: 149, length: 4)], options: [.init(id: 34, length: 4)])
        var w = ByteWriter()
        w.u32(0)
        w.u32(100)
        m.data(templateID: 400, records: [w.bytes])
        _ = decoder.decode(m.bytes(), from: Self.exporter, at: Self.t0)
        #expect(decoder.decode(Self.dataMessage(records: [r]), from: Self.exporter, at: Self.t0).1 == [Self.expected(r, scale: 100)])

        // NetFlow v5: header interval 0 → override; header 1:1000 → header.
        var v5 = NetFlowV5PacketBuilder()
        v5.records = [FlowRecord(bytes: 100, packets: 2)]
        #expect(decoder.decode(v5.bytes, from: Self.exporter, at: Self.t0).1.first?.bytes == 1000)
        v5.sampling = 1000
        v5.sequence = 1
        let announced = decoder.decode(v5.bytes, from: Self.exporter, at: Self.t0).1.first
        #expect(announced?.bytes == 100_000)
        #expect(announced?.samplingInterval == 1000)
    }

    // MARK: - sequence numbers

    @Test func netflowV5SequenceGapsCountRecords() {
        var decoder = FlowDecoder()
        var p = NetFlowV5PacketBuilder()
        p.records = [FlowRecord(), FlowRecord()]
        p.sequence = 100
        #expect(decoder.decode(p.bytes, at: Self.t0).0.estimatedLostRecords == 0)
        p.sequence = 102 // expected
        #expect(decoder.decode(p.bytes, at: Self.t0).0.estimatedLostRecords == 0)
        p.sequence = 110 // 104 expected: 6 records lost
        let gap = decoder.decode(p.bytes, at: Self.t0).0
        #expect(gap.estimatedLostRecords == 6)
        #expect(!gap.sequenceReset)
        p.sequence = 50 // backwards: restart, not loss
        let back = decoder.decode(p.bytes, at: Self.t0).0
        #expect(back.sequenceReset)
        #expect(back.estimatedLostRecords == 0)
        p.sequence = 52
        #expect(decoder.decode(p.bytes, at: Self.t0).0.estimatedLostRecords == 0, "tracking resumes after the reset")
        // Wrap-around modulo 2^32 is not a gap.
        p.sequence = UInt32.max - 1
        _ = decoder.decode(p.bytes, at: Self.t0)
        p.sequence = 0
        let wrapped = decoder.decode(p.bytes, at: Self.t0).0
        #expect(wrapped.estimatedLostRecords == 0)
        #expect(!wrapped.sequenceReset)
    }

    @Test func ipfixSequenceGapsCountRecords() {
        var decoder = FlowDecoder()
        _ = decoder.decode(Self.templateMessage(sequence: 0), from: Self.exporter, at: Self.t0)
        let three = (0..<3).map { Self.record($0) }
        #expect(decoder.decode(Self.dataMessage(records: three, sequence: 0), at: Self.t0).0.estimatedLostRecords == 0)
        #expect(decoder.decode(Self.dataMessage(records: three, sequence: 3), at: Self.t0).0.estimatedLostRecords == 0)
        let gap = decoder.decode(Self.dataMessage(records: three, sequence: 20), at: Self.t0).0 // 6 expected
        #expect(gap.estimatedLostRecords == 14)
        let back = decoder.decode(Self.dataMessage(records: three, sequence: 5), at: Self.t0).0
        #expect(back.sequenceReset)
        #expect(back.estimatedLostRecords == 0)
        #expect(decoder.decode(Self.dataMessage(records: three, sequence: 8), at: Self.t0).0.estimatedLostRecords == 0)
    }

    @Test func netflowV9SequenceGapsCountDatagramsTimesAverage() {
        var decoder = FlowDecoder()
        var tpl = NetFlowV9PacketBuilder(sequence: 0)
        tpl.template(id: 256, fields: StandardTemplate.ipv4)
        _ = decoder.decode(tpl.bytes, at: Self.t0)
        func data(_ seq: UInt32) -> [UInt8] {
            var p = NetFlowV9PacketBuilder(sequence: seq)
            p.data(templateID: 256, records: (0..<5).map { StandardTemplate.encode(Self.record($0)) })
            return p.bytes
        }
        #expect(decoder.decode(data(1), at: Self.t0).0.estimatedLostRecords == 0)
        #expect(decoder.decode(data(2), at: Self.t0).0.estimatedLostRecords == 0)
        let gap = decoder.decode(data(5), at: Self.t0).0 // 3 expected: datagrams 3 and 4 lost, 5 records each
        #expect(gap.estimatedLostRecords == 10)
        let back = decoder.decode(data(1), at: Self.t0).0
        #expect(back.sequenceReset)
        #expect(back.estimatedLostRecords == 0)
    }

    @Test func implausibleJumpIsARestart() {
        var config = FlowDecoder.Configuration()
        config.maxPlausibleSequenceGap = 1000
        var decoder = FlowDecoder(configuration: config)
        var p = NetFlowV5PacketBuilder()
        p.records = [FlowRecord()]
        p.sequence = 10
        _ = decoder.decode(p.bytes, at: Self.t0)
        p.sequence = 5000
        let jump = decoder.decode(p.bytes, at: Self.t0).0
        #expect(jump.sequenceReset)
        #expect(jump.estimatedLostRecords == 0)
    }
}
