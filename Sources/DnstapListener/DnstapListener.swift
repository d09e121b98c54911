import Dnstap
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Receives a resolver's dnstap log (Unbound's `dnstap-socket-path`, or its `dnstap-ip` over
/// TCP) and hands each decoded ``ResolverEvent`` to `deliver`.
///
/// Speaks bidirectional Frame Streams as the reader (``FrameStreamReader``): READY → ACCEPT,
/// START, data frames, STOP → FINISH; a writer that opens with START (unidirectional) is read
/// too. At most ``Configuration/maximumConnections`` writers are connected at once (more are
/// closed at once and counted); a frame larger than ``Configuration/maximumFrameSize``, a
/// malformed control frame or a frame out of order closes its connection. A data frame that
/// does not decode is counted and dropped; its connection goes on.
///
/// `deliver` runs on the connection's event loop: it must not block (hand the event to a
/// bounded queue).
///
/// Metrics: `mamori_dnstap_frames_total` (data frames read), `mamori_dnstap_events_total`
/// (events delivered), `mamori_dnstap_errors_total{reason}` (the ``DnstapError/Code``s,
/// `too_many_connections`, `read_failed`), `mamori_dnstap_connections` (a gauge of open writer
/// connections). Each reason is logged at most once every 10 minutes.
///
/// ```swift
/// var configuration = DnstapListener.Configuration()
/// configuration.unixSocketPath = "/run/mamori/dnstap.sock"
/// let listener = DnstapListener(configuration: configuration, logger: logger, metricsFactory: factory) { event in
///     queue.offer(event)
/// }
/// // add `listener` to the ServiceGroup
/// ```
public final class DnstapListener: Service, Sendable {
    public struct Configuration: Sendable, Hashable {
        /// The Unix domain socket to listen on (a stale file there is replaced; the file is removed
        /// at shutdown). The resolver's user must be able to write it: see ``unixSocketPermissions``.
        public var unixSocketPath: String?
        /// The socket file's mode, set after binding (0o666 lets a resolver running as another user
        /// connect; guard the directory instead if that is too wide). Nil leaves the umask's.
        public var unixSocketPermissions: Int?
        /// A TCP endpoint as well (Unbound's `dnstap-ip`). dnstap has no authentication: keep it on
        /// loopback or a management network.
        public var tcp: SocketEndpoint?
        /// Writers connected at once; more are refused (closed) and counted.
        public var maximumConnections = 64
        /// The largest data frame accepted, in bytes; a larger one closes its connection.
        public var maximumFrameSize = 128 * 1024
        public init() {}
    }

    private let configuration: Configuration
    private let deliver: @Sendable (ResolverEvent) -> Void
    private let logger: Logger
    private let frames: Counter
    private let events: Counter
    private let errors: [String: Counter]
    private let connectionsGauge: Gauge
    private let logEvictions: Counter
    private let throttle = NIOLockedValueBox(LogThrottle(interval: 600_000, maximumKeys: 64))
    private let state = NIOLockedValueBox(State())
    private let ready = NIOLockedValueBox<[CheckedContinuation<Void, Never>]?>([])

    private struct State {
        var servers: [any Channel] = []
        var connections: [ObjectIdentifier: any Channel] = [:]
        var shuttingDown = false
    }

    /// Reasons of `mamori_dnstap_errors_total` besides the ``DnstapError/Code``s.
    static let tooManyConnections = "too_many_connections"
    static let readFailed = "read_failed"

    public init(
        configuration: Configuration, logger: Logger, metricsFactory: any MetricsFactory,
        deliver: @escaping @Sendable (ResolverEvent) -> Void
    ) {
        self.configuration = configuration
        self.deliver = deliver
        self.logger = logger
        frames = Counter(label: "mamori_dnstap_frames_total", factory: metricsFactory)
        events = Counter(label: "mamori_dnstap_events_total", factory: metricsFactory)
        var e: [String: Counter] = [:]
        for reason in DnstapError.Code.all.map(\.description) + [Self.tooManyConnections, Self.readFailed] {
            e[reason] = Counter(label: "mamori_dnstap_errors_total", dimensions: [("reason", reason)], factory: metricsFactory)
        }
        errors = e
        connectionsGauge = Gauge(label: "mamori_dnstap_connections", factory: metricsFactory)
        logEvictions = Counter(label: "mamori_log_throttle_evictions_total", dimensions: [("component", "dnstap")], factory: metricsFactory)
    }

    /// The TCP port actually bound (after ``waitUntilReady()``), if ``Configuration/tcp`` is set.
    public var boundTCPPort: Int? {
        state.withLockedValue { s in s.servers.lazy.compactMap { $0.localAddress?.port }.first }
    }

    /// Writers connected now.
    public var connectionCount: Int { state.withLockedValue { $0.connections.count } }

    /// Returns once every socket is bound (or binding failed).
    public func waitUntilReady() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = ready.withLockedValue { waiting -> Bool in
                guard waiting != nil else { return true }
                waiting!.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    private func markReady() {
        let waiting = ready.withLockedValue { w -> [CheckedContinuation<Void, Never>] in
            defer { w = nil }
            return w ?? []
        }
        for c in waiting { c.resume() }
    }

    /// Binds the sockets, then serves writers until graceful shutdown or cancellation, when every
    /// socket and connection is closed.
    public func run() async throws {
        do {
            if let path = configuration.unixSocketPath {
                let server = try await bootstrap().bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
                state.withLockedValue { $0.servers.append(server) }
                if let mode = configuration.unixSocketPermissions { _ = chmod(path, mode_t(mode)) }
                logger.info("dnstap listening", metadata: ["dnstap.socket": "\(path)"])
            }
            if let endpoint = configuration.tcp {
                let server = try await bootstrap().bind(host: endpoint.host, port: endpoint.port).get()
                state.withLockedValue { $0.servers.append(server) }
                logger.info(
                    "dnstap listening", metadata: ["dnstap.listen": "\(endpoint.host):\(server.localAddress?.port ?? endpoint.port)"])
            }
        } catch {
            markReady()
            await closeAll()
            throw error
        }
        markReady()
        let servers = state.withLockedValue { $0.servers }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                for s in servers { try? await s.closeFuture.get() }
            } onGracefulShutdown: {
                self.closeAllNow()
            }
        } onCancel: {
            self.closeAllNow()
        }
        await closeAll()
    }

    private func bootstrap() -> ServerBootstrap {
        ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 16)
            .childChannelOption(.autoRead, value: true)
            .childChannelInitializer { [self] channel in
                switch admit(channel) {
                case .admitted: break
                case .full:
                    count(reason: Self.tooManyConnections, "a writer connected beyond maximum_connections")
                    return channel.close()
                case .shuttingDown:
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Connection(listener: self, maximumFrameSize: configuration.maximumFrameSize))
                }
            }
    }

    /// Whether a new writer's connection is taken.
    private enum Admission { case admitted, full, shuttingDown }

    /// Counts `channel` in if there is room (and the listener is not shutting down), and out
    /// again when it closes.
    private func admit(_ channel: any Channel) -> Admission {
        let id = ObjectIdentifier(channel)
        let (admission, open) = state.withLockedValue { s -> (Admission, Int) in
            guard !s.shuttingDown else { return (.shuttingDown, s.connections.count) }
            guard s.connections.count < configuration.maximumConnections else { return (.full, s.connections.count) }
            s.connections[id] = channel
            return (.admitted, s.connections.count)
        }
        guard admission == .admitted else { return admission }
        connectionsGauge.record(open)
        channel.closeFuture.whenComplete { [self] _ in
            let open = state.withLockedValue { s in
                s.connections[id] = nil
                return s.connections.count
            }
            connectionsGauge.record(open)
        }
        return .admitted
    }

    private func closeAllNow() {
        let channels = state.withLockedValue { s -> [any Channel] in
            s.shuttingDown = true
            return s.servers + Array(s.connections.values)
        }
        for c in channels { c.close(promise: nil) }
    }

    private func closeAll() async {
        let channels = state.withLockedValue { s -> [any Channel] in
            s.shuttingDown = true
            return s.servers + Array(s.connections.values)
        }
        for c in channels { try? await c.close() }
        if let path = configuration.unixSocketPath { _ = unlink(path) }
    }

    /// One data frame's payload: decoded and delivered, or counted as an error.
    func receive(payload: [UInt8]) {
        frames.increment()
        do {
            guard let event = try ResolverEvent.decode(payload) else { return }
            events.increment()
            deliver(event)
        } catch {
            failed(error)
        }
    }

    /// Counts an error and logs it (once per reason every 10 minutes).
    func failed(_ error: DnstapError) {
        count(reason: error.code.description, "\(error)")
    }

    func count(reason: String, _ message: String) {
        errors[reason]?.increment()
        let now = Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000)
        let (log, evicted) = throttle.withLockedValue { t in
            let before = t.evictions
            return (t.shouldLog(reason, now: now), t.evictions - before)
        }
        if evicted > 0 { logEvictions.increment(by: Int64(evicted)) }
        if log {
            logger.info(
                "dnstap: \(message) (logged once every 10 minutes; counted in mamori_dnstap_errors_total{reason=\"\(reason)\"})",
                metadata: ["dnstap.reason": "\(reason)"])
        }
    }

    /// The pipeline handler of one writer connection: bytes → frames → the reader's actions.
    final class Connection: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private let listener: DnstapListener
        private var decoder: FrameStreamDecoder
        private var reader = FrameStreamReader()
        private var closing = false
        private var lastWrite: EventLoopFuture<Void>?

        init(listener: DnstapListener, maximumFrameSize: Int) {
            self.listener = listener
            decoder = FrameStreamDecoder(maximumFrameSize: maximumFrameSize)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !closing else { return }
            let buffer = unwrapInboundIn(data)
            decoder.append(buffer.readableBytesView)
            do {
                while let frame = try decoder.next() {
                    for action in try reader.receive(frame) {
                        switch action {
                        case .reply(let bytes):
                            lastWrite = context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes)))
                        case .deliver(let payload):
                            listener.receive(payload: payload)
                        case .close:
                            close(context)
                            return
                        }
                    }
                }
            } catch {
                listener.failed(error)
                close(context)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            // A writer may reset the connection once it has its FINISH (Unbound does): not an error.
            guard !closing else {
                context.close(promise: nil)
                return
            }
            listener.count(reason: DnstapListener.readFailed, "connection failed: \(error)")
            close(context)
        }

        /// Closes after what was written (FINISH) has gone out.
        private func close(_ context: ChannelHandlerContext) {
            guard !closing else { return }
            closing = true
            let channel = context.channel
            if let lastWrite {
                lastWrite.whenComplete { _ in channel.close(promise: nil) }
            } else {
                channel.close(promise: nil)
            }
        }
    }
}
