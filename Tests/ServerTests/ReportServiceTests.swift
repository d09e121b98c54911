import Accounts
import Attribution
import FlowCodec
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IdentityCodec
import Lawful
import Logging
import MamoriCore
import MamoriTesting
import NIOCore
import Notify
import Reports
import Server
import Storage
import Testing

/// Reports from outside through the whole server (in-process, a test clock, a recording mailer):
/// a Shadowserver report about subscribers behind the CGNAT and on public addresses → attributed
/// at the report's time and port → vulnerable-device cases → notices in each subscriber's
/// language with the fix; the same report the next day opens nothing and mails nothing; a report
/// without a device the day after remediates its case; bad files are refused whole.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ReportServiceTests {
    /// 2026-12-01T09:00:00Z.
    static let day1: Int64 = 1_796_115_600_000
    static let day: Int64 = 86_400_000

    static func csv(_ rows: [(String, Int, Int64)]) -> [UInt8] {
        var text =
            #""timestamp","ip","protocol","port","hostname","tag","asn","geo","region","city","naics","sic","version","device_vendor","device_model""#
            + "\n"
        for (address, port, time) in rows {
            let t = UTCTime(milliseconds: time)
            func p(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
            text +=
                "\"\(t.year)-\(p(t.month))-\(p(t.day)) \(p(t.hour)):\(p(t.minute)):\(p(t.second))\",\"\(address)\",\"udp\",\(port),,\"ntp\",64500,\"JP\",\"TOKYO\",\"CHIYODA\",0,0,4,\"ExampleNet\",\"EN-R2\"\n"
        }
        return Array(text.utf8)
    }

    @Test(
        "a Shadowserver scan_ntp report: CGNAT and public subscribers attributed, cases opened, ja and en notices with the NTP fix; the next day's report opens nothing; a day without the device remediates"
    )
    func reportToNoticeToRemediation() async throws {
        let dir = try TemporaryDirectory()
        var configuration = ServerTests.configuration(dataDirectory: dir.path)
        configuration.lawful.policy = try LawfulPolicy.parse(yaml: LawfulServerTests.policyYAML)
        try "vendor,model,end_of_support\nExampleNet,EN-R*,2024-03-31\n".write(
            toFile: dir.path + "/eos.csv", atomically: true, encoding: .utf8)
        configuration.reports.endOfSupportFile = dir.path + "/eos.csv"
        let clock = TestClock(Self.day1 + 3_600_000)
        var dependencies = ApplicationDependencies(logger: LogStore().logger(level: .warning), clock: clock)
        let mailer = CaseServiceTests.RecordingMailer()
        dependencies.noticeMailer = mailer
        let (app, services) = try buildApplication(configuration: configuration, dependencies: dependencies)
        let names = SubscriberPseudonymizer(key: try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.path + "/pseudonym.key"))))

        // Alice behind the CGNAT (100.64.0.9, ports 2032–3039 of 198.18.0.1), Bob on a public
        // address; both accepted the terms that disclose vulnerability warnings.
        let nas = IPAddress("198.19.252.1")!
        let start = Self.day1 - 600_000
        /// The sessions' RADIUS records up to `time`: a Start, then an Interim-Update as the NAS sends them.
        @Sendable func accounting(_ status: AccountingStatusType, at time: Int64) {
            for (user, address) in [("alice", "100.64.0.9"), ("bob", "198.18.200.5")] {
                var r = AttributionServiceTests.start(user, address, at: time)
                r.status = status
                services.attribution.accounting(r, from: nas, receivedAt: time)
            }
        }
        accounting(.start, at: start)
        services.attribution.portBlock(
            NATPortBlockEvent(
                kind: .allocate, timeMilliseconds: start, host: "cgnat-1", insideAddress: IPAddress("100.64.0.9")!,
                outsideAddress: IPAddress("198.18.0.1")!, firstPort: 2032, lastPort: 3039, allocatedAt: start))
        for (who, email, language) in [("alice", "alice@example.jp", "ja"), ("bob", "bob@example.com", "en")] {
            let s = names.pseudonym(who)
            try services.lawful.consent.record(
                [
                    ConsentEvent(
                        subscriber: s, kind: .termsAccepted, termsVersion: "v3", at: 1_743_465_600_000, method: "contract", recordedBy: "t")
                ],
                recordedAt: clock.milliseconds)
            try services.lawful.consent.setContact(SubscriberContact(email: email, language: language), for: s, at: clock.milliseconds)
        }
        let auth = try await services.operatorHeaders(role: .analyst, scope: [.submitReports, .readCases])

        try await app.test(.router) { client in
            func submit(_ bytes: [UInt8], name: String) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await client.execute(
                    uri: "/api/v1/reports?name=\(name)", method: .post, headers: auth, body: ByteBuffer(bytes: bytes)
                ) { r in
                    (r.status, (try JSONSerialization.jsonObject(with: Data(String(buffer: r.body).utf8)) as? [String: Any]) ?? [:])
                }
            }
            func fates(_ answer: [String: Any]) -> [String: Int] {
                ((answer["files"] as? [[String: Any]])?.first?["fates"] as? [String: Int]) ?? [:]
            }
            func file(_ answer: [String: Any], _ key: String) -> Int? { (answer["files"] as? [[String: Any]])?.first?[key] as? Int }

            // Day 1: Alice's router behind the CGNAT, Bob's, an address of another network, an
            // address of the carrier nobody held, a row without an address.
            var report = Self.csv([
                ("198.18.0.1", 2040, Self.day1), ("198.18.200.5", 123, Self.day1 + 60_000), ("203.0.113.50", 123, Self.day1),
                ("198.18.1.1", 5000, Self.day1),
            ])
            report += Array("\"2026-12-01 09:00:00\",\"\",\"udp\",123,,,,,,,,,,,\n".utf8)
            let (status, answer) = try await submit(report, name: "2026-12-01-scan_ntp-isp-asn.csv")
            #expect(status == .ok, "\(answer)")
            #expect(
                fates(answer) == ["attributed": 2, "outside_carrier": 1, "unattributed": 1, "rejected": 1],
                "\(answer) \(services.reports.unattributed(limit: 5))")
            #expect(file(answer, "cases_opened") == 2 && file(answer, "rows") == 5)
            let mails = mailer.messages
            #expect(mails.count == 2, "\(mails.map(\.subject))")
            let ja = try #require(mails.first { $0.to.map(\.address) == ["alice@example.jp"] })
            let en = try #require(mails.first { $0.to.map(\.address) == ["bob@example.com"] })
            // The text as read (lines are wrapped for mail).
            let jaText = ja.textBody.filter { !$0.isWhitespace }
            let enText = en.textBody.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(ja.subject.contains("脆弱性") && jaText.contains("NTP（時刻合わせ）の問い合わせ") && jaText.contains("monlist"), "\(ja.textBody)")
            #expect(en.subject.contains("vulnerable device") && enText.contains("NTP (time) queries") && enText.contains("monlist"))
            #expect(enText.contains("out of its maker's support since 2024-03-31"), "the end-of-support list names EN-R*")
            #expect(!en.textBody.contains("198.18.200.5") && !ja.textBody.contains("198.18.0.1"), "no address in a notice")

            let cases = try await services.cases.cases.list(state: nil, limit: 100)
            #expect(cases.count == 2 && cases.allSatisfy { $0.kind == .vulnerability && $0.report?.problem.problem == "amplifier" })
            #expect(Set(cases.map(\.subscriber)) == [names.pseudonym("alice"), names.pseudonym("bob")])
            #expect(cases.allSatisfy { $0.state == .notified }, "\(cases.map(\.state))")

            // The same file again: duplicates, nothing new. Day 2's report: merged, no mail.
            let (_, again) = try await submit(report, name: "2026-12-01-scan_ntp-isp-asn.csv")
            #expect(fates(again)["duplicate"] == 3 && fates(again)["attributed"] == nil && file(again, "cases_opened") == 0, "\(again)")
            clock.advance(by: Self.day)
            accounting(.interimUpdate, at: Self.day1 + Self.day - 600_000)
            let (_, next) = try await submit(
                Self.csv([("198.18.0.1", 2041, Self.day1 + Self.day), ("198.18.200.5", 123, Self.day1 + Self.day)]),
                name: "2026-12-02-scan_ntp-isp-asn.csv")
            #expect(file(next, "cases_opened") == 0 && file(next, "cases_merged") == 2, "\(next)")
            #expect(mailer.messages.count == 2, "no new notice for a device reported again the next day")

            // Day 3: only Bob's device is still there. First a copy with a broken row: it could
            // be Alice's, so it remediates nothing; then the clean report.
            clock.advance(by: Self.day)
            accounting(.interimUpdate, at: Self.day1 + 2 * Self.day - 600_000)
            let (_, broken) = try await submit(
                Self.csv([("198.18.200.5", 123, Self.day1 + 2 * Self.day)])
                    + Array("\"2026-12-03 09:00:00\",\"198.18.0.1\",\"udp\",20".utf8)
                    + Array("41,\"unterminated\n".utf8),
                name: "2026-12-03-scan_ntp-isp-asn.csv")
            #expect(file(broken, "cases_remediated") == 0 && file(broken, "rejected") == 1, "\(broken)")
            let (_, third) = try await submit(
                Self.csv([("198.18.200.5", 123, Self.day1 + 2 * Self.day)]), name: "2026-12-03-scan_ntp-isp-asn.csv")
            #expect(file(third, "cases_remediated") == 1, "\(third)")
            let after = try await services.cases.cases.list(state: nil, limit: 100)
            let alice = try #require(after.first { $0.subscriber == names.pseudonym("alice") })
            let bob = try #require(after.first { $0.subscriber == names.pseudonym("bob") })
            #expect(alice.state == .remediated && alice.report?.absentDays == ["2026-12-03"], "\(alice.history.map(\.reason))")
            #expect(alice.history.last?.reason.contains("2026-12-03") == true)
            #expect(bob.state == .notified && bob.report?.days == ["2026-12-01", "2026-12-02", "2026-12-03"])

            // The unattributed report is kept for the analyst, with why.
            let lost = try await client.execute(uri: "/api/v1/reports/unattributed", method: .get, headers: auth) { r in
                (try JSONSerialization.jsonObject(with: Data(String(buffer: r.body).utf8)) as? [[String: Any]]) ?? []
            }
            #expect(lost.count == 1 && lost.first?["address"] as? String == "198.18.1.1", "\(lost)")
            #expect((lost.first?["reason"] as? String)?.contains("no identity record") == true)

            // The console's page: the type with its attributed share, the open case, the lost report.
            let page = try await client.execute(uri: "/console/reports", method: .get, headers: auth) { r in
                (r.status, String(buffer: r.body))
            }
            #expect(page.0 == .ok, "\(page.1.prefix(300))")
            #expect(page.1.contains("id=\"report-types\"") && page.1.contains("shadowserver/scan_ntp"))
            #expect(
                page.1.contains("style=\"width:83%\""),
                "5 of the 6 new rows about the carrier's addresses, over three days, found their subscriber")
            #expect(page.1.contains("id=\"report-cases\"") && page.1.contains(bob.reference) && !page.1.contains(alice.reference))
            #expect(page.1.contains("id=\"unattributed-reports\"") && page.1.contains("198.18.1.1:5000"))
        }
    }

    @Test(
        "after a restart the same report is still recognised and the unattributed are still there; past reports.retention_days both are deleted"
    )
    func restartAndRetention() async throws {
        let dir = try TemporaryDirectory()
        let configuration = ServerTests.configuration(dataDirectory: dir.path)
        let clock = TestClock(Self.day1)
        let report = Self.csv([("198.18.1.1", 5000, Self.day1), ("198.18.1.2", 5001, Self.day1)])
        do {
            let (_, services) = try buildApplication(
                configuration: configuration,
                dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical), clock: clock))
            let first = await services.reports.ingest(report, fileName: "2026-12-01-scan_ntp-isp-asn.csv")
            #expect(first.files.first?.fates["unattributed"] == 2, "\(first)")
        }
        let (_, services) = try buildApplication(
            configuration: configuration, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical), clock: clock))
        #expect(services.reports.unattributed(limit: 10).map(\.address) == ["198.18.1.2", "198.18.1.1"], "kept across the restart")
        let again = await services.reports.ingest(report, fileName: "2026-12-01-scan_ntp-isp-asn.csv")
        #expect(again.files.first?.fates["duplicate"] == 2, "\(again)")
        clock.advance(by: 31 * Self.day)
        services.reports.sweep()
        #expect(services.reports.unattributed(limit: 10).isEmpty)
        let store = try SQLiteReportStore(path: dir.path + "/reports.sqlite")
        #expect(try store.counts() == (0, 0))
    }

    @Test(
        "bad files: a zip bomb, a mail without its attachment, a wrong mapping, no name, a token without the scope — refused, nothing imported"
    )
    func badFiles() async throws {
        let dir = try TemporaryDirectory()
        var configuration = ServerTests.configuration(dataDirectory: dir.path)
        var columns = ReportMapping.Columns(address: ["ip"], time: ["seen"])
        columns.port = ["port"]
        var mapping = ReportMapping(name: "csirt", reportType: "feed", problem: .exposedService, columns: columns)
        mapping.fileNames = ["csirt-*.csv"]
        configuration.reports.mappings = [mapping]
        let (app, services) = try buildApplication(
            configuration: configuration, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical)))
        let auth = try await services.operatorHeaders(role: .analyst, scope: [.submitReports, .readCases])
        let reader = try await services.operatorHeaders(role: .viewer, name: "viewer")
        let bomb = try ReportIntakeZip.zip(["zeros.csv": [UInt8](repeating: 0x30, count: 64 << 20)])
        let mail = Array(
            "From: autoreports@shadowserver.org\r\nSubject: report\r\nContent-Type: text/plain\r\n\r\nThe report is at a link.\r\n".utf8)
        try await app.test(.router) { client in
            for (bytes, name, expected) in [
                (bomb, "report.zip", "zip_bomb"), (mail, "report.eml", "no report attachment"),
                (Array("Source IP,Observed\n203.0.113.9,2026-12-01 00:00:00\n".utf8), "csirt-1.csv", "the mapping 'csirt'"),
            ] {
                let answer = try await client.execute(
                    uri: "/api/v1/reports?name=\(name)", method: .post, headers: auth, body: ByteBuffer(bytes: bytes)
                ) { r in (r.status, String(buffer: r.body)) }
                #expect(answer.0 == .unprocessableContent && answer.1.contains(expected), "\(name): \(answer.1)")
            }
            let noName = try await client.execute(uri: "/api/v1/reports", method: .post, headers: auth, body: ByteBuffer(string: "x")) {
                $0.status
            }
            #expect(noName == .badRequest)
            let refused = try await client.execute(
                uri: "/api/v1/reports?name=a.csv", method: .post, headers: reader, body: ByteBuffer(string: "x")
            ) { $0.status }
            #expect(refused == .forbidden)
        }
        #expect(try await services.cases.cases.count() == 0)
        #expect(services.reports.totals.isEmpty, "a refused file leaves no counts behind")
    }
}

/// Zips written by Python's zipfile, for the server tests.
enum ReportIntakeZip {
    static func zip(_ files: [String: [UInt8]]) throws -> [UInt8] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-zip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, bytes) in files { try Data(bytes).write(to: dir.appendingPathComponent(name)) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.currentDirectoryURL = dir
        process.arguments =
            [
                "python3", "-c",
                "import sys, zipfile\nwith zipfile.ZipFile('out.zip', 'w', zipfile.ZIP_DEFLATED) as z:\n    for n in sys.argv[1:]: z.write(n)",
            ]
            + files.keys.sorted()
        try process.run()
        process.waitUntilExit()
        return [UInt8](try Data(contentsOf: dir.appendingPathComponent("out.zip")))
    }
}
