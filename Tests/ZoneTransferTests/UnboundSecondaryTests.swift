import DNSWire
import FlowCodec
import Foundation
import Logging
import MamoriTesting
import NIOConcurrencyHelpers
import Testing
import ZoneTransfer

/// A real Unbound (Debian's 1.17) follows our zone as an RPZ secondary (`rpz:` with `primary:`
/// our server): it transfers the zone, rewrites a name the zone lists, and transfers again when
/// NOTIFYed of a new serial.
@Suite(.timeLimit(.minutes(5)))
struct UnboundSecondaryTests {
    static func configuration(directory: String, port: Int, primaryPort: Int) -> String {
        """
        server:
            interface: 127.0.0.1@\(port)
            port: \(port)
            do-ip6: no
            do-daemonize: no
            chroot: ""
            username: ""
            directory: "\(directory)"
            pidfile: "\(directory)/unbound.pid"
            use-syslog: no
            logfile: "\(directory)/unbound.log"
            verbosity: 2
            log-queries: yes
            num-threads: 1
            access-control: 127.0.0.0/8 allow
            module-config: "respip iterator"
            do-not-query-localhost: no
        auth-zone:
            name: "example."
            zonefile: "\(directory)/example.zone"
            for-downstream: no
            for-upstream: yes
            fallback-enabled: no
        auth-zone:
            name: "mamori.test."
            zonefile: "\(directory)/mamori.test.zone"
            for-downstream: no
            for-upstream: yes
            fallback-enabled: no
        remote-control:
            control-enable: no
        rpz:
            name: "rpz.mamori."
            primary: 127.0.0.1@\(primaryPort)
            allow-notify: 127.0.0.1
            zonefile: "\(directory)/rpz.mamori.zone"
            rpz-log: yes
            rpz-log-name: "mamori"

        """
    }

    /// A zone file for Unbound's `auth-zone`: the "true" answers. (Unbound answers `local-data`
    /// before RPZ is applied, so local data cannot stand in for the real world here.)
    static func zoneFile(_ origin: String, _ records: [String]) -> String {
        ([
            "$ORIGIN \(origin)", "@ 300 IN SOA ns.\(origin) hostmaster.\(origin) 1 3600 600 86400 60", "@ 300 IN NS ns.\(origin)",
            "ns 300 IN A 192.0.2.1",
        ]
            + records).joined(separator: "\n") + "\n"
    }

    static func answerAddresses(_ m: DNSMessage) -> [[UInt8]] {
        m.answers.compactMap { if case .a(let b) = $0.rdata { b } else { nil } }
    }

    @Test("Unbound transfers the RPZ zone, rewrites cc.example to NXDOMAIN, and after a NOTIFY to the sinkhole")
    func rpzSecondary() async throws {
        let unbound = try ExternalPeer.require("unbound", debianPackage: "unbound")
        let directory = try TemporaryDirectory()
        let zone = TestZone(
            serial: 1, records: [TestZone.rule("cc.example", ".")] + (0..<30).map { TestZone.rule("pad\($0).example", ".") })
        let running = try await RunningServer(responder: zone.respond)
        let port = try freeUDPPort()
        let configPath = directory.path + "/unbound.conf"
        try Self.zoneFile("example.", ["cc 300 IN A 192.0.2.10", "ok 300 IN A 192.0.2.11"])
            .write(toFile: directory.path + "/example.zone", atomically: true, encoding: .utf8)
        try Self.zoneFile("mamori.test.", ["sinkhole 300 IN A 192.0.2.53"])
            .write(toFile: directory.path + "/mamori.test.zone", atomically: true, encoding: .utf8)
        try Self.configuration(directory: directory.path, port: port, primaryPort: running.port)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        // What Unbound prints before its log file is open (a port it cannot bind) goes here.
        let peer = try unbound.start(["-d", "-c", configPath], outputFile: directory.path + "/unbound.out")
        defer { peer.stop() }
        let logPath = directory.path + "/unbound.log"

        // The first transfer, and the rewrite: NXDOMAIN for cc.example, the true answer for ok.example.
        let transferred = try await waitUntil(timeout: .seconds(45)) { zone.seenTypes(.AXFR) + zone.seenTypes(.IXFR) >= 1 }
        #expect(transferred, "Unbound did not transfer; its log:\n\(readLog(logPath))")
        let rewritten = try await askResolver(port: port, name: "cc.example", timeout: .seconds(45)) { $0.header.rcode == .nxDomain }
        #expect(rewritten?.header.rcode == .nxDomain, "cc.example: \(String(describing: rewritten)); log:\n\(readLog(logPath))")
        let untouched = try await askResolver(port: port, name: "ok.example", timeout: .seconds(10)) { $0.header.rcode == .noError }
        #expect(untouched.map(Self.answerAddresses) == [[192, 0, 2, 11]])
        #expect(running.metrics.counterTotal("mamori_rpz_transfers_total") >= 1)
        let firstTransfers = zone.seen.withLockedValue { $0 }

        // A new serial, a NOTIFY: Unbound asks for the SOA and transfers again; the answer is now the sinkhole's.
        zone.replace(serial: 2, records: [TestZone.rule("cc.example", "sinkhole.mamori.test.")])
        let notify = try DNSMessage(
            header: DNSHeader(id: 0x3131, opcode: .notify, aa: true), questions: [DNSQuestion(name: TestZone.origin, type: .SOA)]
        ).serialize()
        var c = NotifySender.Configuration()
        c.bindHost = "127.0.0.1"
        let outcomes = await NotifySender(configuration: c, logger: Logger(label: "test"), metricsFactory: running.metrics)
            .send(notify, to: [.init(host: "127.0.0.1", port: port)])
        #expect(outcomes.values.first == .acknowledged(attempts: 1), "NOTIFY: \(outcomes); log:\n\(readLog(logPath))")
        let again = try await waitUntil(timeout: .seconds(45)) {
            zone.seenTypes(.AXFR) + zone.seenTypes(.IXFR) > firstTransfers.filter { $0.type == .AXFR || $0.type == .IXFR }.count
        }
        #expect(again, "Unbound did not transfer after the NOTIFY; seen: \(zone.seen.withLockedValue { $0 }); log:\n\(readLog(logPath))")
        let sinkholed = try await askResolver(port: port, name: "cc.example", timeout: .seconds(45)) {
            $0.answers.contains { $0.type == .CNAME } || Self.answerAddresses($0) == [[192, 0, 2, 53]]
        }
        let answer = try #require(sinkholed)
        #expect(answer.header.rcode == .noError)
        #expect(answer.answers.contains { $0.rdata == .cname(try! DNSName("sinkhole.mamori.test.")) })
        let seen = zone.seen.withLockedValue { $0 }
        Logger(label: "test").info("Unbound's requests: \(seen.map { "\($0.type)/\($0.transport)" })")
        print("Unbound's requests to the primary:", seen.map { "\($0.type)/\($0.transport)" }, "answer after NOTIFY:", answer.answers)
        await running.stop()
    }
}
