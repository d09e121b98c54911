import ArgumentParser
import Benchmarking
import Foundation

struct BenchDetection: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detection",
        abstract: "Analysis throughput per core and memory with many active internal hosts.",
        discussion: """
            Feeds the detectors (the same FlowAnalyzer `mamori serve` runs) --hosts internal hosts \
            in 100.64.0.0/10, all active for --minutes of analyzer time, round robin: each record is \
            an outbound connection — web requests to a few thousand popular CDN addresses (Zipf-like) \
            and to a long tail of rarely visited addresses, and a device heartbeat every 60 s to one \
            of 5,000 vendor services. Records are generated on the fly (no capture held in memory), \
            and the detectors evaluate every second of analyzer time, as inside `mamori serve`.

            Reports records per CPU-second of the analysing thread, the (host, endpoint) pairs and \
            endpoints followed at the end, the peak resident set of the process, and the resident \
            growth per followed pair.

            Example:  swift build -c release && .build/release/mamori bench detection --hosts 1000000
            """
    )

    @Option(help: "Active internal hosts.")
    var hosts: Int = 1_000_000

    @Option(help: "Minutes of analyzer time.")
    var minutes: Int = 10

    @Option(help: "Records per host over the run (at least one heartbeat a minute is added on top).")
    var recordsPerHost: Int = 10

    @Option(
        help: """
            Analysis threads: 1 runs one analyzer on one thread (records per CPU-second of that \
            thread); more split the subscriber hosts into that many shards analysed in parallel \
            (records per CPU-second of the whole process, and per wall-clock second).
            """)
    var workers: Int = 1

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() async throws {
        Bench.warnIfDebugBuild()
        guard (1...4_000_000).contains(hosts) else { throw ValidationError("--hosts must be 1 to 4,000,000 (the 100.64.0.0/10 pool)") }
        guard minutes >= 1, recordsPerHost >= 0 else {
            throw ValidationError("--minutes must be at least 1 and --records-per-host not negative")
        }
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1 to 64") }
        let benchmark = DetectionBenchmark(hosts: hosts, minutes: minutes, recordsPerHost: recordsPerHost, workers: workers)
        let result = benchmark.run(
            progress: json
                ? nil
                : { p in
                    FileHandle.standardError.write(Data("  \(p.percent) %: \(p.records) records, \(p.pairs) pairs followed\n".utf8))
                })
        print(json ? result.json : result.text)
    }
}
