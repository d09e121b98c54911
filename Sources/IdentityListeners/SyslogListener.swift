import FlowCodec
import IdentityCodec
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Receives CGNAT port-block logs as syslog over UDP (RFC 5426: one message per datagram, RFC 5424
/// framing, Juniper `JSERVICES_NAT_PORT_BLOCK_*` bodies — see docs/identity-data.md) and hands
/// each event to `deliver`. Other messages are counted and ignored: a CGNAT sends more than port
/// blocks to its log host.
///
/// Port blocks decide who gets a notice, and syslog over UDP has no authentication: anyone who can
/// send a datagram could claim a block for someone else. So only configured senders are heard
/// (``Configuration/senders``, addresses or prefixes); a datagram from anyone else is dropped before
/// it is read, counted, and logged at most once per sender every 10 minutes. (UDP source addresses
/// can be forged too: keep the syslog port on a management network, or filter at its edge.)
///
/// Metrics: `mamori_syslog_messages_total{result}` (port_block, other, unreadable, unlisted_sender),
/// `mamori_log_throttle_evictions_total{component="syslog"}`.
public final class SyslogListener: Service, Sendable {
    public struct Configuration: Sendable, Hashable {
        /// UDP endpoints (514 is syslog's port; it needs privileges, so pick another or forward).
        public var listen: [SocketEndpoint] = []
        /// Who may send: the CGNAT boxes (addresses or prefixes). Nil (not configured): loopback
        /// only — 127.0.0.0/8 and ::1 — and a line at start says so. A carrier's CGNATs are remote,
        /// so they must be listed; an unconfigured install is never open to the network. An empty
        /// list hears nobody.
        public var senders: [IPPrefix]?
        public init() {}

        /// The senders heard: ``senders`` or, when not configured, loopback.
        public var effectiveSenders: PrefixSet { PrefixSet(senders ?? Self.loopback) }

        public static let loopback = [IPPrefix("127.0.0.0/8")!, IPPrefix("::1/128")!]
    }

    private let configuration: Configuration
    private let deliver: @Sendable (NATPortBlockEvent) -> Void
    private let logger: Logger
    private let portBlocks: Counter
    private let other: Counter
    private let unreadable: Counter
    private let unlisted: Counter
    private let logEvictions: Counter
    private let senders: PrefixSet
    private let throttle = NIOLockedValueBox(LogThrottle(interval: 600_000, maximumKeys: 1024))
    private let listeners = DatagramListeners()

    public init(
        configuration: Configuration, logger: Logger, metricsFactory: any MetricsFactory,
        deliver: @escaping @Sendable (NATPortBlockEvent) -> Void
    ) {
        self.configuration = configuration
        self.deliver = deliver
        self.logger = logger
        portBlocks = Counter(label: "mamori_syslog_messages_total", dimensions: [("result", "port_block")], factory: metricsFactory)
        other = Counter(label: "mamori_syslog_messages_total", dimensions: [("result", "other")], factory: metricsFactory)
        unreadable = Counter(label: "mamori_syslog_messages_total", dimensions: [("result", "unreadable")], factory: metricsFactory)
        unlisted = Counter(label: "mamori_syslog_messages_total", dimensions: [("result", "unlisted_sender")], factory: metricsFactory)
        logEvictions = Counter(label: "mamori_log_throttle_evictions_total", dimensions: [("component", "syslog")], factory: metricsFactory)
        senders = configuration.effectiveSenders
    }

    /// The ports actually bound (after ``waitUntilReady()``), in the order of `listen`.
    public var boundPorts: [Int] { listeners.boundPorts }

    /// Returns once every endpoint is bound (or binding failed).
    public func waitUntilReady() async { await listeners.waitUntilReady() }

    public func run() async throws {
        if configuration.senders == nil {
            logger.notice(
                "syslog: no senders configured (attribution.syslog_senders): port blocks are accepted from loopback only (127.0.0.0/8, ::1)"
            )
        } else {
            logger.info(
                "syslog: port blocks accepted from the configured senders only",
                metadata: ["senders": "\(senders.prefixes.map(\.description).joined(separator: " "))"])
        }
        try await listeners.run(configuration.listen, name: "syslog", logger: logger) { Inbound(listener: self) }
    }

    /// One datagram from `sender`: dropped unless the sender is configured, then read.
    func receive(_ bytes: ByteBuffer, from sender: IPAddress) {
        guard senders.contains(sender) else {
            unlisted.increment()
            let now = Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000)
            let (log, evicted) = throttle.withLockedValue { t in
                let before = t.evictions
                return (t.shouldLog("\(sender)", now: now), t.evictions - before)
            }
            if evicted > 0 { logEvictions.increment(by: Int64(evicted)) }
            if log {
                logger.info(
                    "syslog from a sender not in attribution.syslog_senders dropped (logged once per sender every 10 minutes; counted in mamori_syslog_messages_total{result=\"unlisted_sender\"})",
                    metadata: ["sender": "\(sender)"])
            }
            return
        }
        receive(bytes)
    }

    /// One message: a port-block event, another message, or not text at all.
    func receive(_ bytes: ByteBuffer) {
        guard let text = bytes.getString(at: bytes.readerIndex, length: bytes.readableBytes) else {
            unreadable.increment()
            return
        }
        let line = text.hasSuffix("\n") ? text.dropLast() : Substring(text)
        guard line.contains("JSERVICES_NAT_PORT_BLOCK_") else {
            other.increment()
            return
        }
        do {
            deliver(try NATPortBlockEvent(line: line))
            portBlocks.increment()
        } catch {
            unreadable.increment()
        }
    }

    final class Inbound: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let listener: SyslogListener
        init(listener: SyslogListener) { self.listener = listener }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            guard let sender = RADIUSAccountingServer.Inbound.address(envelope.remoteAddress) else { return }
            listener.receive(envelope.data, from: sender)
        }
    }
}
