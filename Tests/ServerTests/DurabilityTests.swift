import Collector
import Detection
import FlowCodec
import FlowEncoding
import Foundation
import Hummingbird
import HummingbirdTesting
import Lawful
import Logging
import MamoriCore
import MamoriTesting
import NIOCore
import Storage
import Testing

@testable import Server

#if canImport(Glibc)
import Glibc
#endif

/// Faults the server must live through: a data directory that fills up while it runs, and
/// `kill -9` in the middle of writes; and the safe defaults (SMTP credentials only over TLS).
@Suite(.serialized, .timeLimit(.minutes(3)))
struct DurabilityTests {
    /// 300 unanswered telnet SYNs from `source` (a subscriber) to as many addresses over 40 s: one scanning finding.
    static func scan(from source: String, at t0: Int64) -> [FlowRecord] {
        (0..<300).map { i in
            let t = t0 + Int64(i) * 133
            return FlowRecord(
                sourceAddress: IPAddress(source)!, destinationAddress: .v4(0x0B00_0000 + UInt32(i) * 7919), sourcePort: UInt16(40_000 + i),
                destinationPort: 23, ipProtocol: 6, tcpFlags: 0x02, bytes: 60, packets: 1, startMilliseconds: t, endMilliseconds: t)
        }
    }

    static func subscriber(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        return "s:" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func optOut(_ n: Int) -> String {
        "{\"kind\":\"opted_out\",\"action\":\"warn_infection\",\"method\":\"call centre\",\"recorded_by\":\"agent-\(n)\"}"
    }

    static func auditEntries(_ directory: String) throws -> [AuditEntry] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".jsonl") }.sorted().flatMap { name in
            String(decoding: FileManager.default.contents(atPath: directory + "/" + name) ?? Data(), as: UTF8.self)
                .split(separator: "\n").compactMap { try? JSONDecoder().decode(AuditEntry.self, from: Data($0.utf8)) }
        }
    }

    @Test(
        "a data directory that fills up: collecting and detecting go on, /healthz and /metrics name the store, no acknowledged audit entry is lost, and the server starts cleanly once space is freed"
    )
    func fullDisk() async throws {
        let fs = try SmallFilesystem.mount(sizeKiB: 4096)
        defer { fs.unmount() }
        let data = fs.path + "/data"
        var configuration = ServerTests.configuration(dataDirectory: data)
        configuration.detection.subscriberPrefixes = [IPPrefix("203.0.113.0/24")!]
        configuration.detection.cgnatPools = []
        configuration.detection.usesDemoNetwork = false
        let t0 = SystemClock().milliseconds - 300_000
        let started = ContinuousClock.now

        let (app, services) = try buildApplication(
            configuration: configuration, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical)))
        let auth = try await services.operatorHeaders()
        let (acknowledged, refused) = try await app.test(.router) { client -> ([String], [String]) in
            var acknowledged: [String] = []
            var refused: [String] = []
            func post(_ n: Int) async throws -> HTTPResponse.Status {
                try await client.execute(
                    uri: "/api/v1/consent/\(Self.subscriber(n))/events", method: .post, headers: auth,
                    body: ByteBuffer(string: Self.optOut(n))
                ) { $0.status }
            }
            func health() async throws -> [String: Any] {
                try await client.execute(uri: "/healthz", method: .get, headers: auth) { response in
                    #expect(response.status == .ok)
                    return (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:]
                }
            }
            func metrics() async throws -> String {
                try await client.execute(uri: "/metrics", method: .get, headers: auth) { String(buffer: $0.body) }
            }
            func metric(_ text: String, _ series: String) -> Double {
                text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
                    ?? 0
            }
            try await withTimeLimit(.seconds(60), "collector binding") { await services.collector.waitUntilReady() }
            let port = try #require(services.collector.boundAddresses.values.first?.port)
            var ipfix = FlowExportEncoder(protocol: .ipfix, observationDomain: 1)
            let sender = try UDPTestSender()
            func stored() async throws -> Int { try await services.detection.store.findings(matching: FindingQuery(kind: .scanning)).count }

            // Healthy: a scanner is found and stored, three opt-outs acknowledged.
            try sender.send(
                ipfix.encode(Self.scan(from: "203.0.113.7", at: t0), exportTimeMilliseconds: t0 + 40_000), toPort: port, ipv6: false)
            var found = 0
            for _ in 0..<300 where found < 1 {
                found = try await stored()
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(found == 1, "the first scanner was not stored")
            for n in 1...3 {
                #expect(try await post(n) == .created)
                acknowledged.append(Self.subscriber(n))
            }
            #expect(try await health()["status"] as? String == "ok")

            // The disk fills up. Opt-outs are acknowledged while the log and the registry still take
            // them (the files' last pages), then refused with 503 — never acknowledged and lost.
            let filled = try fs.fill()
            #expect(fs.freeBytes == 0, "filled \(filled) bytes, \(fs.freeBytes) left")
            var n = 100
            while refused.count < 3 && n < 400 {
                let status = try await post(n)
                if status == .created {
                    acknowledged.append(Self.subscriber(n))
                } else {
                    #expect(status == .serviceUnavailable)
                    refused.append(Self.subscriber(n))
                }
                n += 1
            }
            #expect(refused.count == 3, "the full disk never refused an opt-out")

            // Collecting and detecting go on: a second scanner is counted, analysed and reported;
            // its finding waits in memory and is not handed on as if stored.
            let before = services.statistics.total.records
            let analysedBefore = services.detection.statistics.records
            try sender.send(
                ipfix.encode(Self.scan(from: "203.0.113.8", at: t0 + 60_000), exportTimeMilliseconds: t0 + 100_000), toPort: port,
                ipv6: false)
            #expect(try await waitUntil { services.statistics.total.records == before + 300 })
            #expect(
                try await waitUntil(timeout: .seconds(15)) { services.detection.unstoredCount >= 1 },
                "the second finding was not kept in memory")
            #expect(services.detection.statistics.records >= analysedBefore + 300)
            #expect(try await stored() == 1)
            let degraded = try await health()
            #expect(degraded["status"] as? String == "degraded", "\(degraded)")
            let stores = ((degraded["storage"] as? [[String: Any]]) ?? []).compactMap { $0["store"] as? String }
            #expect(stores.contains("findings"), "\(degraded)")
            #expect(stores.contains("audit") || stores.contains("consent"), "\(degraded)")
            #expect(((degraded["storage"] as? [[String: Any]])?.first?["error"] as? String)?.isEmpty == false)
            #expect((degraded["findings_unstored"] as? Int ?? 0) >= 1)
            let text = try await metrics()
            #expect(metric(text, #"mamori_storage_write_errors_total{store="findings"}"#) >= 1, "\(text)")
            #expect(metric(text, #"mamori_storage_failing{store="findings"}"#) == 1)
            #expect(metric(text, #"mamori_findings_reported_total{kind="scanning"}"#) == 2, "detection reports the second scanner")
            #expect(metric(text, "mamori_findings_unstored") >= 1)

            // Space is freed: the waiting finding and audit entries are written, and all is well again.
            fs.free()
            #expect(try await waitUntil(timeout: .seconds(10)) { services.detection.unstoredCount == 0 })
            #expect(try await stored() == 2)
            #expect(try await waitUntil(timeout: .seconds(15)) { services.lawful.audit.deferredCount == 0 }, "audit entries still waiting")
            #expect(try await post(999) == .created)
            acknowledged.append(Self.subscriber(999))
            var status = ""
            for _ in 0..<100 where status != "ok" {
                status = try await health()["status"] as? String ?? ""
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(status == "ok")
            return (acknowledged, refused)
        }

        // Every acknowledged opt-out is in the log and the registry; every refused one is in
        // neither, or the log says it was not recorded.
        let key = try AuditKey.load(path: data + "/audit.key")
        let verification = try AuditLog.verify(directory: data + "/audit", key: key)
        #expect(verification.isSound, "\(verification.problems)")
        let entries = try Self.auditEntries(data + "/audit")
        for s in acknowledged {
            #expect(
                entries.contains { $0.kind == .consentChange && $0.subject == s && $0.summary.hasPrefix("opted_out") },
                "\(s) acknowledged but not in the audit log")
        }
        for s in refused where entries.contains(where: { $0.subject == s && $0.summary.hasPrefix("opted_out warn_infection") }) {
            #expect(
                entries.contains { $0.subject == s && $0.summary.contains("NOT recorded") }, "\(s): in the log as recorded, but refused")
        }

        // A clean start on the same directory.
        let (again, restarted) = try buildApplication(
            configuration: configuration, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical)))
        try await again.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(String(buffer: response.body).contains(#""status":"ok""#))
            }
        }
        for s in acknowledged { #expect(try restarted.lawful.consent.history(of: s).count == 1, "\(s)") }
        for s in refused { #expect(try restarted.lawful.consent.history(of: s).isEmpty, "\(s)") }
        #expect(try await restarted.detection.store.findings(matching: FindingQuery(kind: .scanning)).count == 2)
        #expect(try AuditLog.verify(directory: data + "/audit", key: key).isSound)
        // A guard against a server that hangs on a full disk, not a measurement (under the whole
        // suite on two cores, with other builds beside it, this has taken 83 s).
        #expect(ContinuousClock.now - started < .seconds(240))
    }

    @Test(
        "kill -9 in the middle of writes: the audit log verifies, the stores open, acknowledged opt-outs are kept; a torn line is repaired at the next start"
    )
    func killNine() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let dir = try TemporaryDirectory()
        let data = dir.path + "/data"
        var acknowledged: [String] = []
        // The operator and the token the writer uses, made as on a new installation (server stopped).
        let token = try await OperatorBootstrap(mamori, dataDirectory: data).token("writer", scope: "change_consent")
        let auth = bearer(token)
        for round in 0..<4 {
            let http = try freeTCPPort()
            let server = try mamori.start([
                "serve", "--data-dir", data, "--http", "127.0.0.1:\(http)", "--listen", "127.0.0.1:\(try freeUDPPort())", "--log-level",
                "critical",
            ])
            var up: (status: Int, body: String)?
            for _ in 0..<300 where up == nil {
                up = await httpGet(port: http, path: "/healthz")
                if up == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            try #require(
                up?.status == 200, "round \(round): mamori serve did not answer /healthz within 30 s (running: \(server.isRunning))")
            #expect(up?.body.contains(#""status":"ok""#) == true, "round \(round): \(up?.body ?? "")")
            if round == 3 {
                server.stop()
                break
            }
            // Opt-outs as fast as one client sends them, until the server is killed under them.
            let base = round * 100_000
            let writer = Task.detached { () -> [String] in
                var acks: [String] = []
                for n in base..<(base + 100_000) {
                    guard
                        let r = httpRequest(
                            port: http, method: "POST", path: "/api/v1/consent/\(Self.subscriber(n))/events", headers: auth,
                            body: Self.optOut(n), timeoutSeconds: 2)
                    else { break }
                    if r.status == 201 { acks.append(Self.subscriber(n)) }
                }
                return acks
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 400...900)))
            server.stop(signal: SIGKILL)
            let acks = await writer.value
            #expect(acks.count > 0, "round \(round): nothing was acknowledged before the kill")
            acknowledged += acks

            let v = try AuditLog.verify(directory: data + "/audit", key: try AuditKey.load(path: data + "/audit.key"))
            #expect(v.isSound, "round \(round): \(v.problems)")
            let registry = try SQLiteConsentRegistry(path: data + "/consent.sqlite")
            for s in acks { #expect(try registry.history(of: s).count == 1, "round \(round): \(s) acknowledged but not in the registry") }
            _ = try SQLiteCaseStore(path: data + "/cases.sqlite").count()
            _ = try await SQLiteFindingStore(path: data + "/findings.sqlite").count()
            let entries = try Self.auditEntries(data + "/audit")
            let subjects = Set(entries.map(\.subject))
            for s in acks { #expect(subjects.contains(s), "round \(round): \(s) acknowledged but not in the audit log") }
            if round == 1 {
                // What a power cut in the middle of an append would leave (kill -9 cannot tear a write).
                let last = try #require(
                    try FileManager.default.contentsOfDirectory(atPath: data + "/audit").filter { $0.hasSuffix(".jsonl") }.sorted().last)
                let handle = try #require(FileHandle(forWritingAtPath: data + "/audit/" + last))
                handle.seekToEndOfFile()
                handle.write(Data(#"{"actor":"api:agent-x","at":1,"detail":"{\"ki"#.utf8))
                try handle.close()
            }
        }
        let entries = try Self.auditEntries(data + "/audit")
        #expect(entries.contains { $0.kind == .repair && $0.summary.contains("torn last line") }, "the torn line's repair was not recorded")
        #expect(entries.filter { $0.kind == .configurationChange && $0.summary.contains("started") }.count == 4)
        let output = try await mamori.run(["audit", "verify", "--data-dir", data])
        #expect(output.contains("audit log sound"), "\(output)")
        let registry = try SQLiteConsentRegistry(path: data + "/consent.sqlite")
        for s in acknowledged { #expect(try registry.history(of: s).count == 1, "\(s)") }
        #expect(PrivateFiles.mode(of: data) == 0o700)
        for name in try FileManager.default.contentsOfDirectory(atPath: data) where name.hasSuffix(".sqlite") || name.hasSuffix(".key") {
            #expect(PrivateFiles.mode(of: data + "/" + name) == 0o600, "\(name)")
        }
    }

    @Test("a key file others can read stops the start with the file and the chmod fix")
    func readableKeyRefused() throws {
        let dir = try TemporaryDirectory()
        let configuration = ServerTests.configuration(dataDirectory: dir.path)
        _ = try buildApplication(
            configuration: configuration, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical)))
        chmod(dir.path + "/audit.key", 0o644)
        #expect {
            _ = try buildApplication(
                configuration: configuration, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical)))
        } throws: { error in
            "\(error)".contains("chmod 600 \(dir.path)/audit.key")
        }
    }

    @Test(
        "SMTP credentials only over TLS: starttls_required is their default, any other tls refused with its line; a readable password file refused"
    )
    func smtpCredentialsNeedTLS() throws {
        let plain = try MamoriConfiguration.parse(yaml: "lawful:\n  smtp:\n    host: mail.example.jp\n")
        #expect(plain.lawful.smtp?.tls == "starttls_if_offered")
        let withCredentials = try MamoriConfiguration.parse(
            yaml: "lawful:\n  smtp:\n    host: mail.example.jp\n    username: mamori\n    password_file: /etc/mamori/smtp.pass\n")
        #expect(withCredentials.lawful.smtp?.tls == "starttls_required")
        for tls in ["none", "starttls_if_offered"] {
            #expect {
                _ = try MamoriConfiguration.parse(yaml: "lawful:\n  smtp:\n    username: mamori\n    password_file: /p\n    tls: \(tls)\n")
            } throws: { error in
                let e = error as? ConfigurationError
                return e?.line == 5 && e?.reason.contains("must be starttls_required") == true
            }
        }
        let dir = try TemporaryDirectory()
        let file = dir.path + "/smtp.pass"
        FileManager.default.createFile(atPath: file, contents: Data("s3cret\n".utf8))
        chmod(file, 0o644)
        var settings = try #require(withCredentials.lawful.smtp)
        settings.passwordFile = file
        #expect { _ = try SMTPNoticeMailer(settings: settings, logger: Logger(label: "test")) } throws: {
            "\($0)".contains("chmod 600 \(file)")
        }
        chmod(file, 0o600)
        _ = try SMTPNoticeMailer(settings: settings, logger: Logger(label: "test"))
        settings.tls = "none"
        #expect(throws: LawfulRequestError.self) { _ = try SMTPNoticeMailer(settings: settings, logger: Logger(label: "test")) }
    }

    @Test("/healthz fields: nothing added when all is well; degraded names each failing store with its error, since when and how often")
    func healthReport() throws {
        #expect(HealthReport(storage: [], unstoredFindings: 0, waitingAuditEntries: 0).status == "ok")
        #expect(HealthReport(storage: [], unstoredFindings: 0, waitingAuditEntries: 0).jsonFields == "")
        let report = HealthReport(
            storage: [.init(store: "audit", error: "cannot append: No space left on device", since: 0, failures: 3)], unstoredFindings: 2,
            waitingAuditEntries: 1)
        #expect(report.status == "degraded")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(("{\"a\":1" + report.jsonFields + "}").utf8)) as? [String: Any])
        let entry = try #require((json["storage"] as? [[String: Any]])?.first)
        #expect(
            entry["store"] as? String == "audit" && entry["failures"] as? Int == 3 && entry["since"] as? String == "1970-01-01T00:00:00Z")
        #expect(json["findings_unstored"] as? Int == 2 && json["audit_entries_waiting"] as? Int == 1)
        #expect(HealthReport(storage: [], unstoredFindings: 0, waitingAuditEntries: 4).status == "degraded")
    }
}
