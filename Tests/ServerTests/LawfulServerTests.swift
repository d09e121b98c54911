import Attribution
import CaseWorkflow
import Detection
import FlowCodec
import Foundation
import Hummingbird
import HummingbirdTesting
import Lawful
import Logging
import MamoriCore
import MamoriTesting
import MetricsTestKit
import NIOCore
import Storage
import Testing

@testable import Server

/// The lawful-action core inside `mamori serve`: policy file, consent API and import, and the
/// audit log that records the start, the analysis decision and every consent change.
@Suite struct LawfulServerTests {
    static let policyYAML = """
        terms:
          - version: v3
            effective: 2025-04-01
            discloses: [warn_infection, warn_vulnerability, sinkhole_dns]
            observation_statement: DNS queries for known C&C names, when they are made
        legitimate_business:
          qualifying_families: [mirai, mozi]
          repeated_contacts: 5
          honour_opt_out: false
        sinkhole:
          opt_out_method: use a DNS resolver other than the carrier's
        notices:
          languages: [ja, en]
          support: 0120-000-000
        """

    static let customers = """
        account,email,language,terms_version,terms_accepted,warn_infection,warn_vulnerability,sinkhole_dns
        A-0001,taro@example.jp,ja,v3,2025-04-01,,,opt_out@2026-03-01
        A-0002,anna@example.com,en,v3,2025-05-10,consent@2026-01-05,,
        A-0003,broken-address,ja,v3,2025-04-01,,,
        """

    @Test("the policy file is read with its terms and thresholds; a bad policy is refused with its line")
    func policyFile() throws {
        let policy = try LawfulPolicy.parse(yaml: Self.policyYAML)
        #expect(policy.terms.map(\.version) == ["v3"])
        #expect(policy.terms.first?.discloses == [.warnInfection, .warnVulnerability, .sinkholeDNS])
        #expect(policy.legitimateBusiness.qualifyingFamilies == ["mirai", "mozi"])
        #expect(policy.legitimateBusiness.repeatedContacts == 5)
        #expect(policy.legitimateBusiness.honourOptOut == false)
        #expect(policy.notices.support == "0120-000-000")
        for (yaml, line, words) in [
            ("terms:\n  - version: v1\n    effective: soon\n", 3, "is not a date"),
            ("terms:\n  - version: v1\n    effective: 2025-01-01\n    discloses: [share_indicator]\n", 4, "is not one of warn_infection"),
            ("legitimate_business:\n  honour_opt_out: maybe\n", 2, "must be true or false"),
            ("notices:\n  languages: [fr]\n", 2, "ja and/or en"),
            ("sinkhole:\n  opt_out: x\n", 2, "unknown key 'opt_out'"),
        ] {
            #expect {
                _ = try LawfulPolicy.parse(yaml: yaml)
            } throws: { error in
                let e = error as? ConfigurationError
                return e?.line == line && e?.reason.contains(words) == true
            }
        }
        // The example in the repository reads, and only its EXAMPLE parts differ from the defaults.
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("mamori.policy.example.yaml").path
        var fromExample = try LawfulPolicy.load(path: example)
        #expect(fromExample.terms.map(\.version) == ["v2", "v3"])
        #expect(fromExample.terms[1].observationStatement?.contains("command-and-control") == true)
        fromExample.terms = []
        fromExample.sinkhole.optOutMethod = ""
        fromExample.notices.support = ""
        #expect(fromExample == LawfulPolicy(), "every other value in the example is the default")
        // The configuration names the policy file; an unreadable one stops the start.
        let dir = try TemporaryDirectory()
        try Self.policyYAML.write(toFile: dir.path + "/policy.yaml", atomically: true, encoding: .utf8)
        let config = try MamoriConfiguration.parse(yaml: "lawful:\n  policy_file: \(dir.path)/policy.yaml\n  audit_retention_days: 400\n")
        #expect(config.lawful.policy.terms.map(\.version) == ["v3"])
        #expect(config.lawful.auditRetentionDays == 400)
        #expect(throws: ConfigurationError.self) {
            try MamoriConfiguration.parse(yaml: "lawful:\n  policy_file: \(dir.path)/missing.yaml\n")
        }
        // The mail relay.
        let smtp = try MamoriConfiguration.parse(
            yaml:
                "lawful:\n  notice_base_url: https://notice.isp.example.jp/\n  smtp:\n    host: mail.example.jp\n    port: 587\n    tls: starttls_required\n    from: \"ISP <security@isp.example.jp>\"\n"
        )
        #expect(
            smtp.lawful.smtp?.host == "mail.example.jp" && smtp.lawful.smtp?.port == 587 && smtp.lawful.smtp?.tls == "starttls_required")
        #expect(smtp.lawful.noticeBaseURL == "https://notice.isp.example.jp")
        for (yaml, line) in [
            ("lawful:\n  smtp:\n    tls: always\n", 3),
            ("lawful:\n  smtp:\n    username: u\n", 3),
            ("lawful:\n  smtp:\n    from: nobody\n", 3),
            ("lawful:\n  notice_base_url: notice.example.jp\n", 2),
        ] {
            #expect { _ = try MamoriConfiguration.parse(yaml: yaml) } throws: { ($0 as? ConfigurationError)?.line == line }
        }
    }

    @Test("consent import and API: pseudonymised, full history, bad input refused and counted, every change audited")
    func consentAPI() async throws {
        let dir = try TemporaryDirectory()
        try Self.policyYAML.write(toFile: dir.path + "/policy.yaml", atomically: true, encoding: .utf8)
        var configuration = ServerTests.configuration(dataDirectory: dir.path)
        configuration.lawful.policyFile = dir.path + "/policy.yaml"
        configuration.lawful.policy = try LawfulPolicy.parse(yaml: Self.policyYAML)
        let (app, services) = try buildApplication(
            configuration: configuration, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical)))
        let auth = try await services.operatorHeaders()
        let key = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.path + "/pseudonym.key")))
        let taro = SubscriberPseudonymizer(key: key).pseudonym("A-0001")

        try await app.test(.router) { client in
            func call(_ uri: String, _ method: HTTPRequest.Method, _ body: String = "", _ status: HTTPResponse.Status) async throws
                -> [String: Any]
            {
                try await client.execute(uri: uri, method: method, headers: auth, body: ByteBuffer(string: body)) { response in
                    let text = String(buffer: response.body)
                    #expect(response.status == status, "\(method) \(uri): \(text)")
                    return (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
                }
            }
            let summary = try await call("/api/v1/consent/import?source=customers.csv", .post, Self.customers, .ok)
            #expect(summary["subscribers"] as? Int == 2)
            #expect(summary["events"] as? Int == 4)
            #expect((summary["rejected"] as? [[String: Any]])?.first?["line"] as? Int == 4)

            var shown = try await call("/api/v1/consent/\(taro)", .get, "", .ok)
            #expect((shown["terms"] as? [String: String])?["version"] == "v3")
            #expect((shown["opt_outs"] as? [String: Any])?["sinkhole_dns"] != nil)
            #expect(shown["has_email"] as? Bool == true)
            #expect(shown["email"] == nil, "the API never shows the address")
            #expect(shown["language"] as? String == "ja")

            // The subscriber phones in to cancel the opt-out.
            _ = try await call(
                "/api/v1/consent/\(taro)/events", .post,
                "{\"kind\":\"opt_out_cancelled\",\"action\":\"sinkhole_dns\",\"method\":\"call centre\",\"recorded_by\":\"agent-12\"}",
                .created)
            shown = try await call("/api/v1/consent/\(taro)", .get, "", .ok)
            #expect((shown["opt_outs"] as? [String: Any])?.isEmpty == true)
            #expect(
                (shown["history"] as? [[String: Any]])?.map { $0["kind"] as? String } == [
                    "terms_accepted", "opted_out", "opt_out_cancelled",
                ])
            // Asked about the past, the registry answers with the state then.
            shown = try await call("/api/v1/consent/\(taro)?at=2026-03-02T00:00:00Z", .get, "", .ok)
            #expect((shown["opt_outs"] as? [String: Any])?["sinkhole_dns"] != nil)

            // Bad requests: clear answers, nothing recorded.
            for (uri, body) in [
                ("/api/v1/consent/\(taro)/events", "not json"),
                ("/api/v1/consent/\(taro)/events", "{\"kind\":\"maybe\",\"method\":\"x\",\"recorded_by\":\"y\"}"),
                ("/api/v1/consent/\(taro)/events", "{\"kind\":\"opted_out\",\"method\":\"x\",\"recorded_by\":\"y\"}"),
                (
                    "/api/v1/consent/\(taro)/events",
                    "{\"kind\":\"opted_out\",\"action\":\"share_indicator\",\"method\":\"x\",\"recorded_by\":\"y\"}"
                ),
                (
                    "/api/v1/consent/A-0001/events",
                    "{\"kind\":\"opted_out\",\"action\":\"sinkhole_dns\",\"method\":\"x\",\"recorded_by\":\"y\"}"
                ),
                ("/api/v1/consent/import", "name,email\nx,y@z.jp\n"),
            ] {
                let answer = try await call(uri, .post, body, .badRequest)
                #expect((answer["error"] as? String)?.isEmpty == false, "\(uri) \(body)")
            }
        }
        #expect(try services.lawful.consent.history(of: taro).count == 3)

        // The audit log: start, analysis decision, import, the phoned-in change — and it verifies.
        let verification = try AuditLog.verify(directory: dir.path + "/audit", key: try AuditKey.load(path: dir.path + "/audit.key"))
        #expect(verification.isSound, "\(verification.problems)")
        let entries = try String(contentsOfFile: dir.path + "/audit/000001.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(AuditEntry.self, from: Data($0.utf8)) }
        // The import is recorded before it is made (intent, with the file's digest), then its outcome.
        #expect(entries.map(\.kind) == [.configurationChange, .decision, .consentChange, .consentChange, .consentChange])
        #expect(entries[0].detail.contains("\"policySHA256\""))
        #expect(entries[1].summary.contains("analyse_flows: permitted — legitimate business act"))
        #expect(entries[2].summary == "importing 3 lines from import:customers.csv" && entries[2].detail.contains("\"sha256\""))
        #expect(
            entries[3].summary.contains("imported 2 subscribers from import:customers.csv: 4 consent events, 2 contacts, 1 lines refused"))
        #expect(
            entries[4].actor == "operator:test-admin" && entries[4].subject == taro, "the authenticated operator, not a name in the body")
        let log = entries.map(\.detail).joined() + entries.map(\.summary).joined()
        #expect(!log.contains("A-0001") && !log.contains("taro@example.jp"), "accounts and addresses never reach the audit log")
    }

    @Test("mamori audit verify: sound log exits 0; an edited entry exits 1")
    func auditVerifyCommand() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let dir = try TemporaryDirectory()
        let log = try AuditLog(directory: dir.path + "/audit", key: try AuditKey.loadOrCreate(path: dir.path + "/audit.key"))
        for i in 1...3 { try log.append(at: Int64(i), kind: .decision, actor: "mamori", subject: "s:1", summary: "decision \(i)") }
        let sound = try await mamori.run(["audit", "verify", "--data-dir", dir.path])
        #expect(sound.contains("audit log sound: 3 entries in 1 segment(s), head at entry 3"))
        let file = dir.path + "/audit/000001.jsonl"
        let edited = try String(contentsOfFile: file, encoding: .utf8).replacingOccurrences(of: "decision 2", with: "decision two")
        try edited.write(toFile: file, atomically: true, encoding: .utf8)
        #expect {
            try mamori.run(["audit", "verify", "--data-dir", dir.path])
        } throws: { error in
            "\(error)".contains("exited with 1")
        }
    }

    @Test("the detectors never wait for the case workflow: a full inbox drops its oldest batch and counts it, the rest is worked off")
    func caseInboxIsBounded() async throws {
        let lawful = LawfulService(
            configuration: MamoriConfiguration(), audit: InMemoryAuditTrail(), consent: InMemoryConsentRegistry(), pseudonymKey: [1, 2, 3],
            logger: LogStore().logger(level: .critical))
        let metrics = TestMetrics()
        let store = InMemoryCaseStore()
        let cases = CaseService(
            lawful: lawful, cases: store, mailer: nil, from: "security@localhost",
            baseURL: "http://127.0.0.1", retentionDays: 30, logger: LogStore().logger(level: .critical), metricsFactory: metrics)
        func finding(_ n: Int, outcome: AttributionOutcome) -> Finding {
            var f = Finding(
                id: "infected-device:\(n)", kind: .infectedDevice, subject: .address(IPAddress("100.64.0.\(n % 250 + 1)")!), score: 0.9,
                firstSeen: 0, lastSeen: 1_000, detectedAt: 0, updatedAt: 0, family: nil, summary: "", evidence: Evidence())
            f.subscriber = FindingSubscriber(
                outcome: outcome, pseudonym: outcome == .attributed ? "s:\(String(repeating: "0", count: 12))\(1000 + n % 250)" : nil,
                candidates: [], confidence: 1, source: "radius", reason: "", at: [0])
            return f
        }
        // The workflow is not running yet: 300 attributed batches, and batches with nothing for it.
        for n in 0..<300 {
            cases.submit([finding(n, outcome: .attributed)])
            cases.submit([finding(n, outcome: .unknown)])
        }
        #expect(try metrics.expectCounter("mamori_case_inbox_dropped_total").totalValue == Int64(300 - CaseService.inboxCapacity))
        let running = Task { try await cases.run() }
        defer { running.cancel() }
        // The newest 256 batches (findings 44–299) open their cases; the dropped ones did not.
        var opened = 0
        for _ in 0..<200 {
            opened = try store.list(limit: 1_000).count
            if opened >= 250 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(opened == 250, "cases opened: \(opened)") // 256 batches over 250 subscribers
    }

    @Test(
        "a finding's evidence reaches the case without addresses: one C&C seen by the detector and an indicator list counts once, with its family"
    )
    func evidenceFromAFinding() throws {
        var evidence = Evidence()
        evidence.features = [
            Feature(.c2Contacts, 6, about: "192.0.2.23:23/tcp"), Feature(.indicatorContacts, 6, about: "192.0.2.23:23/tcp"),
            Feature(.indicatorContacts, 3, about: "192.0.2.99:2323/tcp"), Feature(.scanDestinations(port: 23), 1100),
            Feature(.attackPacketsPerSecond, 25_000, about: "203.0.113.9"),
        ]
        evidence.reasons = [
            "contacted likely C&C 192.0.2.23:23/tcp 6 time(s)", "contacted indicator 192.0.2.23:23/tcp (mirai) 6 time(s)",
            "contacted indicator 192.0.2.99:2323/tcp (mirai) 3 time(s)", "scanned port 23 (~1100 addresses)",
            "joined a flood against 203.0.113.9 (25000 packets/s)",
        ]
        let f = Finding(
            id: "infected-device:1", kind: .infectedDevice, subject: .address(IPAddress("100.64.0.67")!), score: 0.99,
            firstSeen: 0, lastSeen: 600_000, detectedAt: 0, updatedAt: 0, family: "mirai", summary: "", evidence: evidence)
        let e = CaseWorkflow.evidence(of: f)
        #expect(e.commandAndControl.count == 2)
        #expect(e.commandAndControl.map(\.contacts).sorted() == [3, 6])
        #expect(e.commandAndControl.allSatisfy { $0.family == "mirai" })
        #expect(e.scanPort == 23)
        #expect(e.scanDestinationsPerMinute == 110)
        #expect(e.attackPacketsPerSecond == 25_000)
        let behaviours = e.behaviours
        #expect(behaviours.count == 4)
        for b in behaviours {
            #expect(!"\(b)".contains("192.0.2") && !"\(b)".contains("203.0.113"), "a notice behaviour carries an address: \(b)")
        }
        // And the engine, on this evidence, opens the legitimate-business route (mirai, ≥ 3 contacts; 25 kpps).
        let d = LegalBasisEngine(policy: try LawfulPolicy.parse(yaml: Self.policyYAML)).decide(
            .warnInfection(subscriber: "s:1", consent: .none, evidence: e), at: 1_800_000_000_000)
        #expect(d.basis == .legitimateBusinessAct, "\(d.summary)")
    }
}
