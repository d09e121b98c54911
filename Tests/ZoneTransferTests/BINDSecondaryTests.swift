import DNSWire
import FlowCodec
import Foundation
import Logging
import MamoriTesting
import NIOConcurrencyHelpers
import Testing
import ZoneTransfer

/// A real BIND 9 (Debian's `named`) follows our zone as a `response-policy` secondary over
/// TSIG (hmac-sha256): with the right key it transfers and rewrites, and transfers again when
/// sent a signed NOTIFY; with a wrong secret our
/// responder answers NOTAUTH (BADSIG), BIND logs the refusal and does not load the zone.
@Suite(.timeLimit(.minutes(5)))
struct BINDSecondaryTests {
    static let secret = "mtJ+6YqXgR3lQd0c7lJ8dHk1m2b5x0WcC0i1Xv2Y3Zs="
    static let wrongSecret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

    static func configuration(directory: String, port: Int, primaryPort: Int, secret: String) -> String {
        """
        options {
            directory "\(directory)";
            pid-file "\(directory)/named.pid";
            session-keyfile "\(directory)/session.key";
            managed-keys-directory "\(directory)";
            listen-on port \(port) { 127.0.0.1; };
            listen-on-v6 { none; };
            recursion yes;
            allow-query { 127.0.0.1; };
            allow-recursion { 127.0.0.1; };
            dnssec-validation no;
            forwarders { 127.0.0.1 port 9; };
            forward only;
            notify no;
            response-policy { zone "rpz.mamori." min-update-interval 0; };
        };
        key "mamori-xfr" { algorithm hmac-sha256; secret "\(secret)"; };
        logging {
            channel file { file "\(directory)/named.log"; severity info; print-time yes; print-category yes; print-severity yes; };
            category default { file; };
        };
        controls { };
        zone "example." { type primary; file "\(directory)/example.db"; };
        zone "rpz.mamori." {
            type secondary;
            primaries { 127.0.0.1 port \(primaryPort) key "mamori-xfr"; };
            file "\(directory)/rpz.db";
        };

        """
    }

    static let exampleZone = """
        $TTL 300
        @ IN SOA ns.example. hostmaster.example. 1 3600 600 86400 60
        @ IN NS ns.example.
        ns IN A 192.0.2.1
        cc IN A 192.0.2.10
        ok IN A 192.0.2.11

        """

    /// Starts named in the foreground (`-f`: logging as configured, to `named.log`) with a fresh
    /// directory; the caller stops it.
    static func start(secret: String, primaryPort: Int) throws -> (RunningPeer, directory: TemporaryDirectory, port: Int) {
        let named = try ExternalPeer.require("named", debianPackage: "bind9")
        let directory = try TemporaryDirectory()
        let port = try freeUDPPort()
        try exampleZone.write(toFile: directory.path + "/example.db", atomically: true, encoding: .utf8)
        let configPath = directory.path + "/named.conf"
        try configuration(directory: directory.path, port: port, primaryPort: primaryPort, secret: secret)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        return (try named.start(["-f", "-4", "-n", "1", "-c", configPath]), directory, port)
    }

    static func zone() throws -> TestZone {
        let key = try TSIGKey(name: try DNSName("mamori-xfr."), secretBase64: secret)
        return TestZone(
            serial: 5, records: [TestZone.rule("cc.example", ".")] + (0..<30).map { TestZone.rule("pad\($0).example", ".") }, keys: [key])
    }

    @Test("BIND transfers the zone with the right TSIG key and rewrites cc.example to NXDOMAIN")
    func rightKey() async throws {
        let zone = try Self.zone()
        let running = try await RunningServer(responder: zone.respond)
        let (peer, directory, port) = try Self.start(secret: Self.secret, primaryPort: running.port)
        defer { peer.stop() }
        let logPath = directory.path + "/named.log"
        let loaded = try await waitUntil(timeout: .seconds(45)) { readLog(logPath).contains("transferred serial 5") }
        #expect(loaded, "BIND did not complete the transfer; seen: \(zone.seen.withLockedValue { $0 }); log:\n\(readLog(logPath))")
        let rewritten = try await askResolver(port: port, name: "cc.example", timeout: .seconds(45)) { $0.header.rcode == .nxDomain }
        #expect(rewritten?.header.rcode == .nxDomain, "cc.example: \(String(describing: rewritten)); log:\n\(readLog(logPath))")
        let untouched = try await askResolver(port: port, name: "ok.example", timeout: .seconds(10)) { $0.header.rcode == .noError }
        #expect(untouched?.answers.first?.rdata == .a([192, 0, 2, 11]))
        #expect(running.metrics.counterTotal("mamori_rpz_transfers_total") >= 1)
        #expect(running.errors("refused") == 0)

        // A new serial and a TSIG-signed NOTIFY: BIND asks for the SOA and transfers again; cc.example now
        // points at ok.example.
        let before = zone.seenTypes(.AXFR) + zone.seenTypes(.IXFR)
        zone.replace(serial: 6, records: [TestZone.rule("cc.example", "ok.example.")])
        let unsigned = try DNSMessage(
            header: DNSHeader(id: 0x4242, opcode: .notify, aa: true), questions: [DNSQuestion(name: TestZone.origin, type: .SOA)]
        ).serialize()
        var signer = TSIGSigner(key: try TSIGKey(name: try DNSName("mamori-xfr."), secretBase64: Self.secret), requestMAC: nil)
        let notify = try signer.sign(unsigned, now: Int64(Date().timeIntervalSince1970))
        var c = NotifySender.Configuration()
        c.bindHost = "127.0.0.1"
        let outcomes = await NotifySender(configuration: c, logger: Logger(label: "test"), metricsFactory: running.metrics)
            .send(notify, to: [.init(host: "127.0.0.1", port: port)])
        #expect(outcomes.values.first == .acknowledged(attempts: 1), "NOTIFY: \(outcomes); log:\n\(readLog(logPath))")
        let again = try await waitUntil(timeout: .seconds(45)) { readLog(logPath).contains("transferred serial 6") }
        #expect(again, "no transfer after the NOTIFY; log:\n\(readLog(logPath))")
        #expect(zone.seenTypes(.AXFR) + zone.seenTypes(.IXFR) > before)
        let redirected = try await askResolver(port: port, name: "cc.example", timeout: .seconds(45)) {
            $0.answers.contains { $0.type == .CNAME }
        }
        #expect(redirected?.answers.contains { $0.rdata == .cname(try! DNSName("ok.example.")) } == true)
        #expect(redirected?.answers.contains { $0.rdata == .a([192, 0, 2, 11]) } == true)
        print("BIND's requests to the primary:", zone.seen.withLockedValue { $0 }.map { "\($0.type)/\($0.transport)" })
        print(
            "BIND's log (transfer lines):",
            readLog(logPath).split(separator: "\n").filter { $0.contains("rpz.mamori") }.joined(separator: "\n"))
        await running.stop()
    }

    @Test("With a wrong secret our responder answers NOTAUTH, BIND logs it and does not load the zone")
    func wrongKey() async throws {
        let zone = try Self.zone()
        let running = try await RunningServer(responder: zone.respond)
        let (peer, directory, port) = try Self.start(secret: Self.wrongSecret, primaryPort: running.port)
        defer { peer.stop() }
        let logPath = directory.path + "/named.log"
        let refused = try await waitUntil(timeout: .seconds(45)) {
            let log = readLog(logPath)
            return log.contains("rpz.mamori") && (log.contains("NOTAUTH") || log.contains("BADSIG") || log.contains("tsig"))
        }
        #expect(refused, "BIND's log shows no refusal; log:\n\(readLog(logPath))")
        #expect(!readLog(logPath).contains("transferred serial"))
        #expect(running.metrics.counterTotal("mamori_rpz_transfers_total") == 0)
        // Not rewritten: the true answer.
        let answer = try await askResolver(port: port, name: "cc.example", timeout: .seconds(10)) { $0.header.rcode == .noError }
        #expect(answer?.answers.first?.rdata == .a([192, 0, 2, 10]))
        print(
            "BIND's log (refusal lines):",
            readLog(logPath).split(separator: "\n").filter { $0.contains("rpz.mamori") }.joined(separator: "\n"))
        await running.stop()
    }
}
