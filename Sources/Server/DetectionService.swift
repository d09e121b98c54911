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
/// the analyzer, and a service that evaluates once a second, stores new and changed findings,
/// and enforces the findings' retention.
///
/// Raw records live only in the analyzer's bounded windows; what reaches the store is findings.
public final class DetectionService: FlowSink, Service {
    private let analyzer: NIOLockedValueBox<FlowAnalyzer>
    public let store: any FindingStore
    private let logger: Logger
    private let retentionMilliseconds: Int64
    private let announced = NIOLockedValueBox(Set<String>())
    private let reported: [FindingKind: Counter]
    private let storeErrors: Counter

    public init(configuration: DetectionConfiguration, store: any FindingStore, retentionDays: Int, logger: Logger, metricsFactory: any MetricsFactory) {
        analyzer = NIOLockedValueBox(FlowAnalyzer(configuration: configuration))
        self.store = store
        self.logger = logger
        retentionMilliseconds = Int64(retentionDays) * 86_400_000
        var counters: [FindingKind: Counter] = [:]
        for k in FindingKind.allCases {
            counters[k] = Counter(label: "mamori_findings_reported_total", dimensions: [("kind", k.rawValue)], factory: metricsFactory)
        }
        reported = counters
        storeErrors = Counter(label: "mamori_findings_store_errors_total", factory: metricsFactory)
    }

    /// Feeds a batch on the flows' own clock (their end times), so windows, periods and
    /// retention follow the traffic — also when a simulator replays a past day at 100× speed.
    /// A record stamped more than ten minutes ahead of this machine's clock (a router with a
    /// wrong clock) is taken as received now, so it cannot age everything else out.
    public func consume(_ batch: FlowBatch) async {
        let limit = Self.milliseconds() + 600_000
        analyzer.withLockedValue { a in
            for r in batch.records { a.ingest(r, receivedAt: min(r.endMilliseconds, limit)) }
        }
    }

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

    /// Runs the detectors that are due on the traffic's clock and stores what changed.
    public func evaluate() async {
        let changed = analyzer.withLockedValue { $0.evaluate(now: $0.clock) }
        guard !changed.isEmpty else { return }
        do {
            try await store.upsert(changed)
        } catch {
            storeErrors.increment()
            logger.error("cannot store findings", metadata: ["error": "\(error)"])
        }
        let fresh = announced.withLockedValue { seen in changed.filter { seen.insert($0.id).inserted } }
        for f in fresh {
            reported[f.kind]?.increment()
            logger.notice("finding", metadata: [
                "kind": "\(f.kind.rawValue)", "subject": "\(f.subject)", "score": "\((f.score * 100).rounded() / 100)",
                "id": "\(f.id)", "summary": "\(f.summary)",
            ])
        }
    }

    /// Deletes findings last seen more than the retention before `now`.
    public func sweep(now: Int64) async {
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
        guard subject.type == .endpoint, let address = IPAddress(subject.address), let prefix = IPPrefix(address: address, length: address.isIPv6 ? 128 : 32) else { return }
        let proto: UInt8? = switch subject.protocol { case "tcp": 6; case "udp": 17; default: nil }
        analyzer.withLockedValue { $0.allow(EndpointList.Entry(prefix: prefix, port: subject.port, ipProtocol: proto, note: note)) }
    }

    public var statistics: AnalyzerStatistics { analyzer.withLockedValue { $0.statistics } }

    static func milliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
