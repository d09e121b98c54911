import ClusterBus
import Collector
import Detection
import FlowBus
import FlowCodec
import Logging
import MamoriTesting
import MetricsTestKit
import NATSClient
import NATSWire
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Testing

/// The collector role's publisher and the detector role's consumers against a real `nats-server`
/// with JetStream: every record arrives once, in its host's order; a hostile batch is refused and
/// the rest analysed; a batch taken and never acknowledged goes to the next reader; a full stream
/// is counted as loss, never silent.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct FlowBusNATSTests {
    static let network = NetworkLayout(subscriberPrefixes: [IPPrefix("10.0.0.0/8")!], laboratoryInternet: [IPPrefix("198.51.100.0/24")!])

    /// Records of `hosts` subscribers, each with increasing source ports (its own order).
    static func records(_ count: Int, hosts: Int = 50, offset: Int = 0) -> [FlowRecord] {
        (0..<count).map { i in
            FlowRecord(
                exporter: IPAddress("127.0.0.1")!, sourceAddress: .v4(0x0A00_0000 | UInt32((i + offset) % hosts)),
                destinationAddress: .v4(0xC633_6400 | UInt32(i % 200)), sourcePort: UInt16(truncatingIfNeeded: 1_000 + i / hosts),
                destinationPort: 443, ipProtocol: 6, bytes: UInt64(100 + i), packets: 2, startMilliseconds: 1_760_000_000_000 + Int64(i),
                endMilliseconds: 1_760_000_000_100 + Int64(i))
        }
    }

    final class Gathering: FlowSink, Sendable {
        let records = NIOLockedValueBox([FlowRecord]())
        let finished = NIOLockedValueBox(false)
        /// When set, consume never returns (a node that hangs before acknowledging).
        let hang: Bool
        init(hang: Bool = false) { self.hang = hang }
        func consume(_ batch: FlowBatch) async {
            records.withLockedValue { $0 += batch.records }
            if hang { try? await Task.sleep(for: .seconds(3_600)) }
        }
        func finish() async { finished.withLockedValue { $0 = true } }
        var count: Int { records.withLockedValue { $0.count } }
    }

    static func settings(partitions: Int = 4, maximumBytes: Int64 = 64 << 20, ackWait: Duration = .seconds(30)) -> FlowBusSettings {
        var s = FlowBusSettings()
        s.partitions = partitions
        s.maximumBytes = maximumBytes
        s.acknowledgementWait = ackWait
        return s
    }

    static func client(_ server: NATSServerPeer, name: String) throws -> NATSClient {
        var c = NATSClient.Configuration(servers: [try NATSServerAddress(parsing: server.url)], name: name)
        c.connectionWait = .seconds(60)
        return NATSClient(configuration: c)
    }

    /// Runs `services` in a group beside `body`, then shuts the group down gracefully.
    static func running<T: Sendable>(_ services: [any Service], _ body: @Sendable () async throws -> T) async throws -> T {
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) }, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })))
        let runner = Task { try await group.run() }
        do {
            let result = try await body()
            await group.triggerGracefulShutdown()
            try await runner.value
            return result
        } catch {
            await group.triggerGracefulShutdown()
            _ = await runner.result
            throw error
        }
    }

    static func eventually(_ timeout: Duration = .seconds(30), _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    @Test("every record published arrives once, each host's records in their order, counted on both sides")
    func recordsArriveOnceInOrder() async throws {
        let server = try await NATSServerPeer.start()
        let metrics = TestMetrics()
        let settings = Self.settings()
        let (publisherClient, consumerClient) = (try Self.client(server, name: "collector"), try Self.client(server, name: "detector"))
        let publisher = FlowBusPublisher(
            jetStream: JetStream(client: publisherClient), settings: settings,
            routing: FlowBusRouting(partitions: settings.partitions, network: Self.network), node: "collector-1",
            logger: Logger(label: "test"), metricsFactory: metrics)
        let sink = Gathering()
        let consumer = FlowBusConsumer(
            jetStream: JetStream(client: consumerClient), settings: settings, partitions: Array(0..<settings.partitions), sinks: [sink],
            logger: Logger(label: "test"), metricsFactory: metrics)
        let sent = Self.records(20_000)
        try await Self.running([
            NATSConnectionService(client: publisherClient, logger: Logger(label: "t")),
            NATSConnectionService(client: consumerClient, logger: Logger(label: "t")), publisher, consumer,
        ]) {
            for start in stride(from: 0, to: sent.count, by: 2_500) {
                await publisher.consume(FlowBatch(records: Array(sent[start..<min(start + 2_500, sent.count)])))
            }
            let arrived = try await Self.eventually { sink.count >= sent.count }
            #expect(arrived, "\(sink.count) of \(sent.count) records arrived; nats-server said:\n\(server.log.suffix(2_000))")
        }
        let got = sink.records.withLockedValue { $0 }
        #expect(got.count == sent.count)
        #expect(Set(got) == Set(sent), "the same records, none changed")
        // Per host, the records came in the order they were sent (their source ports rise).
        var byHost: [IPAddress: [UInt16]] = [:]
        for r in got { byHost[r.sourceAddress, default: []].append(r.sourcePort) }
        #expect(byHost.count == 50)
        #expect(byHost.values.allSatisfy { $0 == $0.sorted() })
        #expect(sink.finished.withLockedValue { $0 }, "the sinks are finished at shutdown")
        #expect(metrics.counterTotal("mamori_bus_published_records_total") == Int64(sent.count))
        #expect(metrics.counterTotal("mamori_bus_consumed_records_total") == Int64(sent.count))
        #expect(metrics.counterTotal("mamori_bus_lost_records_total") == 0)
        // 8 batches × 4 partitions, one message each.
        #expect(metrics.counterTotal("mamori_bus_published_messages_total") == 32)
        let bytes = metrics.counterTotal("mamori_bus_published_bytes_total")
        #expect(bytes > 0 && bytes < Int64(sent.count) * 40, "\(bytes) bytes for \(sent.count) records")
    }

    @Test("a batch that is not one is refused and never delivered again; the batches around it are analysed")
    func hostileBatchIsRefused() async throws {
        let server = try await NATSServerPeer.start()
        let metrics = TestMetrics()
        let settings = Self.settings(partitions: 1)
        let client = try Self.client(server, name: "both")
        let sink = Gathering()
        let consumer = FlowBusConsumer(
            jetStream: JetStream(client: client), settings: settings, partitions: [0], sinks: [sink], logger: Logger(label: "test"),
            metricsFactory: metrics)
        let good = Self.records(100)
        try await Self.running([NATSConnectionService(client: client, logger: Logger(label: "t")), consumer]) {
            let js = JetStream(client: client)
            _ = try await js.ensureStream(settings.streamConfig)
            _ = try await js.publish(FlowBusBatch.encode(good[0..<50]), to: "mamori.flows.0")
            _ = try await js.publish(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"), to: "mamori.flows.0")
            var lying = FlowBusBatch.encode(good[50..<100])
            lying.setInteger(UInt8(0x7F), at: 4) // claims 127 records
            _ = try await js.publish(lying, to: "mamori.flows.0")
            _ = try await js.publish(FlowBusBatch.encode(good[50..<100]), to: "mamori.flows.0")
            #expect(try await Self.eventually { sink.count >= 100 && metrics.counterTotal("mamori_bus_refused_messages_total") == 2 })
            // Nothing waits for an ack: the refused batches were terminated, not left to come back.
            let info = try await js.consumerInfo(stream: settings.stream, consumer: "mamori-detector-0")
            #expect(
                try await Self.eventually(.seconds(5)) {
                    let i = try await js.consumerInfo(stream: settings.stream, consumer: "mamori-detector-0")
                    return i.ackPending == 0 && i.pending == 0
                }, "\(info)")
        }
        #expect(sink.records.withLockedValue { $0 } == good)
        #expect(consumer.totalsSoFar.refusedMessages == 2)
    }

    @Test("a node that takes batches and dies before acknowledging them: they go to the partition's next reader")
    func unacknowledgedBatchesAreRedelivered() async throws {
        let server = try await NATSServerPeer.start()
        let settings = Self.settings(partitions: 2, ackWait: .seconds(2))
        let sent = Self.records(4_000)
        // The collector publishes; the first detector takes batches and hangs without acknowledging.
        let first = Gathering(hang: true)
        let firstClient = try Self.client(server, name: "detector-1")
        let publisherClient = try Self.client(server, name: "collector")
        let publisher = FlowBusPublisher(
            jetStream: JetStream(client: publisherClient), settings: settings,
            routing: FlowBusRouting(partitions: 2, network: Self.network), node: "c", logger: Logger(label: "t"),
            metricsFactory: TestMetrics())
        let hung = Task {
            try await Self.running([
                NATSConnectionService(client: firstClient, logger: Logger(label: "t")),
                FlowBusConsumer(
                    jetStream: JetStream(client: firstClient), settings: settings, partitions: [0, 1], sinks: [first],
                    logger: Logger(label: "t"),
                    metricsFactory: TestMetrics()),
            ]) {
                try await Task.sleep(for: .seconds(3_600))
            }
        }
        try await Self.running([NATSConnectionService(client: publisherClient, logger: Logger(label: "t")), publisher]) {
            for start in stride(from: 0, to: sent.count, by: 1_000) {
                await publisher.consume(FlowBatch(records: Array(sent[start..<start + 1_000])))
            }
        }
        #expect(try await Self.eventually { first.count > 0 }, "the first detector took a batch")
        // It dies: its connection is gone, its batches unacknowledged.
        await firstClient.dropConnection()
        await firstClient.close()
        hung.cancel()
        let startedAt = ContinuousClock.now
        let second = Gathering()
        let secondClient = try Self.client(server, name: "detector-2")
        let metrics = TestMetrics()
        let survivor = FlowBusConsumer(
            jetStream: JetStream(client: secondClient), settings: settings, partitions: [0, 1], sinks: [second], logger: Logger(label: "t"),
            metricsFactory: metrics)
        try await Self.running([NATSConnectionService(client: secondClient, logger: Logger(label: "t")), survivor]) {
            let all = try await Self.eventually { second.count >= sent.count }
            #expect(all, "\(second.count) of \(sent.count)")
        }
        let took = ContinuousClock.now - startedAt
        #expect(Set(second.records.withLockedValue { $0 }) == Set(sent))
        #expect(survivor.totalsSoFar.redeliveredMessages > 0, "the hung node's batches came again")
        #expect(metrics.counterTotal("mamori_bus_redelivered_messages_total") == Int64(survivor.totalsSoFar.redeliveredMessages))
        #expect(took < .seconds(20), "the survivor had every batch \(took) after the first node died (ack wait 2 s)")
    }

    @Test("a full stream refuses publishes; the collector counts every refused record as lost")
    func fullStreamIsCountedLoss() async throws {
        let server = try await NATSServerPeer.start()
        let metrics = TestMetrics()
        let settings = Self.settings(partitions: 2, maximumBytes: 64 << 10)
        let client = try Self.client(server, name: "collector")
        let logs = LogStore()
        let publisher = FlowBusPublisher(
            jetStream: JetStream(client: client), settings: settings, routing: FlowBusRouting(partitions: 2, network: Self.network),
            node: "c", logger: logs.logger(level: .info), metricsFactory: metrics)
        let sent = Self.records(20_000, hosts: 500)
        try await Self.running([NATSConnectionService(client: client, logger: Logger(label: "t")), publisher]) {
            for start in stride(from: 0, to: sent.count, by: 1_000) {
                await publisher.consume(FlowBatch(records: Array(sent[start..<start + 1_000])))
            }
            let info = try await JetStream(client: client).streamInfo(settings.stream)
            #expect(info.state.bytes <= 64 << 10)
        }
        let published = metrics.counterTotal("mamori_bus_published_records_total")
        let lost = metrics.counterTotal("mamori_bus_lost_records_total", ["reason": "stream_full"])
        #expect(published > 0 && lost > 0)
        #expect(published + lost == Int64(sent.count), "published \(published) + lost \(lost)")
        #expect(metrics.counterTotal("mamori_bus_lost_records_total", ["reason": "unavailable"]) == 0)
        #expect(logs.entries.filter { $0.message.hasPrefix("bus: the stream is full") }.count == 1, "logged once")
    }
}
