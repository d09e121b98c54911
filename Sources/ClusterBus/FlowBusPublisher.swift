import Collector
import FlowBus
import FlowCodec
import Logging
import Metrics
import NATSClient
import NATSWire
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// The collector role's sink (`mamori serve --role collector`): each batch the collector decoded
/// is split by partition (``FlowBus/FlowBusRouting``), each part written as one compact message
/// (``FlowBus/FlowBusBatch``) and published to its partition's subject, waiting for the stream's
/// acknowledgement.
///
/// Nothing is lost silently:
/// - the parts of a batch are published together and acknowledged before the next batch, so a
///   slow stream slows this sink, the collector's queue fills, and the collector counts what it
///   cannot queue (`mamori_collector_queue_dropped_records_total`);
/// - a part the stream refuses (full: `discard: new`) or that cannot be published after the
///   client's retries (no server) is counted by reason in `mamori_bus_lost_records_total` and
///   logged once per reason until publishing works again.
///
/// Every part says which batch it belongs to and which partitions got one
/// (``FlowBus/FlowBusBatchIdentity``), so that a detector owning several partitions analyses the
/// batch whole, in this collector's order. Every message carries a `Nats-Msg-Id` unique to this
/// process, so a publish retried after a lost acknowledgement is recognised by the stream as the
/// same message.
public final class FlowBusPublisher: FlowSink, Service {
    let jetStream: JetStream
    let settings: FlowBusSettings
    let logger: Logger
    private let routing: NIOLockedValueBox<FlowBusRouting>
    /// Distinguishes this process's message ids from a previous run's.
    let instance: String
    /// The next batch number.
    private let sequence = NIOLockedValueBox<UInt64>(0)
    /// Whether ``run()`` has set up the stream.
    private let stream = NIOLockedValueBox(false)
    private let failing = NIOLockedValueBox(Set<String>())

    private let publishedRecords: Counter
    private let publishedMessages: Counter
    private let publishedBytes: Counter
    private let lostStreamFull: Counter
    private let lostUnavailable: Counter

    public init(
        jetStream: JetStream, settings: FlowBusSettings, routing: FlowBusRouting, node: String, logger: Logger,
        metricsFactory: any MetricsFactory
    ) {
        self.jetStream = jetStream
        self.settings = settings
        self.routing = NIOLockedValueBox(routing)
        self.logger = logger
        instance = node + "-" + String(UInt64.random(in: .min ... .max), radix: 36)
        publishedRecords = Counter(label: "mamori_bus_published_records_total", factory: metricsFactory)
        publishedMessages = Counter(label: "mamori_bus_published_messages_total", factory: metricsFactory)
        publishedBytes = Counter(label: "mamori_bus_published_bytes_total", factory: metricsFactory)
        lostStreamFull = Counter(label: "mamori_bus_lost_records_total", dimensions: [("reason", "stream_full")], factory: metricsFactory)
        lostUnavailable = Counter(label: "mamori_bus_lost_records_total", dimensions: [("reason", "unavailable")], factory: metricsFactory)
    }

    /// Makes sure the stream exists (created, or updated to these settings), trying again every
    /// second until it does, then waits for shutdown.
    public func run() async throws {
        var attempt = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let info = try await jetStream.ensureStream(settings.streamConfig)
                logger.info(
                    "bus: publishing flow records to the stream",
                    metadata: [
                        "stream": "\(info.config.name)", "partitions": "\(settings.partitions)", "replicas": "\(settings.replicas)",
                    ])
                stream.withLockedValue { $0 = true }
                break
            } catch {
                if attempt == 0 {
                    logger.warning("bus: cannot set up the stream yet; trying every second", metadata: ["error": "\(error)"])
                }
                attempt += 1
                try? await Task.sleep(for: .seconds(1))
            }
        }
        try? await gracefulShutdown()
    }

    /// Why this collector cannot publish now (for a readiness check), or nil when it can: the
    /// stream not set up yet, no connection to NATS, or publishing failing.
    public func notReadyReason() async -> String? {
        guard stream.withLockedValue({ $0 }) else { return "the flow stream is not set up yet" }
        guard await jetStream.client.isConnected else { return "no connection to a NATS server" }
        let reasons = failing.withLockedValue { $0.sorted() }
        return reasons.isEmpty ? nil : "publishing flow records fails (\(reasons.joined(separator: ", ")))"
    }

    /// Waits (at most `timeout`) for ``run()`` to have set up the stream.
    func waitForStream(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !stream.withLockedValue({ $0 }) {
            guard ContinuousClock.now < deadline, !Task.isCancelled else { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return true
    }

    public func consume(_ batch: FlowBatch) async {
        guard !batch.records.isEmpty else { return }
        let parts = routing.withLockedValue { r -> [(Int, [FlowRecord], [Int])] in
            var split: [[FlowRecord]] = []
            var positions: [[Int]] = []
            r.split(batch.records, into: &split, positions: &positions)
            return split.indices.filter { !split[$0].isEmpty }.map { ($0, split[$0], positions[$0]) }
        }
        if !stream.withLockedValue({ $0 }) {
            _ = await waitForStream(timeout: .seconds(10))
        }
        let number = sequence.withLockedValue { n in
            defer { n += 1 }
            return n
        }
        let identity = FlowBusBatchIdentity(collector: instance, number: number, partitions: parts.map(\.0))
        // Publishing counts as working again only when a whole batch went out: parts of one
        // batch succeed and fail side by side while a stream is at its limit.
        let published = await withTaskGroup(of: Bool.self) { group in
            for (partition, records, positions) in parts {
                group.addTask { await self.publish(records, positions: positions, partition: partition, identity: identity) }
            }
            return await group.reduce(true) { $0 && $1 }
        }
        if published { recovered() }
    }

    /// Publishes one part; false when it was lost (counted and logged).
    func publish(_ records: [FlowRecord], positions: [Int], partition: Int, identity: FlowBusBatchIdentity) async -> Bool {
        let payload = FlowBusBatch.encode(records, positions: positions)
        let subject = "\(settings.subjectPrefix).\(partition)"
        // The collector drains its queue at shutdown: with the bus down, that would wait for a
        // connection part by part; the parts are counted as lost at once instead.
        if Task.isShuttingDownGracefully, !(await jetStream.client.isConnected) {
            lostUnavailable.increment(by: records.count)
            failed(
                "unavailable", "bus: flow records could not be published and are counted as lost (mamori_bus_lost_records_total)",
                NATSClientError(.notConnected, "shutting down without a connection to NATS"))
            return false
        }
        var headers = NATSHeaders()
        let (batch, partsList) = identity.headerValues
        headers.append(FlowBusBatchIdentity.batchHeader, batch)
        headers.append(FlowBusBatchIdentity.partsHeader, partsList)
        do {
            _ = try await jetStream.publish(payload, to: subject, messageID: "\(batch)/\(partition)", headers: headers)
            publishedRecords.increment(by: records.count)
            publishedMessages.increment()
            publishedBytes.increment(by: payload.readableBytes)
            return true
        } catch let error as JetStreamError where error.isStreamFull {
            lostStreamFull.increment(by: records.count)
            failed("stream_full", "bus: the stream is full; flow records are refused and counted (mamori_bus_lost_records_total)", error)
        } catch {
            lostUnavailable.increment(by: records.count)
            failed("unavailable", "bus: flow records could not be published and are counted as lost (mamori_bus_lost_records_total)", error)
        }
        return false
    }

    /// Logs a failure once until publishing succeeds again.
    func failed(_ reason: String, _ message: Logger.Message, _ error: any Error) {
        let first = failing.withLockedValue { $0.insert(reason).inserted }
        if first { logger.error(message, metadata: ["reason": "\(reason)", "error": "\(error)"]) }
    }

    func recovered() {
        let was = failing.withLockedValue { f -> Bool in
            defer { f.removeAll() }
            return !f.isEmpty
        }
        if was { logger.notice("bus: publishing flow records again") }
    }
}
