import Accounts
import Foundation
import FraudDetection
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Lawful
import Logging
import MamoriCore
import MamoriTesting
import NIOConcurrencyHelpers
import NIOCore
import Server
import Telephony
import Testing

/// IP-phone fraud through the whole server (in-process, a test clock, a recording publisher in
/// place of Kamailio, which KamailioControlTests use for real): a Kamailio accounting log followed
/// as it grows → a hijacked line found → the satellite range it pumps blocked, audited and
/// published → the billing report → an operator lifts the rule.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct FraudServiceTests {
    /// Monday 2026-11-30 00:00 JST.
    static let monday = TimeText.parse("2026-11-30T00:00:00+09:00")!
    static let hour: Int64 = 3_600_000
    static let minute: Int64 = 60_000

    final class RecordingPublisher: BlockPublisher {
        let published = NIOLockedValueBox<[[String]]>([])
        func publish(_ rules: [BlockRule], optOuts: Set<String>, tradeTies: [String: [String]]) async throws {
            published.withLockedValue { $0.append(rules.map(\.prefix)) }
        }
    }

    static func telephony(_ yaml: String) throws -> TelephonySettings {
        let indented = yaml.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
        return try MamoriConfiguration.parse(yaml: "telephony:\n" + indented + "\n").telephony
    }

    static func cdr(_ account: String, _ dialled: String, at start: Int64, seconds: Int) -> String {
        let s = Double(start) / 1000
        return
            " 1(20876) NOTICE: acc [acc_cdr.c:395]: log_write_cdr(): start_time=\(s); end_time=\(s + Double(seconds)); duration=\(seconds).000; call_id=\(account)-\(start)@127.0.0.1; src_user=\(account); src_ip=127.0.0.1; dialed=\(dialled); dst_user=\(dialled); sip_code=200; sip_reason=OK\n"
    }

    @Test(
        "a Kamailio log followed: the hijacked line found, its range blocked (audited, published), the billing report, an operator's lift")
    func hijackedLineToBlockToReport() async throws {
        let dir = try TemporaryDirectory()
        var configuration = ServerTests.configuration(dataDirectory: dir.path)
        configuration.telephony = try Self.telephony(
            """
            feeds:
              - {name: softswitch, format: kamailio, path: \(dir.path)/acc.log}
            read_feeds_from_start: true
            exemptions:
              opt_out: ["2001"]
            """)
        let friday = Self.monday + 4 * 24 * Self.hour
        let clock = TestClock(friday + 3 * Self.hour)
        var dependencies = ApplicationDependencies(logger: LogStore().logger(level: .warning), clock: clock)
        let publisher = RecordingPublisher()
        dependencies.blockPublisher = publisher
        let (app, services) = try buildApplication(configuration: configuration, dependencies: dependencies)
        let fraud = try #require(services.fraud)

        // Four ordinary days for three lines, a line Kamailio logged badly, then line 1002 pumps Iridium.
        var lines: [(Int64, String)] = []
        for day in 0..<4 {
            let base = Self.monday + Int64(day) * 24 * Self.hour
            for (i, line) in ["1001", "1002", "1003"].enumerated() {
                lines.append(
                    (
                        base + 19 * Self.hour,
                        Self.cdr(line, "0312341\(i)00", at: base + 19 * Self.hour + Int64(i) * Self.minute, seconds: 120)
                    ))
                if day % 2 == 0 {
                    lines.append((base + 21 * Self.hour, Self.cdr(line, "01044207946100\(i)", at: base + 21 * Self.hour, seconds: 300)))
                }
            }
        }
        lines.append(
            (
                friday,
                " 1(1) NOTICE: acc [acc_cdr.c:395]: log_write_cdr(): start_time=soon; duration=1; src_user=1001; dialed=1; sip_code=200\n"
            ))
        for i in 0..<20 {
            let start = friday + 2 * Self.hour + Int64(i) * 2 * Self.minute
            lines.append((start + 900_000, Self.cdr("1002", "01088163123\(1000 + i)", at: start, seconds: 900)))
        }
        let text = lines.sorted { $0.0 < $1.0 }.map(\.1).joined()
        // Written in two pieces, cut inside a line: the follower keeps the half line for the next poll.
        let cut = text.utf8.count / 2 + 7
        let bytes = Array(text.utf8)
        try Data(bytes[..<cut]).write(to: URL(fileURLWithPath: dir.path + "/acc.log"))
        fraud.pollFeeds()
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.path + "/acc.log"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes[cut...]))
        try handle.close()
        fraud.pollFeeds()

        let status = fraud.status
        #expect(status.linesFollowed == 3 && status.openFindings == 1 && status.rulesActive == 1, "\(status)")
        let rule = try #require(fraud.book.active.values.first)
        #expect(rule.prefix == "881631231" && rule.scope == .range && rule.figures.fraudulentAttempts >= 10 && rule.figures.share == 1)
        let audit = try services.lawful.audit.recent(limit: 10) { $0.kind == .fraudBlockChange }
        #expect(
            audit.count == 1 && audit[0].record.summary.hasPrefix("applied block range +881631231") && audit[0].record.actor == "mamori")
        // Published to the softswitch (asynchronously, one publication at a time).
        #expect(try await waitUntil(timeout: .seconds(10)) { publisher.published.withLockedValue { $0.last == ["881631231"] } })

        _ = try await services.addAccount("aiko", role: .admin, password: "aiko's long password")
        _ = try await services.addAccount("ken", role: .viewer, password: "ken's long password")
        let admin = try await services.operatorHeaders(role: .admin, name: "aiko")
        let viewer = try await services.operatorHeaders(role: .viewer, name: "hana")
        try await app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { r in
                let m = String(buffer: r.body)
                #expect(m.contains(#"mamori_cdr_lines_total{feed="softswitch",result="bad_time"} 1"#), "one bad line counted")
                #expect(m.contains(#"mamori_cdr_lines_total{feed="softswitch",result="read"} 38"#), "and every good line kept")
                #expect(m.contains("mamori_fraud_rules_active 1"))
            }
            try await client.execute(uri: "/api/v1/fraud/findings", method: .get, headers: viewer) { r in
                #expect(r.status == .forbidden, "findings name accounts: reveal_identity")
            }
            try await client.execute(uri: "/api/v1/fraud/findings", method: .get, headers: admin) { r in
                let text = String(buffer: r.body)
                #expect(r.status == .ok && text.contains(#""account":"1002""#) && !text.contains(#""account":"1001""#), "\(text)")
            }
            try await client.execute(uri: "/api/v1/fraud/report?account=1002&format=csv", method: .get, headers: admin) { r in
                let rows = String(buffer: r.body).split(separator: "\n")
                #expect(r.status == .ok && rows.count == 21, "a header and the 20 pumped calls: \(rows)")
                #expect(rows.dropFirst().allSatisfy { $0.hasPrefix("1002,") && $0.contains(",+88163123") && $0.contains(",XS,") })
            }
            let reveals = try services.lawful.audit.recent(limit: 10) { $0.kind == .identityReveal }
            #expect(reveals.first?.record.summary.hasPrefix("fraudulent-call report for 1002: 20 calls") == true)
            // The console: a viewer sees the block and its trend, not the accounts nor the forms.
            func signIn(_ name: String, _ password: String) async throws -> HTTPFields {
                try await client.execute(
                    uri: "/login", method: .post, headers: ConsoleRouteTests.formType,
                    body: ConsoleRouteTests.form(["name": name, "password": password])
                ) { r in [.cookie: try #require(ConsoleRouteTests.cookie(r)), .contentType: "application/x-www-form-urlencoded"] }
            }
            let ken = try await signIn("ken", "ken's long password")
            try await client.execute(uri: "/console/fraud", method: .get, headers: ken) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok && html.contains(#"id="fraud-active""#) && html.contains("+881631231"), "\(html.suffix(3000))")
                #expect(html.contains("█") && html.contains("••••") && !html.contains("<code>1002</code>"))
                // Two reads of the feed: its clock is not estimated yet (five are needed). Ken reads Japanese.
                #expect(html.contains(#"id="fraud-clocks""#) && html.contains("<code>softswitch</code>") && html.contains("まだ推定できていません"))
                #expect(!html.contains("/console/fraud/lift") && html.contains(#"href="/console/fraud""#))
            }
            let aiko = try await signIn("aiko", "aiko's long password")
            try await client.execute(uri: "/console/fraud?lang=ja", method: .get, headers: aiko) { r in
                let html = String(buffer: r.body)
                #expect(html.contains("<code>1002</code>") && html.contains("/console/fraud/lift"), "\(html.suffix(3000))")
                #expect(html.contains("サーバとの時刻差"))
            }
            try await client.execute(
                uri: "/api/v1/fraud/rules/\(rule.id)/lift", method: .post, headers: viewer, body: ByteBuffer(string: #"{"reason":"x"}"#)
            ) { r in #expect(r.status == .forbidden) }
            try await client.execute(
                uri: "/api/v1/fraud/rules/\(rule.id)/lift", method: .post, headers: admin,
                body: ByteBuffer(string: #"{"reason":"customer confirmed the PBX is fixed"}"#)
            ) { r in #expect(r.status == .ok, "\(String(buffer: r.body))") }
            try await client.execute(uri: "/api/v1/fraud/rules", method: .get, headers: viewer) { r in
                let text = String(buffer: r.body)
                #expect(text.contains(#""active":[]"#) && text.contains("customer confirmed the PBX is fixed (aiko)"), "\(text)")
            }
        }
        #expect(try await waitUntil(timeout: .seconds(10)) { publisher.published.withLockedValue { $0.last == [] } })
        let lifted = try services.lawful.audit.recent(limit: 10) { $0.kind == .fraudBlockChange }
        #expect(lifted.contains { $0.record.summary.hasPrefix("lifted block") })
    }

    @Test("telephony: settings are checked with their line: a bad format, a bad mode, a csv feed without its columns")
    func badSettings() {
        for (yaml, expected) in [
            ("feeds:\n  - {name: a, format: sip, path: /x}\n", "format must be kamailio, asterisk or csv"),
            ("blocking:\n  range: sometimes\n", "telephony.blocking.range must be one of"),
            ("feeds:\n  - {name: a, format: csv, path: /x}\n", "a csv feed needs 'columns'"),
            ("blocking:\n  protected: [\"+1\"]\n", "E.164 prefixes without '+'"),
        ] {
            #expect(throws: ConfigurationError.self) { try Self.telephony(yaml) }
            do { _ = try Self.telephony(yaml) } catch { #expect("\(error)".contains(expected), "\(error)") }
        }
    }
}

extension FraudServiceTests {
    @Test("the commented telephony section of mamori.example.yaml parses once uncommented, with the defaults")
    func exampleSection() throws {
        let text = try String(contentsOfFile: ConfigurationTests.examplePath, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex(of: "# telephony:"), "mamori.example.yaml has no '# telephony:' section")
        var section: [Substring] = []
        for line in lines[start...] {
            guard line == "# telephony:" || line.hasPrefix("#  ") else { break }
            section.append(line.dropFirst(2))
        }
        let s = try MamoriConfiguration.parse(yaml: section.joined(separator: "\n")).telephony
        #expect(s.enabled && s.feeds.map(\.name) == ["softswitch"] && s.kamailioRPC == "http://127.0.0.1:5071/RPC")
        let defaults = TelephonySettings()
        #expect(s.detector == defaults.detector && s.blocking == defaults.blocking && s.emergencyNumbers == defaults.emergencyNumbers)
        #expect(s.countryCode == "81" && s.internationalPrefixes == ["010"] && s.retentionDays == 400)
        #expect(!(try MamoriConfiguration.load(path: ConfigurationTests.examplePath).telephony.enabled))
    }
}
