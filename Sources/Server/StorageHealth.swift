import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import Storage

/// What the server knows about its stores' writes: counts every failure per store
/// (`mamori_storage_write_errors_total{store=…}`, `mamori_storage_failing{store=…}` 1 while the
/// last write failed), logs the first failure at once, then at most once a minute while it lasts,
/// and the recovery; `/healthz` reports the failing stores (status `degraded`).
public final class StorageHealth: StorageObserver {
    public static let stores = ["findings", "cases", "consent", "audit"]

    /// A store whose last write failed.
    public struct Failure: Sendable, Hashable {
        public var store: String
        /// The last error, in a few words.
        public var error: String
        /// When the first failure of this run of failures happened (ms since the epoch).
        public var since: Int64
        /// Failures since then.
        public var failures: Int
    }

    private struct State {
        var failing: [String: Failure] = [:]
        var lastLog: [String: ContinuousClock.Instant] = [:]
    }

    private let state = NIOLockedValueBox(State())
    /// Whether any store is failing: read without the lock's cost on every successful write.
    private let anyFailing = NIOLockedValueBox(false)
    private let errors: [String: Counter]
    private let failingGauges: [String: Gauge]
    private let logger: Logger
    private let logInterval: Duration

    public init(logger: Logger, metricsFactory: any MetricsFactory, logInterval: Duration = .seconds(60)) {
        self.logger = logger
        self.logInterval = logInterval
        var errors: [String: Counter] = [:]
        var gauges: [String: Gauge] = [:]
        for s in Self.stores {
            errors[s] = Counter(label: "mamori_storage_write_errors_total", dimensions: [("store", s)], factory: metricsFactory)
            gauges[s] = Gauge(label: "mamori_storage_failing", dimensions: [("store", s)], factory: metricsFactory)
            gauges[s]?.record(0)
        }
        self.errors = errors
        failingGauges = gauges
    }

    public func writeFailed(store: String, error: any Error) {
        errors[store]?.increment()
        failingGauges[store]?.record(1)
        let text = StorageErrorText.of(error)
        let now = ContinuousClock.now
        let (first, log, count) = state.withLockedValue { s -> (Bool, Bool, Int) in
            var f = s.failing[store] ?? Failure(store: store, error: text, since: Int64(Date().timeIntervalSince1970 * 1000), failures: 0)
            let first = f.failures == 0
            f.failures += 1
            f.error = text
            s.failing[store] = f
            let due = s.lastLog[store].map { now - $0 >= logInterval } ?? true
            if due { s.lastLog[store] = now }
            return (first, due, f.failures)
        }
        anyFailing.withLockedValue { $0 = true }
        if log {
            logger.error(
                first ? "storage write failed" : "storage writes still failing",
                metadata: ["store": "\(store)", "error": "\(text)", "failures": "\(count)"])
        }
    }

    public func writeSucceeded(store: String) {
        guard anyFailing.withLockedValue({ $0 }) else { return }
        let recovered = state.withLockedValue { s -> Failure? in
            guard let f = s.failing.removeValue(forKey: store) else { return nil }
            s.lastLog[store] = nil
            return f
        }
        guard let recovered else { return }
        failingGauges[store]?.record(0)
        let none = state.withLockedValue { $0.failing.isEmpty }
        if none { anyFailing.withLockedValue { $0 = false } }
        logger.notice("storage writes succeed again", metadata: ["store": "\(store)", "failures": "\(recovered.failures)"])
    }

    /// The stores whose last write failed, by name.
    public var failures: [Failure] {
        state.withLockedValue { Array($0.failing.values) }.sorted { $0.store < $1.store }
    }
}
