import Collector
import FlowCodec
import Foundation
import Hummingbird
import Logging
import MamoriCore
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle

/// What `buildApplication` needs besides the configuration file.
public struct ApplicationDependencies: Sendable {
    /// Where metrics are registered and read from for /metrics.
    public var prometheus: PrometheusCollectorRegistry
    /// Extra flow consumers (the statistics sink is always present).
    public var extraSinks: [any FlowSink]
    public var logger: Logger

    public init(prometheus: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), extraSinks: [any FlowSink] = [], logger: Logger = Logger(label: "mamori")) {
        self.prometheus = prometheus
        self.extraSinks = extraSinks
        self.logger = logger
    }
}

/// The running parts of Mamori, for callers (tests, the CLI) that want to look inside.
public struct MamoriServices: Sendable {
    public let collector: FlowCollector
    public let statistics: FlowStatisticsSink
}

/// Builds Mamori's server: the flow collector plus HTTP (`/healthz`, `/metrics`), as one
/// Hummingbird application whose service group handles SIGTERM/SIGINT.
///
/// ```swift
/// let (app, _) = try buildApplication(configuration: MamoriConfiguration())
/// try await app.runService()
/// ```
public func buildApplication(
    configuration: MamoriConfiguration,
    dependencies: ApplicationDependencies = .init()
) throws -> (some ApplicationProtocol, MamoriServices) {
    let factory = PrometheusMetricsFactory(registry: dependencies.prometheus)
    var collectorConfiguration = configuration.collector
    if collectorConfiguration.templateFile == nil {
        collectorConfiguration.templateFile = configuration.templateFile
    }
    let statistics = FlowStatisticsSink()
    var logger = dependencies.logger
    logger.logLevel = configuration.logLevel
    var collectorLogger = logger
    collectorLogger[metadataKey: "component"] = "collector"
    let collector = FlowCollector(
        configuration: collectorConfiguration,
        sinks: [statistics] + dependencies.extraSinks,
        metricsFactory: factory,
        logger: collectorLogger
    )
    let startedAt = Date()
    let router = Router()
    router.get("/healthz") { _, _ -> Response in
        // HOST:PORT as in the configuration (SocketAddress's own description is "[IPv4]host/host:port").
        let listeners = collector.listeners.map { "\"\(FlowCollector.hostAndPort($0.address))\"" }.joined(separator: ",")
        let totals = statistics.total
        let body = "{\"status\":\"ok\",\"uptime_seconds\":\(Int(Date().timeIntervalSince(startedAt))),\"listeners\":[\(listeners)],\"flow_records\":\(totals.records)}\n"
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
    let registry = dependencies.prometheus
    router.get("/metrics") { _, _ -> Response in
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16_384)
        registry.emit(into: &bytes)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }
    var app = Application(
        router: router,
        configuration: .init(address: .hostname(configuration.http.host, port: configuration.http.port), serverName: "mamori"),
        logger: logger
    )
    app.addServices(collector)
    return (app, MamoriServices(collector: collector, statistics: statistics))
}
