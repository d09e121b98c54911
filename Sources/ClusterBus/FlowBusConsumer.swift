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

/// The detector role's source (`mamori serve --role detector`): for each partition this node owns,
/// a durable pull consumer of the flow stream with explicit acknowledgement. The parts of each
/// collector batch on this node's partitions are put together again (``FlowBus/FlowBusReassembly``:
/// one reader running ahead of another cannot reorder the traffic in time), decoded
/// (``FlowBus/FlowBusBatch``), handed to the sinks (the detectors, attribution, statistics) and
/// only then acknowledged. A batch this node took but did not acknowledge (it
/// crashed) is delivered again, after ``FlowBusSettings/acknowledgementWait``, to whichever node
/// reads the partition next.
///
/// A batch that cannot be decoded is terminated (never delivered again), counted in
/// `mamori_bus_refused_messages_total` and logged once per partition; the batches around it are
/// analysed. What waits in each partition is `mamori_bus_partition_pending{partition}`: a
/// detector slower than its collectors shows there, and, once the stream is full, as the
/// collectors' refused publishes.
public final class FlowBusConsumer: Service {
    let jetStream: JetStream
    let settings: FlowBusSettings
    /// The partitions this node reads.
    public let partitions: [Int]
    let sinks: [any FlowSink]
    let logger: Logger
    let limits: FlowBusBatch.Limits
    /// How many batches one pull asks for.
    let pullBatch: Int

    private let consumedRecords: Counter
    private let consumedMessages: Counter
    private let consumedBytes: Counter
    private let refusedMessages: Counter
    private let redelivered: Counter
    private let pending: [Gauge]
    private let incompleteBatches: Counter
    private let incompleteLogged = NIOLockedValueBox(false)
    private let setUpDone = NIOLockedValueBox(false)
    /// How long a batch waits for its parts from lagging partitions before it is analysed without them.
    let partWaitMilliseconds: Int64
    private let refusedLogged = NIOLockedValueBox(Set<Int>())
    private let failingLogged = NIOLockedValueBox(Set<Int>())
    private let totals = NIOLockedValueBox(Totals())

    /// What this node has consumed so far.
    public struct Totals: Sendable, Hashable {
        public var records = 0
        public var messages = 0
        public var refusedMessages = 0
        public var redeliveredMessages = 0
        /// Collector batches analysed without all their parts.
        public var incompleteBatches = 0
        /// Per partition, the batches waiting behind the last one pulled.
        public var pending: [Int: UInt64] = [:]
    }

    public var totalsSoFar: Totals { totals.withLockedValue { $0 } }

    public init(
        jetStream: JetStream, settings: FlowBusSettings, partitions: [Int], sinks: [any FlowSink], logger: Logger,
        metricsFactory: any MetricsFactory, pullBatch: Int = 64, partWait: Duration = .seconds(5)
    ) {
        let c = partWait.components
        partWaitMilliseconds = c.seconds * 1_000 + c.attoseconds / 1_000_000_000_000_000
        self.jetStream = jetStream
        self.settings = settings
        self.partitions = partitions
        self.sinks = sinks
        self.logger = logger
        self.limits = FlowBusBatch.Limits()
        self.pullBatch = max(1, pullBatch)
        consumedRecords = Counter(label: "mamori_bus_consumed_records_total", factory: metricsFactory)
        consumedMessages = Counter(label: "mamori_bus_consumed_messages_total", factory: metricsFactory)
        consumedBytes = Counter(label: "mamori_bus_consumed_bytes_total", factory: metricsFactory)
        refusedMessages = Counter(label: "mamori_bus_refused_messages_total", factory: metricsFactory)
        redelivered = Counter(label: "mamori_bus_redelivered_messages_total", factory: metricsFactory)
        incompleteBatches = Counter(label: "mamori_bus_incomplete_batches_total", factory: metricsFactory)
        pending = partitions.map {
            Gauge(label: "mamori_bus_partition_pending", dimensions: [("partition", "\($0)")], factory: metricsFactory)
        }
        Gauge(label: "mamori_bus_partitions_owned", factory: metricsFactory).record(partitions.count)
    }

    public func run() async throws {
        logger.info(
            "bus: reading flow records from the stream",
            metadata: ["stream": "\(settings.stream)", "partitions": "\(partitions.map(String.init).joined(separator: ","))"])
        // Set-up and pulls wait for a connection (a bus that is down): a shutdown cancels them.
        await cancelWhenGracefulShutdown { await self.setUp() }
        var reassembly = FlowBusReassembly<JetStreamMessage>(
            ownedPartitions: partitions, partWaitMilliseconds: partWaitMilliseconds,
            maximumBuffered: pullBatch * max(1, partitions.count) * 2)
        let start = ContinuousClock.now
        func now() -> Int64 {
            let c = (ContinuousClock.now - start).components
            return c.seconds * 1_000 + c.attoseconds / 1_000_000_000_000_000
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // Every partition at once, without waiting for messages that are not there yet.
            let pulled = await cancelWhenGracefulShutdown { await self.pull() }
            var count = 0
            var failures = 0
            for (p, result) in pulled {
                switch result {
                case .success(let messages):
                    working(p)
                    for m in messages {
                        let headers = m.message.headers
                        let identity = FlowBusBatchIdentity(
                            batch: headers?[FlowBusBatchIdentity.batchHeader], parts: headers?[FlowBusBatchIdentity.partsHeader],
                            partitionCount: settings.partitions)
                        reassembly.add(m, partition: p, identity: identity, now: now())
                        if let i = partitions.firstIndex(of: p) { pending[i].record(Double(m.metadata.pending)) }
                        totals.withLockedValue { $0.pending[p] = m.metadata.pending }
                    }
                    count += messages.count
                case .failure(let error):
                    failures += 1
                    failing(p, "bus: cannot pull from the partition; trying again", error)
                }
            }
            let incompleteBefore = reassembly.incompleteBatches
            for group in reassembly.release(now: now()) { await handle(group) }
            if reassembly.incompleteBatches > incompleteBefore {
                incompleteBatches.increment(by: reassembly.incompleteBatches - incompleteBefore)
                if !incompleteLogged.withLockedValue({ $0 }) {
                    incompleteLogged.withLockedValue { $0 = true }
                    logger.warning(
                        "bus: a collector's batch was analysed without all its parts (a part was lost on the way or its collector stopped mid-batch; counted in mamori_bus_incomplete_batches_total, logged once)"
                    )
                }
            }
            if count == 0 {
                try? await Task.sleep(for: failures == partitions.count ? .seconds(1) : .milliseconds(50))
            }
        }
        // What waits for missing parts is not acknowledged: it comes again to the partition's next reader.
        for sink in sinks { await sink.finish() }
    }

    /// Why this detector cannot read its partitions now (for a readiness check), or nil when it
    /// can: consumers not set up yet, no connection to NATS, or pulls failing.
    public func notReadyReason() async -> String? {
        guard setUpDone.withLockedValue({ $0 }) else { return "the partitions' consumers are not set up yet" }
        guard await jetStream.client.isConnected else { return "no connection to a NATS server" }
        let failing = failingLogged.withLockedValue { $0.filter { $0 >= 0 }.sorted() }
        return failing.isEmpty ? nil : "cannot pull from partitions \(failing.map(String.init).joined(separator: ","))"
    }

    /// One pull from every owned partition at once, in partition order.
    func pull() async -> [(Int, Result<[JetStreamMessage], any Error>)] {
        await withTaskGroup(of: (Int, Result<[JetStreamMessage], any Error>).self) { group in
            for p in partitions {
                group.addTask {
                    do {
                        return (
                            p,
                            .success(
                                try await self.jetStream.fetch(
                                    stream: self.settings.stream, consumer: self.consumerName(p), batch: self.pullBatch, noWait: true))
                        )
                    } catch {
                        return (p, .failure(error))
                    }
                }
            }
            var out: [(Int, Result<[JetStreamMessage], any Error>)] = []
            for await r in group { out.append(r) }
            return out.sorted { $0.0 < $1.0 }
        }
    }

    func consumerName(_ p: Int) -> String { settings.consumerConfig(partition: p).durableName ?? "\(p)" }

    /// The stream and each partition's durable consumer, tried every second until they are there.
    func setUp() async {
        for p in partitions {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                do {
                    _ = try await jetStream.ensureStream(settings.streamConfig)
                    _ = try await jetStream.ensurePullConsumer(stream: settings.stream, config: settings.consumerConfig(partition: p))
                    working(p)
                    break
                } catch {
                    failing(p, "bus: cannot set up the partition's consumer yet; trying every second", error)
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
        setUpDone.withLockedValue { $0 = true }
    }

    /// Analyses one collector batch (its parts on this node's partitions), then acknowledges them.
    func handle(_ group: FlowBusReassembly<JetStreamMessage>.Group) async {
        var decoded: [(records: [FlowRecord], positions: [Int]?)] = []
        var good: [JetStreamMessage] = []
        for (p, m) in group.parts {
            if m.metadata.deliveryCount > 1 { redelivered.increment() }
            do throws(FlowBusError) {
                decoded.append(try FlowBusBatch.decodePart(m.payload, limits: limits))
                good.append(m)
            } catch {
                refusedMessages.increment()
                totals.withLockedValue { $0.refusedMessages += 1 }
                if refusedLogged.withLockedValue({ $0.insert(p).inserted }) {
                    logger.error(
                        "bus: a flow batch was refused and will not be delivered again (counted in mamori_bus_refused_messages_total; logged once per partition)",
                        metadata: ["partition": "\(p)", "stream_sequence": "\(m.metadata.streamSequence)", "error": "\(error)"])
                }
                try? await jetStream.acknowledge(m, .term)
            }
        }
        let records = FlowBusBatch.merge(decoded)
        if !records.isEmpty {
            let batch = FlowBatch(records: records)
            for sink in sinks { await sink.consume(batch) }
        }
        consumedRecords.increment(by: records.count)
        consumedMessages.increment(by: good.count)
        consumedBytes.increment(by: good.reduce(0) { $0 + $1.payload.readableBytes })
        totals.withLockedValue {
            $0.records += records.count
            $0.messages += good.count
            $0.redeliveredMessages += good.filter { $0.metadata.deliveryCount > 1 }.count
            if group.incomplete { $0.incompleteBatches += 1 }
        }
        // Acknowledged once analysed. If an ack is lost, the part comes again after the ack wait.
        for m in good {
            do {
                try await jetStream.acknowledge(m)
            } catch {
                failing(-1, "bus: cannot acknowledge a batch; it will be delivered again", error)
            }
        }
    }

    func failing(_ p: Int, _ message: Logger.Message, _ error: any Error) {
        if failingLogged.withLockedValue({ $0.insert(p).inserted }) {
            logger.warning(message, metadata: ["partition": "\(p)", "error": "\(error)"])
        }
    }

    func working(_ p: Int) {
        if failingLogged.withLockedValue({ $0.remove(p) != nil }) {
            logger.notice("bus: reading the partition again", metadata: ["partition": "\(p)"])
        }
    }
}
