import FlowCodec
import Metrics
import NIOConcurrencyHelpers

/// Counters of one exporter, created once and reused for every datagram
/// (metric names follow Prometheus conventions; the exporter address is a label).
/// A class so the receive path can keep a reference to the last exporter's counters.
final class ExporterMetrics {
    let datagrams: Counter
    let flowRecords: Counter
    let optionsRecords: Counter
    let templateMisses: Counter
    let lostRecords: Counter
    let sequenceResets: Counter
    let counterSamples: Counter
    private var errors: [FlowDecodingError.Code: Counter] = [:]
    private var refused: [String: Counter] = [:]
    private let exporterLabel: String
    private let factory: any MetricsFactory

    init(exporter: IPAddress, factory: any MetricsFactory) {
        let e = exporter.description
        exporterLabel = e
        self.factory = factory
        let dims = [("exporter", e)]
        datagrams = Counter(label: "mamori_collector_datagrams_total", dimensions: dims, factory: factory)
        flowRecords = Counter(label: "mamori_collector_flow_records_total", dimensions: dims, factory: factory)
        optionsRecords = Counter(label: "mamori_collector_options_records_total", dimensions: dims, factory: factory)
        templateMisses = Counter(label: "mamori_collector_template_misses_total", dimensions: dims, factory: factory)
        lostRecords = Counter(label: "mamori_collector_sequence_lost_records_total", dimensions: dims, factory: factory)
        sequenceResets = Counter(label: "mamori_collector_sequence_resets_total", dimensions: dims, factory: factory)
        counterSamples = Counter(label: "mamori_collector_sflow_counter_samples_total", dimensions: dims, factory: factory)
    }

    func error(_ code: FlowDecodingError.Code) -> Counter {
        if let c = errors[code] { return c }
        let c = Counter(
            label: "mamori_collector_decode_errors_total", dimensions: [("exporter", exporterLabel), ("kind", code.description)],
            factory: factory)
        errors[code] = c
        return c
    }

    /// `mamori_collector_rejected_records_total{exporter, reason}`: records decoded but not handed
    /// on for their times; created on first use.
    func refusedRecords(_ reason: String) -> Counter {
        if let c = refused[reason] { return c }
        let c = Counter(
            label: "mamori_collector_rejected_records_total", dimensions: [("exporter", exporterLabel), ("reason", reason)],
            factory: factory)
        refused[reason] = c
        return c
    }

    /// `mamori_collector_repaired_records_total{exporter, reason="end_before_start"}`: records kept
    /// with their end set to their start; created on first use.
    private lazy var repairedRecords = Counter(
        label: "mamori_collector_repaired_records_total", dimensions: [("exporter", exporterLabel), ("reason", "end_before_start")],
        factory: factory)

    func record(_ report: DecodeReport) {
        datagrams.increment()
        // Records decoded, whether or not their times were then refused: the refused ones are
        // also in mamori_collector_rejected_records_total.
        let decoded = report.flowRecords + report.rejectedTimes
        if decoded > 0 { flowRecords.increment(by: Int64(decoded)) }
        if report.optionsRecords > 0 { optionsRecords.increment(by: Int64(report.optionsRecords)) }
        if report.templateMisses > 0 { templateMisses.increment(by: Int64(report.templateMisses)) }
        if report.estimatedLostRecords > 0 { lostRecords.increment(by: Int64(clamping: report.estimatedLostRecords)) }
        if report.sequenceReset { sequenceResets.increment() }
        if report.counterSamples > 0 { counterSamples.increment(by: Int64(report.counterSamples)) }
        if let e = report.error { error(e.code).increment() }
        if report.timesOutOfRange > 0 { refusedRecords("time_out_of_range").increment(by: Int64(report.timesOutOfRange)) }
        if report.timesTooOld > 0 { refusedRecords("too_old").increment(by: Int64(report.timesTooOld)) }
        if report.timesAhead > 0 { refusedRecords("ahead_of_clock").increment(by: Int64(report.timesAhead)) }
        if report.repairedTimes > 0 { repairedRecords.increment(by: Int64(report.repairedTimes)) }
    }
}

/// Collector-wide counters and gauges.
struct CollectorMetrics: Sendable {
    let queueDroppedBatches: Counter
    let queueDroppedRecords: Counter
    let deliveredRecords: Counter
    let templates: Gauge
    /// `mamori_collector_queue_batches`: batches waiting for the sinks, read as each is taken.
    let queuedBatches: Gauge
    /// Templates forgotten because the cache was full (`FlowDecoder.Configuration.maxTemplates`).
    let templateEvictions: Counter
    /// Distinct exporters over all listeners (each listener sees only its own).
    let exporters: ExporterTally
    let truncatedDatagrams: Counter
    let exporterLimitDrops: Counter
    /// Records refused for their times from exporters beyond the per-exporter label limit.
    let unaccountedRefusedRecords: Counter

    init(factory: any MetricsFactory) {
        queueDroppedBatches = Counter(label: "mamori_collector_queue_dropped_batches_total", factory: factory)
        queueDroppedRecords = Counter(label: "mamori_collector_queue_dropped_records_total", factory: factory)
        deliveredRecords = Counter(label: "mamori_collector_delivered_records_total", factory: factory)
        templates = Gauge(label: "mamori_collector_templates", factory: factory)
        queuedBatches = Gauge(label: "mamori_collector_queue_batches", factory: factory)
        templateEvictions = Counter(label: "mamori_collector_template_evictions_total", factory: factory)
        exporters = ExporterTally(gauge: Gauge(label: "mamori_collector_exporters", factory: factory))
        truncatedDatagrams = Counter(label: "mamori_collector_truncated_datagrams_total", factory: factory)
        exporterLimitDrops = Counter(label: "mamori_collector_unaccounted_exporter_datagrams_total", factory: factory)
        unaccountedRefusedRecords = Counter(label: "mamori_collector_unaccounted_rejected_records_total", factory: factory)
    }
}

/// Counts distinct exporter addresses across every listener for the `mamori_collector_exporters`
/// gauge: an exporter sending to two ports, or two exporters on two listeners, are counted right.
final class ExporterTally: Sendable {
    private let seen = NIOLockedValueBox(Set<IPAddress>())
    private let gauge: Gauge

    init(gauge: Gauge) { self.gauge = gauge }

    /// Notes an exporter a listener has not seen before (called once per exporter and listener).
    func add(_ exporter: IPAddress) {
        // Recorded under the lock so that two listeners cannot publish their counts out of order.
        seen.withLockedValue { s in
            if s.insert(exporter).inserted { gauge.record(s.count) }
        }
    }

    var count: Int { seen.withLockedValue { $0.count } }
}

/// Kernel socket drop counter for one listener (the `drops` column of /proc/net/udp{,6}).
struct SocketDropMetric: Sendable {
    let gauge: Gauge
    init(endpoint: String, factory: any MetricsFactory) {
        gauge = Gauge(label: "mamori_collector_socket_receive_drops", dimensions: [("listener", endpoint)], factory: factory)
    }
}
