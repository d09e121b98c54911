import FlowFiles
import Foundation
import MamoriCore
import NIOCore
import Testing

@testable import FlowCodec

/// sFlow v5 decoding, checked against tcpdump's own expected output (`.out`) and tshark JSON
/// for the tcpdump test captures, plus inline datagrams for edge cases and robustness.
@Suite struct SFlowTests {
    // MARK: Fixture decodes

    @Test func sampleCountsMatchTcpdumpPerDatagram() throws {
        for name in ["sflow-print-v6", "sflow_expanded", "sflow_multiple_counter_30_pdus"] {
            let pcap = try SFlowFixture.pcap("\(name).pcap")
            let frames = try SFlowFixture.tcpdumpFrames("\(name).out")
            #expect(pcap.skippedFrames == 0, "\(name)")
            #expect(pcap.datagrams.count == frames.count, "\(name)")
            var decoder = FlowDecoder()
            var totalFlow = 0
            var totalCounter = 0
            for (datagram, frame) in zip(pcap.datagrams, frames) {
                var records: [FlowRecord] = []
                let report = decoder.decode(
                    ByteBuffer(bytes: datagram.payload), from: datagram.sourceAddress,
                    receivedAtMilliseconds: datagram.timestampMicroseconds / 1000, into: &records)
                if frame.unsupportedSFlowVersion { continue } // not sFlow: see nonSFlowDatagramsAreNetFlowV5
                #expect(report.exportProtocol == .sflowV5, "\(name) frame \(frame.number)")
                #expect(report.error == nil, "\(name) frame \(frame.number): \(String(describing: report.error))")
                #expect(report.flowRecords == frame.flowSamples.count, "\(name) frame \(frame.number)")
                #expect(records.count == frame.flowSamples.count, "\(name) frame \(frame.number)")
                #expect(report.counterSamples == frame.counterSamples, "\(name) frame \(frame.number)")
                #expect(frame.agentID.map { UInt32($0) } == report.observationDomain, "\(name) frame \(frame.number)")
                for r in records {
                    #expect(r.exportProtocol == .sflowV5)
                    #expect(r.observationDomain == report.observationDomain)
                    #expect(r.exporter == datagram.sourceAddress)
                    #expect(r.startMilliseconds == datagram.timestampMicroseconds / 1000)
                    #expect(r.endMilliseconds == r.startMilliseconds)
                }
                totalFlow += report.flowRecords
                totalCounter += report.counterSamples
            }
            #expect(totalFlow == frames.reduce(0) { $0 + $1.flowSamples.count }, "\(name)")
            #expect(totalCounter == frames.reduce(0) { $0 + $1.counterSamples }, "\(name)")
        }
    }

    /// The README totals, which tshark agrees with for these two files.
    @Test func sampleTotalsMatchTshark() throws {
        for (name, flows, counters) in [("sflow-print-v6", 13, 48), ("sflow_expanded", 1, 0)] {
            let pcap = try SFlowFixture.pcap("\(name).pcap")
            let tshark = try SFlowFixture.tsharkFrames("\(name).tshark.json")
            var decoder = FlowDecoder()
            var records: [FlowRecord] = []
            var counterSamples = 0
            for d in pcap.datagrams {
                counterSamples +=
                    decoder.decode(ByteBuffer(bytes: d.payload), from: d.sourceAddress, receivedAtMilliseconds: 0, into: &records)
                    .counterSamples
            }
            #expect(records.count == tshark.reduce(0) { $0 + $1.flowSamples.count })
            #expect(counterSamples == tshark.reduce(0) { $0 + $1.counterSamples })
            #expect(records.count == flows)
            #expect(counterSamples == counters)
        }
    }

    @Test func flowSampleFieldsMatchTcpdumpAndTshark() throws {
        var checked = 0
        for name in ["sflow-print-v6", "sflow_expanded"] {
            let pcap = try SFlowFixture.pcap("\(name).pcap")
            let tcpdump = try SFlowFixture.tcpdumpFrames("\(name).out")
            let tshark = try SFlowFixture.tsharkFrames("\(name).tshark.json")
            #expect(tshark.count == pcap.datagrams.count)
            var decoder = FlowDecoder()
            for (i, datagram) in pcap.datagrams.enumerated() {
                var records: [FlowRecord] = []
                _ = decoder.decode(
                    ByteBuffer(bytes: datagram.payload), from: datagram.sourceAddress, receivedAtMilliseconds: 0, into: &records)
                let byTcpdump = tcpdump[i].flowSamples
                // tshark's JSON object loses sample order; samples of one source come in sequence order.
                let byTshark = tshark[i].flowSamples.sorted { $0.sequence < $1.sequence }
                #expect(records.count == byTcpdump.count && records.count == byTshark.count, "\(name) frame \(i + 1)")
                guard records.count == byTcpdump.count, records.count == byTshark.count else { continue }
                for (k, r) in records.enumerated() {
                    let t = byTcpdump[k]
                    let w = byTshark[k]
                    let context = "\(name) frame \(i + 1) sample \(k + 1)"
                    // tcpdump
                    #expect(r.samplingInterval == t.rate, "\(context)")
                    #expect(r.packets == UInt64(t.rate), "\(context)")
                    #expect(r.bytes == t.frameLength * UInt64(t.rate), "\(context)")
                    #expect(r.inputInterface == t.input, "\(context)")
                    #expect(r.outputInterface == t.output, "\(context)")
                    // tshark
                    #expect(r.samplingInterval == w.rate, "\(context)")
                    #expect(r.bytes == w.frameLength * UInt64(w.rate), "\(context)")
                    #expect(r.inputInterface == w.input, "\(context)")
                    #expect(r.outputInterface == w.output, "\(context)")
                    #expect(r.sourceAddress == w.source, "\(context)")
                    #expect(r.destinationAddress == w.destination, "\(context)")
                    #expect(r.ipProtocol == w.ipProtocol, "\(context)")
                    #expect(r.sourcePort == w.sourcePort, "\(context)")
                    #expect(r.destinationPort == w.destinationPort, "\(context)")
                    #expect(r.tcpFlags == w.tcpFlags, "\(context)")
                    #expect(r.typeOfService == w.typeOfService, "\(context)")
                    #expect(r.sourceAS == w.sourceAS, "\(context)")
                    #expect(r.destinationAS == w.destinationAS, "\(context)")
                    checked += 1
                }
            }
        }
        #expect(checked == 14)
    }

    /// tcpdump reports 5 datagrams of this capture as "sFlow version 327681/327682 packet not
    /// supported". They are NetFlow v5 sent to port 6343 (first 16 bits = 5); the top-level
    /// dispatcher decodes them as NetFlow v5, matching tshark's NetFlow decode of them.
    @Test func nonSFlowDatagramsAreNetFlowV5() throws {
        let pcap = try SFlowFixture.pcap("sflow_multiple_counter_30_pdus.pcap")
        let frames = try SFlowFixture.tcpdumpFrames("sflow_multiple_counter_30_pdus.out")
        let expected = try SFlowFixture.netflowV5Rows("sflow_multiple_counter_30_pdus.netflow-v5.tsv")
        let unsupported = frames.filter(\.unsupportedSFlowVersion).map(\.number)
        #expect(unsupported == [13, 19, 20, 21, 22])
        #expect(unsupported == expected.map(\.frame))
        var decoder = FlowDecoder()
        for row in expected {
            let d = pcap.datagrams[row.frame - 1]
            #expect(d.payload.prefix(4) != [0, 0, 0, 5], "frame \(row.frame) is not sFlow v5")
            var records: [FlowRecord] = []
            let report = decoder.decode(
                ByteBuffer(bytes: d.payload), from: d.sourceAddress, receivedAtMilliseconds: d.timestampMicroseconds / 1000, into: &records)
            #expect(report.exportProtocol == .netflowV5, "frame \(row.frame)")
            #expect(report.error == nil, "frame \(row.frame)")
            #expect(records.count == row.records.count, "frame \(row.frame)")
            for (r, e) in zip(records, row.records) {
                #expect(r.sourceAddress == e.source)
                #expect(r.destinationAddress == e.destination)
                #expect(r.sourcePort == e.sourcePort)
                #expect(r.destinationPort == e.destinationPort)
                #expect(r.ipProtocol == e.ipProtocol)
                #expect(r.packets == e.packets)
                #expect(r.bytes == e.bytes)
            }
        }
        // Fed to the sFlow decoder directly (as a port-based dispatcher would), they are refused.
        for row in expected {
            var records: [FlowRecord] = []
            var report = DecodeReport()
            var decoder = FlowDecoder()
            pcap.datagrams[row.frame - 1].payload.withUnsafeBytes { bytes in
                decoder.decodeSFlow(bytes, exporter: .v4(1), now: 0, into: &records, report: &report)
            }
            #expect(report.error != nil)
            #expect(records.isEmpty)
        }
    }

    @Test func segvRegressionIsAnErrorNotACrash() throws {
        let pcap = try SFlowFixture.pcap("sflow_print-segv.pcap")
        let out = try SFlowFixture.text("sflow_print-segv.out")
        #expect(out.contains("(invalid)"))
        #expect(pcap.datagrams.count == 1)
        var decoder = FlowDecoder()
        var records: [FlowRecord] = []
        let d = pcap.datagrams[0]
        let report = decoder.decode(ByteBuffer(bytes: d.payload), from: d.sourceAddress, receivedAtMilliseconds: 0, into: &records)
        #expect(report.exportProtocol == .sflowV5)
        #expect(report.error == FlowDecodingError(.truncated))
        #expect(records.isEmpty)
    }

    // MARK: Robustness

    @Test func everyTruncatedPrefixIsAnErrorAndNeverTraps() throws {
        let datagrams = try SFlowFixture.sflowDatagrams()
        #expect(datagrams.count == 52)
        for payload in datagrams {
            var full: [FlowRecord] = []
            var fullDecoder = FlowDecoder()
            _ = fullDecoder.decode(ByteBuffer(bytes: payload), from: .v4(1), receivedAtMilliseconds: 0, into: &full)
            for length in 0..<payload.count {
                var decoder = FlowDecoder()
                var records: [FlowRecord] = []
                let report = decoder.decode(
                    ByteBuffer(bytes: payload.prefix(length)), from: .v4(1), receivedAtMilliseconds: 0, into: &records)
                #expect(report.error != nil, "prefix \(length) of \(payload.count)")
                #expect(records.count == report.flowRecords)
                #expect(records.count <= full.count)
            }
        }
    }

    @Test func seededRandomMutationsNeverTrap() throws {
        let datagrams = try SFlowFixture.sflowDatagrams().filter { $0.count > 8 }
        var rng = SplitMix64(seed: 0x5F10_5EED)
        var decoder = FlowDecoder()
        var totalRecords = 0
        for iteration in 0..<2000 {
            var payload = datagrams[Int(rng.next() % UInt64(datagrams.count))]
            switch iteration % 4 {
            case 0: // flip random bytes
                for _ in 0..<(1 + rng.next() % 8) {
                    payload[Int(rng.next() % UInt64(payload.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            case 1: // overwrite an aligned word with an extreme value (lengths, counts, types)
                let extremes: [UInt32] = [0, 1, 3, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFC, UInt32(payload.count)]
                for _ in 0..<(1 + rng.next() % 3) {
                    let at = Int(rng.next() % UInt64(payload.count / 4)) * 4
                    let v = extremes[Int(rng.next() % UInt64(extremes.count))]
                    for b in 0..<4 { payload[at + b] = UInt8(truncatingIfNeeded: v >> UInt32(24 - 8 * b)) }
                }
            case 2: // truncate and flip
                payload = Array(payload.prefix(Int(rng.next() % UInt64(payload.count))))
                if !payload.isEmpty { payload[Int(rng.next() % UInt64(payload.count))] ^= 0xFF }
            default: // random tail after a valid sFlow prefix
                let keep = Int(rng.next() % UInt64(payload.count))
                payload = Array(payload.prefix(keep)) + (0..<Int(rng.next() % 512)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            var records: [FlowRecord] = []
            let report = decoder.decode(
                ByteBuffer(bytes: payload), from: .v4(UInt32(truncatingIfNeeded: rng.next() % 4)), receivedAtMilliseconds: Int64(iteration),
                into: &records)
            #expect(records.count == report.flowRecords)
            if report.exportProtocol == .sflowV5 { #expect(records.count <= payload.count / 40) }
            totalRecords += records.count
        }
        #expect(totalRecords > 0)
    }

    // MARK: Inline datagrams

    @Test func sampledIPv4RecordWithoutHeader() {
        var sample = SFlowBuilder.flowSample(
            rate: 512, input: 3, output: 4,
            records: [
                SFlowBuilder.record(format: 1001, words: [10, 0, 20, 0]), // extended switch: ignored
                SFlowBuilder.sampledIPv4(
                    length: 1500, protocol: 17, source: 0x0A00_0001, destination: 0xC000_0201, sourcePort: 5353, destinationPort: 53,
                    tos: 0x20),
            ])
        sample = SFlowBuilder.sample(format: 1, body: sample)
        let (records, report) = decode(SFlowBuilder.datagram(subAgent: 7, sequence: 1, samples: [sample]))
        #expect(report.error == nil)
        #expect(report.observationDomain == 7)
        #expect(records.count == 1)
        let r = records[0]
        #expect(r.sourceAddress == IPAddress("10.0.0.1"))
        #expect(r.destinationAddress == IPAddress("192.0.2.1"))
        #expect(r.sourcePort == 5353 && r.destinationPort == 53 && r.ipProtocol == 17)
        #expect(r.typeOfService == 0x20)
        #expect(r.samplingInterval == 512 && r.packets == 512 && r.bytes == 1500 * 512)
        #expect(r.inputInterface == 3 && r.outputInterface == 4)
        #expect(r.observationDomain == 7)
    }

    @Test func ethernetVLANIPv6TCPHeaderAndInterfaceFormats() {
        var frame: [UInt8] = Array(repeating: 0xAA, count: 12) + [0x81, 0x00, 0x00, 0x0A, 0x86, 0xDD]
        frame += [0x6B, 0x80, 0, 0, 0, 20, 6, 64] // traffic class 0xB8, payload 20, next header TCP
        frame += IPAddress("2001:db8::1")!.bytes + IPAddress("2001:db8::2")!.bytes
        frame += [0x01, 0xBB, 0xC3, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x12] // 443 → 50000, SYN+ACK
        let header = SFlowBuilder.rawHeader(protocol: 1, frameLength: 78, header: frame)
        // Output format 1 (discarded) must not be taken as an ifIndex.
        let body = SFlowBuilder.flowSample(rate: 0, input: 0x0000_0011, output: 0x4000_0100, records: [header])
        var configuration = FlowDecoder.Configuration()
        configuration.samplingOverrides[.v4(9)] = 100
        let (records, _) = decode(
            SFlowBuilder.datagram(sequence: 1, samples: [SFlowBuilder.sample(format: 1, body: body)]), exporter: .v4(9),
            configuration: configuration)
        #expect(records.count == 1)
        guard let r = records.first else { return }
        #expect(r.sourceAddress == IPAddress("2001:db8::1") && r.destinationAddress == IPAddress("2001:db8::2"))
        #expect(r.sourcePort == 443 && r.destinationPort == 50000 && r.ipProtocol == 6 && r.tcpFlags == 0x12)
        #expect(r.typeOfService == 0xB8)
        #expect(r.inputInterface == 0x11 && r.outputInterface == 0)
        // Rate 0: the configured override applies.
        #expect(r.samplingInterval == 100 && r.packets == 100 && r.bytes == 7800)
        // Without an override, rate 0 counts as 1.
        let (plain, _) = decode(SFlowBuilder.datagram(sequence: 1, samples: [SFlowBuilder.sample(format: 1, body: body)]))
        #expect(plain.first?.samplingInterval == 1 && plain.first?.bytes == 78)
    }

    @Test func icmpAndRawIPv4HeaderHaveNoPorts() {
        let ip: [UInt8] = [0x45, 0x10, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 198, 51, 100, 7, 203, 0, 113, 9, 8, 0, 0, 0, 0, 1, 0, 1]
        let body = SFlowBuilder.flowSample(
            rate: 10, input: 1, output: 2, records: [SFlowBuilder.rawHeader(protocol: 11, frameLength: 28, header: ip)])
        let (records, _) = decode(SFlowBuilder.datagram(sequence: 1, samples: [SFlowBuilder.sample(format: 1, body: body)]))
        #expect(records.count == 1)
        #expect(records.first?.ipProtocol == 1 && records.first?.sourcePort == 0 && records.first?.destinationPort == 0)
        #expect(records.first?.sourceAddress == IPAddress("198.51.100.7") && records.first?.typeOfService == 0x10)
    }

    @Test func unknownAndEnterpriseFormatsAreSkippedAndCountersCounted() {
        let flow = SFlowBuilder.sample(
            format: 1,
            body: SFlowBuilder.flowSample(
                rate: 1, input: 1, output: 2,
                records: [
                    SFlowBuilder.record(format: 4321 << 12 | 1, words: [1, 2, 3]), // enterprise raw header: skipped
                    SFlowBuilder.record(format: 999, words: []),
                    SFlowBuilder.sampledIPv4(length: 60, protocol: 6, source: 1, destination: 2, sourcePort: 1, destinationPort: 2, tos: 0),
                ]))
        let samples = [
            SFlowBuilder.sample(format: 4321 << 12 | 1, words: [1, 2, 3, 4, 5, 6, 7, 8, 9]),
            SFlowBuilder.sample(format: 2, words: [1, 0]),
            SFlowBuilder.sample(format: 4, words: [1, 2, 0]),
            SFlowBuilder.sample(format: 77, words: []),
            flow,
        ]
        let (records, report) = decode(SFlowBuilder.datagram(sequence: 1, samples: samples))
        #expect(report.error == nil)
        #expect(report.counterSamples == 2)
        #expect(records.count == 1 && records.first?.bytes == 60)
    }

    @Test func malformedRecordStopsButKeepsEarlierSamples() {
        let good = SFlowBuilder.sample(
            format: 1,
            body: SFlowBuilder.flowSample(
                rate: 1, input: 1, output: 2,
                records: [
                    SFlowBuilder.sampledIPv4(length: 60, protocol: 6, source: 1, destination: 2, sourcePort: 1, destinationPort: 2, tos: 0)
                ]))
        // A record (the last two words: format 1, 1000 bytes) claiming 1000 bytes inside a short sample.
        let bad = SFlowBuilder.sample(format: 1, words: [1, 7, 1, 100, 0, 1, 2, 1, 1, 1000])
        let (records, report) = decode(SFlowBuilder.datagram(sequence: 1, samples: [good, bad, good]))
        #expect(records.count == 1)
        #expect(report.flowRecords == 1)
        #expect(report.error == FlowDecodingError(.badSample))
    }

    @Test func hugeSampleCountIsBoundedByTheBytesPresent() {
        let good = SFlowBuilder.sample(format: 2, words: [1, 0])
        var datagram = SFlowBuilder.datagram(sequence: 1, samples: [good])
        // Overwrite the sample count (word 6 for an IPv4 agent) with 2^32 - 1.
        for b in 24..<28 { datagram[b] = 0xFF }
        let (records, report) = decode(datagram)
        #expect(records.isEmpty)
        #expect(report.counterSamples == 1)
        #expect(report.error == FlowDecodingError(.truncated))
    }

    @Test func sequenceGapsEstimateLossAndBackwardsIsAReset() {
        var decoder = FlowDecoder()
        let two = [flowSampleBytes(), flowSampleBytes()]
        func feed(_ sequence: UInt32, subAgent: UInt32 = 0, samples: [[UInt8]]) -> DecodeReport {
            var records: [FlowRecord] = []
            return decoder.decode(
                ByteBuffer(bytes: SFlowBuilder.datagram(subAgent: subAgent, sequence: sequence, samples: samples)), from: .v4(1),
                receivedAtMilliseconds: 0, into: &records)
        }
        #expect(feed(10, samples: two).estimatedLostRecords == 0)
        #expect(feed(11, samples: two).estimatedLostRecords == 0)
        let gap = feed(14, samples: two) // 12 and 13 missing, 2 flow samples each
        #expect(gap.estimatedLostRecords == 4)
        #expect(!gap.sequenceReset)
        // Another sub-agent has its own sequence.
        #expect(feed(1, subAgent: 1, samples: two).estimatedLostRecords == 0)
        let back = feed(3, samples: two)
        #expect(back.sequenceReset)
        #expect(back.estimatedLostRecords == 0)
        #expect(feed(4, samples: two).estimatedLostRecords == 0)
    }

    @Test func agentTableIsBounded() {
        var configuration = FlowDecoder.Configuration()
        configuration.maxSessions = 16
        var decoder = FlowDecoder(configuration: configuration)
        for agent in 0..<1000 {
            var records: [FlowRecord] = []
            _ = decoder.decode(
                ByteBuffer(bytes: SFlowBuilder.datagram(subAgent: UInt32(agent), sequence: 1, samples: [])), from: .v4(1),
                receivedAtMilliseconds: Int64(agent), into: &records)
            #expect(decoder.sflow.agents.count <= 16)
        }
        // The most recent agent survives eviction.
        #expect(decoder.sflow.agents.keys.contains { $0.subAgent == 999 })
    }

    @Test func extendedGatewayASNumbersMatchTshark() throws {
        // Also covered field by field above; here the AS path values are named explicitly.
        let tshark = try SFlowFixture.tsharkFrames("sflow_expanded.tshark.json")
        let sample = try #require(tshark.first?.flowSamples.first)
        #expect(sample.sourceAS == 203_476)
        #expect(sample.destinationAS == 203_361)
    }

    // MARK: Helpers

    private func flowSampleBytes() -> [UInt8] {
        SFlowBuilder.sample(format: 1, body: SFlowBuilder.flowSample(rate: 1, input: 1, output: 2, records: []))
    }

    private func decode(_ datagram: [UInt8], exporter: IPAddress = .v4(1), configuration: FlowDecoder.Configuration = .init()) -> (
        [FlowRecord], DecodeReport
    ) {
        var decoder = FlowDecoder(configuration: configuration)
        var records: [FlowRecord] = []
        let report = decoder.decode(ByteBuffer(bytes: datagram), from: exporter, receivedAtMilliseconds: 1_000, into: &records)
        return (records, report)
    }
}

// MARK: - Test-only sFlow encoder

/// Builds sFlow v5 datagrams word by word (XDR: big-endian 32-bit words, opaque data padded).
enum SFlowBuilder {
    static func words(_ values: [UInt32]) -> [UInt8] {
        values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> UInt32(24 - 8 * $0)) } }
    }

    static func datagram(agent: UInt32 = 0xC000_0264, subAgent: UInt32 = 0, sequence: UInt32, samples: [[UInt8]]) -> [UInt8] {
        words([5, 1, agent, subAgent, sequence, 1000, UInt32(samples.count)]) + samples.flatMap { $0 }
    }

    /// A sample: format, length, body (body given as words or bytes).
    static func sample(format: UInt32, words body: [UInt32]) -> [UInt8] { sample(format: format, body: words(body)) }
    static func sample(format: UInt32, body: [UInt8]) -> [UInt8] { words([format, UInt32(body.count)]) + body }

    /// Body of a compact flow sample as words.
    static func flowSample(rate: UInt32, input: UInt32, output: UInt32, records: [[UInt8]]) -> [UInt8] {
        words([1, 7, rate, 100, 0, input, output, UInt32(records.count)]) + records.flatMap { $0 }
    }

    static func record(format: UInt32, words body: [UInt32]) -> [UInt8] { words([format, UInt32(body.count * 4)] + body) }

    static func rawHeader(protocol: UInt32, frameLength: UInt32, header: [UInt8]) -> [UInt8] {
        let padded = header + Array(repeating: 0, count: (4 - header.count % 4) % 4)
        return words([1, UInt32(16 + padded.count), `protocol`, frameLength, 4, UInt32(header.count)]) + padded
    }

    static func sampledIPv4(
        length: UInt32, protocol: UInt32, source: UInt32, destination: UInt32, sourcePort: UInt32, destinationPort: UInt32, tos: UInt32
    ) -> [UInt8] {
        record(format: 3, words: [length, `protocol`, source, destination, sourcePort, destinationPort, 0, tos])
    }
}

// MARK: - Independent decodes

/// Reads the fixture files and the independent decodes (tcpdump `.out`, tshark JSON / fields).
enum SFlowFixture {
    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("sflow")

    static func data(_ name: String) throws -> Data { try Data(contentsOf: directory.appendingPathComponent(name)) }
    static func text(_ name: String) throws -> String { String(decoding: try data(name), as: UTF8.self) }
    static func pcap(_ name: String) throws -> PcapFile { try PcapFile(bytes: [UInt8](try data(name))) }

    /// Payloads of every sFlow v5 datagram in the fixtures.
    static func sflowDatagrams() throws -> [[UInt8]] {
        try ["sflow-print-v6.pcap", "sflow_expanded.pcap", "sflow_multiple_counter_30_pdus.pcap", "sflow_print-segv.pcap"]
            .flatMap { try pcap($0).datagrams.map(\.payload) }
            .filter { $0.starts(with: [0, 0, 0, 5]) }
    }

    struct FlowSample {
        var sequence: UInt64 = 0
        var rate: UInt32 = 0
        var input: UInt32 = 0
        var output: UInt32 = 0
        var frameLength: UInt64 = 0
        var source: IPAddress? = nil
        var destination: IPAddress? = nil
        var ipProtocol: UInt8 = 0
        var sourcePort: UInt16 = 0
        var destinationPort: UInt16 = 0
        var tcpFlags: UInt8 = 0
        var typeOfService: UInt8 = 0
        var sourceAS: UInt32 = 0
        var destinationAS: UInt32 = 0
    }

    struct Frame {
        var number: Int
        var agentID: Int? = nil
        var unsupportedSFlowVersion = false
        var flowSamples: [FlowSample] = []
        var counterSamples = 0
    }

    /// The sFlow interface encoding (spec §"flow_sample"): top 2 bits format, 0 = ifIndex.
    static func interface(compact raw: UInt64) -> UInt32 {
        raw >> 30 == 0 ? UInt32(raw & 0x3FFF_FFFF) : 0
    }

    // MARK: tcpdump

    /// Parses tcpdump's sFlow printout: one frame per numbered line, samples below it.
    static func tcpdumpFrames(_ name: String) throws -> [Frame] {
        var frames: [Frame] = []
        for line in try text(name).split(separator: "\n", omittingEmptySubsequences: false) {
            let tokens = line.split(separator: " ")
            if line.hasPrefix(" "), tokens.count > 2, let n = Int(tokens[0]), tokens[1].contains("-") {
                frames.append(Frame(number: n))
            }
            guard !frames.isEmpty else { continue }
            if let id = number(after: "agent-id ", in: line) { frames[frames.count - 1].agentID = Int(id) }
            if line.contains("packet not supported") { frames[frames.count - 1].unsupportedSFlowVersion = true }
            let trimmed = line.drop { $0 == "\t" || $0 == " " }
            if trimmed.hasPrefix("flow sample (") || trimmed.hasPrefix("expanded flow sample (") {
                var s = FlowSample()
                s.sequence = number(after: "seqnum ", in: line) ?? 0
                s.rate = UInt32(number(after: "rate ", in: line) ?? 0)
                if trimmed.hasPrefix("expanded") {
                    // "input 29001 (0), output 1285816721 (0)": value, then (format)
                    let input = number(after: "input ", in: line) ?? 0
                    let output = number(after: "output ", in: line) ?? 0
                    s.input = number(after: "input \(input) (", in: line) == 0 ? UInt32(input) : 0
                    s.output = number(after: "output \(output) (", in: line) == 0 ? UInt32(output) : 0
                } else {
                    s.input = interface(compact: number(after: "input ", in: line) ?? 0)
                    s.output = interface(compact: number(after: "output ", in: line) ?? 0)
                }
                frames[frames.count - 1].flowSamples.append(s)
            } else if trimmed.hasPrefix("counter sample (") || trimmed.hasPrefix("expanded counter sample (") {
                frames[frames.count - 1].counterSamples += 1
            } else if trimmed.hasPrefix("protocol "), trimmed.contains("stripped bytes"), !frames[frames.count - 1].flowSamples.isEmpty {
                frames[frames.count - 1].flowSamples[frames[frames.count - 1].flowSamples.count - 1].frameLength =
                    number(after: "), length ", in: line) ?? 0
            }
        }
        return frames
    }

    /// The decimal number right after `key` in `line`.
    static func number(after key: String, in line: Substring) -> UInt64? {
        guard let range = line.range(of: key) else { return nil }
        let digits = line[range.upperBound...].prefix { $0.isASCII && $0.isNumber }
        return UInt64(digits)
    }

    // MARK: tshark JSON

    static func tsharkFrames(_ name: String) throws -> [Frame] {
        let json = try JSONSerialization.jsonObject(with: try data(name))
        guard let packets = json as? [[String: Any]] else { throw SFlowFixtureError("\(name): not an array of packets") }
        return try packets.enumerated().map { i, packet in
            guard let layers = (packet["_source"] as? [String: Any])?["layers"] as? [String: Any],
                let sflow = layers["sflow"] as? [String: Any]
            else { throw SFlowFixtureError("\(name) frame \(i + 1): no sflow layer") }
            var frame = Frame(number: i + 1)
            frame.agentID = (sflow["sflow_245.sub_agent_id"] as? String).flatMap { Int($0) }
            for (key, value) in sflow {
                let samples = value as? [[String: Any]] ?? (value as? [String: Any]).map { [$0] } ?? []
                if key.hasPrefix("Flow sample") || key.hasPrefix("Expanded flow sample") {
                    frame.flowSamples += try samples.map { try flowSample($0) }
                } else if key.hasPrefix("Counters sample") || key.hasPrefix("Expanded counters sample") {
                    frame.counterSamples += samples.count
                }
            }
            return frame
        }
    }

    static func flowSample(_ s: [String: Any]) throws -> FlowSample {
        func uint(_ v: Any?) -> UInt64? {
            guard let text = v as? String else { return nil }
            return text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
        }
        var f = FlowSample()
        f.sequence = uint(s["sflow.flow_sample.sequence_number"]) ?? 0
        f.rate = UInt32(uint(s["sflow.flow_sample.sampling_rate"]) ?? 0)
        if let value = uint(s["sflow.flow_sample.input_interface_value"]) { // expanded
            f.input = uint(s["sflow.flow_sample.input_interface_format"]) == 0 ? UInt32(value) : 0
            f.output =
                uint(s["sflow.flow_sample.output_interface.format"]) == 0
                ? UInt32(uint(s["sflow.flow_sample.output_interface_value"]) ?? 0) : 0
        } else {
            f.input = interface(compact: uint(s["sflow.flow_sample.input_interface"]) ?? 0)
            f.output = interface(compact: uint(s["sflow.flow_sample.output_interface"]) ?? 0)
        }
        guard let raw = s["Raw packet header"] as? [String: Any] else { throw SFlowFixtureError("flow sample without raw packet header") }
        f.frameLength = uint(raw["sflow_245.header.frame_length"]) ?? 0
        let tree = raw["sflow_245.header_tree"] as? [String: Any] ?? [:]
        if let ip = tree["ip"] as? [String: Any] {
            f.source = (ip["ip.src"] as? String).flatMap { IPAddress($0) }
            f.destination = (ip["ip.dst"] as? String).flatMap { IPAddress($0) }
            f.ipProtocol = UInt8(uint(ip["ip.proto"]) ?? 0)
            f.typeOfService = UInt8(uint(ip["ip.dsfield"]) ?? 0)
        } else if let ip = tree["ipv6"] as? [String: Any] {
            f.source = (ip["ipv6.src"] as? String).flatMap { IPAddress($0) }
            f.destination = (ip["ipv6.dst"] as? String).flatMap { IPAddress($0) }
            f.ipProtocol = UInt8(uint(ip["ipv6.nxt"]) ?? 0)
            f.typeOfService = UInt8(uint(ip["ipv6.tclass"]) ?? 0)
        }
        if let tcp = tree["tcp"] as? [String: Any] {
            f.sourcePort = UInt16(uint(tcp["tcp.srcport"]) ?? 0)
            f.destinationPort = UInt16(uint(tcp["tcp.dstport"]) ?? 0)
            f.tcpFlags = UInt8(truncatingIfNeeded: uint(tcp["tcp.flags"]) ?? 0)
        } else if let udp = tree["udp"] as? [String: Any] {
            f.sourcePort = UInt16(uint(udp["udp.srcport"]) ?? 0)
            f.destinationPort = UInt16(uint(udp["udp.dstport"]) ?? 0)
        }
        if let gateway = s["Extended gateway data"] as? [String: Any] {
            f.sourceAS = UInt32(uint(gateway["sflow_245.srcAS"]) ?? 0)
            let path = (gateway["sflow.as_type_tree"] as? [String: Any])?["sflow_245.dstAS"]
            let last = (path as? [String])?.last ?? path as? String
            f.destinationAS = UInt32(uint(last) ?? 0)
        }
        return f
    }

    // MARK: tshark NetFlow fields

    struct NetFlowRecord {
        var source: IPAddress?
        var destination: IPAddress?
        var sourcePort: UInt16
        var destinationPort: UInt16
        var ipProtocol: UInt8
        var packets: UInt64
        var bytes: UInt64
    }

    struct NetFlowRow {
        var frame: Int
        var records: [NetFlowRecord]
    }

    static func netflowV5Rows(_ name: String) throws -> [NetFlowRow] {
        let lines = try text(name).split(separator: "\n").dropFirst() // header
        return lines.map { line in
            let c = line.split(separator: "\t", omittingEmptySubsequences: false).map { $0.split(separator: ",") }
            let count = Int(c[1].first ?? "0") ?? 0
            return NetFlowRow(
                frame: Int(c[0].first ?? "0") ?? 0,
                records: (0..<count).map { k in
                    NetFlowRecord(
                        source: IPAddress(c[3][k]), destination: IPAddress(c[4][k]), sourcePort: UInt16(c[5][k]) ?? 0,
                        destinationPort: UInt16(c[6][k]) ?? 0,
                        ipProtocol: UInt8(c[7][k]) ?? 0, packets: UInt64(c[8][k]) ?? 0, bytes: UInt64(c[9][k]) ?? 0
                    )
                })
        }
    }
}

struct SFlowFixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
