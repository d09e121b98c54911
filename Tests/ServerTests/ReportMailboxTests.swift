import Attribution
import FlowCodec
import Foundation
import IdentityCodec
import Lawful
import Logging
import MamoriCore
import MamoriTesting
import Notify
import ReportMailbox
import Server
import Testing

/// The abuse mailbox: a real MTA (aiosmtpd's Maildir delivery) receives report mails over SMTP
/// and writes them into a Maildir; Mamori follows it. An ARF complaint about a subscriber's
/// address opens an abuse-report case, a Shadowserver mail is counted, a mail that is no report
/// is refused and flagged, and every message ends in `cur/`, once.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ReportMailboxTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ReportsTests/Fixtures/abuse-reports").path

    @Test(
        "aiosmtpd delivers into a Maildir; Mamori takes an ARF complaint to an abuse-report case, counts a Shadowserver mail, flags a mail that is no report"
    )
    func maildirFromARealMTA() async throws {
        try SMTPTestServer.requireAiosmtpd()
        let dir = try TemporaryDirectory()
        let maildir = dir.path + "/abuse/Maildir"
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: maildir + "/" + sub, withIntermediateDirectories: true)
        }
        let smtpPort = try freeTCPPort()
        let mta = try ExternalPeer(path: SMTPTestServer.python).start(
            ["-m", "aiosmtpd", "-n", "-l", "127.0.0.1:\(smtpPort)", "-c", "aiosmtpd.handlers.Mailbox", maildir],
            outputFile: dir.path + "/aiosmtpd.log")
        defer { mta.stop() }
        let listening = try await waitForTCPListener(port: smtpPort) { mta.isRunning }
        try #require(
            listening, "aiosmtpd did not listen: \((try? String(contentsOfFile: dir.path + "/aiosmtpd.log", encoding: .utf8)) ?? "")")

        var configuration = ServerTests.configuration(dataDirectory: dir.path + "/data")
        configuration.lawful.policy = try LawfulPolicy.parse(yaml: LawfulServerTests.policyYAML)
        configuration.reports.maildir = maildir
        let mailer = CaseServiceTests.RecordingMailer()
        var dependencies = ApplicationDependencies(logger: LogStore().logger(level: .critical))
        dependencies.noticeMailer = mailer
        let (_, services) = try buildApplication(configuration: configuration, dependencies: dependencies)
        let names = SubscriberPseudonymizer(key: try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.path + "/data/pseudonym.key"))))

        // The complaint's Source-IP is a subscriber's address on the day of the complaint.
        let arrival: Int64 = 1_453_216_493_000 // Tue, 19 Jan 2016 15:14:53 +0000
        var start = AccountingRecord(status: .start, sessionID: "S-carol", eventTime: (arrival - 3_600_000) / 1000)
        start.userName = "carol"
        start.framedIPAddress = IPAddress("198.18.200.9")
        services.attribution.accounting(start, from: IPAddress("198.19.252.1")!, receivedAt: arrival - 3_600_000)
        let carol = names.pseudonym("carol")
        try services.lawful.consent.record(
            [
                ConsentEvent(
                    subscriber: carol, kind: .termsAccepted, termsVersion: "v3", at: 1_743_465_600_000, method: "contract", recordedBy: "t")
            ],
            recordedAt: 1_780_000_000_000)
        try services.lawful.consent.setContact(
            SubscriberContact(email: "carol@example.jp", language: "ja"), for: carol, at: 1_780_000_000_000)
        let arf = try String(contentsOfFile: Self.fixtures + "/feedback-loop-arf/Comcast_example_2.eml", encoding: .utf8)
            .replacingOccurrences(of: "Source-IP: 10.17.18.6", with: "Source-IP: 198.18.200.9")
        let shadowserver = try String(
            contentsOfFile: Self.fixtures + "/shadowserver/2015-01-01-scan_ntp-sample-asn.csv.zip.eml", encoding: .utf8)
        let junk = "From: someone@example.org\r\nTo: abuse@isp.example\r\nSubject: hello\r\n\r\nNo report here.\r\n"

        // Sent by Python's smtplib, a real SMTP client, to the real MTA.
        for message in [arf, shadowserver, junk] {
            let file = dir.path + "/message-\(UUID().uuidString).eml"
            try message.write(toFile: file, atomically: true, encoding: .utf8)
            _ = try await ExternalPeer(path: SMTPTestServer.python).run([
                "-c",
                "import smtplib, sys\ndata = open(sys.argv[2], 'rb').read().replace(b'\\r\\n', b'\\n').replace(b'\\n', b'\\r\\n')\ns = smtplib.SMTP('127.0.0.1', int(sys.argv[1]))\ns.sendmail('fbl@example.net', ['abuse@isp.example'], data)\ns.quit()",
                "\(smtpPort)", file,
            ])
        }
        let delivered = try FileManager.default.contentsOfDirectory(atPath: maildir + "/new")
        #expect(delivered.count == 3, "aiosmtpd delivered \(delivered)")

        let follower = MaildirFollower(configuration: .init(path: maildir), logger: LogStore().logger(level: .critical)) { bytes, name in
            await services.reports.ingest(bytes, fileName: name + ".eml").error
        }
        #expect(await follower.poll() == 3)
        #expect(await follower.poll() == 0, "each message is taken once")
        let cur = try FileManager.default.contentsOfDirectory(atPath: maildir + "/cur").sorted()
        #expect(
            cur.count == 3 && cur.filter { $0.hasSuffix(":2,S") }.count == 2 && cur.filter { $0.hasSuffix(":2,FS") }.count == 1, "\(cur)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: maildir + "/new").isEmpty)

        let cases = try await services.cases.cases.list(state: nil, limit: 10)
        #expect(cases.count == 1 && cases.first?.kind == .abuseReport && cases.first?.subscriber == carol, "\(cases)")
        #expect(cases.first?.report?.problem.problem == "spam" && cases.first?.report?.problem.source == "comcastfbl.senderscore.net")
        let mail = try #require(mailer.messages.first, "the complaint's notice")
        #expect(mail.to.map(\.address) == ["carol@example.jp"] && mail.subject.contains("通報"))
        #expect(mail.textBody.filter { !$0.isWhitespace }.contains("迷惑メール"), "\(mail.textBody)")
        let totals = services.reports.totals
        #expect(totals["shadowserver/scan_ntp"]?.fates["outside_carrier"] == 9, "\(totals)")
        #expect(totals["comcastfbl.senderscore.net/arf-abuse"]?.fates["attributed"] == 1, "\(totals)")
    }
}
