import FlowCodec
import IdentityCodec
import Logging
import MamoriCore
import MamoriTesting
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

@testable import IdentityListeners

/// The RADIUS accounting server's channel handler (`RADIUSAccountingServer.Inbound`) in an
/// `EmbeddedChannel`: datagrams in, Accounting-Responses out, records handed to `deliver`, results
/// counted. No sockets, no sleeps: the embedded channel runs the handler on the calling thread.
@Suite struct RADIUSInboundChannelTests {
    static let secret = Array("embedded-secret-0123456789".utf8)
    static let nas = try! SocketAddress(ipAddress: "192.0.2.10", port: 50_001)

    /// What `deliver` was given.
    final class Delivered: Sendable {
        let box = NIOLockedValueBox([(AccountingRecord, IPAddress)]())
        var all: [(AccountingRecord, IPAddress)] { box.withLockedValue { $0 } }
    }

    /// An embedded channel holding the handler of a server whose one client is 192.0.2.0/24 and 2001:db8::/32.
    static func channel(metrics: TestMetrics, delivered: Delivered) -> EmbeddedChannel {
        var c = RADIUSAccountingServer.Configuration()
        c.handler.clients = [
            .init(prefix: IPPrefix("192.0.2.0/24")!, secret: secret),
            .init(prefix: IPPrefix("2001:db8::/32")!, secret: secret),
        ]
        let server = RADIUSAccountingServer(configuration: c, logger: Logger(label: "test"), metricsFactory: metrics) { record, from, _ in
            delivered.box.withLockedValue { $0.append((record, from)) }
        }
        return EmbeddedChannel(handler: RADIUSAccountingServer.Inbound(server: server))
    }

    static func record(_ session: String, status: AccountingStatusType = .start) -> AccountingRecord {
        var r = AccountingRecord(status: status, sessionID: session, eventTime: 1_767_225_600)
        r.userName = "cust-\(session)"
        r.framedIPAddress = IPAddress("100.64.0.9")
        return r
    }

    static func request(_ r: AccountingRecord, id: UInt8, secret: [UInt8] = secret) throws -> [UInt8] {
        try RADIUSPacket.accountingRequest(identifier: id, attributes: r.attributes, secret: secret).encoded()
    }

    static func envelope(_ bytes: [UInt8], from: SocketAddress = nas) -> AddressedEnvelope<ByteBuffer> {
        AddressedEnvelope(remoteAddress: from, data: ByteBuffer(bytes: bytes))
    }

    @Test("a request from a known client is answered to its address with a valid Accounting-Response, delivered and counted")
    func accepted() throws {
        let metrics = TestMetrics()
        let delivered = Delivered()
        let channel = Self.channel(metrics: metrics, delivered: delivered)
        defer { _ = try? channel.finish() }
        let bytes = try Self.request(Self.record("E1"), id: 42)

        try channel.writeInbound(Self.envelope(bytes))

        let reply = try #require(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self), "an Accounting-Response is written")
        #expect(reply.remoteAddress == Self.nas, "the response goes back to the sender's address and port")
        let request = try RADIUSPacket.decode(bytes)
        let response = try RADIUSPacket.decode(Array(reply.data.readableBytesView))
        #expect(response.identifier == 42)
        #expect(response.isValidAccountingResponse(to: request, secret: Self.secret))
        #expect(
            !response.isValidAccountingResponse(to: request, secret: Array("another-secret-0123456789".utf8)),
            "the Response Authenticator is keyed with the client's secret")
        #expect(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil, "one response, no more")
        #expect(try channel.readInbound(as: AddressedEnvelope<ByteBuffer>.self) == nil, "the datagram is consumed, not passed on")

        let got = delivered.all
        #expect(got.count == 1)
        #expect(got.first?.0.sessionID == "E1")
        #expect(got.first?.0.userName == "cust-E1")
        #expect(got.first?.0.status == .start)
        #expect(got.first?.1 == IPAddress("192.0.2.10"))
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "accepted"]) == 1)
        #expect(metrics.counterTotal("mamori_radius_accounting_total", ["status": "Start"]) == 1)
    }

    @Test("an IPv6 client's address reaches deliver as IPv6 and is answered")
    func ipv6Client() throws {
        let metrics = TestMetrics()
        let delivered = Delivered()
        let channel = Self.channel(metrics: metrics, delivered: delivered)
        defer { _ = try? channel.finish() }
        let from = try SocketAddress(ipAddress: "2001:db8::7", port: 1646)
        let bytes = try Self.request(Self.record("E6", status: .stop), id: 7)

        try channel.writeInbound(Self.envelope(bytes, from: from))

        let reply = try #require(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self))
        #expect(reply.remoteAddress == from)
        #expect(
            try RADIUSPacket.decode(Array(reply.data.readableBytesView)).isValidAccountingResponse(
                to: try RADIUSPacket.decode(bytes), secret: Self.secret))
        #expect(delivered.all.map(\.1) == [IPAddress("2001:db8::7")!])
        #expect(metrics.counterTotal("mamori_radius_accounting_total", ["status": "Stop"]) == 1)
    }

    @Test("an unknown client, a wrong secret and junk get no answer, deliver nothing, and are counted by reason")
    func rejected() throws {
        let metrics = TestMetrics()
        let delivered = Delivered()
        let channel = Self.channel(metrics: metrics, delivered: delivered)
        defer { _ = try? channel.finish() }
        let stranger = try SocketAddress(ipAddress: "198.51.100.5", port: 50_001)

        try channel.writeInbound(Self.envelope(try Self.request(Self.record("U1"), id: 1), from: stranger))
        try channel.writeInbound(Self.envelope(try Self.request(Self.record("B1"), id: 2, secret: Array("not-the-secret-0123456789".utf8))))
        var altered = try Self.request(Self.record("A1"), id: 3)
        altered[altered.count - 1] ^= 0x01
        try channel.writeInbound(Self.envelope(altered))
        try channel.writeInbound(Self.envelope([1, 2, 3]))

        #expect(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil, "nothing is answered")
        #expect(delivered.all.isEmpty)
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "unknown_client"]) == 1)
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "bad_authenticator"]) == 2)
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "malformed"]) == 1)
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "accepted"]) == 0)
        // The handler is still in service: a good request after the bad ones is answered.
        try channel.writeInbound(Self.envelope(try Self.request(Self.record("G1"), id: 4)))
        #expect(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) != nil)
        #expect(delivered.all.count == 1)
    }

    @Test("a retransmission is answered again with the same response but delivered once")
    func retransmission() throws {
        let metrics = TestMetrics()
        let delivered = Delivered()
        let channel = Self.channel(metrics: metrics, delivered: delivered)
        defer { _ = try? channel.finish() }
        let bytes = try Self.request(Self.record("D1"), id: 9)

        try channel.writeInbound(Self.envelope(bytes))
        try channel.writeInbound(Self.envelope(bytes))

        let first = try #require(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self))
        let second = try #require(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self))
        #expect(first.data == second.data)
        #expect(delivered.all.count == 1)
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "duplicate"]) == 1)
    }

    @Test("a datagram whose sender is not an IP address (a Unix socket) is ignored: no answer, nothing counted")
    func nonIPSender() throws {
        let metrics = TestMetrics()
        let delivered = Delivered()
        let channel = Self.channel(metrics: metrics, delivered: delivered)
        defer { _ = try? channel.finish() }
        let unix = try SocketAddress(unixDomainSocketPath: "/tmp/mamori-radius-test.sock")

        try channel.writeInbound(Self.envelope(try Self.request(Self.record("X1"), id: 5), from: unix))

        #expect(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil)
        #expect(delivered.all.isEmpty)
        #expect(metrics.counterTotal("mamori_radius_requests_total") == 0)
    }
}
