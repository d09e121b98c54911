import Console
import Foundation
import Logging
import MamoriCore
import NIOConcurrencyHelpers
import Prometheus
import ServiceLifecycle

/// Samples the server's own metrics every `interval` into a bounded history (the last hour at
/// the default 10 s), for the console's overview charts.
final class ConsoleHistory: Service, Sendable {
    private let history: NIOLockedValueBox<MetricsHistory>
    private let registry: PrometheusCollectorRegistry
    private let clock: any WallClock
    let interval: Duration

    init(registry: PrometheusCollectorRegistry, clock: any WallClock, interval: Duration = .seconds(10), capacity: Int = 360) {
        self.registry = registry
        self.clock = clock
        self.interval = interval
        history = NIOLockedValueBox(MetricsHistory(capacity: capacity))
    }

    var snapshot: MetricsHistory { history.withLockedValue { $0 } }

    /// Takes one sample now.
    func sample() {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16_384)
        registry.emit(into: &bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        let now = clock.milliseconds
        history.withLockedValue { $0.record(exposition: text, at: now) }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            self.sample()
            while !Task.isCancelled {
                try? await Task.sleep(for: self.interval)
                if !Task.isCancelled { self.sample() }
            }
        }
    }
}
