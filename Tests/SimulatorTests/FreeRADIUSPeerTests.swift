import FlowCodec
import Foundation
import IdentityCodec
import MamoriTesting
import Simulator
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The simulator's RADIUS accounting, sent to a real FreeRADIUS server (Debian `freeradius`) on
/// 127.0.0.1 with a minimal generated configuration: an accounting listener on a free port,
/// client 127.0.0.1 with the shared secret, and the `detail` module writing into a temp dir.
/// The server must answer every request with a valid Accounting-Response and log what was sent;
/// with the wrong secret it must drop every request (RFC 2866 §3).
@Suite(.serialized) struct FreeRADIUSPeerTests {
    static let secret = "mamori-test-secret"

    final class Server {
        let directory: URL
        let port: Int
        let peer: RunningPeer
        var detailPath: String { directory.appendingPathComponent("detail").path }

        init() throws {
            let freeradius = try ExternalPeer.require("freeradius", debianPackage: "freeradius")
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-freeradius-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            port = try freeUDPPort()
            let d = directory.path
            let config = """
                prefix = /usr
                exec_prefix = /usr
                sysconfdir = /etc
                localstatedir = \(d)
                sbindir = /usr/sbin
                logdir = \(d)
                raddbdir = \(d)
                radacctdir = \(d)
                confdir = \(d)
                run_dir = \(d)
                db_dir = \(d)
                libdir = /usr/lib/freeradius
                dictdir = /usr/share/freeradius
                pidfile = \(d)/radiusd.pid
                name = radiusd
                max_request_time = 30
                cleanup_delay = 5
                max_requests = 65536
                hostname_lookups = no
                log {
                    destination = files
                    file = \(d)/radius.log
                }
                security {
                    allow_vulnerable_openssl = yes
                }
                client loopback {
                    ipaddr = 127.0.0.1
                    secret = \(FreeRADIUSPeerTests.secret)
                }
                modules {
                    always ok {
                        rcode = ok
                    }
                    detail {
                        filename = \(d)/detail
                        escape_filenames = no
                        permissions = 0600
                        header = "%t"
                    }
                }
                server default {
                    listen {
                        type = acct
                        ipaddr = 127.0.0.1
                        port = \(port)
                    }
                    accounting {
                        detail
                        ok
                    }
                }

                """
            try config.write(to: directory.appendingPathComponent("radiusd.conf"), atomically: true, encoding: .utf8)
            // -f: foreground, -l stdout: log to stdout (discarded), -d: our config dir, -n: radiusd.conf.
            peer = try freeradius.start(["-f", "-d", d, "-n", "radiusd"])
            // Wait until it listens: a Status-less probe is not possible for accounting, so poll the log.
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                if let log = try? String(contentsOfFile: d + "/radius.log", encoding: .utf8), log.contains("Ready to process requests") {
                    return
                }
                guard peer.isRunning else { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            let log = (try? String(contentsOfFile: d + "/radius.log", encoding: .utf8)) ?? "(no log)"
            peer.stop()
            throw PeerError("freeradius did not start: \(log.suffix(2000))")
        }

        deinit {
            peer.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// A UDP socket on 127.0.0.1 that sends to the server and reads replies with a timeout.
    final class Client {
        let fd: Int32
        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { throw PeerError("socket() failed") }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(port).bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { throw PeerError("connect() failed") }
            var timeout = timeval(tv_sec: 0, tv_usec: 300_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) } }
        func receive() -> [UInt8]? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return n > 0 ? Array(buffer[0..<n]) : nil
        }
        deinit { close(fd) }
    }

    /// Sends `records` one at a time (request, then its response) and returns the verified responses.
    static func exchange(
        _ records: [AccountingRecord], port: Int, secret: String, messageAuthenticator: Bool = false,
        alter: ([UInt8]) -> [UInt8] = { $0 }
    ) throws -> Int {
        let client = try Client(port: port)
        var verified = 0
        for (i, r) in records.enumerated() {
            let request = try RADIUSPacket.accountingRequest(
                identifier: UInt8(truncatingIfNeeded: i), attributes: r.attributes, secret: Array(secret.utf8),
                messageAuthenticator: messageAuthenticator)
            client.send(alter(try request.encoded()))
            guard let reply = client.receive() else { continue }
            let response = try RADIUSPacket.decode(reply)
            if response.isValidAccountingResponse(to: request, secret: Array(FreeRADIUSPeerTests.secret.utf8)) { verified += 1 }
        }
        return verified
    }

    @Test func freeRADIUSAcceptsAndLogsTheSimulatedAccounting() throws {
        let server = try Server()
        var c = smallConfiguration()
        c.durationMilliseconds = 120_000
        let sim = try Simulation(configuration: c)
        var pc = IdentityPlan.Configuration()
        pc.interimIntervalSeconds = 60
        let plan = IdentityPlan(model: sim.model, configuration: pc)
        var records: [AccountingRecord] = []
        var t = c.startMilliseconds
        while t < c.endMilliseconds {
            records += plan.events(from: t, to: t + c.windowMilliseconds).accounting.map(\.record)
            t += c.windowMilliseconds
        }
        #expect(records.count > 300)
        #expect(Set(records.map(\.status)) == [.accountingOn, .start, .interimUpdate])

        let verified = try Self.exchange(records, port: server.port, secret: Self.secret)
        #expect(verified == records.count, "FreeRADIUS answered \(verified) of \(records.count) Accounting-Requests")

        // What FreeRADIUS logged is what was sent, attribute for attribute.
        let deadline = ContinuousClock.now + .seconds(10)
        var entries: [FreeRADIUSDetail.Entry] = []
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: server.detailPath, encoding: .utf8)) ?? ""
            entries = try FreeRADIUSDetail.parse(text[...]).entries
            if entries.count >= records.count { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let logged = try entries.map { try $0.accountingRecord() }
        #expect(logged == records)
        // `--radius-detail` writes what the server logs: the same lines in the same order
        // (only the header and Timestamp, the time of writing, differ).
        let ours = try FreeRADIUSDetail.parse(records.map { FreeRADIUSDetail.format($0, writtenAtMilliseconds: 0) }.joined()[...]).entries
        #expect(ours.map { $0.pairs.filter { $0.name != "Timestamp" } } == entries.map { $0.pairs.filter { $0.name != "Timestamp" } })

        // The infected devices' addresses map to their labelled accounts in the server's own log.
        for device in sim.labels.infectedDevices where device.provisioning == .radius {
            let inside = IPAddress(device.insideAddress)!
            let names = Set(logged.filter { $0.framedIPAddress == inside }.compactMap(\.userName))
            #expect(names == [device.account!])
        }
    }

    @Test func freeRADIUSDropsRequestsSignedWithTheWrongSecret() throws {
        let server = try Server()
        var r = AccountingRecord(status: .start, sessionID: "bad-secret-1", eventTime: 1_767_225_600)
        r.userName = "cust-00000001"
        r.framedIPAddress = IPAddress("100.64.0.2")
        let verified = try Self.exchange([r, r], port: server.port, secret: "not-the-secret")
        #expect(verified == 0)
        Thread.sleep(forTimeInterval: 0.3)
        let log = (try? String(contentsOfFile: server.directory.appendingPathComponent("radius.log").path, encoding: .utf8)) ?? ""
        #expect(log.contains("invalid Request Authenticator"), "FreeRADIUS log: \(log.suffix(1000))")
        #expect(!FileManager.default.fileExists(atPath: server.detailPath))
    }

    /// Mamori's Message-Authenticator on Accounting-Request (RFC 3579 §3.2, computed as
    /// FreeRADIUS does) is what a real FreeRADIUS 3.2 verifies: signed requests are answered; one
    /// whose Message-Authenticator has a flipped bit (Request Authenticator recomputed, so only the
    /// HMAC is wrong) is dropped.
    @Test func freeRADIUSVerifiesTheSimulatorsMessageAuthenticator() throws {
        let server = try Server()
        let secret = Array(Self.secret.utf8)
        var records: [AccountingRecord] = []
        for i in 0..<5 {
            var r = AccountingRecord(status: .start, sessionID: "ma-\(i)", eventTime: 1_767_225_600 + Int64(i))
            r.userName = "cust-0000000\(i)"
            r.framedIPAddress = IPAddress("100.64.0.\(10 + i)")
            records.append(r)
        }
        #expect(try Self.exchange(records, port: server.port, secret: Self.secret, messageAuthenticator: true) == records.count)
        // Flip a bit of the HMAC, then re-sign the Request Authenticator over the altered packet.
        let flipped = { (bytes: [UInt8]) -> [UInt8] in
            guard var p = try? RADIUSPacket.decode(bytes), let last = p.attributes.indices.last else { return bytes }
            p.attributes[last].value[5] ^= 0x10
            return (try? RADIUSPacket.accountingRequest(identifier: p.identifier, attributes: p.attributes, secret: secret).encoded())
                ?? bytes
        }
        var late = records.map { r -> AccountingRecord in
            var x = r
            x.sessionID += "-forged"
            return x
        }
        late = Array(late.prefix(2))
        #expect(try Self.exchange(late, port: server.port, secret: Self.secret, messageAuthenticator: true, alter: flipped) == 0)
        Thread.sleep(forTimeInterval: 0.3)
        let log = (try? String(contentsOfFile: server.directory.appendingPathComponent("radius.log").path, encoding: .utf8)) ?? ""
        #expect(log.contains("Message-Authenticator"), "FreeRADIUS log: \(log.suffix(1000))")
    }

    /// `mamori simulate --radius … --radius-message-authenticator --radius-detail …` end to end: the
    /// CLI's pipelined client (signing each request with a Message-Authenticator too) gets a
    /// verified Accounting-Response for every request, and the server logs what the CLI wrote.
    @Test func simulateCommandSendsAccountingThatFreeRADIUSAnswers() throws {
        let server = try Server()
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("mamori")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw PeerError("\(binary.path) is missing: build it with `swift build --build-tests` (scripts/test does)")
        }
        let ownDetail = server.directory.appendingPathComponent("simulated-detail").path
        // ExternalPeer (posix_spawn, pipes closed exactly once), not Foundation's Process, beside NIO.
        let run = try ExternalPeer(path: binary.path).runToExit(
            [
                "simulate", "--seed", "5", "--subscribers", "400", "--duration", "3m", "--speed", "600", "--interim-interval", "60",
                "--radius", "127.0.0.1:\(server.port)", "--radius-secret", Self.secret, "--radius-message-authenticator",
                "--radius-detail", ownDetail,
            ], timeout: .seconds(120))
        #expect(run.status == 0, "\(run.stderr)")
        let ours = try FreeRADIUSDetail.parse(String(contentsOfFile: ownDetail, encoding: .utf8)[...]).entries
        #expect(ours.count > 400)
        #expect(
            run.stderr.contains("RADIUS: \(ours.count) Accounting-Requests sent, \(ours.count) Accounting-Responses verified"),
            "\(run.stderr.suffix(400))")
        var theirs: [FreeRADIUSDetail.Entry] = []
        let logDeadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < logDeadline {
            theirs = try FreeRADIUSDetail.parse(((try? String(contentsOfFile: server.detailPath, encoding: .utf8)) ?? "")[...]).entries
            if theirs.count >= ours.count { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        // Pipelined requests may be logged by the server's threads in another order: compare as sets (every record is distinct).
        #expect(theirs.count == ours.count)
        #expect(try Set(theirs.map { try $0.accountingRecord() }) == Set(ours.map { try $0.accountingRecord() }))
    }
}
