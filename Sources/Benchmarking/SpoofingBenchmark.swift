import Detection
import Evaluation
import FlowCodec
import Foundation
import MamoriCore

/// Memory under spoofed input: a template flood at the decoder and a flood of spoofed address
/// pairs at the detectors, each against the limits of the defaults (or, ``unbounded``, none).
///
///   templates  ``exporters`` spoofed exporters each announce ``templatesPerExporter`` IPFIX
///              template ids to one decoder with the collector's default limits.
///   pairs      ``pairs`` records of random (subscriber, outside) address pairs — SYN probes, UDP
///              and established TCP, both directions, a thousand a second of analyzer time — to
///              the detectors with their default limits, then a real flood that must be found.
///
/// Peak resident sets add up within a process: run each flood in a fresh one.
public struct SpoofingBenchmark: Sendable {
    public var exporters: Int
    public var templatesPerExporter: Int
    public var pairs: Int
    /// Raise every limit out of reach (for comparison).
    public var unbounded: Bool

    public init(exporters: Int, templatesPerExporter: Int, pairs: Int, unbounded: Bool) {
        self.exporters = exporters
        self.templatesPerExporter = templatesPerExporter
        self.pairs = pairs
        self.unbounded = unbounded
    }

    /// Where the pair flood is.
    public struct Progress: Sendable {
        public var records: Int
        public var residentBytes: Int
    }

    /// One flood's figures, named as they are printed.
    public struct Report: Sendable {
        public var fields: [(name: String, value: String)]

        /// One JSON object (numbers and booleans bare, the rest quoted).
        public var json: String {
            "{"
                + fields.map { "\"\($0.0)\": \($0.1.first?.isNumber == true || $0.1 == "true" || $0.1 == "false" ? $0.1 : "\"\($0.1)\"")" }
                .joined(separator: ", ") + "}"
        }

        /// name=value pairs on one line.
        public var text: String {
            fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        }
    }

    /// The template flood: every spoofed exporter announces its template ids to one decoder.
    public func templateFlood() -> Report {
        var configuration = FlowDecoder.Configuration()
        if unbounded {
            configuration.maxTemplates = .max
            configuration.maxSessions = .max
        }
        var decoder = FlowDecoder(configuration: configuration)
        let now: Int64 = 1_764_547_200_000
        let rss0 = BenchMeasure.residentBytes()
        let cpu0 = BenchMeasure.threadCPUSeconds()
        var records: [FlowRecord] = []
        var announced = 0
        for e in 0..<exporters {
            let exporter = IPAddress.v4(0x0A00_0000 | UInt32(truncatingIfNeeded: e))
            for k in 0..<templatesPerExporter {
                let message = Self.ipfixTemplate(id: UInt16(256 + k % 65_000), exportTime: UInt32(now / 1000))
                _ = message.withUnsafeBytes {
                    decoder.decode($0, from: exporter, receivedAtMilliseconds: now + Int64(announced), into: &records)
                }
                announced += 1
            }
        }
        let seconds = BenchMeasure.threadCPUSeconds() - cpu0
        return Report(fields: [
            ("flood", "templates"), ("unbounded", "\(unbounded)"), ("announced", "\(announced)"), ("exporters", "\(exporters)"),
            ("templates_held", "\(decoder.templates.count)"), ("limit", unbounded ? "none" : "\(configuration.maxTemplates)"),
            ("evictions", "\(decoder.templates.evictions)"),
            ("announcements_per_cpu_second", String(format: "%.0f", Double(announced) / max(seconds, 1e-9))),
            ("resident_growth_mib", String(format: "%.1f", Double(BenchMeasure.residentBytes() - rss0) / 1_048_576)),
            ("peak_resident_mib", String(format: "%.1f", Double(BenchMeasure.peakResidentBytes()) / 1_048_576)),
        ])
    }

    /// An IPFIX message with one template of 15 common fields.
    public static func ipfixTemplate(id: UInt16, exportTime: UInt32) -> [UInt8] {
        let fields: [(UInt16, UInt16)] = [
            (8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (6, 1), (5, 1), (1, 8), (2, 8), (152, 8), (153, 8), (10, 4), (14, 4), (16, 4),
            (17, 4),
        ]
        var b: [UInt8] = []
        func u16(_ v: UInt16) { b += [UInt8(v >> 8), UInt8(truncatingIfNeeded: v)] }
        func u32(_ v: UInt32) {
            u16(UInt16(v >> 16))
            u16(UInt16(truncatingIfNeeded: v))
        }
        let setLength = 4 + 4 + 4 * fields.count
        u16(10)
        u16(UInt16(16 + setLength))
        u32(exportTime)
        u32(0)
        u32(0)
        u16(2)
        u16(UInt16(setLength))
        u16(id)
        u16(UInt16(fields.count))
        for (f, l) in fields {
            u16(f)
            u16(l)
        }
        return b
    }

    /// The pair flood, then a real flood that must be found; with `progress`, reports about every
    /// 5 s of wall time.
    public func pairFlood(progress: ((Progress) -> Void)? = nil) -> Report {
        let layout = NetworkLayout(
            subscriberPrefixes: [IPPrefix("198.18.0.0/15")!, IPPrefix("100.64.0.0/10")!],
            laboratoryInternet: LabelEvaluation.simulatorInternet)
        var c = DetectionConfiguration(network: layout, pseudonymKey: Array("bench".utf8))
        if unbounded {
            c.maximumPairs = .max
            c.maximumTableEntries = .max
        }
        var analyzer = FlowAnalyzer(configuration: c)
        var g = SplitMix64(seed: 10)
        let t0: Int64 = 1_764_547_200_000
        let rss0 = BenchMeasure.residentBytes()
        let cpu0 = BenchMeasure.threadCPUSeconds()
        var nextProgress = Date().addingTimeInterval(5)
        for i in 0..<pairs {
            let inside = IPAddress.v4(0x6440_0000 | UInt32(truncatingIfNeeded: g.next() & 0x3F_FFFF))
            let outside = IPAddress.v4(0x0B00_0000 | UInt32(truncatingIfNeeded: g.next() & 0x00FF_FFFF))
            let t = t0 + Int64(i / 1000) * 1000 + Int64(i % 1000)
            let kind = g.next() % 3
            let (proto, flags): (UInt8, UInt8) = kind == 0 ? (6, 0x02) : kind == 1 ? (17, 0) : (6, 0x1B)
            let out = g.next() & 1 == 0
            let r = FlowRecord(
                sourceAddress: out ? inside : outside, destinationAddress: out ? outside : inside,
                sourcePort: UInt16(truncatingIfNeeded: g.next()), destinationPort: UInt16(truncatingIfNeeded: g.next()),
                ipProtocol: proto, tcpFlags: flags, bytes: 60 + g.next() % 1500, packets: 1 + g.next() % 40, startMilliseconds: t,
                endMilliseconds: t + 500)
            analyzer.ingest(r, receivedAt: t + 500)
            if i % 100_000 == 0 {
                _ = analyzer.evaluate(now: t + 500)
                if let progress, Date() >= nextProgress {
                    nextProgress = Date().addingTimeInterval(5)
                    progress(Progress(records: i, residentBytes: BenchMeasure.residentBytes()))
                }
            }
        }
        let seconds = BenchMeasure.threadCPUSeconds() - cpu0
        // A real flood after the noise must still be found.
        let onset = t0 + Int64(pairs / 1000) * 1000 + 2_000
        for k in 0..<30 {
            analyzer.ingest(
                FlowRecord(
                    sourceAddress: .v4(0xF200_0001 + UInt32(k)), destinationAddress: .v4(0xC613_0114), sourcePort: 123,
                    destinationPort: 40_000,
                    ipProtocol: 17, bytes: 468_000, packets: 1_000, startMilliseconds: onset, endMilliseconds: onset + 999),
                receivedAt: onset + 1_000)
        }
        let found = analyzer.evaluate(now: onset + 1_000).contains { $0.kind == .inboundDDoS && $0.subject.address == "198.19.1.20" }
        let sizes = analyzer.tableSizes
        return Report(fields: [
            ("flood", "pairs"), ("unbounded", "\(unbounded)"), ("records", "\(pairs)"),
            ("pairs_held", "\(sizes["pairs"] ?? 0)"), ("pair_limit", unbounded ? "none" : "\(c.maximumPairs)"),
            ("largest_other_table", "\(sizes.filter { $0.key != "pairs" && $0.key != "findings" }.values.max() ?? 0)"),
            ("table_limit", unbounded ? "none" : "\(c.maximumTableEntries)"),
            ("pairs_evicted", "\(analyzer.statistics.pairsEvicted)"), ("table_evictions", "\(analyzer.statistics.tableEvictions)"),
            ("records_per_cpu_second", String(format: "%.0f", Double(pairs) / max(seconds, 1e-9))),
            ("flood_found_after", "\(found)"),
            ("resident_growth_mib", String(format: "%.1f", Double(BenchMeasure.residentBytes() - rss0) / 1_048_576)),
            ("peak_resident_mib", String(format: "%.1f", Double(BenchMeasure.peakResidentBytes()) / 1_048_576)),
        ])
    }
}
