import DNSWire
import FlowCodec
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

/// The authoritative side of the RPZ sinkhole's zone transfers: a DNS server over TCP and UDP
/// that the carrier's resolvers (Unbound `rpz:`, BIND `response-policy` secondaries) query for
/// the zone's SOA and transfer the zone from (AXFR, IXFR).
///
/// It knows no zone: every request message goes to the `responder` given at construction, which
/// writes its answer message by message to a ``ZoneTransferReplyWriter``. The server adds the
/// TCP length prefixes, answers in order, and applies back-pressure: ``ZoneTransferReplyWriter/send(_:)``
/// suspends while the socket's buffer is full, so a responder that builds the messages of a
/// million-record transfer one at a time keeps one of them in memory, not the zone's wire form.
///
/// TCP (RFC 1035 §4.2.2, RFC 7766): two-octet length framing; a length above
/// ``Configuration/maximumMessageSize`` closes the connection; at most
/// ``Configuration/maximumConnections`` connections at once (more are closed at once); a
/// connection with nothing read or written for ``Configuration/idleTimeout`` is closed; after
/// ``Configuration/maximumRequestsPerConnection`` requests the connection is closed once their
/// answers are written. Requests on one connection are answered one after the other.
///
/// UDP: the responder's first message is sent if it fits in
/// ``Configuration/maximumUDPResponseSize``; a larger answer, or one of several messages, is
/// replaced by a header with TC set (and the question), telling the client to ask over TCP. An
/// AXFR over UDP is not given to the responder: RFC 5936 §4.2 leaves AXFR over UDP undefined and
/// §2 makes TCP the transport, so the server answers it with TC set (RFC 7766 §5: retry over TCP).
/// BIND 9.18 answers the same request FORMERR and logs "attempted AXFR over UDP"; TC was chosen
/// here because it tells a client what to do instead. IXFR over UDP (RFC 1995 §2) does go to the
/// responder; an answer that does not fit becomes TC.
///
/// Metrics: `mamori_rpz_transfers_total{type}` (`axfr`, `ixfr`: transfers answered with NOERROR),
/// `mamori_rpz_queries_total{type}` (other requests answered: `soa`, `notify`, `other`),
/// `mamori_rpz_transfer_errors_total{reason}` (`message_too_large`, `empty_message`,
/// `truncated`, `malformed`, `too_many_connections`, `too_many_requests`, `idle_timeout`,
/// `refused` — a transfer or SOA query answered with another RCODE (an unlisted secondary's
/// SOA probe, say), `responder_failed`, `connection_failed`,
/// `udp_axfr`, `udp_truncated`), `mamori_rpz_connections` (open TCP connections), and
/// `mamori_rpz_last_transfer_timestamp_seconds{secondary}` (the wall-clock time of the last
/// NOERROR transfer to each client address; at most 256 addresses). Each error reason is logged
/// at most once every 10 minutes.
///
/// What the secondaries do (Tests/ZoneTransferTests, Debian's Unbound 1.17.1 and BIND 9.18.49):
/// both probe the SOA over UDP, then transfer over TCP: AXFR the first time, IXFR after a NOTIFY
/// (an IXFR answered with the whole zone, AXFR-style, is accepted by both). BIND rejects a zone
/// without an apex NS record ("has no NS records", "bad zone"), logs a TSIG refusal as "refresh:
/// failure trying primary …: tsig indicates error", and applies a new zone's new trigger names
/// only after `min-update-interval` (60 s by default; "new zone version came too soon"). Unbound
/// answers `local-data` before RPZ applies, so RPZ rewrites only what it resolves.
///
/// ```swift
/// var configuration = ZoneTransferServer.Configuration()
/// configuration.host = "192.0.2.1"
/// configuration.port = 53
/// let server = ZoneTransferServer(configuration: configuration, logger: logger, metricsFactory: factory) { request, client, reply in
///     for message in try await rpz.respond(to: request, from: client.address) { try await reply.send(message) }
/// }
/// // add `server` to the ServiceGroup
/// ```
public final class ZoneTransferServer: Service, Sendable {
    /// Where the server listens and the limits it keeps.
    public struct Configuration: Sendable, Hashable {
        /// The address to bind (TCP and UDP). Keep it on loopback or the resolvers' network.
        public var host = "127.0.0.1"
        /// The port for TCP and UDP; 0 picks a free TCP port, and UDP binds the same number.
        public var port = 53
        /// Whether to answer over UDP as well (SOA queries, NOTIFY replies). UDP requests are
        /// answered one at a time, in order of arrival: the responder must answer them quickly
        /// (from memory), or the socket's buffer fills and the kernel drops what comes next.
        public var udp = true
        /// The largest request message accepted over TCP, in octets; a longer length prefix
        /// closes the connection. Requests (SOA, AXFR, IXFR with one SOA, TSIG) are small.
        public var maximumMessageSize = 4096
        /// TCP connections open at once; more are closed at once and counted.
        public var maximumConnections = 32
        /// A TCP connection with nothing read or written for this long is closed.
        public var idleTimeout = Duration.seconds(30)
        /// Requests answered on one TCP connection before it is closed.
        public var maximumRequestsPerConnection = 100
        /// The largest UDP answer sent; a larger one is replaced by a TC answer. 1232 octets
        /// fits the common IPv6 path without fragmentation (DNS flag day 2020).
        public var maximumUDPResponseSize = 1232
        public init() {}
    }

    /// Answers one request message: writes zero or more DNS messages to `reply`, in order.
    ///
    /// Writing nothing sends nothing (the client times out). A thrown error, other than
    /// ``ZoneTransferReplyClosed``, is counted (`responder_failed`) and closes a TCP connection.
    public typealias Responder =
        @Sendable (_ request: [UInt8], _ client: ZoneTransferClient, _ reply: ZoneTransferReplyWriter) async throws -> Void

    private let configuration: Configuration
    private let responder: Responder
    private let logger: Logger
    private let metricsFactory: any MetricsFactory
    private let errors: [String: Counter]
    private let transfers: [String: Counter]
    private let queries: [String: Counter]
    private let connectionsGauge: Gauge
    private let logEvictions: Counter
    private let throttle = NIOLockedValueBox(LogThrottle(interval: 600_000, maximumKeys: 64))
    private let state = NIOLockedValueBox(State())
    private let ready = NIOLockedValueBox<[CheckedContinuation<Void, Never>]?>([])

    private struct State {
        var tcpPort: Int?
        var udpPort: Int?
        var openConnections = 0
        var lastTransferGauges: [IPAddress: Gauge] = [:]
        var servedRequests = 0
    }

    /// The reasons of `mamori_rpz_transfer_errors_total`.
    static let errorReasons = [
        "message_too_large", "empty_message", "truncated", "malformed", "too_many_connections", "too_many_requests",
        "idle_timeout", "refused", "responder_failed", "connection_failed", "udp_axfr", "udp_truncated",
    ]

    /// - Parameters:
    ///   - configuration: address, port and limits.
    ///   - logger: where listening and (rate-limited) errors are logged.
    ///   - metricsFactory: where the counters and gauges go.
    ///   - responder: answers each request; see ``Responder``.
    public init(
        configuration: Configuration, logger: Logger, metricsFactory: any MetricsFactory, responder: @escaping Responder
    ) {
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
        self.metricsFactory = metricsFactory
        var e: [String: Counter] = [:]
        for reason in Self.errorReasons {
            e[reason] = Counter(label: "mamori_rpz_transfer_errors_total", dimensions: [("reason", reason)], factory: metricsFactory)
        }
        errors = e
        var t: [String: Counter] = [:]
        for type in ["axfr", "ixfr"] {
            t[type] = Counter(label: "mamori_rpz_transfers_total", dimensions: [("type", type)], factory: metricsFactory)
        }
        transfers = t
        var q: [String: Counter] = [:]
        for type in ["soa", "notify", "other"] {
            q[type] = Counter(label: "mamori_rpz_queries_total", dimensions: [("type", type)], factory: metricsFactory)
        }
        queries = q
        connectionsGauge = Gauge(label: "mamori_rpz_connections", factory: metricsFactory)
        logEvictions = Counter(
            label: "mamori_log_throttle_evictions_total", dimensions: [("component", "zone_transfer")], factory: metricsFactory)
    }

    /// A server whose responder returns all of a request's answer messages at once (the pure RPZ
    /// module's `respond(to:from:)` shape). Simple, but a transfer's messages are all in memory
    /// together; prefer the streaming ``Responder`` for large zones.
    public convenience init(
        configuration: Configuration, logger: Logger, metricsFactory: any MetricsFactory,
        messages: @escaping @Sendable (_ request: [UInt8], _ client: IPAddress) async -> [[UInt8]]
    ) {
        self.init(configuration: configuration, logger: logger, metricsFactory: metricsFactory) { request, client, reply in
            for message in await messages(request, client.address) { try await reply.send(message) }
        }
    }

    /// The TCP port bound (after ``waitUntilReady()``).
    public var boundTCPPort: Int? { state.withLockedValue { $0.tcpPort } }
    /// The UDP port bound (after ``waitUntilReady()``), if UDP is on.
    public var boundUDPPort: Int? { state.withLockedValue { $0.udpPort } }
    /// TCP connections open now.
    public var connectionCount: Int { state.withLockedValue { $0.openConnections } }

    /// Returns once the sockets are bound (or binding failed).
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

    /// Binds TCP (and UDP), then serves until graceful shutdown or cancellation, when every
    /// socket and connection is closed.
    public func run() async throws {
        let tcp: NIOAsyncChannel<Accepted, Never>
        var udp: NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>?
        do {
            tcp = try await tcpBootstrap().bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        IdleStateHandler(allTimeout: Self.timeAmount(self.configuration.idleTimeout)))
                    try channel.pipeline.syncOperations.addHandler(IdleCloser(server: self))
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(DNSLengthPrefixDecoder(maximumMessageSize: self.configuration.maximumMessageSize)))
                    // The peer's address is read here: once the connection has closed (a client
                    // that sent half a message and left) the channel no longer knows it.
                    return Accepted(
                        channel: try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel),
                        remote: channel.remoteAddress)
                }
            }
            let port = tcp.channel.localAddress?.port ?? configuration.port
            if configuration.udp {
                udp = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .channelOption(.socketOption(.so_reuseaddr), value: 1)
                    .bind(host: configuration.host, port: port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                                wrappingChannelSynchronously: channel)
                        }
                    }
            }
            state.withLockedValue { s in
                s.tcpPort = port
                s.udpPort = udp?.channel.localAddress?.port
            }
            logger.info("zone transfer server listening", metadata: ["rpz.listen": "\(configuration.host):\(port)"])
        } catch {
            markReady()
            throw error
        }
        markReady()
        let channels: [any Channel] = [tcp.channel] + (udp.map { [$0.channel] } ?? [])
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withDiscardingTaskGroup { group in
                    group.addTask { await self.serveTCP(tcp) }
                    if let udp { group.addTask { await self.serveUDP(udp) } }
                }
            } onGracefulShutdown: {
                for c in channels { c.close(promise: nil) }
            }
        } onCancel: {
            for c in channels { c.close(promise: nil) }
        }
    }

    private func tcpBootstrap() -> ServerBootstrap {
        ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
    }

    // MARK: TCP

    private func serveTCP(_ server: NIOAsyncChannel<Accepted, Never>) async {
        do {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await accepted in inbound {
                        let connection = accepted.channel
                        guard admit() else {
                            count("too_many_connections", "a client connected beyond maximum_connections")
                            // Closed through the async channel, which must see its writer finished.
                            group.addTask { try? await connection.executeThenClose { _, _ in } }
                            continue
                        }
                        group.addTask {
                            await self.serve(connection, remote: accepted.remote)
                            self.release()
                        }
                    }
                }
                group.cancelAll()
            }
        } catch {
            logger.debug("zone transfer TCP listener ended", metadata: ["rpz.error": "\(error)"])
        }
    }

    private func admit() -> Bool {
        let (admitted, open) = state.withLockedValue { s -> (Bool, Int) in
            guard s.openConnections < configuration.maximumConnections else { return (false, s.openConnections) }
            s.openConnections += 1
            return (true, s.openConnections)
        }
        if admitted { connectionsGauge.record(open) }
        return admitted
    }

    private func release() {
        let open = state.withLockedValue { s in
            s.openConnections -= 1
            return s.openConnections
        }
        connectionsGauge.record(open)
    }

    /// An accepted TCP connection and its peer's address.
    struct Accepted: Sendable {
        var channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        var remote: SocketAddress?
    }

    /// Answers one connection's requests in order until it closes or a limit is reached.
    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, remote: SocketAddress?) async {
        let client = ZoneTransferClient(
            address: remote.flatMap(Self.address) ?? IPAddress.v4(0), port: remote?.port ?? 0, transport: .tcp)
        do {
            try await connection.executeThenClose { inbound, outbound in
                var served = 0
                for try await frame in inbound {
                    let request = Array(frame.readableBytesView)
                    let writer = ZoneTransferReplyWriter { message in
                        guard message.count <= 65535 else { throw ZoneTransferReplyClosed() }
                        var buffer = ByteBuffer()
                        buffer.reserveCapacity(message.count + 2)
                        buffer.writeInteger(UInt16(message.count))
                        buffer.writeBytes(message)
                        try await outbound.write(buffer)
                    }
                    guard try await answer(request, client: client, writer: writer) else { return }
                    served += 1
                    if served >= configuration.maximumRequestsPerConnection {
                        count("too_many_requests", "a client sent more than maximum_requests_per_connection requests on one connection")
                        return
                    }
                }
            }
        } catch let error as ZoneTransferFrameError {
            count(error.reason, "\(error) from \(client)")
        } catch is ZoneTransferReplyClosed {
            // The client went away during an answer; nothing to count beyond what was.
        } catch let error as ChannelError where error == .ioOnClosedChannel || error == .alreadyClosed {
            // Closed by the idle timeout or at shutdown.
        } catch is CancellationError {
            // Shutdown.
        } catch {
            count("connection_failed", "connection from \(client) failed: \(error)")
        }
    }

    /// What the question of a request asks for, as far as counting goes.
    private enum RequestKind {
        case axfr, ixfr, soa, notify, other

        var label: String {
            switch self {
            case .axfr: "axfr"
            case .ixfr: "ixfr"
            case .soa: "soa"
            case .notify: "notify"
            case .other: "other"
            }
        }
    }

    private static func kind(of message: DNSMessage) -> RequestKind {
        if message.header.opcode == .notify { return .notify }
        switch message.questions.first?.type {
        case DNSType.AXFR: return .axfr
        case DNSType.IXFR: return .ixfr
        case DNSType.SOA: return .soa
        default: return .other
        }
    }

    /// Hands one request to the responder and counts the outcome; false when the connection is to close.
    private func answer(_ request: [UInt8], client: ZoneTransferClient, writer: ZoneTransferReplyWriter) async throws -> Bool {
        let message: DNSMessage
        do {
            message = try DNSMessage.parse(request)
        } catch {
            count("malformed", "a request from \(client) does not parse: \(error)")
            return client.transport == .udp
        }
        guard !message.header.qr else {
            count("malformed", "a response (QR set) from \(client) arrived as a request")
            return true
        }
        let kind = Self.kind(of: message)
        let firstRCode = NIOLockedValueBox<DNSRCode?>(nil)
        let counting = ZoneTransferReplyWriter { bytes in
            firstRCode.withLockedValue { r in
                if r == nil, bytes.count >= 12 { r = DNSRCode(rawValue: UInt16(bytes[3] & 0x0F)) }
            }
            try await writer.send(bytes)
        }
        do {
            try await responder(request, client, counting)
        } catch let error as ZoneTransferReplyClosed {
            throw error
        } catch {
            count("responder_failed", "the responder failed on a request from \(client): \(error)")
            return false
        }
        let rcode = firstRCode.withLockedValue { $0 }
        switch kind {
        case .axfr, .ixfr:
            if rcode == .noError {
                transfers[kind.label]?.increment()
                recordTransfer(to: client.address)
            } else if rcode != nil {
                count("refused", "a \(kind.label) from \(client) was answered \(rcode!)")
            }
        case .soa:
            queries[kind.label]?.increment()
            if let rcode, rcode != .noError { count("refused", "a soa query from \(client) was answered \(rcode)") }
        default:
            queries[kind.label]?.increment()
        }
        return true
    }

    private func recordTransfer(to address: IPAddress) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let gauge = state.withLockedValue { s -> Gauge? in
            if let g = s.lastTransferGauges[address] { return g }
            guard s.lastTransferGauges.count < 256 else { return nil }
            let g = Gauge(
                label: "mamori_rpz_last_transfer_timestamp_seconds", dimensions: [("secondary", "\(address)")], factory: metricsFactory)
            s.lastTransferGauges[address] = g
            return g
        }
        gauge?.record(Int64(now.tv_sec))
    }

    // MARK: UDP

    private func serveUDP(_ channel: NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>) async {
        do {
            try await channel.executeThenClose { inbound, outbound in
                for try await envelope in inbound {
                    let request = Array(envelope.data.readableBytesView)
                    let remote = envelope.remoteAddress
                    let client = ZoneTransferClient(
                        address: Self.address(remote) ?? IPAddress.v4(0), port: remote.port ?? 0, transport: .udp)
                    guard let response = await udpAnswer(request, client: client) else { continue }
                    try await outbound.write(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: response)))
                }
            }
        } catch {
            logger.debug("zone transfer UDP listener ended", metadata: ["rpz.error": "\(error)"])
        }
    }

    /// The one datagram answering a UDP request, or nil for none.
    private func udpAnswer(_ request: [UInt8], client: ZoneTransferClient) async -> [UInt8]? {
        if let message = try? DNSMessage.parse(request), !message.header.qr, Self.kind(of: message) == .axfr {
            count("udp_axfr", "an AXFR over UDP from \(client): answered with TC (use TCP)")
            return Self.truncated(message)
        }
        let collected = NIOLockedValueBox<[[UInt8]]>([])
        let limit = configuration.maximumUDPResponseSize
        let writer = ZoneTransferReplyWriter { bytes in
            let tooMany = collected.withLockedValue { c -> Bool in
                c.append(bytes)
                return c.count > 1
            }
            if tooMany { throw ZoneTransferReplyClosed() }
        }
        _ = try? await answer(request, client: client, writer: writer)
        let messages = collected.withLockedValue { $0 }
        guard let first = messages.first else { return nil }
        if messages.count == 1 && first.count <= limit { return first }
        count("udp_truncated", "an answer to \(client) did not fit in one UDP message: sent TC")
        return (try? DNSMessage.parse(request)).flatMap(Self.truncated)
    }

    /// A header-only answer with TC set and the request's question: "ask again over TCP".
    private static func truncated(_ request: DNSMessage) -> [UInt8]? {
        let header = DNSHeader(id: request.header.id, qr: true, opcode: request.header.opcode, aa: true, tc: true, rd: request.header.rd)
        return try? DNSMessage(header: header, questions: request.questions).serialize(maxSize: 512)
    }

    // MARK: Errors

    /// Counts an error and logs it (once per reason every 10 minutes).
    func count(_ reason: String, _ message: String) {
        errors[reason]?.increment()
        let now = Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000)
        let (log, evicted) = throttle.withLockedValue { t in
            let before = t.evictions
            return (t.shouldLog(reason, now: now), t.evictions - before)
        }
        if evicted > 0 { logEvictions.increment(by: Int64(evicted)) }
        if log {
            logger.info(
                "rpz transfer: \(message) (logged once every 10 minutes; counted in mamori_rpz_transfer_errors_total{reason=\"\(reason)\"})",
                metadata: ["rpz.reason": "\(reason)"])
        }
    }

    static func timeAmount(_ d: Duration) -> TimeAmount {
        let (seconds, attoseconds) = d.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    static func address(_ a: SocketAddress) -> IPAddress? {
        a.ipAddress.flatMap { IPAddress($0) }
    }

    /// Closes a connection idle for the configured time, and counts it.
    final class IdleCloser: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        let server: ZoneTransferServer

        init(server: ZoneTransferServer) { self.server = server }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is IdleStateHandler.IdleStateEvent {
                server.count("idle_timeout", "a connection was idle for \(server.configuration.idleTimeout)")
                context.close(promise: nil)
                return
            }
            context.fireUserInboundEventTriggered(event)
        }
    }
}
