import FlowCodec
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import SinkholeProbe

/// The sinkhole's TCP listener: where devices connect once the carrier's resolvers answer a C&C
/// name with the sinkhole's address (the RPZ zone rewrites it, docs/rpz.md).
///
/// It listens on every configured address and port (80, 443, 8080, a botnet's own port …),
/// reads the first bytes of each connection through ``SinkholeProbe/examine(_:maximumBytes:)``
/// and reports one ``SinkholeContact`` per connection to the handler given at construction:
/// the client's address and port, the port it reached, the time (from the ``WallClock`` given),
/// the protocol and the name it asked for (HTTP Host or TLS SNI).
///
/// Nothing harmful is served. An HTTP request gets a short fixed `403 Forbidden` page
/// (`text/plain`, Japanese and English: the provider's security service blocked the connection
/// because the name is used to control infected devices; contact the provider), then the
/// connection is closed. A TLS ClientHello, an unknown protocol or a malformed request is closed
/// unanswered: no certificate is ever presented.
///
/// Bounds: at most ``Configuration/maximumConnections`` connections at once, across all ports (one
/// more is closed unread, reported with ``SinkholeContact/Problem/tooManyConnections``); a
/// connection whose first bytes are not complete within ``Configuration/firstBytesTimeout`` is
/// closed and reported with what arrived; at most ``Configuration/maximumBytes`` are examined.
///
/// Metrics: `mamori_sinkhole_connections_total{protocol}` (`http`, `tls`, `unknown`, `none-sent`:
/// connections served, by what they spoke), `mamori_sinkhole_rejected_total{reason}`
/// (`too_many_connections`, `timeout`, `malformed`, `too_large`), and `mamori_sinkhole_connections`
/// (connections open now). Each kind of problem is logged at most once every 10 minutes.
///
/// ```swift
/// var configuration = SinkholeListener.Configuration()
/// configuration.endpoints = [.init(host: "192.0.2.53", port: 80), .init(host: "192.0.2.53", port: 443)]
/// let listener = SinkholeListener(configuration: configuration, clock: SystemClock(), logger: logger, metricsFactory: factory) { contact in
///     contacts.yield(contact)   // must not block: it runs on the connection's event loop
/// }
/// // add `listener` to the ServiceGroup
/// ```
public final class SinkholeListener: Service, Sendable {
    /// An address and port to listen on.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        /// The address to bind: the sinkhole's address that the RPZ zone's answers point to.
        public var host: String
        /// The TCP port; 0 picks a free one (see ``SinkholeListener/boundPorts``).
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// Where the listener listens and the limits it keeps.
    public struct Configuration: Sendable, Hashable {
        /// The addresses and ports to listen on, each its own socket.
        public var endpoints = [Endpoint(host: "127.0.0.1", port: 80), Endpoint(host: "127.0.0.1", port: 443)]
        /// Connections open at once, over all endpoints; more are closed unread.
        public var maximumConnections = 1024
        /// How long a client has to send a complete request head or ClientHello.
        public var firstBytesTimeout = Duration.seconds(5)
        /// The most bytes of a connection examined (and kept) before it is decided (at least 64).
        public var maximumBytes = SinkholeProbe.defaultMaximumBytes
        /// After the 403 page the listener stops writing and reads (discarding, at most 64 KiB)
        /// until the client closes or this long has passed, so that a request body still on its
        /// way does not turn the close into a reset that loses the page.
        public var lingerTimeout = Duration.seconds(2)
        /// The body of the 403 page (UTF-8 `text/plain`).
        public var blockPage = SinkholeListener.defaultBlockPage

        public init() {}
    }

    /// Receives each connection's contact, once, on the connection's event loop: it must return
    /// quickly (hand the value to a queue or an `AsyncStream`) and must not block.
    public typealias ContactHandler = @Sendable (SinkholeContact) -> Void

    /// The 403 page's text: what happened, in Japanese then English.
    public static let defaultBlockPage = """
        この接続は、ご契約のプロバイダのセキュリティサービスにより遮断されました。
        接続先の名前は、マルウェアに感染した機器を遠隔操作するために使われています。
        お使いの機器が感染しているおそれがあります。ご契約のプロバイダにお問い合わせください。

        This connection was blocked by your provider's security service.
        The name it was made to is used to control devices infected with malware.
        A device on your network may be infected. Please contact your provider.

        """

    /// The reasons of `mamori_sinkhole_rejected_total`.
    static let rejectionReasons = ["too_many_connections", "timeout", "malformed", "too_large"]

    let configuration: Configuration
    let clock: any WallClock
    let logger: Logger
    let onContact: ContactHandler
    /// ``Configuration/maximumBytes``, at least 64 (the probe's own floor).
    let maximumBytes: Int
    /// The 403 answer with its body, and without (for HEAD).
    let page: (full: [UInt8], head: [UInt8])
    private let served: [SinkholeProtocol: Counter]
    private let rejected: [String: Counter]
    private let openGauge: Gauge
    private let throttle = NIOLockedValueBox(LogThrottle(interval: 600_000, maximumKeys: 64))
    private let state = NIOLockedValueBox(State())
    private let ready = NIOLockedValueBox<[CheckedContinuation<Void, Never>]?>([])

    private struct State {
        var boundPorts: [Int] = []
        var open: [ObjectIdentifier: any Channel] = [:]
        var stopping = false
    }

    /// - Parameters:
    ///   - configuration: endpoints and limits.
    ///   - clock: the time of each contact (when its connection was accepted).
    ///   - logger: where listening and (rate-limited) problems are logged.
    ///   - metricsFactory: where the counters and the gauge go.
    ///   - onContact: receives one ``SinkholeContact`` per connection; see ``ContactHandler``.
    public init(
        configuration: Configuration, clock: any WallClock, logger: Logger, metricsFactory: any MetricsFactory,
        onContact: @escaping ContactHandler
    ) {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.onContact = onContact
        maximumBytes = max(64, configuration.maximumBytes)
        page = Self.page(configuration.blockPage)
        var s: [SinkholeProtocol: Counter] = [:]
        for p in SinkholeProtocol.allCases {
            s[p] = Counter(label: "mamori_sinkhole_connections_total", dimensions: [("protocol", p.rawValue)], factory: metricsFactory)
        }
        served = s
        var r: [String: Counter] = [:]
        for reason in Self.rejectionReasons {
            r[reason] = Counter(label: "mamori_sinkhole_rejected_total", dimensions: [("reason", reason)], factory: metricsFactory)
        }
        rejected = r
        openGauge = Gauge(label: "mamori_sinkhole_connections", factory: metricsFactory)
    }

    static func page(_ body: String) -> (full: [UInt8], head: [UInt8]) {
        let bytes = Array(body.utf8)
        let head = Array(
            ("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(bytes.count)\r\n"
                + "Cache-Control: no-store\r\nConnection: close\r\n\r\n").utf8)
        return (head + bytes, head)
    }

    /// The ports bound, in the order of ``Configuration/endpoints`` (after ``waitUntilReady()``;
    /// empty if binding failed).
    public var boundPorts: [Int] { state.withLockedValue { $0.boundPorts } }
    /// Connections open now.
    public var connectionCount: Int { state.withLockedValue { $0.open.count } }

    /// Returns once every endpoint is bound (or binding failed).
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

    /// Binds every endpoint (failing if one cannot be bound), then serves until graceful shutdown
    /// or cancellation, when the sockets and the connections still open are closed.
    public func run() async throws {
        var listeners: [any Channel] = []
        do {
            for endpoint in configuration.endpoints {
                listeners.append(try await bootstrap().bind(host: endpoint.host, port: endpoint.port).get())
            }
        } catch {
            for l in listeners { try? await l.close() }
            markReady()
            throw error
        }
        let ports = listeners.map { $0.localAddress?.port ?? 0 }
        state.withLockedValue { $0.boundPorts = ports }
        let described = zip(configuration.endpoints, ports).map { Endpoint(host: $0.host, port: $1).description }
        logger.info("sinkhole listening", metadata: ["sinkhole.listen": "\(described.joined(separator: " "))"])
        markReady()
        let closeAll: @Sendable () -> Void = { [listeners] in
            for l in listeners { l.close(promise: nil) }
        }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                for l in listeners { try? await l.closeFuture.get() }
            } onGracefulShutdown: {
                closeAll()
            }
        } onCancel: {
            closeAll()
        }
        closeAll()
        let open = state.withLockedValue { s in
            s.stopping = true
            return Array(s.open.values)
        }
        for c in open { c.close(promise: nil) }
        for c in open { try? await c.closeFuture.get() }
    }

    private func bootstrap() -> ServerBootstrap {
        ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
            .childChannelInitializer { channel in
                let admitted = self.admit(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SinkholeConnectionHandler(listener: self, admitted: admitted))
                }
            }
    }

    /// Counts a new connection in, unless the listener is full or stopping.
    private func admit(_ channel: any Channel) -> Bool {
        let key = ObjectIdentifier(channel)
        let (admitted, open) = state.withLockedValue { s -> (Bool, Int) in
            guard !s.stopping, s.open.count < configuration.maximumConnections else { return (false, s.open.count) }
            s.open[key] = channel
            return (true, s.open.count)
        }
        guard admitted else { return false }
        openGauge.record(open)
        channel.closeFuture.whenComplete { _ in
            let open = self.state.withLockedValue { s in
                s.open[key] = nil
                return s.open.count
            }
            self.openGauge.record(open)
        }
        return true
    }

    /// Counts, logs (rate-limited) and hands on one connection's contact.
    func report(_ contact: SinkholeContact) {
        switch contact.problem {
        case .tooManyConnections:
            reject("too_many_connections", "a client connected beyond maximum_connections (\(configuration.maximumConnections))")
        case .timeout:
            served[contact.protocol]?.increment()
            reject("timeout", "a client sent no complete request within \(configuration.firstBytesTimeout) (\(contact.protocol))")
        case .malformed(let code):
            served[contact.protocol]?.increment()
            let reason = code == .tooLarge ? "too_large" : "malformed"
            reject(reason, "a malformed \(contact.protocol) request (\(code))", key: "\(reason)|\(code)")
        case .closedEarly, nil:
            served[contact.protocol]?.increment()
        }
        onContact(contact)
    }

    private func reject(_ reason: String, _ message: String, key: String? = nil) {
        rejected[reason]?.increment()
        let now = Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000)
        let log = throttle.withLockedValue { $0.shouldLog(key ?? reason, now: now) }
        if log {
            logger.info(
                "sinkhole: \(message) (logged once every 10 minutes; counted in mamori_sinkhole_rejected_total{reason=\"\(reason)\"})",
                metadata: ["sinkhole.reason": "\(reason)"])
        }
    }

    static func timeAmount(_ d: Duration) -> TimeAmount {
        let (seconds, attoseconds) = d.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
