import FlowCodec
import Foundation
import IdentityCodec
import IdentityListeners
import Logging
import MamoriCore
import MamoriTesting
import MetricsTestKit
import NIOConcurrencyHelpers
import ServiceLifecycle
import Testing

/// CGNAT port-block syslog over UDP, as the real `logger` from util-linux sends it (RFC 5424 with
/// --rfc5424, one message per datagram), plus junk.
/// The time limit is a guard against a hang, not a measurement: with the whole suite running in
/// parallel on two cores this test has taken close to 3 minutes of wall time.
@Suite(.timeLimit(.minutes(4)))
struct SyslogListenerTests {
    @Test("port-block messages become events; other syslog and junk are counted, not delivered")
    func portBlocks() async throws {
        let metrics = TestMetrics()
        let events = NIOLockedValueBox([NATPortBlockEvent]())
        var c = SyslogListener.Configuration()
        c.listen = [SocketEndpoint(host: "127.0.0.1", port: 0)]
        let listener = SyslogListener(configuration: c, logger: Logger(label: "test"), metricsFactory: metrics) { e in
            events.withLockedValue { $0.append(e) }
        }
        let group = ServiceGroup(services: [listener], logger: Logger(label: "test"))
        let task = Task { try await group.run() }
        await listener.waitUntilReady()
        let port = try #require(listener.boundPorts.first)
        let e = NATPortBlockEvent(
            kind: .allocate, timeMilliseconds: 1_767_225_600_000, host: "cgnat1", insideAddress: IPAddress("100.64.0.1")!,
            outsideAddress: IPAddress("198.18.0.1")!, firstPort: 1024, lastPort: 2031, allocatedAt: 1_767_225_600)
        var release = e
        release.kind = .release
        release.timeMilliseconds += 60_000
        let socket = try LoopbackDatagramSocket()
        #expect(socket.send(Array(e.line.utf8), toPort: port))
        #expect(socket.send(Array((release.line + "\n").utf8), toPort: port))
        #expect(socket.send(Array("<134>1 2026-01-01T00:00:00Z cgnat1 sshd - - - session opened".utf8), toPort: port))
        #expect(
            socket.send(
                Array("<134>1 2026-01-01T00:00:00Z cgnat1 jservices-nat - JSERVICES_NAT_PORT_BLOCK_ALLOC - garbage".utf8), toPort: port))
        // The real util-linux logger as a second sender: its own RFC 5424 framing, with structured
        // data ([timeQuality …]) before the Juniper message body.
        let logger = try ExternalPeer.require("logger", debianPackage: "bsdutils")
        do {
            try await logger.run([
                "--rfc5424", "-d", "-n", "127.0.0.1", "-P", "\(port)", "-t", "jservices-nat",
                "{cgnat}[jservices-nat]: JSERVICES_NAT_PORT_BLOCK_ALLOC: 100.64.0.2 -> 198.18.0.1:2032-3039 0x6955a000",
            ])
        }
        let expected = 3
        for _ in 0..<100 where events.withLockedValue({ $0.count }) < expected { try await Task.sleep(for: .milliseconds(20)) }
        let got = events.withLockedValue { $0 }
        #expect(got.count == expected)
        #expect(Array(got.prefix(2)) == [e, release])
        #expect(got.last?.insideAddress == IPAddress("100.64.0.2") && got.last?.firstPort == 2032)
        #expect(
            metrics.counters.first { $0.label == "mamori_syslog_messages_total" && $0.dimensions.contains { $0 == ("result", "other") } }?
                .totalValue == 1)
        #expect(
            metrics.counters.first {
                $0.label == "mamori_syslog_messages_total" && $0.dimensions.contains { $0 == ("result", "unreadable") }
            }?.totalValue == 1)
        await group.triggerGracefulShutdown()
        try await task.value
    }
}
