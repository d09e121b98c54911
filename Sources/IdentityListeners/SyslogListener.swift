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
/// Metrics: `mamori_syslog_messages_total{result}` (port_block, other, unreadable).
public final class SyslogListener: Service, Sendable {
    public struct Configuration: Sendable, Hashable {
        /// UDP endpoints (514 is syslog's port; it needs privileges, so pick another or forward).
        public var listen: [SocketEndpoint] = []
        public init() {}
    }

    private let configuration: Configuration
    private let deliver: @Sendable (NATPortBlockEvent) -> Void
    private let logger: Logger
    private let portBlocks: Counter
    private let other: Counter
    private let unreadable: Counter
    private let listeners = DatagramListeners()

    public init(configuration: Configuration, logger: Logger, metricsFactory: any MetricsFactory, deliver: @escaping @Sendable (NATPortBlockEvent) -> Void) {
        self.configuration = configuration
        self.deliver = deliver
        self.logger = logger
        portBlocks = Counter(label: "mamori_syslog_messages_total", dimensions: [("result", "port_block")], factory: metricsFactory)
        other = Counter(label: "mamori_syslog_messages_total", dimensions: [("result", "other")], factory: metricsFactory)
        unreadable = Counter(label: "mamori_syslog_messages_total", dimensions: [("result", "unreadable")], factory: metricsFactory)
    }

    /// The ports actually bound (after ``waitUntilReady()``), in the order of `listen`.
    public var boundPorts: [Int] { listeners.boundPorts }

    /// Returns once every endpoint is bound (or binding failed).
    public func waitUntilReady() async { await listeners.waitUntilReady() }

    public func run() async throws {
        try await listeners.run(configuration.listen, name: "syslog", logger: logger) { Inbound(listener: self) }
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
            listener.receive(unwrapInboundIn(data).data)
        }
    }
}
