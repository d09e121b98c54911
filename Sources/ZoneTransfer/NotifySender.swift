import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Sends a NOTIFY (RFC 1996) to the zone's secondaries over UDP and waits for each one's reply,
/// retrying with back-off.
///
/// The message is built by the caller (opcode NOTIFY, AA, the zone's SOA as the question,
/// optionally TSIG-signed); the sender only moves it. For each secondary it sends the message,
/// waits ``Configuration/initialTimeout`` for a reply with the same ID, QR set and opcode NOTIFY
/// from that address and port, and otherwise sends again after twice the wait, up to
/// ``Configuration/attempts`` times (RFC 1996 §3.6: retry at intervals until answered, bounded).
/// A reply with another RCODE than NOERROR ends the tries: the secondary has refused it.
///
/// Each `send` binds its own UDP socket (``Configuration/bindHost``, an ephemeral port) and
/// closes it when every secondary has answered or given up.
///
/// Metrics: `mamori_rpz_notify_sent_total` (datagrams sent, retries included),
/// `mamori_rpz_notify_failed_total` (secondaries that did not acknowledge: no reply after every
/// try, or a refusal).
///
/// ```swift
/// let sender = NotifySender(configuration: .init(), logger: logger, metricsFactory: factory)
/// let outcomes = await sender.send(notify, to: [.init(host: "192.0.2.53", port: 53)])
/// ```
public struct NotifySender: Sendable {
    /// Tries and timers.
    public struct Configuration: Sendable, Hashable {
        /// The address to send from; its port is ephemeral.
        public var bindHost = "0.0.0.0"
        /// How many times the NOTIFY is sent to a secondary that does not answer.
        public var attempts = 5
        /// The wait for a reply after the first send; each later wait doubles, up to ``maximumTimeout``.
        public var initialTimeout = Duration.seconds(1)
        /// The longest wait after one send.
        public var maximumTimeout = Duration.seconds(8)
        public init() {}
    }

    /// A secondary to notify.
    public struct Secondary: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int = 53) {
            self.host = host
            self.port = port
        }
        public var description: String { "\(host)#\(port)" }
    }

    /// What became of one secondary's NOTIFY.
    public enum Outcome: Sendable, Hashable {
        /// Answered NOERROR after this many sends.
        case acknowledged(attempts: Int)
        /// Answered with this RCODE (REFUSED, NOTAUTH, NOTIMP …): not retried.
        case refused(rcode: UInt16)
        /// No matching reply after every try.
        case timedOut
        /// The address did not resolve or the datagram could not be sent.
        case failed(String)
    }

    private let configuration: Configuration
    private let logger: Logger
    private let sent: Counter
    private let failed: Counter

    public init(configuration: Configuration, logger: Logger, metricsFactory: any MetricsFactory) {
        self.configuration = configuration
        self.logger = logger
        sent = Counter(label: "mamori_rpz_notify_sent_total", factory: metricsFactory)
        failed = Counter(label: "mamori_rpz_notify_failed_total", factory: metricsFactory)
    }

    /// Sends `notify` to every secondary at once and returns each one's outcome.
    /// - Parameters:
    ///   - notify: the NOTIFY message in wire form (at least 12 octets; its ID is what replies must carry).
    ///   - secondaries: where to send it.
    public func send(_ notify: [UInt8], to secondaries: [Secondary]) async -> [Secondary: Outcome] {
        guard notify.count >= 12 else {
            failed.increment(by: Int64(secondaries.count))
            return Dictionary(secondaries.map { ($0, Outcome.failed("the NOTIFY is shorter than a DNS header")) }) { a, _ in a }
        }
        let id = UInt16(notify[0]) << 8 | UInt16(notify[1])
        let inbox = ReplyInbox()
        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(ReplyHandler(inbox: inbox)) }
                }
                .bind(host: configuration.bindHost, port: 0).get()
        } catch {
            failed.increment(by: Int64(secondaries.count))
            logger.info("rpz notify: cannot bind a UDP socket: \(error)")
            return Dictionary(secondaries.map { ($0, Outcome.failed("cannot bind: \(error)")) }) { a, _ in a }
        }
        defer { channel.close(promise: nil) }
        let outcomes = await withTaskGroup(of: (Secondary, Outcome).self) { group in
            for secondary in Set(secondaries) {
                group.addTask { (secondary, await self.notify(notify, id: id, to: secondary, over: channel, inbox: inbox)) }
            }
            var all: [Secondary: Outcome] = [:]
            for await (secondary, outcome) in group { all[secondary] = outcome }
            return all
        }
        try? await channel.close()
        for (secondary, outcome) in outcomes {
            if case .acknowledged = outcome { continue }
            failed.increment()
            logger.info("rpz notify to \(secondary) failed: \(outcome)", metadata: ["rpz.secondary": "\(secondary)"])
        }
        return outcomes
    }

    private func notify(_ message: [UInt8], id: UInt16, to secondary: Secondary, over channel: any Channel, inbox: ReplyInbox) async
        -> Outcome
    {
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(secondary.host, port: secondary.port)
        } catch {
            return .failed("cannot resolve \(secondary.host): \(error)")
        }
        let key = ReplyInbox.Key(address: "\(address.ipAddress ?? secondary.host)", port: address.port ?? secondary.port, id: id)
        var wait = configuration.initialTimeout
        for attempt in 1...max(1, configuration.attempts) {
            inbox.expect(key)
            do {
                try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: message)))
                sent.increment()
            } catch {
                return .failed("cannot send to \(secondary): \(error)")
            }
            if let rcode = await inbox.reply(for: key, within: wait) {
                return rcode == 0 ? .acknowledged(attempts: attempt) : .refused(rcode: rcode)
            }
            wait = min(wait * 2, configuration.maximumTimeout)
        }
        return .timedOut
    }

    /// The replies received, by sender and ID, for the tasks that wait for them.
    final class ReplyInbox: Sendable {
        struct Key: Hashable {
            var address: String
            var port: Int
            var id: UInt16
        }

        private let replies = NIOLockedValueBox<[Key: UInt16]>([:])

        /// Forgets an earlier reply for `key` (none is expected before a send).
        func expect(_ key: Key) { _ = replies.withLockedValue { $0.removeValue(forKey: key) } }

        /// A reply's RCODE from `key`'s sender, within `timeout`, or nil.
        func reply(for key: Key, within timeout: Duration) async -> UInt16? {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let rcode = replies.withLockedValue({ $0[key] }) { return rcode }
                do { try await Task.sleep(for: .milliseconds(10)) } catch { return nil }
            }
            return replies.withLockedValue { $0[key] }
        }

        /// Takes a datagram if it is a NOTIFY reply (QR set, opcode 4); others are ignored.
        func receive(_ bytes: ByteBufferView, from address: SocketAddress) {
            guard bytes.count >= 12, let port = address.port, let ip = address.ipAddress else { return }
            let b = Array(bytes.prefix(4))
            let qr = b[2] & 0x80 != 0
            let opcode = b[2] >> 3 & 0x0F
            guard qr, opcode == 4 else { return }
            let id = UInt16(b[0]) << 8 | UInt16(b[1])
            let rcode = UInt16(b[3] & 0x0F)
            replies.withLockedValue { $0[Key(address: ip, port: port, id: id)] = rcode }
        }
    }

    final class ReplyHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let inbox: ReplyInbox
        init(inbox: ReplyInbox) { self.inbox = inbox }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            inbox.receive(envelope.data.readableBytesView, from: envelope.remoteAddress)
        }
    }
}
