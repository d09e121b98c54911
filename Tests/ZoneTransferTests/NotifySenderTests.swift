import DNSWire
import Logging
import MamoriTesting
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
import ZoneTransfer

/// The NOTIFY sender against a fake secondary on loopback: retries until answered, gives up
/// after its tries, and takes a refusal as final.
@Suite(.timeLimit(.minutes(5)))
struct NotifySenderTests {
    static func notify(id: UInt16) -> [UInt8] {
        try! DNSMessage(
            header: DNSHeader(id: id, opcode: .notify, aa: true),
            questions: [DNSQuestion(name: TestZone.origin, type: .SOA)]
        ).serialize()
    }

    /// A UDP socket that ignores the first `ignore` NOTIFYs, then answers with `rcode`.
    final class FakeSecondary: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let received = NIOLockedValueBox(0)
        let ignore: Int
        let rcode: DNSRCode
        /// Replies to the first NOTIFY with another ID (a stray answer), which must not count.
        let strayFirst: Bool

        init(ignore: Int, rcode: DNSRCode = .noError, strayFirst: Bool = false) {
            self.ignore = ignore
            self.rcode = rcode
            self.strayFirst = strayFirst
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            let n = received.withLockedValue { r in
                r += 1
                return r
            }
            guard n > ignore, let request = try? DNSMessage.parse(Array(envelope.data.readableBytesView)) else { return }
            let reply = try! DNSMessage(
                header: DNSHeader(
                    id: request.header.id &+ (strayFirst && n == 1 ? 1 : 0), qr: true, opcode: .notify, aa: true, rcode: rcode),
                questions: request.questions
            ).serialize()
            context.writeAndFlush(
                wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: reply))), promise: nil)
        }

        func bind() async throws -> any Channel {
            try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(self) }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }
    }

    static func sender(_ metrics: TestMetrics) -> NotifySender {
        var c = NotifySender.Configuration()
        c.bindHost = "127.0.0.1"
        c.attempts = 3
        c.initialTimeout = .milliseconds(200)
        c.maximumTimeout = .milliseconds(400)
        return NotifySender(configuration: c, logger: Logger(label: "test"), metricsFactory: metrics)
    }

    @Test("Retried until the secondary answers; a silent one times out after its tries and is counted; a refusal is final")
    func retries() async throws {
        let metrics = TestMetrics()
        let slow = FakeSecondary(ignore: 2)
        let refusing = FakeSecondary(ignore: 0, rcode: .refused)
        let slowChannel = try await slow.bind()
        let refusingChannel = try await refusing.bind()
        let silentPort = try freeUDPPort()
        let a = NotifySender.Secondary(host: "127.0.0.1", port: slowChannel.localAddress!.port!)
        let b = NotifySender.Secondary(host: "127.0.0.1", port: refusingChannel.localAddress!.port!)
        let c = NotifySender.Secondary(host: "127.0.0.1", port: silentPort)
        let start = ContinuousClock.now
        let outcomes = await Self.sender(metrics).send(Self.notify(id: 0x2222), to: [a, b, c])
        // A guard against waiting without end, not a measurement: 3 tries of at most 0.4 s each
        // take about 1 s alone, and up to 19 s have been seen with the whole suite beside it.
        #expect(ContinuousClock.now - start < .seconds(60))
        #expect(outcomes[a] == .acknowledged(attempts: 3))
        #expect(outcomes[b] == .refused(rcode: DNSRCode.refused.rawValue))
        #expect(outcomes[c] == .timedOut)
        #expect(slow.received.withLockedValue { $0 } == 3)
        #expect(refusing.received.withLockedValue { $0 } == 1)
        #expect(metrics.counterTotal("mamori_rpz_notify_failed_total") == 2)
        #expect(metrics.counterTotal("mamori_rpz_notify_sent_total") == 3 + 1 + 3)
        try await slowChannel.close()
        try await refusingChannel.close()
    }

    @Test("A reply with another ID is not the acknowledgement: the NOTIFY is sent again")
    func strayReply() async throws {
        let metrics = TestMetrics()
        let stray = FakeSecondary(ignore: 0, strayFirst: true)
        let channel = try await stray.bind()
        let secondary = NotifySender.Secondary(host: "127.0.0.1", port: channel.localAddress!.port!)
        let outcomes = await Self.sender(metrics).send(Self.notify(id: 0x7777), to: [secondary])
        #expect(outcomes[secondary] == .acknowledged(attempts: 2))
        #expect(metrics.counterTotal("mamori_rpz_notify_failed_total") == 0)
        try await channel.close()
    }
}
