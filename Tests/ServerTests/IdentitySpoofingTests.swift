import Attribution
import Collector
import FlowCodec
import Foundation
import IdentityCodec
import IdentityListeners
import Logging
import MamoriCore
import MamoriTesting
import MetricsTestKit
import NIOConcurrencyHelpers
import Server
import ServiceLifecycle
import Testing

/// Trust boundaries for identity data (issue 16): NAT events and CGNAT syslog from a sender that
/// is not configured change no attribution; the same from a configured one does.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct IdentitySpoofingTests {
    static let t0: Int64 = 1_767_225_600_000
    static let cgnat = IPAddress("198.19.253.1")!
    static let attacker = IPAddress("203.0.113.66")!
    static let publicAddress = IPAddress("198.18.0.1")!

    /// Bob (inside 100.64.0.9) and Eve (inside 100.64.0.77) both have RADIUS sessions.
    static func service(metrics: TestMetrics, exporters: [IPPrefix]?) -> AttributionService {
        let s = AttributionService(
            configuration: .init(), pseudonymKey: Array("spoof-test-key".utf8), retentionDays: 30, logger: Logger(label: "test"),
            metricsFactory: metrics, natEventExporters: exporters)
        for (user, inside) in [("bob", "100.64.0.9"), ("eve", "100.64.0.77")] {
            var r = AccountingRecord(status: .start, sessionID: "S-\(user)", eventTime: t0 / 1000 - 60)
            r.userName = user
            r.framedIPAddress = IPAddress(inside)
            s.accounting(r, from: IPAddress("198.19.252.1")!, receivedAt: t0)
        }
        return s
    }

    static func portBlock(inside: String, from exporter: IPAddress, at ms: Int64) -> FlowRecord {
        var nat = NATFields()
        nat.event = NATFields.portBlockAllocation
        nat.postSourceAddress = publicAddress
        nat.portRangeStart = 2032
        nat.portRangeEnd = 3039
        return FlowRecord(exporter: exporter, sourceAddress: IPAddress(inside)!, startMilliseconds: ms, endMilliseconds: ms, nat: nat)
    }

    @Test("IPFIX NAT events from an exporter not configured change no attribution; from the configured CGNAT they do")
    func natEvents() async throws {
        let metrics = TestMetrics()
        let s = Self.service(metrics: metrics, exporters: [IPPrefix("198.19.253.0/30")!])
        let askAt = Self.t0 + 5000
        let before = s.lookup(Self.publicAddress, port: 2100, at: askAt)
        let claims = s.claimCount
        // The attacker claims the block for Eve.
        await s.consume(FlowBatch(records: [Self.portBlock(inside: "100.64.0.77", from: Self.attacker, at: Self.t0)]))
        #expect(s.lookup(Self.publicAddress, port: 2100, at: askAt) == before)
        #expect(s.claimCount == claims)
        #expect(
            metrics.dimensionTotal("mamori_attribution_records_dropped_total", ["source": "nat-event", "reason": "unlisted_exporter"]) == 1)
        // The CGNAT says Bob holds it.
        await s.consume(FlowBatch(records: [Self.portBlock(inside: "100.64.0.9", from: Self.cgnat, at: Self.t0)]))
        let bob = s.lookup(Self.publicAddress, port: 2100, at: askAt)
        #expect(bob != before)
        #expect(bob.outcome == "attributed")
        #expect(bob.subscriber == SubscriberPseudonymizer(key: Array("spoof-test-key".utf8)).pseudonym("bob"))
        // Later the attacker tries to hand the block to Eve, mixed into a batch with a genuine record.
        await s.consume(
            FlowBatch(records: [
                Self.portBlock(inside: "100.64.0.77", from: Self.attacker, at: Self.t0 + 1000),
                FlowRecord(
                    exporter: Self.cgnat, sourceAddress: IPAddress("100.64.0.9")!, startMilliseconds: Self.t0, endMilliseconds: Self.t0),
            ]))
        #expect(s.lookup(Self.publicAddress, port: 2100, at: askAt) == bob)
        #expect(metrics.dimensionTotal("mamori_attribution_records_dropped_total", ["reason": "unlisted_exporter"]) == 2)
    }

    @Test("unconfigured: NAT events from loopback only; an empty list takes none")
    func natEventDefaults() async throws {
        let metrics = TestMetrics()
        let loopbackOnly = Self.service(metrics: metrics, exporters: nil)
        #expect(!loopbackOnly.natEventExportersConfigured)
        await loopbackOnly.consume(FlowBatch(records: [Self.portBlock(inside: "100.64.0.9", from: Self.cgnat, at: Self.t0)]))
        #expect(loopbackOnly.lookup(Self.publicAddress, port: 2100, at: Self.t0 + 5000).outcome != "attributed")
        await loopbackOnly.consume(FlowBatch(records: [Self.portBlock(inside: "100.64.0.9", from: IPAddress("127.0.0.1")!, at: Self.t0)]))
        #expect(loopbackOnly.lookup(Self.publicAddress, port: 2100, at: Self.t0 + 5000).outcome == "attributed")
        let none = Self.service(metrics: TestMetrics(), exporters: [])
        await none.consume(FlowBatch(records: [Self.portBlock(inside: "100.64.0.9", from: IPAddress("127.0.0.1")!, at: Self.t0)]))
        #expect(none.lookup(Self.publicAddress, port: 2100, at: Self.t0 + 5000).outcome != "attributed")
    }

    /// Runs a syslog listener on loopback feeding `attribution`, sends `line`, and waits until the
    /// listener has counted it.
    static func sendSyslog(_ line: String, senders: [IPPrefix]?, to attribution: AttributionService, metrics: TestMetrics) async throws {
        var c = SyslogListener.Configuration()
        c.listen = [SocketEndpoint(host: "127.0.0.1", port: 0)]
        c.senders = senders
        let listener = SyslogListener(configuration: c, logger: Logger(label: "test"), metricsFactory: metrics) {
            attribution.portBlock($0)
        }
        let group = ServiceGroup(services: [listener], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            await listener.waitUntilReady()
            let port = try #require(listener.boundPorts.first)
            let socket = try LoopbackDatagramSocket()
            let counted = metrics.dimensionTotal("mamori_syslog_messages_total")
            #expect(socket.send(Array(line.utf8), toPort: port))
            for _ in 0..<200 where metrics.dimensionTotal("mamori_syslog_messages_total") == counted {
                try await Task.sleep(for: .milliseconds(10))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test("CGNAT syslog from a sender not configured changes no attribution; from a configured one it does")
    func syslog() async throws {
        let metrics = TestMetrics()
        let s = Self.service(metrics: metrics, exporters: nil)
        let askAt = Self.t0 + 5000
        let before = s.lookup(Self.publicAddress, port: 2100, at: askAt)
        let claims = s.claimCount
        let forEve = NATPortBlockEvent(
            kind: .allocate, timeMilliseconds: Self.t0, host: "cgnat1", insideAddress: IPAddress("100.64.0.77")!,
            outsideAddress: Self.publicAddress, firstPort: 2032, lastPort: 3039, allocatedAt: Self.t0 / 1000)
        // The test can send from loopback only: a listener that hears 192.0.2.20 alone stands for
        // "the sender is not configured".
        try await Self.sendSyslog(forEve.line, senders: [IPPrefix("192.0.2.20")!], to: s, metrics: metrics)
        #expect(metrics.dimensionTotal("mamori_syslog_messages_total", ["result": "unlisted_sender"]) == 1)
        #expect(metrics.dimensionTotal("mamori_syslog_messages_total", ["result": "port_block"]) == 0)
        #expect(s.lookup(Self.publicAddress, port: 2100, at: askAt) == before)
        #expect(s.claimCount == claims)
        // The same line from a configured sender (the loopback default) is taken.
        try await Self.sendSyslog(forEve.line, senders: nil, to: s, metrics: metrics)
        #expect(metrics.dimensionTotal("mamori_syslog_messages_total", ["result": "port_block"]) == 1)
        let after = s.lookup(Self.publicAddress, port: 2100, at: askAt)
        #expect(after.outcome == "attributed")
        #expect(after.subscriber == SubscriberPseudonymizer(key: Array("spoof-test-key".utf8)).pseudonym("eve"))
    }
}

extension TestMetrics {
    /// Sum of the counters with this label whose dimensions include `dimensions`.
    func dimensionTotal(_ label: String, _ dimensions: [String: String] = [:]) -> Int64 {
        counters.filter { c in
            c.label == label && dimensions.allSatisfy { d in c.dimensions.contains { $0.0 == d.key && $0.1 == d.value } }
        }.reduce(0) { $0 + $1.totalValue }
    }
}
