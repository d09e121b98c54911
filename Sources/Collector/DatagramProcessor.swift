import FlowCodec
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore

/// Decodes the datagrams of one listener and hands their records on in batches.
///
/// Runs on the listener's receive thread; everything slower happens behind the bounded queue,
/// whose full state drops batches (counted) rather than blocking the socket. Not thread-safe on
/// its own: the receiver holds ``lock`` around each burst, and the collector takes it for the
/// rare maintenance calls (template snapshot, restore, expiry).
final class DatagramProcessor: @unchecked Sendable {
    // @unchecked: all mutable state is touched with `lock` held.
    let lock = NIOLock()
    private var decoder: FlowDecoder
    private var pending: [FlowRecord] = []
    /// Whether a record decoded since the last flush carries NAT fields.
    private var pendingNAT = false
    /// Per-exporter totals of `pending`, summed while its records are still in this core's cache.
    private var pendingRuns: [ExporterRun] = []
    private let enqueue: @Sendable (consuming FlowBatch) -> Bool
    private let bufferPool: BatchBufferPool
    private let batchCapacity: Int
    private var exporterMetrics: [IPAddress: ExporterMetrics] = [:]
    private var lastExporter: (address: IPAddress, metrics: ExporterMetrics)? = nil
    private let metrics: CollectorMetrics
    private let metricsFactory: any MetricsFactory
    private var logger: Logger
    private var errorLog: ErrorLogLimiter
    private var lastFlush: Int64 = 0
    /// The template cache's eviction count at the last ``expireTemplates(now:)``.
    private var reportedEvictions = 0
    private let maxTrackedExporters = 10_000
    /// Records per batch before it is handed on. Each batch wakes the consumer: 512 records a
    /// batch cost about 25 % more CPU per record than 2,048 at 1.5 M records/s (BENCHMARKS.md).
    static let flushThreshold = 2048
    /// Longest time (ms) a decoded record waits before it is handed on: under a steady stream
    /// of small bursts the consumer wakes a hundred times a second, not once per burst.
    static let flushDelayMilliseconds: Int64 = 10
    /// Buffer capacity: the threshold plus room for a full datagram of typical records (an
    /// unusually large one makes the buffer grow once). Small enough to stay in cache.
    static let bufferCapacity = flushThreshold + 512

    init(
        decoder: FlowDecoder, enqueue: @escaping @Sendable (consuming FlowBatch) -> Bool, bufferPool: BatchBufferPool,
        metrics: CollectorMetrics,
        metricsFactory: any MetricsFactory, errorLogIntervalSeconds: Int, logger: Logger
    ) {
        self.decoder = decoder
        self.enqueue = enqueue
        self.bufferPool = bufferPool
        self.metrics = metrics
        self.metricsFactory = metricsFactory
        self.logger = logger
        self.errorLog = ErrorLogLimiter(intervalMilliseconds: Int64(errorLogIntervalSeconds) * 1000)
        self.batchCapacity = Self.flushThreshold
        pending = bufferPool.take()
    }

    /// Decodes one datagram. Call with ``lock`` held.
    func process(_ datagram: UnsafeRawBufferPointer, from exporter: IPAddress, now: Int64, truncated: Bool) {
        if truncated { metrics.truncatedDatagrams.increment() }
        let before = pending.count
        let report = decoder.decode(datagram, from: exporter, receivedAtMilliseconds: now, into: &pending)
        if report.natRecords > 0 { pendingNAT = true }
        if pending.count > before { sum(from: before, exporter: exporter) }
        let counters: ExporterMetrics
        if let last = lastExporter, last.address == exporter {
            counters = last.metrics // runs of datagrams from one exporter: no lookup
        } else if let known = exporterMetrics[exporter] {
            counters = known
            lastExporter = (exporter, known)
        } else {
            if exporterMetrics.count >= maxTrackedExporters {
                // Label cardinality is bounded: beyond the limit, only global counters move.
                metrics.exporterLimitDrops.increment()
                if let e = report.error { logError(e, exporter: exporter, now: now) }
                if report.rejectedTimes > 0 { metrics.unaccountedRefusedRecords.increment(by: Int64(report.rejectedTimes)) }
                flushIfLarge()
                return
            }
            counters = ExporterMetrics(exporter: exporter, factory: metricsFactory)
            exporterMetrics[exporter] = counters
            lastExporter = (exporter, counters)
            metrics.exporters.add(exporter)
            logger.info(
                "new exporter",
                metadata: ["flow.exporter": "\(exporter)", "flow.protocol": "\(report.exportProtocol.map { "\($0)" } ?? "unknown")"])
        }
        counters.record(report)
        if let e = report.error { logError(e, exporter: exporter, now: now) }
        if report.rejectedTimes > 0 { logRefusedTimes(report, exporter: exporter, now: now) }
        flushIfLarge()
    }

    /// Adds the records from `start` on, just decoded from `exporter`, to the pending totals.
    private func sum(from start: Int, exporter: IPAddress) {
        if pendingRuns.last?.exporter != exporter { pendingRuns.append(ExporterRun(exporter: exporter)) }
        var run = pendingRuns.removeLast()
        pending.withUnsafeBufferPointer { records in
            for k in start..<records.count { run.add(records[k]) }
        }
        pendingRuns.append(run)
    }

    /// Whether decoded records wait to be handed on. Call with ``lock`` held.
    var hasPending: Bool { !pending.isEmpty }

    /// After a read burst or an idle wait: hands on a part-filled batch once it is old enough.
    /// Call with ``lock`` held.
    func tick(now: Int64) {
        if pending.isEmpty {
            lastFlush = now
        } else if now - lastFlush >= Self.flushDelayMilliseconds {
            flush()
            lastFlush = now
        }
    }

    private func flushIfLarge() {
        if pending.count >= batchCapacity { flush() }
    }

    /// Hands on whatever is pending. Call with ``lock`` held.
    func flush() {
        guard !pending.isEmpty else { return }
        let count = pending.count
        var records = bufferPool.take()
        swap(&records, &pending)
        // Moved, never copied, all the way to the consumer: the consumer hands the buffer back
        // for reuse, and if this thread still held a reference then, emptying it would allocate
        // a fresh buffer (copy on write) whose pages fault on first use (measured: ~2 page
        // faults per thousand records, in the prototype copies of the decoder).
        let batch = FlowBatch(records: consume records, mayContainNAT: pendingNAT, exporterRuns: pendingRuns)
        pendingNAT = false
        pendingRuns = []
        if !enqueue(consume batch) {
            metrics.queueDroppedBatches.increment()
            metrics.queueDroppedRecords.increment(by: Int64(count))
        }
    }

    private func logError(_ error: FlowDecodingError, exporter: IPAddress, now: Int64) {
        if let suppressed = errorLog.shouldLog(exporter: exporter, code: error.code, now: now) {
            logger.info(
                "undecodable export data",
                metadata: [
                    "flow.exporter": "\(exporter)", "flow.error": "\(error.code)", "flow.reason": "\(error.reason)",
                    "flow.suppressed": "\(suppressed)",
                ]
            )
        }
    }

    private func logRefusedTimes(_ report: DecodeReport, exporter: IPAddress, now: Int64) {
        guard let suppressed = errorLog.shouldLog(exporter: exporter, code: .implausibleTime, now: now) else { return }
        let window = decoder.configuration.timeWindow
        logger.info(
            "flow records refused for their times (check the exporter's clock)",
            metadata: [
                "flow.exporter": "\(exporter)", "flow.out_of_range": "\(report.timesOutOfRange)", "flow.too_old": "\(report.timesTooOld)",
                "flow.ahead": "\(report.timesAhead)", "flow.max_age_s": "\(window.maximumAgeMilliseconds.map { "\($0 / 1000)" } ?? "none")",
                "flow.max_lead_s": "\(window.maximumLeadMilliseconds.map { "\($0 / 1000)" } ?? "none")", "flow.suppressed": "\(suppressed)",
            ]
        )
    }

    // MARK: access from the collector (with `lock` held)

    func templateSnapshot() -> [PersistedTemplate] { decoder.templates.snapshot() }

    func restoreTemplates(_ persisted: [PersistedTemplate], now: Int64) -> Int {
        decoder.restoreTemplates(persisted, now: now)
    }

    /// Expires templates; returns how many expired, how many remain, and how many the cache's
    /// limit forgot since the last call.
    func expireTemplates(now: Int64) -> (expired: Int, remaining: Int, evicted: Int) {
        let n = decoder.expireTemplates(now: now)
        let evictions = decoder.templates.evictions
        defer { reportedEvictions = evictions }
        return (n, decoder.templates.count, evictions - reportedEvictions)
    }

    static func wallClockMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}

/// Limits log lines to one per (exporter, error kind) per interval, counting what it held back.
struct ErrorLogLimiter {
    let intervalMilliseconds: Int64
    private var last: [ErrorKey: (time: Int64, suppressed: Int)] = [:]

    struct ErrorKey: Hashable {
        var exporter: IPAddress
        var code: FlowDecodingError.Code
    }

    init(intervalMilliseconds: Int64) { self.intervalMilliseconds = intervalMilliseconds }

    /// `nil` to stay quiet; otherwise the number of occurrences suppressed since the last line.
    mutating func shouldLog(exporter: IPAddress, code: FlowDecodingError.Code, now: Int64) -> Int? {
        let key = ErrorKey(exporter: exporter, code: code)
        if let entry = last[key], now - entry.time < intervalMilliseconds {
            last[key]!.suppressed += 1
            return nil
        }
        if last.count > 10_000 { last.removeAll(keepingCapacity: true) }
        let suppressed = last[key]?.suppressed ?? 0
        last[key] = (now, 0)
        return suppressed
    }
}
