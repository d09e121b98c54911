import Collector
import Detection
import FlowCodec
import Foundation
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Runs the detectors inside `mamori serve`: a sink of the collector that feeds every record to
/// the analyzer as the collector's consumer hands it over, and a service that evaluates once a
/// second on a timer, stores new and changed findings, and enforces the findings' retention.
///
/// The pipeline has one queue: the collector's, between the receive threads and its consumer.
/// This sink keeps none of its own; it reads the backlog behind each batch
/// (``FlowBatch/queuedBehind``) and sheds whole address pairs when it grows (``LoadShedder``) —
/// the pipeline's one shedding point. Beyond the queue's capacity the collector drops new batches,
/// counted (`mamori_collector_queue_dropped_records_total`).
///
/// Raw records live only in the analyzer's bounded windows; what reaches the store is findings.
public final class DetectionService: FlowSink, Service {
    private let analyzer: NIOLockedValueBox<ShardedFlowAnalyzer>
    public let store: any FindingStore
    private let logger: Logger
    private let retentionMilliseconds: Int64
    /// Findings already logged and counted as reported: bounded (oldest forgotten first), so an
    /// endless stream of spoofed findings cannot grow it; a forgotten one is announced again.
    private let announced = NIOLockedValueBox(BoundedSet<String>(capacity: 200_000))
    private let reported: [FindingKind: Counter]
    private let storeErrors: Counter
    /// Decides, from the collector's backlog, which address pairs the detectors see.
    private let shedder: NIOLockedValueBox<LoadShedder>
    private let shedRecords: Counter
    private let analysedRecords: Counter
    private let shedPairsGauge: Gauge
    /// The detectors' load: what was analysed and shed, and the address pairs shed.
    private let load: NIOLockedValueBox<DetectionLoad>
    private let shedPairs = NIOLockedValueBox(ShedPairs())
    private let sheddingInterval: Gauge
    /// The detectors' own counts, published as metrics after each evaluation.
    private let analyzerMetrics: AnalyzerMetrics
    /// Who is behind a host finding; nil when attribution is not wired (tests of detection alone).
    public let attribution: AttributionService?
    /// Host findings not yet attributed, latest version of each, retried every 10 s so that
    /// identity data arriving after the flows still reaches the finding.
    private let unattributed = NIOLockedValueBox([String: Finding]())
    private let nextAttributionRetry = NIOLockedValueBox(ContinuousClock.now)
    private let attributionRetryInterval: Duration
    static let maximumUnattributed = 100_000
    /// Findings the store refused (disk full, I/O error), latest version of each: kept in memory
    /// and written again at every evaluation until the store takes them, and only then handed to
    /// the case workflow. Beyond ``maximumUnstored`` new ones are counted as lost
    /// (`mamori_findings_lost_total`); the detectors report a finding again while it lasts.
    private let unstored = NIOLockedValueBox([String: Finding]())
    static let maximumUnstored = 100_000
    private let unstoredGauge: Gauge
    private let lostFindings: Counter
    private let metricsFactory: any MetricsFactory
    /// Who hears about findings after they are stored (the case workflow).
    private let findingsHandlers = NIOLockedValueBox([@Sendable ([Finding]) async -> Void]())

    /// Who hears about analysts' verdicts (the DNS sinkhole).
    private let verdictHandlers = NIOLockedValueBox([@Sendable (Finding, Verdict) async -> Void]())

    /// Calls `handler` with each verdict an analyst records (API or console), after it is stored.
    public func onVerdict(_ handler: @escaping @Sendable (Finding, Verdict) async -> Void) {
        verdictHandlers.withLockedValue { $0.append(handler) }
    }

    /// Records `verdict` on finding `id`: stored, a C&C (or, with `allowlist`, any endpoint)
    /// called a false positive stops being reported, and the verdict's listeners are told.
    /// Nil when there is no such finding.
    public func record(_ verdict: Verdict, forFinding id: String, allowlist: Bool = false) async throws -> Finding? {
        guard let f = try await store.record(verdict, forFinding: id) else { return nil }
        if verdict.verdict == .falsePositive && (f.kind == .commandAndControl || allowlist) {
            allow(f.subject, note: "false positive (\(verdict.analyst))")
        }
        for handler in verdictHandlers.withLockedValue({ $0 }) { await handler(f, verdict) }
        return f
    }

    /// Calls `handler` with every batch of new or changed findings, after they are stored.
    public func onFindings(_ handler: @escaping @Sendable ([Finding]) async -> Void) {
        findingsHandlers.withLockedValue { $0.append(handler) }
    }

    /// Whether the detectors evaluate as the flows' clock passes each evaluation, besides the timer
    /// (``DetectionSettings/evaluateOnFlowClock``).
    public let evaluateOnFlowClock: Bool

    /// This machine's time (records stamped further ahead than ``maximumClockLead`` are moved back).
    public let clock: any WallClock

    /// - Parameter sheddingThreshold: batches waiting in the collector's queue beyond which
    ///   address pairs are shed (see ``LoadShedder``); the default is a quarter of the queue's
    ///   default capacity (1,024 batches), about half a million records at full batches.
    public init(
        configuration: DetectionConfiguration, store: any FindingStore, retentionDays: Int, logger: Logger,
        metricsFactory: any MetricsFactory,
        workers: Int = 1, sheddingThreshold: Int = 256, evaluateOnFlowClock: Bool = false, attribution: AttributionService? = nil,
        attributionRetryInterval: Duration = .seconds(10),
        clock: any WallClock = SystemClock()
    ) {
        self.clock = clock
        self.evaluateOnFlowClock = evaluateOnFlowClock
        self.attribution = attribution
        self.attributionRetryInterval = attributionRetryInterval
        analyzer = NIOLockedValueBox(ShardedFlowAnalyzer(configuration: configuration, shards: workers))
        shedder = NIOLockedValueBox(LoadShedder(capacity: sheddingThreshold, key: UInt64.random(in: .min ... .max)))
        shedRecords = Counter(label: "mamori_detection_shed_records_total", factory: metricsFactory)
        analysedRecords = Counter(label: "mamori_detection_analysed_records_total", factory: metricsFactory)
        shedPairsGauge = Gauge(label: "mamori_detection_shed_pairs_last_minute", factory: metricsFactory)
        Gauge(label: "mamori_detection_workers", factory: metricsFactory).record(max(1, workers))
        load = NIOLockedValueBox(DetectionLoad(workers: max(1, workers)))
        sheddingInterval = Gauge(label: "mamori_detection_sampling_interval", factory: metricsFactory)
        analyzerMetrics = AnalyzerMetrics(factory: metricsFactory)
        self.metricsFactory = metricsFactory
        sheddingInterval.record(1)
        self.store = store
        self.logger = logger
        retentionMilliseconds = Int64(retentionDays) * 86_400_000
        var counters: [FindingKind: Counter] = [:]
        for k in FindingKind.allCases {
            counters[k] = Counter(label: "mamori_findings_reported_total", dimensions: [("kind", k.rawValue)], factory: metricsFactory)
        }
        reported = counters
        storeErrors = Counter(label: "mamori_findings_store_errors_total", factory: metricsFactory)
        unstoredGauge = Gauge(label: "mamori_findings_unstored", factory: metricsFactory)
        lostFindings = Counter(label: "mamori_findings_lost_total", factory: metricsFactory)
    }

    /// Findings waiting in memory because the store refused them.
    public var unstoredCount: Int { unstored.withLockedValue { $0.count } }

    /// Feeds a batch to the detectors on the flows' own clock (their end times), so windows,
    /// periods and retention follow the traffic — also when a simulator replays a past day at
    /// 100× speed. A record stamped more than a minute ahead of this machine's clock (a router
    /// whose clock is a little fast, within the collector's `max_clock_lead_seconds`, or a
    /// spoofed record) is taken as received a minute from now: no sender can move the detectors'
    /// clock further ahead than that and age real traffic out of their windows.
    ///
    /// When the batches waiting behind this one pass the shedding threshold, whole address pairs
    /// are shed and the rest scaled (``LoadShedder``): counted in
    /// `mamori_detection_shed_records_total`, the current 1-in-N in
    /// `mamori_detection_sampling_interval`, and logged when N changes.
    public func consume(_ batch: FlowBatch) async {
        let (shedder, changed) = self.shedder.withLockedValue { s -> (LoadShedder, Bool) in
            let before = s.interval
            s.adjust(backlog: batch.queuedBehind)
            return (s, s.interval != before)
        }
        let interval = shedder.interval
        if changed {
            sheddingInterval.record(Double(interval))
            logger.warning("detection backlog: analysing 1 in \(interval) address pairs", metadata: ["interval": "\(interval)"])
        }
        let limit = clock.milliseconds + Self.maximumClockLead
        var shedHashes: [UInt64] = []
        // With evaluateOnFlowClock, the detectors evaluate as soon as a record moves the flows'
        // clock past their next evaluation (as the once-a-second timer does when traffic comes in
        // real time), and at the end of the batch if one is due: what they find then depends on
        // the records and their order, not on how fast they arrive or how a collector batched
        // them. A record behind an evaluation that has passed counts as late, as live.
        let onFlowClock = evaluateOnFlowClock
        let (admitted, evaluated) = analyzer.withLockedValue { a -> (Int, [Finding]) in
            var admitted = 0
            var evaluated: [Finding] = []
            for var r in batch.records {
                guard shedder.admit(&r) else {
                    shedHashes.append(LoadShedder.pairHash(r))
                    continue
                }
                let before = a.recordClock
                a.ingest(r, receivedAt: min(r.endMilliseconds, limit))
                admitted += 1
                if onFlowClock && a.recordClock > before && a.isEvaluationDue { evaluated += a.evaluate(now: a.clock) }
            }
            a.flushPending()
            if onFlowClock && a.isEvaluationDue { evaluated += a.evaluate(now: a.clock) }
            return (admitted, evaluated)
        }
        analysedRecords.increment(by: Int64(admitted))
        if !evaluated.isEmpty { await publish(attribute(evaluated)) }
        let now = clock.milliseconds
        let lastMinute = shedPairs.withLockedValue { p in
            p.roll(at: now)
            for h in shedHashes { p.current.insert(h) }
            return p.lastMinute
        }
        load.withLockedValue {
            $0.analysedRecords += admitted
            $0.shedRecords += shedHashes.count
            $0.samplingInterval = interval
            $0.shedPairsLastMinute = lastMinute
        }
        if !shedHashes.isEmpty { shedRecords.increment(by: Int64(shedHashes.count)) }
    }

    /// How far ahead of this machine's clock a record may move the detectors' clock (ms).
    public static let maximumClockLead: Int64 = 60_000

    /// The current 1-in-N of the load shedder (1 when everything is analysed).
    public var sheddingRatio: UInt32 { shedder.withLockedValue { $0.interval } }

    /// Evaluates once a second on a timer — the records themselves reach the detectors through
    /// ``consume(_:)`` — and sweeps retention once an hour of traffic time. On shutdown it
    /// evaluates once more, after the collector has drained its queue into ``consume(_:)``.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var nextSweep: Int64 = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                await self.evaluate()
                // Retention runs on the same clock as the findings (the traffic's): a replayed or
                // simulated past day is not deleted the moment it is found.
                let now = self.analyzer.withLockedValue { $0.clock }
                if now != .min && now >= nextSweep {
                    nextSweep = now + 3_600_000
                    await self.sweep(now: now)
                }
            }
        }
        await evaluate()
    }

    /// Runs the detectors that are due on the traffic's clock and stores what changed, with the
    /// findings an earlier write could not store. Only stored findings go on to the case workflow;
    /// the others wait in memory (``unstoredCount``) for the next evaluation.
    public func evaluate() async {
        let (evaluated, statistics, sizes) = analyzer.withLockedValue { a in (a.evaluate(now: a.clock), a.statistics, a.tableSizes) }
        analyzerMetrics.publish(statistics, tableSizes: sizes)
        await publish(attribute(evaluated) + retryAttribution())
    }

    /// Findings of detectors outside the flow analyzer (the resolvers' dnstap log, the sinkhole
    /// listener): attributed, stored and handed on like the flow detectors' own.
    public func report(_ findings: [Finding]) async {
        guard !findings.isEmpty else { return }
        await publish(attribute(findings))
    }

    /// Stores `changed` with the findings an earlier write could not store, then hands them on.
    private func publish(_ changed: [Finding]) async {
        // The waiting findings stay counted as unstored until the store has taken them: a reader
        // of ``unstoredCount`` (/healthz, the gauge) never sees 0 while the write is in flight.
        let waiting = unstored.withLockedValue { Array($0.values) }
        let newer = Set(changed.map(\.id))
        let batch = changed + waiting.filter { !newer.contains($0.id) }
        guard !batch.isEmpty else { return }
        var stored = true
        do {
            try await store.upsert(batch)
            unstored.withLockedValue { u in for f in batch { u[f.id] = nil } }
        } catch {
            stored = false
            storeErrors.increment()
            let (kept, lost) = unstored.withLockedValue { u -> (Int, Int) in
                var lost = 0
                for f in batch {
                    if u[f.id] != nil || u.count < Self.maximumUnstored { u[f.id] = f } else { lost += 1 }
                }
                return (u.count, lost)
            }
            if lost > 0 { lostFindings.increment(by: Int64(lost)) }
            // The store's own failure is logged (rate-limited) by the storage health; this says what waits.
            logger.debug("findings kept in memory until the store takes them", metadata: ["waiting": "\(kept)", "error": "\(error)"])
        }
        unstoredGauge.record(Double(unstoredCount))
        if stored {
            for handler in findingsHandlers.withLockedValue({ $0 }) { await handler(batch) }
        }
        let fresh = announced.withLockedValue { seen in changed.filter { seen.insert($0.id) } }
        for f in fresh {
            reported[f.kind]?.increment()
            logger.notice(
                "finding",
                metadata: [
                    "kind": "\(f.kind.rawValue)", "subject": "\(f.subject)", "score": "\((f.score * 100).rounded() / 100)",
                    "id": "\(f.id)", "summary": "\(f.summary)",
                ])
        }
    }

    /// Sets the subscriber of every host finding, and remembers those still unattributed.
    func attribute(_ findings: [Finding]) -> [Finding] {
        guard let attribution else { return findings }
        let out = findings.map { f -> Finding in
            var f = f
            if let s = attribution.subscriber(of: f) { f.subscriber = s }
            return f
        }
        unattributed.withLockedValue { pending in
            for f in out where f.subscriber != nil {
                if f.subscriber?.outcome == .attributed {
                    pending[f.id] = nil
                } else if pending.count < Self.maximumUnattributed || pending[f.id] != nil {
                    pending[f.id] = f
                }
            }
        }
        return out
    }

    /// Every `attributionRetryInterval`: the unattributed host findings whose answer has changed since.
    func retryAttribution() -> [Finding] {
        guard let attribution else { return [] }
        let due = nextAttributionRetry.withLockedValue { next in
            guard ContinuousClock.now >= next else { return false }
            next = ContinuousClock.now + attributionRetryInterval
            return true
        }
        guard due else { return [] }
        let pending = unattributed.withLockedValue { Array($0.values) }
        var updated: [Finding] = []
        for var f in pending {
            guard let s = attribution.subscriber(of: f), s != f.subscriber else { continue }
            f.subscriber = s
            updated.append(f)
        }
        guard !updated.isEmpty else { return [] }
        unattributed.withLockedValue { p in
            for f in updated { if f.subscriber?.outcome == .attributed { p[f.id] = nil } else { p[f.id] = f } }
        }
        logger.info("attribution arrived for earlier findings", metadata: ["count": "\(updated.count)"])
        return updated
    }

    /// Deletes findings last seen more than the retention before `now`, and forgets identity data
    /// older than the attribution retention.
    public func sweep(now: Int64) async {
        attribution?.sweep(now: now)
        do {
            let removed = try await store.deleteFindings(lastSeenBefore: now - retentionMilliseconds)
            if removed > 0 { logger.info("retention: deleted expired findings", metadata: ["count": "\(removed)"]) }
        } catch {
            storeErrors.increment()
            logger.error("retention sweep failed", metadata: ["error": "\(error)"])
        }
    }

    /// An analyst's false positive: never report this endpoint as C&C again.
    public func allow(_ subject: FindingSubject, note: String) {
        guard subject.type == .endpoint, let address = IPAddress(subject.address),
            let prefix = IPPrefix(address: address, length: address.isIPv6 ? 128 : 32)
        else { return }
        let proto: UInt8? =
            switch subject.protocol {
            case "tcp": 6
            case "udp": 17
            default: nil
            }
        analyzer.withLockedValue { $0.allow(EndpointList.Entry(prefix: prefix, port: subject.port, ipProtocol: proto, note: note)) }
    }

    /// Replaces the indicators shared by `source` (a TAXII peer's collection, a MISP feed) with
    /// `entries`: what the source revoked or let expire stops matching at once (see
    /// ``FlowAnalyzer/replaceIndicators(source:with:)``). Returns how many did not fit under
    /// `detection.max_indicators`; they are logged and counted.
    @discardableResult
    public func replaceIndicators(source: String, with entries: [EndpointList.Entry]) -> Int {
        let (dropped, total) = analyzer.withLockedValue { a in
            (a.replaceIndicators(source: source, with: entries), a.configuration.indicators.count)
        }
        Gauge(label: "mamori_detection_indicators", dimensions: [("source", source)], factory: metricsFactory)
            .record(Double(entries.count - dropped))
        if dropped > 0 {
            Counter(label: "mamori_detection_indicators_dropped_total", dimensions: [("source", source)], factory: metricsFactory)
                .increment(by: Int64(dropped))
            logger.warning(
                "indicator table full: some of a source's indicators were not loaded",
                metadata: ["source": "\(source)", "dropped": "\(dropped)", "total": "\(total)"])
        }
        logger.info("indicators replaced", metadata: ["source": "\(source)", "count": "\(entries.count - dropped)"])
        return dropped
    }

    public var statistics: AnalyzerStatistics { analyzer.withLockedValue { $0.statistics } }

    /// What the detectors analysed and shed since the start (``DetectionLoad``).
    public var currentLoad: DetectionLoad {
        let lastMinute = shedPairs.withLockedValue { p in
            p.roll(at: clock.milliseconds)
            return p.lastMinute
        }
        shedPairsGauge.record(lastMinute)
        return load.withLockedValue {
            $0.shedPairsLastMinute = lastMinute
            return $0
        }
    }

    /// The detectors' clock: the latest record time they were given, ms since the epoch (`.min`
    /// before the first record).
    public var analyzerClock: Int64 { analyzer.withLockedValue { $0.clock } }
}

/// The detectors' load since the start, for `/healthz`: what was analysed, what was shed
/// (``LoadShedder``) and how many distinct address pairs the shed records belonged to in the
/// last full minute.
public struct DetectionLoad: Sendable, Hashable {
    public var workers: Int
    public var analysedRecords = 0
    public var shedRecords = 0
    public var shedPairsLastMinute = 0
    /// The shedder's current 1-in-N (1: everything analysed).
    public var samplingInterval: UInt32 = 1

    /// `"detection":{…}` for a JSON object.
    var jsonField: String {
        ",\"detection\":{\"workers\":\(workers),\"analysed_records\":\(analysedRecords),\"shed_records\":\(shedRecords),\"shed_pairs_last_minute\":\(shedPairsLastMinute),\"sampling_interval\":\(samplingInterval)}"
    }
}

/// Distinct address pairs shed, counted a minute at a time (bounded: a sketch, not a set).
struct ShedPairs: Sendable {
    var current = DistinctCounter(precision: 12, exactLimit: 256)
    var minuteStart: Int64 = .min
    var lastMinute = 0

    /// Closes the minute when it is over (a minute without shedding counts 0).
    mutating func roll(at now: Int64) {
        if minuteStart == .min { minuteStart = now }
        guard now - minuteStart >= 60_000 else { return }
        lastMinute = now - minuteStart >= 120_000 ? 0 : current.count
        current = DistinctCounter(precision: 12, exactLimit: 256)
        minuteStart = now
    }
}

/// What the detectors count, as metrics: records refused for their times, counters clamped,
/// entries dropped from their bounded tables, and how full each table is.
final class AnalyzerMetrics: Sendable {
    private let rejectedTimes: Counter
    private let clampedCounters: Counter
    private let shiftedTimes: Counter
    private let tableEvictions: Counter
    private let pairsEvicted: Counter
    private let factory: any MetricsFactory
    private let last = NIOLockedValueBox(AnalyzerStatistics())
    private let tables = NIOLockedValueBox([String: Gauge]())

    init(factory: any MetricsFactory) {
        self.factory = factory
        rejectedTimes = Counter(
            label: "mamori_detection_rejected_records_total", dimensions: [("reason", "time_out_of_range")], factory: factory)
        clampedCounters = Counter(label: "mamori_detection_clamped_records_total", factory: factory)
        shiftedTimes = Counter(label: "mamori_detection_shifted_records_total", factory: factory)
        tableEvictions = Counter(label: "mamori_detection_table_evictions_total", dimensions: [("table", "per_address")], factory: factory)
        pairsEvicted = Counter(label: "mamori_detection_table_evictions_total", dimensions: [("table", "pairs")], factory: factory)
    }

    func publish(_ s: AnalyzerStatistics, tableSizes: [String: Int]) {
        let before = last.withLockedValue { old in
            defer { old = s }
            return old
        }
        func add(_ c: Counter, _ now: Int, _ then: Int) { if now > then { c.increment(by: Int64(now - then)) } }
        add(rejectedTimes, s.rejectedTimes, before.rejectedTimes)
        add(clampedCounters, s.clampedCounters, before.clampedCounters)
        add(shiftedTimes, s.shiftedTimes, before.shiftedTimes)
        add(tableEvictions, s.tableEvictions, before.tableEvictions)
        add(pairsEvicted, s.pairsEvicted, before.pairsEvicted)
        tables.withLockedValue { gauges in
            for (table, size) in tableSizes {
                let g = gauges[table] ?? Gauge(label: "mamori_detection_table_entries", dimensions: [("table", table)], factory: factory)
                gauges[table] = g
                g.record(size)
            }
        }
    }
}
