import FlowCodec
import Foundation
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The UDP flow collector: listens on every configured endpoint, decodes NetFlow v5/v9, IPFIX and
/// sFlow, and delivers decoded records to its sinks through a bounded queue.
///
/// Run it in a `ServiceGroup`; it stops receiving on graceful shutdown, persists templates, lets
/// the sinks drain what was queued, then returns.
///
/// ```swift
/// let collector = FlowCollector(configuration: .init(listen: [try .init(parsing: "0.0.0.0:2055")]), sinks: [counter])
/// let group = ServiceGroup(services: [collector], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
public final class FlowCollector: Service, Sendable {
    public let configuration: Configuration
    private let sinks: [any FlowSink]
    private let logger: Logger
    private let metricsFactory: any MetricsFactory
    private let metrics: CollectorMetrics
    private let eventLoopGroup: any EventLoopGroup
    private let state = NIOLockedValueBox(State())
    private let stream: AsyncStream<FlowBatch>
    private let continuation: AsyncStream<FlowBatch>.Continuation
    private let bufferPool = BatchBufferPool(capacity: FlowDatagramHandler.bufferCapacity)

    struct State {
        var channels: [(endpoint: SocketEndpoint, local: SocketAddress?, channel: any Channel, handler: FlowDatagramHandler)] = []
        var bound: [SocketEndpoint: SocketAddress] = [:]
        var ready: [CheckedContinuation<Void, Never>] = []
        var isReady = false
    }

    /// - Parameters:
    ///   - configuration: endpoints and limits.
    ///   - sinks: consumers of decoded records, called in order for each batch.
    ///   - eventLoopGroup: where sockets live; one event loop per listener is used round-robin.
    ///   - metricsFactory: where counters go (the bootstrapped global one by default; tests pass their own).
    public init(
        configuration: Configuration,
        sinks: [any FlowSink],
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger = Logger(label: "mamori.collector")
    ) {
        self.configuration = configuration
        self.sinks = sinks
        self.eventLoopGroup = eventLoopGroup
        self.metricsFactory = metricsFactory
        self.metrics = CollectorMetrics(factory: metricsFactory)
        self.logger = logger
        (stream, continuation) = AsyncStream.makeStream(of: FlowBatch.self, bufferingPolicy: .bufferingOldest(configuration.queueCapacity))
    }

    /// The local addresses actually bound (useful with port 0), available once ``waitUntilReady()`` returns.
    ///
    /// One entry per distinct configured endpoint: when an endpoint is listed twice (port 0 twice),
    /// only the last listener shows; ``listeners`` has them all.
    public var boundAddresses: [SocketEndpoint: SocketAddress] {
        state.withLockedValue { $0.bound }
    }

    /// Every open listener, in configuration order, with the address it is bound to.
    public var listeners: [(endpoint: SocketEndpoint, address: SocketAddress)] {
        state.withLockedValue { s in s.channels.compactMap { e in e.local.map { (e.endpoint, $0) } } }
    }

    /// Suspends until every listener is bound (or binding failed).
    public func waitUntilReady() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLockedValue { s -> Bool in
                if s.isReady { return true }
                s.ready.append(c)
                return false
            }
            if resumeNow { c.resume() }
        }
    }

    public func run() async throws {
        let persisted = loadTemplates()
        do {
            try await bindAll(restoring: persisted)
        } catch {
            markReady()
            await closeAll()
            continuation.finish()
            throw error
        }
        markReady()
        // The consumer is a child task: cancelling run() cancels it too (an unstructured Task
        // would outlive a cancelled collector and keep run() from returning).
        await withTaskGroup(of: Void.self) { consumers in
            consumers.addTask { await self.consume() }
            await withTaskCancellationHandler {
                await withGracefulShutdownHandler {
                    await self.receiveUntilClosed()
                } onGracefulShutdown: {
                    self.logger.info("collector stopping: closing listeners")
                    self.closeListeners()
                }
            } onCancel: {
                // Waiting on close futures does not end by itself on cancellation (e.g. when
                // another service of the group failed): close the sockets so that it does.
                self.closeListeners()
            }
            await persistTemplates()
            continuation.finish()
            await consumers.waitForAll()
        }
        for sink in sinks { await sink.finish() }
        logger.info("collector stopped")
    }

    /// Runs the maintenance loop until every listener is closed.
    private func receiveUntilClosed() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.maintenanceLoop() }
            let channels = self.state.withLockedValue { s in s.channels.map { $0.channel } }
            for c in channels { try? await c.closeFuture.get() }
            group.cancelAll()
        }
    }

    /// Starts closing every listener without waiting (safe to call more than once, from any thread).
    private func closeListeners() {
        for c in state.withLockedValue({ s in s.channels.map { $0.channel } }) { c.close(promise: nil) }
    }

    private func markReady() {
        let waiters = state.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.isReady = true
            defer { s.ready = [] }
            return s.ready
        }
        for w in waiters { w.resume() }
    }

    private func consume() async {
        for await batch in stream {
            for sink in sinks { await sink.consume(batch) }
            metrics.deliveredRecords.increment(by: Int64(batch.records.count))
            bufferPool.give(batch.records)
        }
    }

    private func bindAll(restoring persisted: [PersistedTemplate]) async throws {
        let continuation = self.continuation
        let enqueue: @Sendable (FlowBatch) -> Bool = { batch in
            if case .enqueued = continuation.yield(batch) { return true }
            return false
        }
        let now = FlowDatagramHandler.wallClockMilliseconds()
        for endpoint in configuration.listen {
            let handler = FlowDatagramHandler(
                decoder: FlowDecoder(configuration: configuration.decoder), enqueue: enqueue, bufferPool: bufferPool, metrics: metrics,
                metricsFactory: metricsFactory, maxDatagramBytes: configuration.maxDatagramBytes,
                errorLogIntervalSeconds: configuration.errorLogIntervalSeconds,
                logger: logger
            )
            // No SO_REUSEADDR: UDP has no TIME_WAIT to get past, and with it a second collector
            // (or anything else setting it) binds the same port and silently takes the traffic.
            var bootstrap = DatagramBootstrap(group: eventLoopGroup)
                .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(configuration.receiveBufferBytes))
                .channelOption(.datagramVectorReadMessageCount, value: configuration.datagramsPerRead)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: configuration.maxDatagramBytes * configuration.datagramsPerRead))
                .channelOption(.maxMessagesPerRead, value: 16)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
                }
            if endpoint.isIPv6 {
                // Separate IPv4 and IPv6 sockets may share a port only if the IPv6 one is IPv6-only.
                bootstrap = bootstrap.channelOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1)
            }
            let channel: any Channel
            do {
                channel = try await bootstrap.bind(host: endpoint.host, port: endpoint.port).get()
            } catch {
                if endpoint.isIPv6 && Self.isAddressFamilyUnsupported(error) {
                    logger.warning("IPv6 unavailable, not listening", metadata: ["collector.listen": "\(endpoint)"])
                    continue
                }
                throw CollectorError.bindFailed(endpoint: endpoint, reason: "\(error)")
            }
            if !persisted.isEmpty {
                _ = try? await channel.eventLoop.submit { handler.restoreTemplates(persisted, now: now) }.get()
            }
            let local = channel.localAddress
            state.withLockedValue {
                $0.channels.append((endpoint, local, channel, handler))
                if let local { $0.bound[endpoint] = local }
            }
            let granted: Int = (try? await channel.getOption(.socketOption(.so_rcvbuf)).get()).map { Int($0) } ?? 0
            logger.info(
                "listening for flow exports",
                metadata: ["collector.listen": "\(local.map { "\($0)" } ?? "\(endpoint)")", "collector.rcvbuf": "\(granted)"]
            )
            if granted < configuration.receiveBufferBytes {
                logger.info(
                    "socket receive buffer is smaller than requested; raise net.core.rmem_max to avoid drops in bursts",
                    metadata: ["collector.requested": "\(configuration.receiveBufferBytes)", "collector.granted": "\(granted)"]
                )
            }
        }
        if state.withLockedValue({ $0.channels.isEmpty }) {
            throw CollectorError.bindFailed(endpoint: configuration.listen.first ?? SocketEndpoint(host: "-", port: 0), reason: "no listener could be opened")
        }
    }

    /// Whether binding failed because the host has no IPv6 (no IPv6 support, or no such address).
    static func isAddressFamilyUnsupported(_ error: any Error) -> Bool {
        if let io = error as? IOError, [EAFNOSUPPORT, EADDRNOTAVAIL, EPROTONOSUPPORT].contains(io.errnoCode) { return true }
        let text = "\(error)"
        return text.contains("Address family not supported") || text.contains("EAFNOSUPPORT") || text.contains("Cannot assign requested address")
    }

    private func closeAll() async {
        let channels = state.withLockedValue { s in s.channels.map { $0.channel } }
        for c in channels { try? await c.close().get() }
    }

    /// Template expiry, template persistence and kernel drop counters, once per second.
    private func maintenanceLoop() async {
        var sincePersist = 0
        // Per listener (not per configured endpoint, which may repeat), labelled with the bound address.
        let listeners = state.withLockedValue { $0.channels }
        let dropGauges = listeners.map { entry in
            SocketDropMetric(endpoint: entry.local.map(Self.hostAndPort) ?? entry.endpoint.description, factory: metricsFactory)
        }
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(1)) } catch { return }
            let now = FlowDatagramHandler.wallClockMilliseconds()
            var total = 0
            for (entry, dropGauge) in zip(listeners, dropGauges) {
                if let r = try? await entry.channel.eventLoop.submit({ entry.handler.expireTemplates(now: now) }).get() {
                    total += r.remaining
                }
                if let port = entry.local?.port,
                   let drops = KernelSocketStatistics.receiveDrops(localPort: port, ipv6: entry.local?.protocol == .inet6) {
                    dropGauge.gauge.record(drops)
                }
            }
            metrics.templates.record(total)
            sincePersist += 1
            if sincePersist >= configuration.templatePersistIntervalSeconds {
                sincePersist = 0
                await persistTemplates()
            }
        }
    }

    /// A socket address written as in configuration: `127.0.0.1:2055` or `[::1]:2055`.
    public static func hostAndPort(_ a: SocketAddress) -> String {
        let host = a.ipAddress ?? "?"
        let port = a.port.map(String.init) ?? "?"
        return a.protocol == .inet6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Every template of every listener, merged.
    public func templateSnapshot() async -> [PersistedTemplate] {
        var all: [PersistedTemplate] = []
        for entry in state.withLockedValue({ $0.channels }) {
            if let s = try? await entry.channel.eventLoop.submit({ entry.handler.templateSnapshot() }).get() {
                all += s
            }
        }
        return all
    }

    private func persistTemplates() async {
        guard let path = configuration.templateFile else { return }
        let snapshot = await templateSnapshot()
        do {
            try TemplateFile.write(snapshot, to: path)
        } catch {
            logger.error("could not persist templates", metadata: ["collector.template_file": "\(path)", "error": "\(error)"])
        }
    }

    private func loadTemplates() -> [PersistedTemplate] {
        guard let path = configuration.templateFile else { return [] }
        do {
            let t = try TemplateFile.read(from: path)
            if !t.isEmpty { logger.info("restored templates", metadata: ["collector.templates": "\(t.count)", "collector.template_file": "\(path)"]) }
            return t
        } catch {
            logger.warning("ignoring unreadable template file", metadata: ["collector.template_file": "\(path)", "error": "\(error)"])
            return []
        }
    }
}

/// Why the collector could not start.
public enum CollectorError: Error, CustomStringConvertible {
    case bindFailed(endpoint: SocketEndpoint, reason: String)

    public var description: String {
        switch self {
        case .bindFailed(let e, let reason): return "cannot listen on UDP \(e): \(reason)"
        }
    }
}

/// Reads and writes the template file (JSON), atomically.
enum TemplateFile {
    struct Contents: Codable {
        var version = 1
        var templates: [PersistedTemplate]
    }

    static func write(_ templates: [PersistedTemplate], to path: String) throws {
        let data = try JSONEncoder().encode(Contents(templates: templates))
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url, options: .atomic)
    }

    static func read(from path: String) throws -> [PersistedTemplate] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try JSONDecoder().decode(Contents.self, from: data).templates
    }
}

/// Reads the kernel's per-socket drop counter.
enum KernelSocketStatistics {
    /// The `drops` column of /proc/net/udp (or udp6) for the socket bound to `localPort`.
    static func receiveDrops(localPort: Int, ipv6: Bool) -> Int? {
        guard let text = try? String(contentsOfFile: ipv6 ? "/proc/net/udp6" : "/proc/net/udp", encoding: .utf8) else { return nil }
        let portHex = ":" + String(format: "%04X", localPort)
        for line in text.split(separator: "\n").dropFirst() {
            let cols = line.split(separator: " ", omittingEmptySubsequences: true)
            guard cols.count >= 13, cols[1].hasSuffix(portHex) else { continue }
            return Int(cols[cols.count - 1])
        }
        return nil
    }
}
