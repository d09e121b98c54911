import FlowCodec
import Foundation
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Synchronization

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
    private let state = NIOLockedValueBox(State())
    private let stream: AsyncStream<FlowBatch>
    private let continuation: AsyncStream<FlowBatch>.Continuation
    private let bufferPool = BatchBufferPool(capacity: DatagramProcessor.bufferCapacity)
    /// Batches in the queue: counted in at `yield`, out when the consumer takes one.
    private let queued = QueueDepth()

    /// One open socket, its bound address and the processor decoding what it receives.
    struct Listener: Sendable {
        var endpoint: SocketEndpoint
        var local: SocketAddress?
        var receiver: UDPReceiver
        var processor: DatagramProcessor
    }

    struct State {
        var listeners: [Listener] = []
        /// What the template file holds, to skip rewriting it unchanged.
        var lastPersisted: [PersistedTemplate]? = nil
        var bound: [SocketEndpoint: SocketAddress] = [:]
        var ready: [CheckedContinuation<Void, Never>] = []
        var isReady = false
    }

    /// - Parameters:
    ///   - configuration: endpoints and limits.
    ///   - sinks: consumers of decoded records, called in order for each batch.
    ///   - metricsFactory: where counters go (the bootstrapped global one by default; tests pass their own).
    public init(
        configuration: Configuration,
        sinks: [any FlowSink],
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger = Logger(label: "mamori.collector")
    ) {
        self.configuration = configuration
        self.sinks = sinks
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
        state.withLockedValue { s in s.listeners.compactMap { e in e.local.map { (e.endpoint, $0) } } }
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

    /// Runs one receive thread per listener, and the maintenance loop, until every listener is stopped.
    private func receiveUntilClosed() async {
        let listeners = state.withLockedValue { $0.listeners }
        let datagramsPerRead = configuration.datagramsPerRead
        let maxDatagramBytes = configuration.maxDatagramBytes
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.maintenanceLoop() }
            await withTaskGroup(of: Void.self) { threads in
                for listener in listeners {
                    threads.addTask {
                        // A thread of its own: the receive loop blocks in poll(2) and must not
                        // hold a thread of the Swift concurrency pool.
                        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                            Thread.detachNewThread {
                                Thread.current.name = "mamori-rx-\(listener.receiver.boundPort)"
                                listener.receiver.run(
                                    datagramsPerRead: datagramsPerRead, maxDatagramBytes: maxDatagramBytes, processor: listener.processor)
                                done.resume()
                            }
                        }
                    }
                }
            }
            group.cancelAll()
        }
    }

    /// Asks every listener to stop (safe to call more than once, from any thread).
    private func closeListeners() {
        for l in state.withLockedValue({ $0.listeners }) { l.receiver.stop() }
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
        for await var batch in stream {
            batch.queuedBehind = queued.taken()
            metrics.queuedBatches.record(batch.queuedBehind)
            for sink in sinks { await sink.consume(batch) }
            metrics.deliveredRecords.increment(by: Int64(batch.records.count))
            // Taken out of the batch, not copied: while `batch` still held the buffer, emptying
            // it for reuse would allocate a fresh one (copy on write).
            bufferPool.give(batch.takeRecords())
        }
    }

    private func bindAll(restoring persisted: [PersistedTemplate]) async throws {
        let continuation = self.continuation
        let enqueue: @Sendable (consuming FlowBatch) -> Bool = { [queued] batch in
            // Counted before the yield: the consumer may take the batch before yield returns.
            queued.count.add(1, ordering: .relaxed)
            if case .enqueued = continuation.yield(consume batch) { return true }
            queued.count.subtract(1, ordering: .relaxed)
            return false
        }
        let now = DatagramProcessor.wallClockMilliseconds()
        for endpoint in configuration.listen {
            let receiver: UDPReceiver
            do {
                receiver = try UDPReceiver(endpoint: endpoint, receiveBufferBytes: configuration.receiveBufferBytes)
            } catch {
                if endpoint.isIPv6 && error.isAddressFamilyUnsupported {
                    logger.warning("IPv6 unavailable, not listening", metadata: ["collector.listen": "\(endpoint)"])
                    continue
                }
                throw CollectorError.bindFailed(endpoint: endpoint, reason: "\(error)")
            }
            // Each listener decodes with its own templates: the cache limit is shared out, so that
            // all listeners together hold at most `maxTemplates`.
            var decoderConfiguration = configuration.decoder
            decoderConfiguration.maxTemplates = max(1, configuration.decoder.maxTemplates / max(1, configuration.listen.count))
            let processor = DatagramProcessor(
                decoder: FlowDecoder(configuration: decoderConfiguration), enqueue: enqueue, bufferPool: bufferPool, metrics: metrics,
                metricsFactory: metricsFactory, errorLogIntervalSeconds: configuration.errorLogIntervalSeconds, logger: logger
            )
            if !persisted.isEmpty {
                _ = processor.lock.withLock { processor.restoreTemplates(persisted, now: now) }
            }
            let local = try? SocketAddress(ipAddress: endpoint.host, port: receiver.boundPort)
            state.withLockedValue {
                $0.listeners.append(Listener(endpoint: endpoint, local: local, receiver: receiver, processor: processor))
                if let local { $0.bound[endpoint] = local }
            }
            let granted = receiver.grantedReceiveBufferBytes
            logger.info(
                "listening for flow exports",
                metadata: ["collector.listen": "\(local.map(Self.hostAndPort) ?? "\(endpoint)")", "collector.rcvbuf": "\(granted)"]
            )
            if granted < configuration.receiveBufferBytes {
                logger.info(
                    "socket receive buffer is smaller than requested; raise net.core.rmem_max to avoid drops in bursts",
                    metadata: ["collector.requested": "\(configuration.receiveBufferBytes)", "collector.granted": "\(granted)"]
                )
            }
        }
        if state.withLockedValue({ $0.listeners.isEmpty }) {
            throw CollectorError.bindFailed(
                endpoint: configuration.listen.first ?? SocketEndpoint(host: "-", port: 0), reason: "no listener could be opened")
        }
    }

    /// Releases listeners that were opened but never ran (binding a later one failed).
    private func closeAll() async {
        let listeners = state.withLockedValue { s -> [Listener] in
            defer { s.listeners = [] }
            return s.listeners
        }
        for l in listeners { l.receiver.closeUnused() }
    }

    /// Template expiry, template persistence and kernel drop counters, once per second.
    private func maintenanceLoop() async {
        var sincePersist = 0
        // Per listener (not per configured endpoint, which may repeat), labelled with the bound address.
        let listeners = state.withLockedValue { $0.listeners }
        let dropGauges = listeners.map { entry in
            SocketDropMetric(endpoint: entry.local.map(Self.hostAndPort) ?? entry.endpoint.description, factory: metricsFactory)
        }
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(1)) } catch { return }
            let now = DatagramProcessor.wallClockMilliseconds()
            var total = 0
            // One read of each kernel table per tick, however many listeners there are.
            let drops4 = KernelSocketStatistics.receiveDropsByPort(ipv6: false)
            let drops6 = KernelSocketStatistics.receiveDropsByPort(ipv6: true)
            for (entry, dropGauge) in zip(listeners, dropGauges) {
                let (_, remaining, evicted) = entry.processor.lock.withLock { entry.processor.expireTemplates(now: now) }
                total += remaining
                if evicted > 0 { metrics.templateEvictions.increment(by: Int64(evicted)) }
                if let port = entry.local?.port,
                    let drops = (entry.local?.protocol == .inet6 ? drops6 : drops4)[port]
                {
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
        for entry in state.withLockedValue({ $0.listeners }) {
            all += entry.processor.lock.withLock { entry.processor.templateSnapshot() }
        }
        return all
    }

    private func persistTemplates() async {
        guard let path = configuration.templateFile else { return }
        let snapshot = await templateSnapshot()
        // Templates change rarely: rewrite the file only when they did.
        guard state.withLockedValue({ $0.lastPersisted != snapshot }) else { return }
        do {
            try TemplateFile.write(snapshot, to: path)
            state.withLockedValue { $0.lastPersisted = snapshot }
        } catch {
            logger.error("could not persist templates", metadata: ["collector.template_file": "\(path)", "error": "\(error)"])
        }
    }

    private func loadTemplates() -> [PersistedTemplate] {
        guard let path = configuration.templateFile else { return [] }
        do {
            let t = try TemplateFile.read(from: path)
            if !t.isEmpty {
                logger.info("restored templates", metadata: ["collector.templates": "\(t.count)", "collector.template_file": "\(path)"])
            }
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
        receiveDropsByPort(ipv6: ipv6)[localPort]
    }

    /// A /proc file read to its end. `String(contentsOfFile:)` stops after the first 4 KiB of a
    /// procfs file (its size reads as 0): /proc/net/udp with more than about 30 sockets lost the
    /// rest, and with it the drop counts of the collector's own ports on a busy machine.
    static func readProcFile(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    }

    /// The `drops` column of /proc/net/udp (or udp6) for every bound local port.
    static func receiveDropsByPort(ipv6: Bool) -> [Int: Int] {
        guard let text = readProcFile(ipv6 ? "/proc/net/udp6" : "/proc/net/udp") else { return [:] }
        var drops: [Int: Int] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let cols = line.split(separator: " ", omittingEmptySubsequences: true)
            // local_address is ADDRESS:PORT in hex; drops is the last column.
            guard cols.count >= 13, let colon = cols[1].lastIndex(of: ":"),
                let port = Int(cols[1][cols[1].index(after: colon)...], radix: 16),
                let d = Int(cols[cols.count - 1])
            else { continue }
            drops[port, default: 0] += d
        }
        return drops
    }
}

/// How many batches wait in the collector's queue (`AsyncStream` does not say).
final class QueueDepth: Sendable {
    let count = Atomic<Int>(0)

    /// Counts one batch out; returns how many still wait.
    func taken() -> Int { max(0, count.subtract(1, ordering: .relaxed).newValue) }
}
