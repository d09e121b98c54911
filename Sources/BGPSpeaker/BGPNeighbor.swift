import BGPWire
import FlowCodec
import Foundation
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

#if canImport(Glibc)
/// `struct tcp_md5sig` as a socket option value.
struct MD5Signature: @unchecked Sendable {
    var value: tcp_md5sig
}
#endif

/// A configuration the speaker cannot use.
struct BGPSpeakerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What `mamori bgp status` and `GET /api/v1/bgp/neighbors` show for one neighbour.
public struct BGPNeighborStatus: Sendable, Hashable, Codable {
    public var name: String
    public var address: String
    public var port: Int
    public var peerAS: UInt32
    /// `idle`, `connect`, `open_sent`, `open_confirm` or `established`.
    public var state: String
    /// When the state began (milliseconds since 1970).
    public var since: Int64
    /// How many times the session has come up since Mamori started.
    public var establishedCount: Int
    /// Connection attempts that failed or sessions that closed since the last that stayed up.
    public var consecutiveFailures: Int
    /// Why the last connection failed or closed.
    public var lastError: String?
    public var lastNotificationSent: String?
    public var lastNotificationReceived: String?
    /// The families the session carries (both sides offered them).
    public var families: [String]
    /// The hold time agreed (seconds).
    public var holdTime: Int?
    /// The neighbour's BGP identifier, as an address.
    public var peerIdentifier: String?
    /// Routes announced on this session and not withdrawn.
    public var routesAdvertised: Int
    /// UPDATEs sent since Mamori started.
    public var announcements: Int
    public var withdrawals: Int
    /// When the next connection attempt is due, while waiting (milliseconds since 1970).
    public var retryAt: Int64?
}

/// One configured neighbour: its connection loop (connect, run a session, back off, reconnect)
/// and what its sessions report, shared between the task that runs it and the channel's event
/// loop (hence the locks).
final class BGPNeighbor: Sendable {
    let configuration: BGPNeighborConfiguration
    let sessionConfiguration: BGPSessionConfiguration
    let localAS: UInt32
    private let speaker: BGPSpeakerConfiguration
    private let routes: NIOLockedValueBox<[BGPNLRI: BGPRoute]>
    private let logger: Logger
    private let status: NIOLockedValueBox<BGPNeighborStatus>
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)
    /// Connection errors at warning level once every ten minutes each, at debug in between, so a
    /// neighbour that stays down does not fill the log; forgotten when a session comes up.
    private let throttle = NIOLockedValueBox(LogThrottle(interval: 600_000, maximumKeys: 64))
    private let metrics: Metrics

    private struct Metrics: Sendable {
        let state: Gauge
        let announcements: Counter
        let withdrawals: Counter
        let established: Counter
        let connectFailures: Counter
        let factory: any MetricsFactory
        let name: String

        func notification(_ direction: String, _ n: BGPNotification) -> Counter {
            Counter(
                label: "mamori_bgp_notifications_total",
                dimensions: [("neighbor", name), ("direction", direction), ("code", String(n.code))], factory: factory)
        }
    }

    init(
        configuration: BGPNeighborConfiguration, speaker: BGPSpeakerConfiguration, routes: NIOLockedValueBox<[BGPNLRI: BGPRoute]>,
        logger: Logger, metricsFactory: any MetricsFactory
    ) {
        self.configuration = configuration
        self.speaker = speaker
        self.routes = routes
        localAS = speaker.localAS
        sessionConfiguration = BGPSessionConfiguration(
            localAS: speaker.localAS, identifier: speaker.routerID, peerAS: configuration.peerAS, holdTime: configuration.holdTime,
            families: configuration.families, gracefulRestartTime: speaker.gracefulRestartTime, restarting: true)
        var logger = logger
        logger[metadataKey: "bgp.neighbor"] = "\(configuration.name)"
        self.logger = logger
        status = NIOLockedValueBox(
            BGPNeighborStatus(
                name: configuration.name, address: configuration.address, port: configuration.port, peerAS: configuration.peerAS,
                state: BGPSession.State.idle.rawValue, since: Self.milliseconds(), establishedCount: 0, consecutiveFailures: 0,
                families: [], routesAdvertised: 0, announcements: 0, withdrawals: 0))
        let d = [("neighbor", configuration.name)]
        metrics = Metrics(
            state: Gauge(label: "mamori_bgp_session_state", dimensions: d, factory: metricsFactory),
            announcements: Counter(label: "mamori_bgp_announcements_total", dimensions: d, factory: metricsFactory),
            withdrawals: Counter(label: "mamori_bgp_withdrawals_total", dimensions: d, factory: metricsFactory),
            established: Counter(label: "mamori_bgp_sessions_established_total", dimensions: d, factory: metricsFactory),
            connectFailures: Counter(label: "mamori_bgp_connect_failures_total", dimensions: d, factory: metricsFactory),
            factory: metricsFactory, name: configuration.name)
        metrics.state.record(BGPSession.State.idle.gaugeValue)
    }

    var currentStatus: BGPNeighborStatus { status.withLockedValue { $0 } }

    /// The configuration of the next connection's session: it says it has restarted (graceful
    /// restart's R bit) until a first session has come up since Mamori started.
    func nextSessionConfiguration() -> BGPSessionConfiguration {
        var c = sessionConfiguration
        c.restarting = status.withLockedValue { $0.establishedCount == 0 }
        return c
    }

    static func milliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    // MARK: The connection loop

    /// Connects, runs the session until it closes, waits the back-off and connects again, until
    /// the task is cancelled — then the open session, if any, is closed with a Cease
    /// (administrative shutdown, RFC 8203 text `reason`), or, when `leaving()` says so and the
    /// neighbour agreed to graceful restart, without a NOTIFICATION so that it keeps the routes.
    func run(group: any EventLoopGroup, shutdownReason: String, leaving: @escaping @Sendable () -> Bool) async {
        var backoff = BGPBackoff(initial: speaker.retryInitial, maximum: speaker.retryMaximum)
        while !Task.isCancelled {
            setState("connect", gauge: 2)
            do {
                let channel = try await connect(group: group)
                // (The handler attached it already when it became active, on the event loop: the
                // session may be up before this task runs again.)
                let before = status.withLockedValue { $0.establishedCount }
                let established = ContinuousClock.now
                await withTaskCancellationHandler {
                    await withTaskGroup(of: Void.self) { tasks in
                        tasks.addTask { try? await channel.closeFuture.get() }
                        tasks.addTask {
                            while !Task.isCancelled {
                                try? await Task.sleep(for: .milliseconds(250))
                                channel.pipeline.fireUserInboundEventTriggered(BGPSessionEvent.tick)
                            }
                        }
                        await tasks.next()
                        tasks.cancelAll()
                    }
                } onCancel: {
                    let cease = BGPNotification.administrativeShutdown(shutdownReason)
                    channel.pipeline.fireUserInboundEventTriggered(leaving() ? BGPSessionEvent.leave(cease) : .stop(cease))
                }
                if Task.isCancelled {
                    // Give the Cease its moment on the wire; the close follows the write.
                    try? await channel.closeFuture.get()
                }
                // A session that came up and stayed up a while resets the back-off; one that
                // fails at once (a neighbour that refuses us, a bad configuration) keeps doubling.
                let cameUp = status.withLockedValue { $0.establishedCount } > before
                if cameUp && ContinuousClock.now - established >= .seconds(30) { backoff.reset() }
            } catch {
                metrics.connectFailures.increment()
                record(error: "connect to \(configuration.address):\(configuration.port) failed: \(Self.describe(error))")
            }
            guard !Task.isCancelled else { break }
            let delay = backoff.next(spread: Double.random(in: 0..<1))
            let retryAt =
                Self.milliseconds() + Int64(delay.components.seconds * 1000) + delay.components.attoseconds / 1_000_000_000_000_000
            status.withLockedValue {
                $0.consecutiveFailures = backoff.failures
                $0.retryAt = retryAt
            }
            setState(BGPSession.State.idle.rawValue, gauge: BGPSession.State.idle.gaugeValue)
            try? await Task.sleep(for: delay)
            status.withLockedValue { $0.retryAt = nil }
        }
        setState(BGPSession.State.idle.rawValue, gauge: BGPSession.State.idle.gaugeValue)
    }

    private func connect(group: any EventLoopGroup) async throws -> any Channel {
        var bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(speaker.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                let handlers = channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BGPFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(BGPSessionHandler(neighbor: self))
                }
                guard let password = configuration.md5Password else { return handlers }
                return handlers.flatMap { self.signWithMD5(channel, password: password) }
            }
        if let local = configuration.localAddress {
            bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: local, port: 0))
        }
        return try await bootstrap.connect(host: configuration.address, port: configuration.port).get()
    }

    /// Sets the socket's TCP MD5 signature key for the neighbour's address (RFC 2385, Linux
    /// `TCP_MD5SIG`) before it connects: every segment of the session is signed, and the router
    /// drops any segment that is not.
    private func signWithMD5(_ channel: any Channel, password: String) -> EventLoopFuture<Void> {
        #if canImport(Glibc)
        let key = Array(password.utf8)
        guard (1...Int(TCP_MD5SIG_MAXKEYLEN)).contains(key.count),
            let provider = channel as? any SocketOptionProvider,
            let remote = try? SocketAddress(ipAddress: configuration.address, port: configuration.port)
        else {
            return channel.eventLoop.makeFailedFuture(BGPSpeakerError("TCP MD5: a key of 1 to 80 octets and an IP address are needed"))
        }
        var signature = tcp_md5sig()
        withUnsafeMutableBytes(of: &signature.tcpm_addr) { storage in
            switch remote {
            case .v4(let a): withUnsafeBytes(of: a.address) { storage.copyMemory(from: $0) }
            case .v6(let a): withUnsafeBytes(of: a.address) { storage.copyMemory(from: $0) }
            case .unixDomainSocket: break
            }
        }
        signature.tcpm_keylen = UInt16(key.count)
        withUnsafeMutableBytes(of: &signature.tcpm_key) { $0.copyBytes(from: key) }
        return provider.unsafeSetSocketOption(
            level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_MD5SIG), value: MD5Signature(value: signature))
        #else
        return channel.eventLoop.makeFailedFuture(BGPSpeakerError("TCP MD5 signatures need Linux"))
        #endif
    }

    /// Brings the session's announcements in line with ``desiredRoutes()``.
    func synchronize() {
        channel.withLockedValue { $0 }?.pipeline.fireUserInboundEventTriggered(BGPSessionEvent.sync)
    }

    // MARK: Called by the session handler (on the event loop)

    func desiredRoutes() -> [BGPRoute] { routes.withLockedValue { Array($0.values) } }

    func stateChanged(_ state: BGPSession.State, advertised: Int) {
        status.withLockedValue { s in
            s.routesAdvertised = advertised
            if s.state != state.rawValue {
                s.state = state.rawValue
                s.since = Self.milliseconds()
            }
        }
        metrics.state.record(state.gaugeValue)
    }

    func established(_ negotiated: BGPNegotiated) {
        metrics.established.increment()
        throttle.withLockedValue { $0 = LogThrottle(interval: 600_000, maximumKeys: 64) }
        let families = negotiated.families.sorted().map(\.description)
        status.withLockedValue { s in
            s.establishedCount += 1
            s.consecutiveFailures = 0
            s.lastError = nil
            s.families = families
            s.holdTime = Int(negotiated.holdTime)
            s.peerIdentifier = IPAddress.v4(negotiated.peerIdentifier).description
        }
        logger.info(
            "BGP session established",
            metadata: [
                "bgp.families": "\(families.joined(separator: ","))", "bgp.hold_time": "\(negotiated.holdTime)",
                "bgp.peer_as": "\(negotiated.peerAS)", "bgp.four_octet_as": "\(negotiated.fourOctetAS)",
            ])
    }

    func notificationSent(_ n: BGPNotification) {
        metrics.notification("sent", n).increment()
        status.withLockedValue { $0.lastNotificationSent = n.description }
        let level: Logger.Level = n.code == BGPNotification.cease ? .info : .warning
        logger.log(level: level, "sent NOTIFICATION \(n)", metadata: ["bgp.code": "\(n.code)", "bgp.subcode": "\(n.subcode)"])
    }

    func notificationReceived(_ n: BGPNotification) {
        metrics.notification("received", n).increment()
        status.withLockedValue { $0.lastNotificationReceived = n.description }
        logger.warning("received NOTIFICATION \(n)", metadata: ["bgp.code": "\(n.code)", "bgp.subcode": "\(n.subcode)"])
    }

    func closing(_ reason: BGPSession.CloseReason) {
        status.withLockedValue { $0.lastError = reason.description }
        switch reason {
        case .connectionLost: logger.warning("BGP connection lost")
        case .leftForRestart:
            logger.info(
                "BGP session closed for graceful restart: the neighbour keeps Mamori's routes until it is back",
                metadata: ["bgp.restart_time": "\(speaker.gracefulRestartTime ?? 0)"])
        case .sent, .received: break
        }
    }

    /// The connection route changes go to (set when it becomes active).
    func attach(_ connection: any Channel) {
        channel.withLockedValue { $0 = connection }
    }

    func sessionClosed(_ connection: any Channel) {
        channel.withLockedValue { if $0 === connection { $0 = nil } }
        status.withLockedValue { $0.routesAdvertised = 0 }
    }

    func connectionError(_ error: any Error) {
        record(error: "connection error: \(Self.describe(error))")
    }

    func announced(_ route: BGPRoute) {
        metrics.announcements.increment()
        status.withLockedValue { $0.announcements += 1 }
        logger.debug("announced \(route)")
    }

    func withdrew(_ route: BGPRoute) {
        metrics.withdrawals.increment()
        status.withLockedValue { $0.withdrawals += 1 }
        logger.debug("withdrew \(route.nlri)")
    }

    func unencodable(_ route: BGPRoute) {
        logger.error("route does not fit in one UPDATE; not announced: \(route)")
    }

    // MARK: -

    private func setState(_ state: String, gauge: Int) {
        status.withLockedValue { s in
            if s.state != state {
                s.state = state
                s.since = Self.milliseconds()
            }
        }
        metrics.state.record(gauge)
    }

    private func record(error text: String) {
        status.withLockedValue { $0.lastError = text }
        if throttle.withLockedValue({ $0.shouldLog(text, now: Self.milliseconds()) }) {
            logger.warning("\(text)")
        } else {
            logger.debug("\(text)")
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let e = error as? IOError { return e.description }
        if let e = error as? ChannelError { return "\(e)" }
        return "\(error)"
    }
}
