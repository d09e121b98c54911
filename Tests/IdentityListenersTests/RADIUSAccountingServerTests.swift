import FlowCodec
import Foundation
import IdentityCodec
import IdentityListeners
import Logging
import MamoriCore
import MamoriTesting
import Metrics
import MetricsTestKit
import NIOConcurrencyHelpers
import ServiceLifecycle
import Testing

/// Mamori as a RADIUS accounting server, against FreeRADIUS' own client, `radclient`
/// (Debian freeradius-utils): real Accounting-Requests are answered and recorded; a wrong secret,
/// an unknown client and a retransmission are handled as RFC 2866 and RFC 5080 say.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct RADIUSAccountingServerTests {
    final class Recorder: Sendable {
        let records = NIOLockedValueBox([(AccountingRecord, IPAddress)]())
        func deliver(_ r: AccountingRecord, _ from: IPAddress, _ at: Int64) { records.withLockedValue { $0.append((r, from)) } }
        var count: Int { records.withLockedValue { $0.count } }
    }

    /// Runs a server on a free loopback port for `body`, then stops it.
    static func withServer(
        clients: [RADIUSAccountingHandler.Client], metrics: TestMetrics, recorder: Recorder,
        requireMessageAuthenticator: Bool = false, _ body: (Int) async throws -> Void
    ) async throws {
        var c = RADIUSAccountingServer.Configuration()
        c.listen = [SocketEndpoint(host: "127.0.0.1", port: try freeUDPPort())]
        c.handler.clients = clients
        c.handler.requireMessageAuthenticator = requireMessageAuthenticator
        let server = RADIUSAccountingServer(configuration: c, logger: Logger(label: "test"), metricsFactory: metrics) { r, a, t in
            recorder.deliver(r, a, t)
        }
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            await server.waitUntilReady()
            let port = try #require(server.boundPorts.first)
            try await body(port)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static let packets = """
        Acct-Status-Type = Start
        Acct-Session-Id = "4F2A0001"
        User-Name = "cust-00000042"
        Calling-Station-Id = "02-00-5e-00-00-2a"
        NAS-IP-Address = 198.19.252.1
        Framed-IP-Address = 100.64.0.42
        Delegated-IPv6-Prefix = 2001:db8:2a00::/56
        Event-Timestamp = 1767225600

        Acct-Status-Type = Interim-Update
        Acct-Session-Id = "4F2A0001"
        User-Name = "cust-00000042"
        NAS-IP-Address = 198.19.252.1
        Framed-IP-Address = 100.64.0.42
        Acct-Session-Time = 600
        Event-Timestamp = 1767226200

        Acct-Status-Type = Stop
        Acct-Session-Id = "4F2A0002"
        User-Name = "phone-7"
        Calling-Station-Id = "999900000007"
        NAS-IP-Address = 198.19.252.129
        Framed-IP-Address = 100.64.0.77
        Framed-IPv6-Prefix = 2001:db8:ff00:7::/64
        Acct-Session-Time = 3600
        Acct-Terminate-Cause = Lost-Carrier
        Event-Timestamp = 1767229200

        """

    @Test("radclient's Start, Interim-Update and Stop are answered and recorded with every field")
    func radclientAccounting() async throws {
        let radclient = try ExternalPeer.require("radclient", debianPackage: "freeradius-utils")
        let metrics = TestMetrics()
        let recorder = Recorder()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("radclient-\(UUID().uuidString).txt").path
        try Self.packets.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await Self.withServer(
            clients: [.init(prefix: IPPrefix("127.0.0.0/8")!, secret: Array("s3cret-nas-0123456".utf8))], metrics: metrics,
            recorder: recorder
        ) { port in
            let out = try radclient.run(
                ["-r", "2", "-t", "2", "-f", file, "127.0.0.1:\(port)", "acct", "s3cret-nas-0123456"], timeout: .seconds(30))
            #expect(out.components(separatedBy: "Received Accounting-Response").count - 1 == 3, "radclient: \(out)")
        }
        let records = recorder.records.withLockedValue { $0 }
        #expect(records.count == 3)
        let byStatus = Dictionary(grouping: records.map(\.0), by: \.status)
        let start = try #require(byStatus[.start]?.first)
        #expect(start.userName == "cust-00000042")
        #expect(start.sessionID == "4F2A0001")
        #expect(start.callingStationID == "02-00-5e-00-00-2a")
        #expect(start.nasIPAddress == IPAddress("198.19.252.1"))
        #expect(start.framedIPAddress == IPAddress("100.64.0.42"))
        #expect(start.delegatedIPv6Prefixes == [IPPrefix("2001:db8:2a00::/56")!])
        #expect(start.eventTime == 1_767_225_600)
        #expect(byStatus[.interimUpdate]?.first?.sessionTime == 600)
        let stop = try #require(byStatus[.stop]?.first)
        #expect(stop.framedIPv6Prefixes == [IPPrefix("2001:db8:ff00:7::/64")!])
        #expect(stop.terminateCause == 2)
        #expect(records.allSatisfy { $0.1 == IPAddress("127.0.0.1") })
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "accepted"]) == 3)
    }

    @Test("a wrong secret and an unknown client get no answer, change nothing, and are counted")
    func rejected() async throws {
        let radclient = try ExternalPeer.require("radclient", debianPackage: "freeradius-utils")
        let metrics = TestMetrics()
        let recorder = Recorder()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("radclient-\(UUID().uuidString).txt").path
        try Self.packets.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await Self.withServer(
            clients: [.init(prefix: IPPrefix("127.0.0.1/32")!, secret: Array("s3cret-nas-0123456".utf8))], metrics: metrics,
            recorder: recorder
        ) { port in
            #expect(throws: PeerError.self, "radclient must get no answer with a wrong secret") {
                try radclient.run(["-r", "1", "-t", "1", "-f", file, "127.0.0.1:\(port)", "acct", "not-the-secret"], timeout: .seconds(30))
            }
        }
        #expect(recorder.count == 0)
        // radclient gives up after the first unanswered request
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "bad_authenticator"]) >= 1)
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "accepted"]) == 0)

        // Only 10.0.0.0/8 may send: 127.0.0.1 is nobody's client.
        let other = TestMetrics()
        try await Self.withServer(
            clients: [.init(prefix: IPPrefix("10.0.0.0/8")!, secret: Array("s3cret-nas-0123456".utf8))], metrics: other, recorder: recorder
        ) { port in
            #expect(throws: PeerError.self) {
                try radclient.run(
                    ["-r", "1", "-t", "1", "-f", file, "127.0.0.1:\(port)", "acct", "s3cret-nas-0123456"], timeout: .seconds(30))
            }
        }
        #expect(recorder.count == 0)
        #expect(other.counterTotal("mamori_radius_requests_total", ["result": "unknown_client"]) >= 1)
    }

    @Test("a retransmission is answered again but recorded once; an altered packet is dropped")
    func duplicates() async throws {
        let metrics = TestMetrics()
        let recorder = Recorder()
        let secret = Array("s3cret-nas-0123456".utf8)
        var record = AccountingRecord(status: .start, sessionID: "DUP1", eventTime: 1_767_225_600)
        record.userName = "cust-1"
        record.framedIPAddress = IPAddress("100.64.0.1")
        let datagram = try RADIUSPacket.accountingRequest(identifier: 9, attributes: record.attributes, secret: secret).encoded()
        var altered = datagram
        altered[altered.count - 1] ^= 0x01
        try await Self.withServer(clients: [.init(prefix: IPPrefix("127.0.0.0/8")!, secret: secret)], metrics: metrics, recorder: recorder)
        { port in
            let socket = try LoopbackDatagramSocket()
            #expect(socket.send(datagram, toPort: port))
            #expect(socket.send(datagram, toPort: port))
            #expect(socket.send(altered, toPort: port))
            #expect(socket.send([1, 2, 3], toPort: port))
            let answers = socket.drain(quietMilliseconds: 500)
            #expect(answers.count == 2)
            let request = try RADIUSPacket.decode(datagram)
            for a in answers { #expect(try RADIUSPacket.decode(a).isValidAccountingResponse(to: request, secret: secret)) }
        }
        #expect(recorder.count == 1)
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "duplicate"]) == 1)
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "bad_authenticator"]) == 1)
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "malformed"]) == 1)
    }
}

extension RADIUSAccountingServerTests {
    @Test("spoofing: a request with a wrong Message-Authenticator gets no answer and changes nothing; the right one is taken")
    func wrongMessageAuthenticator() async throws {
        let metrics = TestMetrics()
        let recorder = Recorder()
        let secret = Array("s3cret-nas-0123456".utf8)
        var record = AccountingRecord(status: .start, sessionID: "MA-SPOOF", eventTime: 1_767_225_600)
        record.userName = "victim"
        record.framedIPAddress = IPAddress("100.64.0.66")
        // Correct Request Authenticator over a packet whose Message-Authenticator is wrong.
        var forged = try RADIUSPacket.accountingRequest(
            identifier: 21, attributes: record.attributes, secret: secret, messageAuthenticator: true)
        forged.attributes[forged.attributes.count - 1].value = Array(repeating: 0xAB, count: 16)
        let bad = try RADIUSPacket.accountingRequest(identifier: 21, attributes: forged.attributes, secret: secret).encoded()
        let good = try RADIUSPacket.accountingRequest(
            identifier: 22, attributes: record.attributes, secret: secret, messageAuthenticator: true
        ).encoded()
        try await Self.withServer(clients: [.init(prefix: IPPrefix("127.0.0.0/8")!, secret: secret)], metrics: metrics, recorder: recorder)
        { port in
            let socket = try LoopbackDatagramSocket()
            #expect(socket.send(bad, toPort: port))
            #expect(socket.drain(quietMilliseconds: 400).isEmpty, "no answer to a wrong Message-Authenticator")
            #expect(recorder.count == 0)
            #expect(socket.send(good, toPort: port))
            let answers = socket.drain(quietMilliseconds: 400)
            #expect(answers.count == 1)
            #expect(
                try answers.first.map {
                    try RADIUSPacket.decode($0).isValidAccountingResponse(to: try RADIUSPacket.decode(good), secret: secret)
                } == true)
        }
        #expect(recorder.count == 1)
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "bad_message_authenticator"]) == 1)
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "accepted"]) == 1)
    }

    @Test(
        "require_message_authenticator against radclient: its requests without one get no answer; with Message-Authenticator = 0x00 radclient signs them and they are taken"
    )
    func radclientMessageAuthenticator() async throws {
        let radclient = try ExternalPeer.require("radclient", debianPackage: "freeradius-utils")
        let metrics = TestMetrics()
        let recorder = Recorder()
        let plain = FileManager.default.temporaryDirectory.appendingPathComponent("radclient-\(UUID().uuidString).txt").path
        let signed = FileManager.default.temporaryDirectory.appendingPathComponent("radclient-ma-\(UUID().uuidString).txt").path
        // radclient computes the attribute's value when the request lists it (src/lib/radius.c).
        let withMA =
            Self.packets.components(separatedBy: "\n\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
            .map { $0 + "\nMessage-Authenticator = 0x00" }.joined(separator: "\n\n") + "\n"
        try Self.packets.write(toFile: plain, atomically: true, encoding: .utf8)
        try withMA.write(toFile: signed, atomically: true, encoding: .utf8)
        defer {
            try? FileManager.default.removeItem(atPath: plain)
            try? FileManager.default.removeItem(atPath: signed)
        }
        try await Self.withServer(
            clients: [.init(prefix: IPPrefix("127.0.0.0/8")!, secret: Array("s3cret-nas-0123456".utf8))], metrics: metrics,
            recorder: recorder,
            requireMessageAuthenticator: true
        ) { port in
            #expect(throws: PeerError.self, "no answer without a Message-Authenticator") {
                try radclient.run(
                    ["-r", "1", "-t", "1", "-f", plain, "127.0.0.1:\(port)", "acct", "s3cret-nas-0123456"], timeout: .seconds(30))
            }
            #expect(recorder.count == 0)
            let out = try radclient.run(
                ["-r", "2", "-t", "2", "-f", signed, "127.0.0.1:\(port)", "acct", "s3cret-nas-0123456"], timeout: .seconds(30))
            #expect(out.components(separatedBy: "Received Accounting-Response").count - 1 == 3, "radclient: \(out)")
        }
        #expect(recorder.count == 3)
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "missing_message_authenticator"]) >= 1)
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "bad_message_authenticator"]) == 0)
        #expect(metrics.counterTotal("mamori_radius_requests_total", ["result": "accepted"]) == 3)
    }
}
