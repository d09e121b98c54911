import Detection
import Evaluation
import FlowCodec
import Foundation
import MamoriCore

/// Analysis throughput per core and memory with many active internal hosts.
///
/// Feeds the detectors (the same FlowAnalyzer `mamori serve` runs) ``hosts`` internal hosts in
/// 100.64.0.0/10, all active for ``minutes`` of analyzer time, round robin: each record is an
/// outbound connection — web requests to a few thousand popular CDN addresses (Zipf-like) and to
/// a long tail of rarely visited addresses, and a device heartbeat every 60 s to one of 5,000
/// vendor services. Records are generated on the fly, and the detectors evaluate every second of
/// analyzer time, as inside `mamori serve`.
public struct DetectionBenchmark: Sendable {
    /// Active internal hosts: 1 to 4,000,000 (the 100.64.0.0/10 pool).
    public var hosts: Int
    /// Minutes of analyzer time, at least 1.
    public var minutes: Int
    /// Records per host over the run (a heartbeat a minute is added on top).
    public var recordsPerHost: Int

    /// Analysis threads: 1 runs one ``FlowAnalyzer`` on the calling thread, as before sharding;
    /// more run a ``ShardedFlowAnalyzer`` of that many shards, fed batches of 1,024 records.
    public var workers: Int

    public init(hosts: Int, minutes: Int, recordsPerHost: Int, workers: Int = 1) {
        self.hosts = hosts
        self.minutes = minutes
        self.recordsPerHost = recordsPerHost
        self.workers = max(1, workers)
    }

    /// Where a run is.
    public struct Progress: Sendable {
        public var records: Int
        public var percent: Int
        public var pairs: Int
    }

    /// The figures.
    public struct Result: Sendable {
        public var hosts: Int
        public var minutes: Int
        public var records: Int
        /// CPU seconds of the analysing threads (the calling thread's with one worker, the
        /// process's with more), and the wall seconds of the run.
        public var cpuSeconds: Double
        public var wallSeconds: Double
        /// Wall seconds spent analysing (ingesting and evaluating), the records' making left out.
        public var analysisSeconds: Double
        public var workers: Int
        /// (host, endpoint) pairs and endpoints followed at the end.
        public var pairs: Int
        public var endpoints: Int
        public var peakResidentBytes: Int
        /// Resident growth per followed pair, bytes.
        public var residentBytesPerPair: Double
        /// C&C findings: every one is false, nothing here is a botnet.
        public var commandAndControlFindings: Int
        public var suppressedPopular: Int
        public var suppressedServicePool: Int

        public var rate: Double { Double(records) / cpuSeconds }
        public var wallRate: Double { Double(records) / wallSeconds }
        /// Records per wall second of analysis: what the workers scale.
        public var analysisRate: Double { Double(records) / analysisSeconds }

        /// One JSON object.
        public var json: String {
            "{\"benchmark\":\"detection\",\"hosts\":\(hosts),\"records\":\(records),\"workers\":\(workers),\"records_per_cpu_second\":\(Int(rate)),\"records_per_second\":\(Int(wallRate)),\"analysed_per_second\":\(Int(analysisRate)),\"pairs\":\(pairs),\"endpoints\":\(endpoints),\"peak_resident_bytes\":\(peakResidentBytes),\"resident_bytes_per_pair\":\(Int(residentBytesPerPair)),\"c2_findings\":\(commandAndControlFindings),\"suppressed_popular\":\(suppressedPopular),\"suppressed_service_pool\":\(suppressedServicePool),\"cpu_seconds\":\(String(format: "%.1f", cpuSeconds)),\"wall_seconds\":\(String(format: "%.1f", wallSeconds)),\"analysis_seconds\":\(String(format: "%.1f", analysisSeconds))}"
        }

        /// Lines for a person.
        public var text: String {
            """
            hosts:                \(hosts) active for \(minutes) min, \(records) records
            analysis per core:    \(String(format: "%.0f", rate / 1000)) k records/s (\(String(format: "%.1f", cpuSeconds)) CPU s)
            analysis, wall clock: \(String(format: "%.0f", analysisRate / 1000)) k records/s with \(workers) worker(s) (\(String(format: "%.1f", analysisSeconds)) s analysing, \(String(format: "%.1f", wallSeconds)) s in all with the records' making)
            followed at the end:  \(pairs) (host, endpoint) pairs, \(endpoints) endpoints
            C&C findings:         \(commandAndControlFindings) (none is right: nothing here is a botnet); candidates spared as popular \(suppressedPopular) times, \(suppressedServicePool) of them as part of a service pool
            memory:               peak resident \(String(format: "%.2f", Double(peakResidentBytes) / 1_073_741_824)) GiB; \(String(format: "%.0f", residentBytesPerPair)) bytes resident per followed pair
            """
        }
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    /// Runs the analyzer on the calling thread; with `progress`, reports about every 5 s of wall time.
    public func run(progress: ((Progress) -> Void)? = nil) -> Result {
        let layout = NetworkLayout(subscriberPrefixes: [IPPrefix("100.64.0.0/10")!], laboratoryInternet: LabelEvaluation.simulatorInternet)
        let configuration = DetectionConfiguration(network: layout, pseudonymKey: Array("bench".utf8))
        var analyzer = ShardedFlowAnalyzer(configuration: configuration, shards: workers)
        var single = FlowAnalyzer(configuration: configuration)
        var batch: [(record: FlowRecord, receivedAt: Int64)] = []
        batch.reserveCapacity(1024)
        let wall0 = ContinuousClock.now
        var analysis = Duration.zero
        let start: Int64 = 1_795_000_000_000
        let duration = Int64(minutes) * 60_000
        let heartbeats = minutes
        let perHost = recordsPerHost + heartbeats
        let total = hosts * perHost
        let rssBefore = BenchMeasure.residentBytes()
        var rng = SplitMix64(seed: 11)
        let cpu0 = workers > 1 ? BenchMeasure.processCPUSeconds() : BenchMeasure.threadCPUSeconds()
        var nextEvaluation = start
        var nextProgress = Date().addingTimeInterval(5)
        var record = FlowRecord(
            sourceAddress: .v4(0), destinationAddress: .v4(0), sourcePort: 0, destinationPort: 443, ipProtocol: 6, tcpFlags: 0x1B,
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
            // Received when it ends, as a live collector sees it. Analysed in batches of 1,024
            // (as the collector hands them over), timed apart from their making.
            batch.append((record, record.endMilliseconds))
            guard batch.count == 1024 || i == total - 1 else { continue }
            let analysing = ContinuousClock.now
            if workers == 1 {
                for (r, received) in batch { single.ingest(r, receivedAt: received) }
            } else {
                analyzer.ingest(batch)
            }
            batch.removeAll(keepingCapacity: true)
            if t >= nextEvaluation {
                nextEvaluation = t + 1_000
                _ = workers == 1 ? single.evaluate(now: t) : analyzer.evaluate(now: t)
                if let progress, Date() >= nextProgress {
                    nextProgress = Date().addingTimeInterval(5)
                    let pairs = workers == 1 ? single.statistics.trackedPairs : analyzer.statistics.trackedPairs
                    progress(Progress(records: i, percent: i * 100 / total, pairs: pairs))
                }
            }
            analysis += ContinuousClock.now - analysing
        }
        let finishing = ContinuousClock.now
        _ = workers == 1 ? single.finish() : analyzer.finish()
        analysis += ContinuousClock.now - finishing
        let cpu = (workers > 1 ? BenchMeasure.processCPUSeconds() : BenchMeasure.threadCPUSeconds()) - cpu0
        let wall = ContinuousClock.now - wall0
        let findings = workers == 1 ? single.currentFindings : analyzer.currentFindings
        let stats = workers == 1 ? single.statistics : analyzer.statistics
        // Nothing here is a botnet: every C&C finding would be a false positive.
        let commandAndControl = findings.filter { $0.kind == .commandAndControl }.count
        let rssAfter = BenchMeasure.residentBytes()
        let perPair = Double(max(0, rssAfter - rssBefore)) / Double(max(1, stats.trackedPairs))
        return Result(
            hosts: hosts, minutes: minutes, records: total, cpuSeconds: cpu,
            wallSeconds: Self.seconds(wall), analysisSeconds: Self.seconds(analysis), workers: workers,
            pairs: stats.trackedPairs, endpoints: stats.trackedEndpoints,
            peakResidentBytes: BenchMeasure.peakResidentBytes(), residentBytesPerPair: perPair,
            commandAndControlFindings: commandAndControl,
            suppressedPopular: stats.suppressedPopular, suppressedServicePool: stats.suppressedServicePool)
    }
}
