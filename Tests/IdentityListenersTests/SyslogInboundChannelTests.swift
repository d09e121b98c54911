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

/// The syslog listener's channel handler (`SyslogListener.Inbound`) in an `EmbeddedChannel`:
/// CGNAT port-block datagrams reach the consumer; other messages, junk and unlisted senders are
/// counted and go no further; the listener never answers.
@Suite struct SyslogInboundChannelTests {
    static let cgnat = try! SocketAddress(ipAddress: "127.0.0.1", port: 40_514)

    static let allocate = NATPortBlockEvent(
        kind: .allocate, timeMilliseconds: 1_767_225_600_000, host: "cgnat1", insideAddress: IPAddress("100.64.0.1")!,
        outsideAddress: IPAddress("198.18.0.1")!, firstPort: 1024, lastPort: 2031, allocatedAt: 1_767_225_600)

    final class Consumed: Sendable {
        let box = NIOLockedValueBox([NATPortBlockEvent]())
        var all: [NATPortBlockEvent] { box.withLockedValue { $0 } }
    }

    static func channel(metrics: TestMetrics, consumed: Consumed, senders: [IPPrefix]? = nil) -> EmbeddedChannel {
        var c = SyslogListener.Configuration()
        c.senders = senders
        let listener = SyslogListener(configuration: c, logger: Logger(label: "test"), metricsFactory: metrics) { e in
            consumed.box.withLockedValue { $0.append(e) }
        }
        return EmbeddedChannel(handler: SyslogListener.Inbound(listener: listener))
    }

    static func envelope(_ bytes: [UInt8], from: SocketAddress = cgnat) -> AddressedEnvelope<ByteBuffer> {
        AddressedEnvelope(remoteAddress: from, data: ByteBuffer(bytes: bytes))
    }

    static func messages(_ metrics: TestMetrics, _ result: String) -> Int64 {
        metrics.counterTotal("mamori_syslog_messages_total", ["result": result])
    }

    @Test("a CGNAT port-block line (with or without a trailing newline) reaches the consumer as the event it describes")
    func portBlock() throws {
        let metrics = TestMetrics()
        let consumed = Consumed()
        let channel = Self.channel(metrics: metrics, consumed: consumed)
        defer { _ = try? channel.finish() }
        var release = Self.allocate
        release.kind = .release
        release.timeMilliseconds += 60_000

        try channel.writeInbound(Self.envelope(Array(Self.allocate.line.utf8)))
        try channel.writeInbound(Self.envelope(Array((release.line + "\n").utf8)))

        #expect(consumed.all == [Self.allocate, release])
        #expect(Self.messages(metrics, "port_block") == 2)
        #expect(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil, "syslog is never answered")
        #expect(try channel.readInbound(as: AddressedEnvelope<ByteBuffer>.self) == nil, "the datagram is consumed, not passed on")
    }

    @Test("junk does not crash the handler and is counted: binary bytes, other syslog, a port-block tag with an unreadable body")
    func junk() throws {
        let metrics = TestMetrics()
        let consumed = Consumed()
        let channel = Self.channel(metrics: metrics, consumed: consumed)
        defer { _ = try? channel.finish() }
        var random = SplitMix64(seed: 18)

        try channel.writeInbound(Self.envelope(random.bytes(300)))
        try channel.writeInbound(Self.envelope([0xFF, 0xFE, 0x00, 0xC3]))
        try channel.writeInbound(Self.envelope([]))
        try channel.writeInbound(Self.envelope(Array("<134>1 2026-01-01T00:00:00Z cgnat1 sshd - - - session opened".utf8)))
        try channel.writeInbound(
            Self.envelope(Array("<134>1 2026-01-01T00:00:00Z cgnat1 jservices-nat - JSERVICES_NAT_PORT_BLOCK_ALLOC - garbage".utf8)))

        #expect(consumed.all.isEmpty)
        #expect(Self.messages(metrics, "other") == 4, "binary, invalid UTF-8, empty and a non-port-block line")
        #expect(Self.messages(metrics, "unreadable") == 1, "the port-block tag with a body that is not one")
        #expect(Self.messages(metrics, "port_block") == 0)
        // Still serving afterwards.
        try channel.writeInbound(Self.envelope(Array(Self.allocate.line.utf8)))
        #expect(consumed.all == [Self.allocate])
    }

    @Test("a port-block line from a sender that is not configured is dropped before it is read, and counted")
    func unlistedSender() throws {
        let metrics = TestMetrics()
        let consumed = Consumed()
        let channel = Self.channel(metrics: metrics, consumed: consumed, senders: [IPPrefix("192.0.2.0/24")!])
        defer { _ = try? channel.finish() }

        try channel.writeInbound(Self.envelope(Array(Self.allocate.line.utf8))) // loopback: not listed here
        try channel.writeInbound(
            Self.envelope(Array(Self.allocate.line.utf8), from: try SocketAddress(ipAddress: "198.51.100.9", port: 514)))

        #expect(consumed.all.isEmpty)
        #expect(Self.messages(metrics, "unlisted_sender") == 2)
        #expect(Self.messages(metrics, "port_block") == 0)

        try channel.writeInbound(Self.envelope(Array(Self.allocate.line.utf8), from: try SocketAddress(ipAddress: "192.0.2.44", port: 514)))
        #expect(consumed.all == [Self.allocate], "a listed sender is heard")
    }

    @Test("without configured senders only loopback (IPv4 and IPv6) is heard")
    func loopbackByDefault() throws {
        let metrics = TestMetrics()
        let consumed = Consumed()
        let channel = Self.channel(metrics: metrics, consumed: consumed)
        defer { _ = try? channel.finish() }

        try channel.writeInbound(Self.envelope(Array(Self.allocate.line.utf8), from: try SocketAddress(ipAddress: "::1", port: 514)))
        try channel.writeInbound(Self.envelope(Array(Self.allocate.line.utf8), from: try SocketAddress(ipAddress: "10.1.2.3", port: 514)))

        #expect(consumed.all == [Self.allocate])
        #expect(Self.messages(metrics, "port_block") == 1)
        #expect(Self.messages(metrics, "unlisted_sender") == 1)
    }
}
