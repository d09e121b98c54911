import ArgumentParser
import Benchmarking
import Foundation

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
        Bench.warnIfDebugBuild()
        if !inProcess {
            // Each flood in its own process: peak resident sets do not add up across floods.
            for f in flood == .both ? [Flood.templates, .pairs] : [flood] {
                var args = [
                    "bench", "spoofing", "--flood", f.rawValue, "--exporters", "\(exporters)", "--templates-per-exporter",
                    "\(templatesPerExporter)",
                    "--pairs", "\(pairs)", "--in-process",
                ]
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
        let benchmark = SpoofingBenchmark(
            exporters: exporters, templatesPerExporter: templatesPerExporter, pairs: pairs, unbounded: unbounded)
        let report: SpoofingBenchmark.Report
        switch flood {
        case .templates: report = benchmark.templateFlood()
        case .pairs:
            report = benchmark.pairFlood(
                progress: json
                    ? nil
                    : { p in
                        FileHandle.standardError.write(
                            Data(
                                "\r  \(p.records / 1_000_000).\(p.records / 100_000 % 10) M records, \(String(format: "%.0f", Double(p.residentBytes) / 1_048_576)) MiB   "
                                    .utf8))
                    })
            if !json { FileHandle.standardError.write(Data("\n".utf8)) }
        case .both: return
        }
        print(json ? report.json : report.text)
    }
}
