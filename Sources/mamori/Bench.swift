import ArgumentParser
import Benchmarking
import FlowCodec
import Foundation

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Mamori on this machine (figures for BENCHMARKS.md).",
        discussion: """
            Build with `swift build -c release` first; debug builds are many times slower.
            End-to-end collector figures (Mamori beside nfcapd on the same generated traffic) come \
            from Benchmarks/collector/run.sh.
            """,
        subcommands: [
            BenchDecode.self, BenchAttribution.self, BenchRADIUS.self, BenchDetection.self, BenchSpoofing.self, BenchRPZ.self,
            BenchReports.self, BenchFraud.self,
        ]
    )
}

struct BenchDecode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decoder throughput per core, in flow records per second, for each protocol.",
        discussion: """
            Builds realistic export datagrams in memory (NetFlow v5: 30 records each; v9: 24 records, \
            15 fields; IPFIX: 24 records, 15 fields; sFlow: 8 flow samples with raw Ethernet/IPv4/TCP \
            headers), then decodes them on one thread for --seconds per protocol. Rates are records \
            per CPU-second of the decoding thread (CLOCK_THREAD_CPUTIME_ID), so another process on \
            the machine slows the wall clock but not the figure.

            Example:  swift build -c release && .build/release/mamori bench decode --seconds 5
            """
    )

    enum ProtocolChoice: String, ExpressibleByArgument, CaseIterable {
        case all, v5, v9, ipfix, sflow
    }

    @Option(help: "Protocol to measure: all, v5, v9, ipfix, sflow.")
    var `protocol`: ProtocolChoice = .all

    @Option(help: "Seconds of decoding per protocol.")
    var seconds: Double = 3

    @Flag(help: "Print one JSON object per protocol instead of a table.")
    var json = false

    func run() async throws {
        let chosen: [ExportProtocol] =
            switch `protocol` {
            case .all: [.netflowV5, .netflowV9, .ipfix, .sflowV5]
            case .v5: [.netflowV5]
            case .v9: [.netflowV9]
            case .ipfix: [.ipfix]
            case .sflow: [.sflowV5]
            }
        Bench.warnIfDebugBuild()
        if !json { print(DecodeBenchmark.tableHeader) }
        let benchmark = DecodeBenchmark(seconds: seconds)
        for p in chosen {
            let result = benchmark.measure(p)
            print(json ? result.json : result.tableRow)
        }
    }
}

extension Bench {
    /// Says on standard error when this is a debug build, whose figures mean nothing.
    static func warnIfDebugBuild() {
        if let warning = BenchMeasure.debugBuildWarning { FileHandle.standardError.write(Data(warning.utf8)) }
    }

    /// Runs a benchmark; what stops it is said as a usage error, as before the benchmarks moved.
    static func explained<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let e as BenchmarkError { throw ValidationError(e.description) }
    }
}
