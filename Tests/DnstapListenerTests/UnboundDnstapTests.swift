import Dnstap
import DnstapListener
import FlowCodec
import Foundation
import Logging
import MamoriTesting
import MetricsTestKit
import NIOConcurrencyHelpers
import ServiceLifecycle
import Testing

/// A real Unbound (Debian's, built with dnstap) answers a query from local data and logs it over
/// bidirectional Frame Streams to the listener's Unix socket: the listener must hand on the
/// client's query and the response, with the client's address, the name and the answer.
@Suite(.timeLimit(.minutes(5)))
struct UnboundDnstapTests {
    /// A DNS query (RD set) for `name`, type A, built by hand.
    static func query(_ name: String, id: UInt16) -> [UInt8] {
        var q: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") { q += [UInt8(label.utf8.count)] + Array(label.utf8) }
        return q + [0, 0, 1, 0, 1]
    }

    static func configuration(directory: String, port: Int, socket: String) -> String {
        """
        server:
            interface: 127.0.0.1
            port: \(port)
            do-ip6: no
            do-tcp: no
            do-daemonize: no
            chroot: ""
            username: ""
            directory: "\(directory)"
            pidfile: "\(directory)/unbound.pid"
            use-syslog: no
            logfile: "\(directory)/unbound.log"
            verbosity: 1
            num-threads: 1
            access-control: 127.0.0.0/8 allow
            module-config: "iterator"
            local-zone: "botnet.test." static
            local-data: "cc.botnet.test. 300 IN A 198.51.100.9"
        remote-control:
            control-enable: no
        dnstap:
            dnstap-enable: yes
            dnstap-socket-path: "\(socket)"
            dnstap-bidirectional: yes
            dnstap-send-identity: yes
            dnstap-identity: "mamori-test"
            dnstap-log-client-query-messages: yes
            dnstap-log-client-response-messages: yes

        """
    }

    @Test("Unbound's client query and response arrive as events with the client, the name and the answer")
    func unboundClientMessages() async throws {
        let unbound = try ExternalPeer.require("unbound", debianPackage: "unbound")
        let directory = try TemporaryDirectory()
        let socketPath = directory.path + "/dnstap.sock"
        let metrics = TestMetrics()
        let events = NIOLockedValueBox([ResolverEvent]())
        var c = DnstapListener.Configuration()
        c.unixSocketPath = socketPath
        c.maximumConnections = 4
        let listener = DnstapListener(configuration: c, logger: Logger(label: "test"), metricsFactory: metrics) { e in
            events.withLockedValue { $0.append(e) }
        }
        let group = ServiceGroup(services: [listener], logger: Logger(label: "test"))
        let task = Task { try await group.run() }
        await listener.waitUntilReady()

        let port = try freeUDPPort()
        let configPath = directory.path + "/unbound.conf"
        try Self.configuration(directory: directory.path, port: port, socket: socketPath)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        let running = try unbound.start(["-d", "-c", configPath])
        defer { running.stop() }
        func log() -> String { (try? String(contentsOfFile: directory.path + "/unbound.log", encoding: .utf8)) ?? "(no log)" }

        let connected = try await waitUntil(timeout: .seconds(20)) { listener.connectionCount == 1 }
        #expect(connected, "Unbound did not connect to the dnstap socket; its log:\n\(log())")

        // Ask until Unbound answers (it may still be starting): at most 20 tries.
        let client = try LoopbackDatagramSocket()
        var answer: [UInt8]?
        for attempt in 0..<20 where answer == nil {
            #expect(client.send(Self.query("cc.botnet.test", id: UInt16(0xBE00 + attempt)), toPort: port))
            answer = await client.drain(quietMilliseconds: 500, limit: 1).first
        }
        let response = try #require(answer, "Unbound did not answer on 127.0.0.1:\(port); its log:\n\(log())")
        #expect(response.count > 12 && response[3] & 0x0F == 0, "NOERROR")

        let both = try await waitUntil(timeout: .seconds(30)) {
            events.withLockedValue { e in
                e.contains { $0.type == .clientQuery } && e.contains { $0.type == .clientResponse }
            }
        }
        #expect(both, "events: \(events.withLockedValue { $0 }); Unbound's log:\n\(log())")
        let received = events.withLockedValue { $0 }
        let query = try #require(received.first { $0.type == .clientQuery })
        #expect(query.queryAddress == IPAddress("127.0.0.1"))
        #expect(query.queryPort == UInt16(client.port))
        #expect(query.question == DNSQuestion(name: "cc.botnet.test", type: 1))
        #expect(query.identity == "mamori-test")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(abs((query.queryTimeMilliseconds ?? 0) - now) < 120_000)
        let reply = try #require(received.first { $0.type == .clientResponse })
        #expect(reply.queryAddress == IPAddress("127.0.0.1"))
        #expect(reply.question?.name == "cc.botnet.test")
        #expect(reply.responseCode == 0)
        #expect(reply.answerAddresses == [IPAddress("198.51.100.9")!])

        #expect(metrics.counterTotal("mamori_dnstap_events_total") >= 2)
        #expect(metrics.counterTotal("mamori_dnstap_frames_total") >= 2)
        #expect(metrics.counterTotal("mamori_dnstap_errors_total") == 0)

        // Unbound stops: STOP → FINISH, and the connection closes.
        running.stop()
        let closed = try await waitUntil(timeout: .seconds(30)) { listener.connectionCount == 0 }
        #expect(closed, "the connection stayed open after Unbound stopped")
        #expect(metrics.counterTotal("mamori_dnstap_errors_total") == 0)

        await group.triggerGracefulShutdown()
        try await withTimeLimit(.seconds(60), "the listener's shutdown") { try await task.value }
        #expect(!FileManager.default.fileExists(atPath: socketPath), "the socket file is removed at shutdown")
    }
}
