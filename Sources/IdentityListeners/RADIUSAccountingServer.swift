import FlowCodec
import IdentityCodec
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A RADIUS accounting server (RFC 2866) on UDP: verifies each request against its client's
/// shared secret, hands accepted records to `deliver`, and only then sends the Accounting-Response
/// (so a NAS retransmits what Mamori did not take). Built on SwiftNIO's datagram channel: accounting
/// arrives at thousands of packets per second, not the collector's millions.
///
/// Metrics: `mamori_radius_requests_total{result}` (accepted, duplicate, bad_authenticator,
/// bad_message_authenticator, missing_message_authenticator, replay, stale, rate_limited,
/// unknown_client, malformed, unsupported — see ``RADIUSAccountingHandler``),
/// `mamori_radius_accounting_total{status}`, `mamori_radius_memory_evictions_total{table}`
/// (duplicate, replay: entries forgotten early because a table was full) and
/// `mamori_log_throttle_evictions_total{component="radius"}`. Each kind of rejection is logged at
/// most once per sender address and reason every 10 minutes, from a table of at most 1,024 senders.
public final class RADIUSAccountingServer: Service, Sendable {
    public struct Configuration: Sendable, Hashable {
        /// UDP endpoints (1813 is the IANA accounting port).
        public var listen: [SocketEndpoint] = []
        public var handler = RADIUSAccountingHandler.Configuration()
        public init() {}
    }

    public typealias Deliver = @Sendable (AccountingRecord, IPAddress, Int64) -> Void

    private let configuration: Configuration
    private let handler: NIOLockedValueBox<RADIUSAccountingHandler>
    private let deliver: Deliver
    private let logger: Logger
    private let results: [RADIUSAccountingHandler.Result: Counter]
    private let statuses: [AccountingStatusType: Counter]
    private let memoryEvictions: (duplicate: Counter, replay: Counter)
    private let logEvictions: Counter
    private let throttle = NIOLockedValueBox(LogThrottle(interval: 600_000, maximumKeys: 1024))
    private let listeners = DatagramListeners()

    public init(configuration: Configuration, logger: Logger, metricsFactory: any MetricsFactory, deliver: @escaping Deliver) {
        self.configuration = configuration
        handler = NIOLockedValueBox(RADIUSAccountingHandler(configuration: configuration.handler))
        self.deliver = deliver
        self.logger = logger
        var r: [RADIUSAccountingHandler.Result: Counter] = [:]
        for result in RADIUSAccountingHandler.Result.allCases {
            r[result] = Counter(label: "mamori_radius_requests_total", dimensions: [("result", result.rawValue)], factory: metricsFactory)
        }
        results = r
        var s: [AccountingStatusType: Counter] = [:]
        for status in AccountingStatusType.allCases {
            s[status] = Counter(label: "mamori_radius_accounting_total", dimensions: [("status", "\(status)")], factory: metricsFactory)
        }
        statuses = s
        memoryEvictions = (
            Counter(label: "mamori_radius_memory_evictions_total", dimensions: [("table", "duplicate")], factory: metricsFactory),
            Counter(label: "mamori_radius_memory_evictions_total", dimensions: [("table", "replay")], factory: metricsFactory)
        )
        logEvictions = Counter(label: "mamori_log_throttle_evictions_total", dimensions: [("component", "radius")], factory: metricsFactory)
    }

    /// The ports actually bound (after ``waitUntilReady()``), in the order of `listen`.
    public var boundPorts: [Int] { listeners.boundPorts }

    /// Returns once every endpoint is bound (or binding failed).
    public func waitUntilReady() async { await listeners.waitUntilReady() }

    public func run() async throws {
        try await listeners.run(configuration.listen, name: "RADIUS accounting", logger: logger) { Inbound(server: self) }
    }

    /// Handles one datagram; returns the bytes to answer with, if any.
    func receive(_ bytes: [UInt8], from address: IPAddress, port: Int) -> [UInt8]? {
        receive(bytes, from: address, port: port, now: Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) &+ Self.wallOffset)
    }

    /// ``receive(_:from:port:)`` at a given time (ms since the epoch), for tests.
    func receive(_ bytes: [UInt8], from address: IPAddress, port: Int, now: Int64) -> [UInt8]? {
        let (outcome, evicted) = handler.withLockedValue { h in
            let before = h.evictions
            let outcome = h.handle(bytes, from: address, port: port, now: now)
            let after = h.evictions
            return (outcome, (after.duplicate - before.duplicate, after.replay - before.replay))
        }
        if evicted.0 > 0 { memoryEvictions.duplicate.increment(by: Int64(evicted.0)) }
        if evicted.1 > 0 { memoryEvictions.replay.increment(by: Int64(evicted.1)) }
        results[outcome.result]?.increment()
        switch outcome.result {
        case .accepted:
            if let record = outcome.record {
                statuses[record.status]?.increment()
                deliver(record, address, now)
            }
        case .duplicate:
            break
        case .badAuthenticator, .badMessageAuthenticator, .missingMessageAuthenticator, .replay, .stale, .rateLimited, .unknownClient,
            .malformed, .unsupported:
            let key = "\(outcome.result.rawValue)|\(address)"
            let (log, evicted) = throttle.withLockedValue { t in
                let before = t.evictions
                return (t.shouldLog(key, now: now), t.evictions - before)
            }
            if evicted > 0 { logEvictions.increment(by: Int64(evicted)) }
            if log {
                logger.info(
                    "RADIUS request dropped (logged once per sender and reason every 10 minutes; counted in mamori_radius_requests_total)",
                    metadata: ["result": "\(outcome.result.rawValue)", "client": "\(address)", "reason": "\(outcome.reason)"])
            }
        }
        return outcome.response
    }

    /// Wall-clock ms minus the monotonic clock's ms, fixed at start: receive times are wall-clock
    /// (they are compared with flow times) but cheap to take.
    static let wallOffset: Int64 = {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let wall = Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
        return wall - Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000)
    }()

    final class Inbound: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let server: RADIUSAccountingServer
        init(server: RADIUSAccountingServer) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            guard let address = Self.address(envelope.remoteAddress), let port = envelope.remoteAddress.port else { return }
            let bytes = Array(envelope.data.readableBytesView)
            guard let response = server.receive(bytes, from: address, port: port) else { return }
            let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: context.channel.allocator.buffer(bytes: response))
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }

        static func address(_ a: SocketAddress) -> IPAddress? {
            switch a {
            case .v4(let v4): return IPAddress.v4(UInt32(bigEndian: v4.address.sin_addr.s_addr))
            case .v6(let v6):
                let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
                return IPAddress(bytes: bytes)
            default: return nil
            }
        }
    }
}
