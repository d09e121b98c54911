import ArgumentParser
import Detection
import Evaluation
import FlowCodec
import Foundation
import MamoriCore

struct BenchSpoofing: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spoofing",
        abstract: "Memory under spoofed input: a template flood at the decoder and a flood of spoofed address pairs at the detectors.",
        discussion: """
            Two floods, each in a fresh child process of this binary so that every figure is that \
            flood's own peak resident set:

              templates  --exporters spoofed exporters each announce --templates-per-exporter \
                         IPFIX template ids (100,000 by default) to one decoder with the \
                         collector's default limits (20,000 templates, 65,536 sessions).
              pairs      --pairs records of random (subscriber, outside) address pairs — SYN \
                         probes, UDP and established TCP, both directions, a thousand a second \
                         of analyzer time — to the detectors with their default limits (4,000,000 \
                         pairs, 500,000 entries per table), then a real flood that must be found.

            Reports entries held against each limit, evictions, records per second and the peak \
            resident set. --unbounded raises every limit out of reach, to show in the same run \
            what the limits save.

            Example:  swift build -c release && .build/release/mamori bench spoofing
            """
    )

    enum Flood: String, ExpressibleByArgument, CaseIterable { case templates, pairs, both }

    @Option(help: "templates, pairs or both.")
    var flood: Flood = .both

    @Option(help: "Spoofed exporters in the template flood.")
    var exporters: Int = 10_000

    @Option(help: "Template ids each spoofed exporter announces.")
    var templatesPerExporter: Int = 10

    @Option(help: "Records of spoofed address pairs.")
    var pairs: Int = 10_000_000

    @Flag(help: "Raise every limit out of reach (for comparison).")
    var unbounded = false

    @Flag(help: "Run the flood in this process (what the parent runs in each child).")
    var inProcess = false

    @Flag(help: "Print one JSON object per flood instead of text.")
    var json = false

    func run() async throws {
        BenchMeasure.warnIfDebugBuild()
        if !inProcess {
            // Each flood in its own process: peak resident sets do not add up across floods.
            for f in flood == .both ? [Flood.templates, .pairs] : [flood] {
                var args = ["bench", "spoofing", "--flood", f.rawValue, "--exporters", "\(exporters)", "--templates-per-exporter", "\(templatesPerExporter)",
                            "--pairs", "\(pairs)", "--in-process"]
                if unbounded { args.append("--unbounded") }
                if json { args.append("--json") }
                let p = Process()
                p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
                p.arguments = args
                try p.run()
                p.waitUntilExit()
                guard p.terminationStatus == 0 else { throw ExitCode(p.terminationStatus) }
            }
            return
        }
        switch flood {
        case .templates: templateFlood()
        case .pairs: pairFlood()
        case .both: break
        }
    }

    func report(_ fields: [(String, String)]) {
        if json {
            print("{" + fields.map { "\"\($0.0)\": \($0.1.first?.isNumber == true || $0.1 == "true" || $0.1 == "false" ? $0.1 : "\"\($0.1)\"")" }.joined(separator: ", ") + "}")
        } else {
            print(fields.map { "\($0.0)=\($0.1)" }.joined(separator: " "))
        }
    }

    func templateFlood() {
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
                _ = message.withUnsafeBytes { decoder.decode($0, from: exporter, receivedAtMilliseconds: now + Int64(announced), into: &records) }
                announced += 1
            }
        }
        let seconds = BenchMeasure.threadCPUSeconds() - cpu0
        report([
            ("flood", "templates"), ("unbounded", "\(unbounded)"), ("announced", "\(announced)"), ("exporters", "\(exporters)"),
            ("templates_held", "\(decoder.templates.count)"), ("limit", unbounded ? "none" : "\(configuration.maxTemplates)"),
            ("evictions", "\(decoder.templates.evictions)"), ("announcements_per_cpu_second", String(format: "%.0f", Double(announced) / max(seconds, 1e-9))),
            ("resident_growth_mib", String(format: "%.1f", Double(BenchMeasure.residentBytes() - rss0) / 1_048_576)),
            ("peak_resident_mib", String(format: "%.1f", Double(BenchMeasure.peakResidentBytes()) / 1_048_576)),
        ])
    }

    /// An IPFIX message with one template of 15 common fields.
    static func ipfixTemplate(id: UInt16, exportTime: UInt32) -> [UInt8] {
        let fields: [(UInt16, UInt16)] = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (6, 1), (5, 1), (1, 8), (2, 8), (152, 8), (153, 8), (10, 4), (14, 4), (16, 4), (17, 4)]
        var b: [UInt8] = []
        func u16(_ v: UInt16) { b += [UInt8(v >> 8), UInt8(truncatingIfNeeded: v)] }
        func u32(_ v: UInt32) { u16(UInt16(v >> 16)); u16(UInt16(truncatingIfNeeded: v)) }
        let setLength = 4 + 4 + 4 * fields.count
        u16(10); u16(UInt16(16 + setLength)); u32(exportTime); u32(0); u32(0)
        u16(2); u16(UInt16(setLength)); u16(id); u16(UInt16(fields.count))
        for (f, l) in fields { u16(f); u16(l) }
        return b
    }

    func pairFlood() {
        let layout = NetworkLayout(subscriberPrefixes: [IPPrefix("198.18.0.0/15")!, IPPrefix("100.64.0.0/10")!], laboratoryInternet: LabelEvaluation.simulatorInternet)
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
            let r = FlowRecord(sourceAddress: out ? inside : outside, destinationAddress: out ? outside : inside,
                               sourcePort: UInt16(truncatingIfNeeded: g.next()), destinationPort: UInt16(truncatingIfNeeded: g.next()),
                               ipProtocol: proto, tcpFlags: flags, bytes: 60 + g.next() % 1500, packets: 1 + g.next() % 40, startMilliseconds: t, endMilliseconds: t + 500)
            analyzer.ingest(r, receivedAt: t + 500)
            if i % 100_000 == 0 {
                _ = analyzer.evaluate(now: t + 500)
                if !json, Date() >= nextProgress {
                    nextProgress = Date().addingTimeInterval(5)
                    FileHandle.standardError.write(Data("\r  \(i / 1_000_000).\(i / 100_000 % 10) M records, \(String(format: "%.0f", Double(BenchMeasure.residentBytes()) / 1_048_576)) MiB   ".utf8))
                }
            }
        }
        if !json { FileHandle.standardError.write(Data("\n".utf8)) }
        let seconds = BenchMeasure.threadCPUSeconds() - cpu0
        // A real flood after the noise must still be found.
        let onset = t0 + Int64(pairs / 1000) * 1000 + 2_000
        for k in 0..<30 {
            analyzer.ingest(FlowRecord(sourceAddress: .v4(0xF200_0001 + UInt32(k)), destinationAddress: .v4(0xC613_0114), sourcePort: 123, destinationPort: 40_000,
                                       ipProtocol: 17, bytes: 468_000, packets: 1_000, startMilliseconds: onset, endMilliseconds: onset + 999), receivedAt: onset + 1_000)
        }
        let found = analyzer.evaluate(now: onset + 1_000).contains { $0.kind == .inboundDDoS && $0.subject.address == "198.19.1.20" }
        let sizes = analyzer.tableSizes
        report([
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
