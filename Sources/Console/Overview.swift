import Foundation
import Lawful
import MamoriCore

/// What the overview's charts are drawn from: the server's own Prometheus metrics, sampled every
/// few seconds into a bounded ring (the last hour). Reading the exposition text keeps the
/// console from reaching into each service's counters, and shows the same figures an operator's
/// Prometheus would.
public struct MetricsHistory: Sendable {
    public struct Sample: Sendable {
        public var at: Int64
        /// `name{labels}` → value, for the metrics the overview draws.
        public var values: [String: Double]
    }

    /// The metrics kept (counters and gauges).
    public static let kept: Set<String> = [
        "mamori_collector_flow_records_total", "mamori_collector_decode_errors_total", "mamori_collector_sequence_lost_records_total",
        "mamori_collector_queue_batches", "mamori_detection_shed_records_total", "mamori_collector_queue_dropped_records_total",
    ]
    /// At most this many label sets of one metric in a sample (exporters beyond it are summed as "other").
    public static let maximumSeries = 32

    public private(set) var samples: [Sample] = []
    public let capacity: Int

    public init(capacity: Int = 360) { self.capacity = max(2, capacity) }

    public mutating func record(exposition: String, at: Int64) {
        samples.append(Sample(at: at, values: Self.parse(exposition)))
        if samples.count > capacity { samples.removeFirst(samples.count - capacity) }
    }

    /// The kept metrics of a Prometheus text exposition. Lines that are not `name{labels} value`
    /// or `name value` are skipped; the whole is bounded by ``maximumSeries`` per metric.
    public static func parse(_ text: String) -> [String: Double] {
        var values: [String: Double] = [:]
        var perMetric: [String: Int] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]), value.isFinite else {
                continue
            }
            let key = line[..<space]
            let name = key.prefix { $0 != "{" && $0 != " " }
            guard kept.contains(String(name)) else { continue }
            let count = perMetric[String(name), default: 0]
            if count >= maximumSeries {
                values["\(name){other}", default: 0] += value
                continue
            }
            perMetric[String(name)] = count + 1
            values[String(key), default: 0] += value
        }
        return values
    }

    /// The value of `label` in a `name{…}` key (`exporter="192.0.2.1"` → 192.0.2.1).
    static func label(_ label: String, of key: String) -> String? {
        guard let r = key.range(of: "\(label)=\"") else { return nil }
        let rest = key[r.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    /// Per-second rates of a counter, one series per value of `label` (nil: summed into one
    /// series named `total`). A counter that went down (a restart) gives no point for that step.
    public func rates(_ metric: String, by label: String?, perSeconds: Double = 1) -> [SVGChart.Series] {
        var series: [String: [(time: Int64, value: Double)]] = [:]
        for (a, b) in zip(samples, samples.dropFirst()) {
            let seconds = Double(b.at - a.at) / 1000
            guard seconds > 0 else { continue }
            var step: [String: Double] = [:]
            for (key, value) in b.values where key.hasPrefix(metric + "{") || key == metric {
                let name = label.flatMap { Self.label($0, of: key) } ?? (label == nil ? "total" : "other")
                let before = a.values[key] ?? value
                guard value >= before else { continue }
                step[name, default: 0] += (value - before) / seconds * perSeconds
            }
            for (name, v) in step { series[name, default: []].append((b.at, v)) }
        }
        return series.sorted { $0.key < $1.key }.map { SVGChart.Series(name: $0.key, points: $0.value) }
    }

    /// A gauge's values over time, summed over its label sets.
    public func gauge(_ metric: String, name: String) -> SVGChart.Series {
        SVGChart.Series(
            name: name,
            points: samples.map { s in
                (s.at, s.values.filter { $0.key == metric || $0.key.hasPrefix(metric + "{") }.values.reduce(0, +))
            })
    }
}

/// The overview: traffic, losses, detection load, findings and cases over time.
public struct OverviewView {
    struct Tile {
        var label: String
        var value: String
        var href: String?
    }
    var tiles: [Tile]
    var flowChart: String
    var lossChart: String
    var loadChart: String
    var findingsChart: String
    var casesChart: String

    public init(
        history: MetricsHistory, findings: [Finding], cases: [LawfulCase], health: String, now: Int64, language: ConsoleLanguage
    ) {
        let t = language.texts
        let empty = t["noData"] ?? ""
        let from = max(now - 3_600_000, history.samples.first?.at ?? now)
        flowChart = SVGChart.lines(
            history.rates("mamori_collector_flow_records_total", by: "exporter"), from: from, to: now, unit: t["recordsPerSecond"] ?? "",
            label: t["flowRate"] ?? "", empty: empty)
        var losses = history.rates("mamori_collector_decode_errors_total", by: nil, perSeconds: 60).map {
            SVGChart.Series(name: "decode errors", points: $0.points)
        }
        losses += history.rates("mamori_collector_sequence_lost_records_total", by: nil, perSeconds: 60).map {
            SVGChart.Series(name: "lost records", points: $0.points)
        }
        lossChart = SVGChart.lines(losses, from: from, to: now, unit: t["perMinute"] ?? "", label: t["losses"] ?? "", empty: empty)
        var load = [history.gauge("mamori_collector_queue_batches", name: "queued batches")]
        load += history.rates("mamori_detection_shed_records_total", by: nil, perSeconds: 60).map {
            SVGChart.Series(name: "shed records/min", points: $0.points)
        }
        loadChart = SVGChart.lines(load, from: from, to: now, unit: "", label: t["detectionLoad"] ?? "", empty: empty)
        let hour: Int64 = 3_600_000
        let start = (now / hour - 23) * hour
        let kinds = FindingKind.allCases
        var buckets = (0..<24).map { (start: start + Int64($0) * hour, counts: [Int](repeating: 0, count: kinds.count)) }
        for f in findings where f.detectedAt >= start {
            let i = Int((f.detectedAt - start) / hour)
            if i < 24, let k = kinds.firstIndex(of: f.kind) { buckets[i].counts[k] += 1 }
        }
        findingsChart = SVGChart.stackedBars(
            buckets: buckets, categories: kinds.map(\.rawValue), bucketLength: hour, label: t["findingsPerHour"] ?? "", empty: empty)
        var caseBuckets = (0..<24).map { (start: start + Int64($0) * hour, counts: [0, 0]) }
        for c in cases where c.opened >= start {
            let i = Int((c.opened - start) / hour)
            if i < 24 { caseBuckets[i].counts[c.kind == .infection ? 0 : 1] += 1 }
        }
        casesChart = SVGChart.stackedBars(
            buckets: caseBuckets, categories: ["infection", "vulnerability"], bucketLength: hour, label: t["casesPerHour"] ?? "",
            empty: empty)
        let exporters = Set(history.samples.last?.values.keys.compactMap { MetricsHistory.label("exporter", of: $0) } ?? [])
        tiles = [
            Tile(label: t["health"] ?? "", value: health, href: nil),
            Tile(
                label: t["findingsLast24h"] ?? "", value: String(findings.filter { $0.detectedAt >= now - 86_400_000 }.count),
                href: "/console/findings"),
            Tile(label: t["openCases"] ?? "", value: String(cases.filter { !$0.state.isFinal }.count), href: "/console/cases"),
            Tile(label: t["exporters"] ?? "", value: String(exporters.count), href: nil),
        ]
    }
}
