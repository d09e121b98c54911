import FlowCodec
import FlowFiles
import Foundation
import MamoriCore
import MamoriTesting
import NIOCore
import Testing

/// Hostile and damaged input: the decoder must never trap or hang, must bound its memory, must
/// report the right kind of error, and must keep decoding good datagrams in the same stream.
///
/// Random inputs come from `SplitMix64` with fixed seeds; a failure message names the seed and
/// iteration. Inputs that once crashed the decoder are kept under `Fixtures/regressions/` and
/// replayed by ``regressionsReplay()``.
@Suite(.timeLimit(.minutes(2)))
struct RobustnessTests {
    static let exporter = IPAddress("192.0.2.1")!
    static let hostile = IPAddress("198.51.100.66")!
    static let t0: Int64 = 1_700_000_000_000

    /// Every fixture, decoded through one decoder per capture (templates learned as they come).
    struct Capture {
        var name: String
        var frames: [FixtureLoader.DecodedFrame]
        /// Decoder state after the whole capture (every template known).
        var primed: FlowDecoder
    }

    static func captures() throws -> [Capture] {
        try Fixtures.allFlowPcaps.map { name in
            var decoder = FlowDecoder()
            let frames = FixtureLoader.replay(try Fixtures.datagrams(name), through: &decoder)
            return Capture(name: name, frames: frames, primed: decoder)
        }
    }

    static func units(_ r: DecodeReport) -> Int {
        r.flowRecords + r.optionsRecords + r.templatesLearned + r.templatesWithdrawn + r.templateMisses
    }

    // MARK: - truncation

    /// Every proper prefix of every fixture datagram decodes without trapping, keeps only records
    /// the whole datagram has (in order), and either reports an error or decodes less.
    @Test func everyTruncatedPrefixIsHandled() throws {
        var prefixes = 0
        for capture in try Self.captures() {
            for f in capture.frames {
                let payload = f.datagram.payload
                // Reference: the whole datagram, decoded against the full template state.
                var reference = capture.primed
                var full: [FlowRecord] = []
                let fullReport = payload.withUnsafeBytes {
                    reference.decode(
                        $0, from: f.datagram.sourceAddress, receivedAtMilliseconds: f.datagram.timestampMicroseconds / 1000, into: &full)
                }
                for n in 0..<payload.count {
                    var decoder = capture.primed
                    var records: [FlowRecord] = []
                    let report = payload[0..<n].withUnsafeBytes {
                        decoder.decode(
                            $0, from: f.datagram.sourceAddress, receivedAtMilliseconds: f.datagram.timestampMicroseconds / 1000,
                            into: &records)
                    }
                    prefixes += 1
                    let ctx = "\(capture.name) frame \(f.frame) prefix \(n)/\(payload.count)"
                    #expect(records.count == report.flowRecords, "\(ctx)")
                    #expect(records.count <= full.count, "\(ctx)")
                    if records != Array(full.prefix(records.count)) {
                        Issue.record("\(ctx): truncated decode produced records the full datagram does not have")
                    }
                    let paddingOnly = payload[n...].allSatisfy { $0 == 0 }
                    if report.error == nil && !paddingOnly {
                        #expect(Self.units(report) < Self.units(fullReport) || fullReport.error != nil, "\(ctx): no error and nothing lost")
                    }
                    if n < 4 { #expect(report.error == FlowDecodingError(.truncated), "\(ctx)") }
                }
            }
        }
        #expect(prefixes > 50_000)
    }

    // MARK: - random input

    /// Seeded random datagrams with a plausible version field (v5, v9, IPFIX; sFlow is the sFlow
    /// suite's business) and random lengths, through one long-lived decoder primed with real templates.
    @Test("seeded random bytes", arguments: [1 as UInt64, 2, 3, 4])
    func randomBytesNeverTrap(seed: UInt64) throws {
        var g = SplitMix64(seed: seed)
        var decoder = FlowDecoder()
        // Prime with real templates so random set IDs sometimes hit a known template.
        for name in ["netflow-vendors/pcap/nf9_cisco_asa_2.pcap", "netflow-vendors/pcap/ipfix_netscaler.pcap", "scapy/netflowv9.pcap"] {
            for d in try Fixtures.datagrams(name) { _ = decoder.decode(d.payload, from: Self.exporter, at: Self.t0) }
        }
        for i in 0..<5000 {
            let length = Int(g.next() % 1500)
            var bytes = g.bytes(length)
            if length >= 2 && g.next() % 8 != 0 {
                let version: [UInt16] = [5, 9, 10]
                let v = version[Int(g.next() % 3)]
                bytes[0] = UInt8(v >> 8)
                bytes[1] = UInt8(v & 0xFF)
                if v == 10 && length >= 4 && g.next() % 2 == 0 {
                    bytes[2] = UInt8(length >> 8)
                    bytes[3] = UInt8(length & 0xFF)
                }
                // Point set IDs at known templates now and then.
                if length >= 24 && g.next() % 2 == 0 {
                    let at = v == 10 ? 16 : 20
                    let ids: [UInt16] = [0, 1, 2, 3, 256, 260, 263, 280, 424]
                    let id = ids[Int(g.next() % UInt64(ids.count))]
                    bytes[at] = UInt8(id >> 8)
                    bytes[at + 1] = UInt8(id & 0xFF)
                }
            }
            if bytes.count >= 4 && bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 0 && bytes[3] == 5 { bytes[3] = 6 }
            let (report, records) = decoder.decode(bytes, from: Self.hostile, at: Self.t0 + Int64(i))
            #expect(records.count == report.flowRecords, "seed \(seed) iteration \(i)")
        }
        #expect(decoder.templates.count <= decoder.configuration.maxTemplatesPerSession * 4)
    }

    enum Mutation: CaseIterable { case bitFlip, byteSet, lengthField, insert, delete, truncateAndExtend }

    static func mutate(_ input: [UInt8], using g: inout SplitMix64) -> [UInt8] {
        var b = input
        let rounds = 1 + Int(g.next() % 4)
        for _ in 0..<rounds {
            guard !b.isEmpty else { return g.bytes(Int(g.next() % 64)) }
            let at = Int(g.next() % UInt64(b.count))
            switch Mutation.allCases[Int(g.next() % UInt64(Mutation.allCases.count))] {
            case .bitFlip:
                b[at] ^= UInt8(1) << UInt8(g.next() % 8)
            case .byteSet:
                b[at] = [0x00, 0xFF, 0x7F, 0x80, 0x01][Int(g.next() % 5)]
            case .lengthField:
                // Length / count fields sit on 2-byte boundaries; choose hostile values.
                let even = at & ~1
                if even + 1 < b.count {
                    let v: UInt16 = [
                        0, 1, 3, 4, 5, 0xFFFF, 0x8000, UInt16(b.count), UInt16(b.count + 1), UInt16(truncatingIfNeeded: g.next()),
                    ][Int(g.next() % 10)]
                    b[even] = UInt8(v >> 8)
                    b[even + 1] = UInt8(v & 0xFF)
                }
            case .insert:
                b.insert(contentsOf: g.bytes(1 + Int(g.next() % 8)), at: at)
            case .delete:
                b.removeSubrange(at..<min(b.count, at + 1 + Int(g.next() % 8)))
            case .truncateAndExtend:
                b = Array(b[0..<at]) + g.bytes(Int(g.next() % 32))
            }
        }
        return b
    }

    /// Seeded mutations of every fixture datagram, from a hostile exporter, interleaved with the
    /// good capture from the real exporter through the same decoder: the good stream must still
    /// decode exactly as it does alone.
    @Test func mutatedFixturesNeverTrapAndGoodStreamSurvives() throws {
        var g = SplitMix64(seed: 0x5EED)
        var total = 0
        for capture in try Self.captures() {
            var decoder = FlowDecoder()
            for f in capture.frames {
                for k in 0..<25 {
                    let mutated = Self.mutate(f.datagram.payload, using: &g)
                    // Half from the hostile address, half from the real exporter's address but
                    // another source ID / domain is not guaranteed: keep the real exporter's
                    // session clean by sending those only from `hostile`.
                    let (report, records) = decoder.decode(mutated, from: Self.hostile, at: f.datagram.timestampMicroseconds / 1000)
                    #expect(records.count == report.flowRecords, "\(capture.name) frame \(f.frame) mutation \(k)")
                    total += 1
                }
                var records: [FlowRecord] = []
                let report = decoder.decode(
                    ByteBuffer(bytes: f.datagram.payload), from: f.datagram.sourceAddress,
                    receivedAtMilliseconds: f.datagram.timestampMicroseconds / 1000, into: &records)
                #expect(records == f.records, "\(capture.name) frame \(f.frame): good datagram decodes differently after hostile input")
                #expect(report.error == f.report.error, "\(capture.name) frame \(f.frame)")
            }
        }
        #expect(total > 5000)
    }

    /// Mutations fed into the real exporter's own session: no trap, and bounded templates.
    @Test func mutatedFixturesInOwnSession() throws {
        var g = SplitMix64(seed: 42)
        for capture in try Self.captures() {
            var decoder = capture.primed
            for f in capture.frames {
                for _ in 0..<10 {
                    let mutated = Self.mutate(f.datagram.payload, using: &g)
                    let (report, records) = decoder.decode(
                        mutated, from: f.datagram.sourceAddress, at: f.datagram.timestampMicroseconds / 1000)
                    #expect(records.count == report.flowRecords)
                }
            }
            #expect(decoder.templates.count <= decoder.configuration.maxTemplatesPerSession * 8)
        }
    }

    // MARK: - hand-built hostile cases

    @Test func templateClaiming65535Fields() {
        var decoder = FlowDecoder()
        var w = ByteWriter()
        w.u16(256)
        w.u16(0xFFFF)
        w.u16(8)
        w.u16(4)
        var m = IPFIXMessageBuilder()
        m.rawSet(id: 2, body: w.bytes)
        #expect(decoder.decode(m.bytes(), at: Self.t0).0.error == FlowDecodingError(.templateTooLarge))
        var p = NetFlowV9PacketBuilder()
        p.flowset(id: 0, body: w.bytes)
        #expect(decoder.decode(p.bytes, at: Self.t0).0.error == FlowDecodingError(.templateTooLarge))
        // v9 options template whose option length claims 65532 bytes (16383 fields).
        var o = ByteWriter()
        o.u16(257)
        o.u16(4)
        o.u16(0xFFFC)
        o.u16(1)
        o.u16(4)
        var po = NetFlowV9PacketBuilder()
        po.flowset(id: 1, body: o.bytes)
        #expect(decoder.decode(po.bytes, at: Self.t0).0.error == FlowDecodingError(.templateTooLarge))
        // Just over the configured limit, every field present.
        let fields = (0..<513).map { _ in FieldSpecifier(id: 210, length: 1) }
        var big = IPFIXMessageBuilder()
        big.template(id: 256, fields: fields)
        #expect(decoder.decode(big.bytes(), at: Self.t0).0.error == FlowDecodingError(.templateTooLarge))
        #expect(decoder.templates.count == 0)
        // At the limit it is accepted.
        var ok = IPFIXMessageBuilder()
        ok.template(id: 256, fields: Array(fields.prefix(512)))
        #expect(decoder.decode(ok.bytes(), at: Self.t0).0.error == nil)
        #expect(decoder.templates.count == 1)
    }

    @Test func zeroLengthRecordsAreRefused() {
        var decoder = FlowDecoder()
        var m = IPFIXMessageBuilder()
        m.template(id: 256, fields: [.init(id: 8, length: 0), .init(id: 12, length: 0)])
        #expect(decoder.decode(m.bytes(), at: Self.t0).0.error == FlowDecodingError(.badTemplate))
        var p = NetFlowV9PacketBuilder()
        p.template(id: 256, fields: [.init(id: 1, length: 0)])
        #expect(decoder.decode(p.bytes, at: Self.t0).0.error == FlowDecodingError(.badTemplate))
        // v9 options template with only a zero-length scope (Juniper SRX sends this *with* options
        // fields, which is fine) and no options: zero-length records.
        var o = ByteWriter()
        o.u16(257)
        o.u16(4)
        o.u16(0)
        o.u16(1)
        o.u16(0)
        var po = NetFlowV9PacketBuilder()
        po.flowset(id: 1, body: o.bytes)
        #expect(decoder.decode(po.bytes, at: Self.t0).0.error == FlowDecodingError(.badTemplate))
        #expect(decoder.templates.count == 0)
        // Data for a refused template is a miss, not an endless loop over zero-length records.
        var d = IPFIXMessageBuilder()
        d.rawSet(id: 256, body: [UInt8](repeating: 0, count: 1000))
        #expect(decoder.decode(d.bytes(), at: Self.t0).0.templateMisses == 1)
        // A template mixing zero-length and real fields is usable (nf9_0length_fields does this).
        var mixed = IPFIXMessageBuilder()
        mixed.template(id: 258, fields: [.init(id: 1, length: 0), .init(id: 8, length: 4)])
        #expect(decoder.decode(mixed.bytes(), at: Self.t0).0.error == nil)
    }

    @Test func setLengthPastTheEnd() {
        var decoder = FlowDecoder()
        _ = decoder.decode(TemplateTests.templateMessage(), at: Self.t0)
        var m = IPFIXMessageBuilder()
        m.rawSet(id: 256, body: StandardTemplate.encode(TemplateTests.record(1)), lengthOverride: 2000)
        let (report, records) = decoder.decode(m.bytes(), at: Self.t0)
        #expect(report.error == FlowDecodingError(.truncated))
        #expect(records.isEmpty)
        // Set length below the set header (non-zero bytes follow).
        var short = IPFIXMessageBuilder()
        short.rawSet(id: 256, body: [1, 2, 3, 4], lengthOverride: 2)
        #expect(decoder.decode(short.bytes(), at: Self.t0).0.error == FlowDecodingError(.badSet))
        // v9: same.
        var p = NetFlowV9PacketBuilder()
        p.flowset(id: 0, body: [1, 0, 0, 1, 0, 8, 0, 4])
        var bytes = p.bytes
        bytes[22] = 0x40 // flowset length 0x40xx
        #expect(decoder.decode(bytes, at: Self.t0).0.error == FlowDecodingError(.truncated))
        // Reserved set IDs are skipped and reported.
        var reserved = IPFIXMessageBuilder()
        reserved.rawSet(id: 7, body: [1, 2, 3, 4])
        reserved.data(templateID: 256, records: [StandardTemplate.encode(TemplateTests.record(2))])
        let (r2, recs2) = decoder.decode(reserved.bytes(), at: Self.t0)
        #expect(r2.error == FlowDecodingError(.badSet))
        #expect(recs2.count == 1, "sets after a reserved set are still decoded")
    }

    @Test func ipfixMessageLengthBelowHeader() {
        var decoder = FlowDecoder()
        for length in [0, 1, 15] as [UInt16] {
            let m = IPFIXMessageBuilder()
            #expect(
                decoder.decode(m.bytes(lengthOverride: length), at: Self.t0).0.error == FlowDecodingError(.badLength), "length \(length)")
        }
        // Longer than the datagram.
        var m = IPFIXMessageBuilder()
        m.rawSet(id: 256, body: [0, 0, 0, 0])
        #expect(decoder.decode(m.bytes(lengthOverride: 400), at: Self.t0).0.error == FlowDecodingError(.truncated))
        // Shorter than the IPFIX header altogether.
        #expect(decoder.decode([0, 10, 0, 16, 0, 0], at: Self.t0).0.error == FlowDecodingError(.truncated))
        #expect(decoder.decode([0, 9, 0, 1], at: Self.t0).0.error == FlowDecodingError(.truncated))
        #expect(decoder.decode([0, 5, 0, 1, 0, 0], at: Self.t0).0.error == FlowDecodingError(.truncated))
        #expect(decoder.decode([0, 42, 0, 0], at: Self.t0).0.error == FlowDecodingError(.unsupportedVersion))
        #expect(decoder.decode([], at: Self.t0).0.error == FlowDecodingError(.truncated))
    }

    @Test func variableLengthFieldPastTheEnd() {
        var decoder = FlowDecoder()
        var t = IPFIXMessageBuilder()
        t.template(
            id: 256, fields: [.init(id: 8, length: 4), .init(id: 82, length: FieldSpecifier.variableLength), .init(id: 1, length: 4)])
        #expect(decoder.decode(t.bytes(), at: Self.t0).0.error == nil)
        var good = ByteWriter()
        good.address(.v4(0x0A00_0001))
        good.variable(Array("eth0".utf8))
        good.u32(99)
        var long = ByteWriter()
        long.address(.v4(0x0A00_0002))
        long.variable([UInt8](repeating: 0x41, count: 300))
        long.u32(7)
        var bad = ByteWriter()
        bad.address(.v4(0x0A00_0003))
        bad.u8(200)
        bad.raw([1, 2, 3, 4, 5])
        var bad3 = ByteWriter()
        bad3.address(.v4(0x0A00_0004))
        bad3.u8(255)
        bad3.u16(60000)
        bad3.raw([1, 2, 3])
        var m = IPFIXMessageBuilder()
        m.data(templateID: 256, records: [good.bytes, long.bytes, bad.bytes])
        let (report, records) = decoder.decode(m.bytes(), at: Self.t0)
        #expect(report.error == FlowDecodingError(.badRecord))
        #expect(records.map(\.sourceAddress) == [.v4(0x0A00_0001), .v4(0x0A00_0002)], "records before the bad one are kept")
        #expect(records.map(\.bytes) == [99, 7])
        var m3 = IPFIXMessageBuilder()
        m3.data(templateID: 256, records: [bad3.bytes])
        #expect(decoder.decode(m3.bytes(), at: Self.t0).0.error == FlowDecodingError(.badRecord))
    }

    @Test func dataBeforeTemplateAndRedefinitionMidStream() {
        var decoder = FlowDecoder()
        let r = TemplateTests.record(9)
        var m = IPFIXMessageBuilder()
        m.data(templateID: 256, records: [StandardTemplate.encode(r)])
        m.template(id: 256, fields: StandardTemplate.ipv4)
        m.data(templateID: 256, records: [StandardTemplate.encode(r)])
        // Redefined in the same message: 4-byte source address only.
        m.template(id: 256, fields: [.init(id: 8, length: 4)])
        m.data(templateID: 256, records: [[10, 0, 0, 1], [10, 0, 0, 2]])
        let (report, records) = decoder.decode(m.bytes(), at: Self.t0)
        #expect(report.templateMisses == 1)
        #expect(report.templatesLearned == 2)
        #expect(report.error == nil)
        #expect(records.count == 3)
        #expect(records.first == TemplateTests.expected(r))
        #expect(records.dropFirst().map(\.sourceAddress) == [.v4(0x0A00_0001), .v4(0x0A00_0002)])
    }

    @Test func thousandsOfTemplateIDsFromOneExporterAreBounded() {
        var config = FlowDecoder.Configuration()
        config.maxTemplatesPerSession = 256
        var decoder = FlowDecoder(configuration: config)
        var refused = 0
        for batch in 0..<50 {
            var m = IPFIXMessageBuilder(sequence: UInt32(batch))
            for k in 0..<100 {
                m.template(id: UInt16(256 + batch * 100 + k), fields: [.init(id: 8, length: 4), .init(id: UInt16(k % 400), length: 2)])
            }
            let (report, _) = decoder.decode(m.bytes(), from: Self.hostile, at: Self.t0)
            if report.error == FlowDecodingError(.tooManyTemplates) { refused += 1 }
        }
        #expect(decoder.templates.count == 256)
        #expect(refused > 0)
        // A well-behaved exporter is unaffected.
        _ = decoder.decode(TemplateTests.templateMessage(), from: Self.exporter, at: Self.t0)
        let r = TemplateTests.record(1)
        #expect(decoder.decode(TemplateTests.dataMessage(records: [r]), from: Self.exporter, at: Self.t0).1 == [TemplateTests.expected(r)])
    }

    /// Many exporters (or one spoofing many source addresses): state must stay bounded by
    /// `maxSessions`. Sessions are evicted least-recently-seen first, and their templates should go
    /// with them: templates held must not exceed maxSessions × maxTemplatesPerSession.
    @Test func manyExportersAreBoundedByMaxSessions() {
        var config = FlowDecoder.Configuration()
        config.maxSessions = 50
        config.maxTemplatesPerSession = 2
        var decoder = FlowDecoder(configuration: config)
        for i in 0..<2000 {
            let spoofed = IPAddress.v4(0x0A00_0000 + UInt32(i))
            _ = decoder.decode(TemplateTests.templateMessage(), from: spoofed, at: Self.t0 + Int64(i))
            _ = decoder.decode(TemplateTests.dataMessage(records: [TemplateTests.record(i)]), from: spoofed, at: Self.t0 + Int64(i))
        }
        #expect(
            decoder.templates.count <= config.maxSessions * config.maxTemplatesPerSession,
            "\(decoder.templates.count) templates held for at most \(config.maxSessions) sessions")
        // The most recent exporter still decodes.
        let last = IPAddress.v4(0x0A00_0000 + 1999)
        #expect(
            decoder.decode(TemplateTests.dataMessage(records: [TemplateTests.record(1)]), from: last, at: Self.t0 + 3000).0.flowRecords == 1
        )
    }

    @Test func netflowV5HeaderCountDisagreements() {
        var decoder = FlowDecoder()
        var p = NetFlowV5PacketBuilder()
        p.records = (0..<3).map { _ in FlowRecord(bytes: 1, packets: 1) }
        var bytes = p.bytes
        bytes[3] = 200 // count 200, 3 present
        let (report, records) = decoder.decode(bytes, at: Self.t0)
        #expect(report.error == FlowDecodingError(.badLength))
        #expect(records.count == 3)
        bytes[3] = 1 // count 1, 3 present: only the announced one
        let (r1, recs1) = decoder.decode(bytes, at: Self.t0)
        #expect(r1.error == FlowDecodingError(.badLength))
        #expect(recs1.count == 1)
        // Half a record.
        let (r2, recs2) = decoder.decode(Array(p.bytes.prefix(24 + 48 + 20)), at: Self.t0)
        #expect(r2.error == FlowDecodingError(.badLength))
        #expect(recs2.count == 1)
    }

    // MARK: - kept crashers

    /// Inputs that once made the decoder trap, replayed from `Fixtures/regressions/*.bin`
    /// (one datagram per file, decoded through a fresh decoder primed by nothing).
    @Test func regressionsReplay() throws {
        let dir = Fixtures.root.appendingPathComponent("regressions")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".bin") }.sorted()
        for name in names {
            var decoder = FlowDecoder()
            let bytes = try FixtureLoader.bytes(at: dir.appendingPathComponent(name).path)
            let (report, records) = decoder.decode(bytes, from: Self.hostile, at: Self.t0)
            #expect(records.count == report.flowRecords, "\(name)")
        }
    }
}
