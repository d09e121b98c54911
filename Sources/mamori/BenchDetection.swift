import ArgumentParser
import Detection
import Evaluation
import FlowCodec
import Foundation
import MamoriCore

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

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() async throws {
        BenchMeasure.warnIfDebugBuild()
        guard (1...4_000_000).contains(hosts) else { throw ValidationError("--hosts must be 1 to 4,000,000 (the 100.64.0.0/10 pool)") }
        guard minutes >= 1, recordsPerHost >= 0 else { throw ValidationError("--minutes must be at least 1 and --records-per-host not negative") }
        let layout = NetworkLayout(subscriberPrefixes: [IPPrefix("100.64.0.0/10")!], laboratoryInternet: LabelEvaluation.simulatorInternet)
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: layout, pseudonymKey: Array("bench".utf8)))
        let start: Int64 = 1_795_000_000_000
        let duration = Int64(minutes) * 60_000
        let heartbeats = minutes
        let perHost = recordsPerHost + heartbeats
        let total = hosts * perHost
        let rssBefore = BenchMeasure.residentBytes()
        var rng = SplitMix64(seed: 11)
        let cpu0 = BenchMeasure.threadCPUSeconds()
        var nextEvaluation = start
        var nextProgress = Date().addingTimeInterval(5)
        var record = FlowRecord(sourceAddress: .v4(0), destinationAddress: .v4(0), sourcePort: 0, destinationPort: 443, ipProtocol: 6, tcpFlags: 0x1B,
                                bytes: 0, packets: 0, startMilliseconds: 0, endMilliseconds: 0)
        for i in 0..<total {
            // Round robin over hosts: record i belongs to host i % hosts, at time i / total of the run.
            let host = i % hosts
            let slot = i / hosts
            let t = start + Int64(i) * duration / Int64(total)
            record.sourceAddress = .v4(0x6440_0000 + UInt32(host))
            record.sourcePort = UInt16(1024 + rng.next() % 60_000)
            record.startMilliseconds = t
            record.endMilliseconds = t + 200
            // `heartbeats` of a host's `perHost` records, evenly spread: one a minute.
            if slot * heartbeats / perHost != (slot + 1) * heartbeats / perHost {
                record.destinationAddress = .v4(0xC612_0000 + UInt32(truncatingIfNeeded: UInt64(host) &* 0x9E37_79B9 % 5_000))
                record.destinationPort = 8883
                record.packets = 2
                record.bytes = 140
            } else if rng.next() % 10 < 7 {
                record.destinationAddress = .v4(0xF010_0000 + UInt32(truncatingIfNeeded: (rng.next() % 100) * (rng.next() % 100)))
                record.destinationPort = 443
                record.packets = 12
                record.bytes = 1_600
            } else {
                record.destinationAddress = .v4(0xF100_0000 + UInt32(truncatingIfNeeded: rng.next() % 16_000_000))
                record.destinationPort = 443
                record.packets = 10
                record.bytes = 1_200
            }
            analyzer.ingest(record, receivedAt: record.endMilliseconds)   // received when it ends, as a live collector sees it
            if t >= nextEvaluation {
                nextEvaluation = t + 1_000
                _ = analyzer.evaluate(now: t)
                if !json, Date() >= nextProgress {
                    nextProgress = Date().addingTimeInterval(5)
                    FileHandle.standardError.write(Data("  \(i * 100 / total) %: \(i) records, \(analyzer.statistics.trackedPairs) pairs followed\n".utf8))
                }
            }
        }
        _ = analyzer.finish()
        let cpu = BenchMeasure.threadCPUSeconds() - cpu0
        // Nothing here is a botnet: every C&C finding would be a false positive.
        let commandAndControl = analyzer.currentFindings.filter { $0.kind == .commandAndControl }.count
        let stats = analyzer.statistics
        let rssAfter = BenchMeasure.residentBytes()
        let pairs = analyzer.statistics.trackedPairs
        let perPair = Double(max(0, rssAfter - rssBefore)) / Double(max(1, pairs))
        let rate = Double(total) / cpu
        let peak = BenchMeasure.peakResidentBytes()
        if json {
            print("{\"benchmark\":\"detection\",\"hosts\":\(hosts),\"records\":\(total),\"records_per_cpu_second\":\(Int(rate)),\"pairs\":\(pairs),\"endpoints\":\(analyzer.statistics.trackedEndpoints),\"peak_resident_bytes\":\(peak),\"resident_bytes_per_pair\":\(Int(perPair)),\"c2_findings\":\(commandAndControl),\"suppressed_popular\":\(stats.suppressedPopular),\"suppressed_service_pool\":\(stats.suppressedServicePool),\"cpu_seconds\":\(String(format: "%.1f", cpu))}")
        } else {
            print("hosts:                \(hosts) active for \(minutes) min, \(total) records")
            print("analysis per core:    \(String(format: "%.0f", rate / 1000)) k records/s (\(String(format: "%.1f", cpu)) CPU s)")
            print("followed at the end:  \(pairs) (host, endpoint) pairs, \(analyzer.statistics.trackedEndpoints) endpoints")
            print("C&C findings:         \(commandAndControl) (none is right: nothing here is a botnet); candidates spared as popular \(stats.suppressedPopular) times, \(stats.suppressedServicePool) of them as part of a service pool")
            print("memory:               peak resident \(String(format: "%.2f", Double(peak) / 1_073_741_824)) GiB; \(String(format: "%.0f", perPair)) bytes resident per followed pair")
        }
    }
}
