import CaseWorkflow
import Detection
import FlowCodec
import Foundation
import Lawful
import Logging
import MamoriCore
import MamoriTesting
import Notify
import Server
import Testing

/// The case service carried out on in-memory stores, a recording mailer and a test clock: no
/// files, no sockets, no sleeps.
@Suite struct CaseServiceTests {
    /// Hands messages over to a list.
    final class RecordingMailer: NoticeMailer, @unchecked Sendable {
        private let lock = NSLock()
        private var sent: [MailMessage] = []
        var messages: [MailMessage] { lock.withLock { sent } }
        func send(_ message: MailMessage) async throws -> String {
            lock.withLock {
                sent.append(message)
                return "queued \(sent.count)"
            }
        }
    }

    struct DiskFull: Error {}

    static let taro = "s:00000000000a"
    static let hana = "s:00000000000b"

    static func finding(_ n: Int, subscriber: String, at: Int64) -> Finding {
        var evidence = Evidence()
        evidence.features = [
            Feature(.c2Contacts, 6, about: "192.0.2.23:23/tcp"), Feature(.indicatorContacts, 6, about: "192.0.2.23:23/tcp"),
        ]
        evidence.reasons = ["contacted likely C&C 192.0.2.23:23/tcp 6 time(s)"]
        var f = Finding(
            id: "infected-device:\(n)", kind: .infectedDevice, subject: .address(IPAddress("100.64.0.\(n)")!), score: 0.95,
            firstSeen: at - 600_000, lastSeen: at, detectedAt: at, updatedAt: at, family: "mirai", summary: "", evidence: evidence)
        f.subscriber = FindingSubscriber(
            outcome: .attributed, pseudonym: subscriber, candidates: [], confidence: 1, source: "radius", reason: "", at: [at])
        return f
    }

    @Test(
        "in-memory stores and a test clock: a permitted warning is mailed once, in the subscriber's language, recorded on the case and in the audit trail; a trail that cannot be written stops the next notice"
    )
    func warningOnInMemoryStores() async throws {
        let clock = TestClock(1_780_000_000_000)
        var configuration = MamoriConfiguration()
        configuration.lawful.policy = try LawfulPolicy.parse(yaml: LawfulServerTests.policyYAML)
        let audit = InMemoryAuditTrail()
        let consent = InMemoryConsentRegistry()
        let logger = LogStore().logger(level: .critical)
        let lawful = LawfulService(
            configuration: configuration, audit: audit, consent: consent, pseudonymKey: [1, 2, 3], logger: logger, clock: clock)
        #expect(audit.records.map(\.kind) == [.configurationChange, .decision], "the start and the ground for the analysis")
        for s in [Self.taro, Self.hana] {
            try consent.record(
                [
                    ConsentEvent(
                        subscriber: s, kind: .termsAccepted, termsVersion: "v3", at: 1_743_465_600_000, method: "contract", recordedBy: "t")
                ],
                recordedAt: clock.milliseconds)
        }
        try consent.setContact(SubscriberContact(email: "taro@example.jp", language: "ja"), for: Self.taro, at: clock.milliseconds)
        try consent.setContact(SubscriberContact(email: "hana@example.com", language: "en"), for: Self.hana, at: clock.milliseconds)
        let mailer = RecordingMailer()
        let store = InMemoryCaseStore()
        let service = CaseService(
            lawful: lawful, cases: store, mailer: mailer, from: "security@isp.example", baseURL: "https://notice.isp.example",
            retentionDays: 30, logger: logger, clock: clock)

        await service.handle([Self.finding(7, subscriber: Self.taro, at: clock.milliseconds)])
        #expect(mailer.messages.count == 1)
        let mail = try #require(mailer.messages.first)
        #expect(mail.to.map(\.address) == ["taro@example.jp"])
        #expect(mail.textBody.contains("https://notice.isp.example/notice/"), "the notice page's link")
        #expect(
            mail.subject.unicodeScalars.contains { $0.value >= 0x3040 }, "Japanese for a subscriber whose language is ja: \(mail.subject)")
        #expect(!mail.textBody.contains("100.64.0.7") && !mail.textBody.contains("192.0.2.23"), "no address of anyone in the mail")
        let opened = try #require(try store.list().first)
        #expect(opened.subscriber == Self.taro && opened.state == .notified)
        let kinds = audit.records.map(\.kind)
        #expect(kinds.filter { $0 == .decision }.count == 2 && kinds.contains(.notice) && kinds.contains(.caseTransition), "\(kinds)")

        // Reported again a minute later: the same case, no second mail.
        clock.advance(by: 60_000)
        await service.handle([Self.finding(7, subscriber: Self.taro, at: clock.milliseconds)])
        #expect(mailer.messages.count == 1)
        #expect(try store.list().count == 1)

        // The trail refuses writes: the decision cannot be recorded, so no notice goes out.
        audit.failWrites = DiskFull()
        let before = audit.records.count
        await service.handle([Self.finding(8, subscriber: Self.hana, at: clock.milliseconds)])
        #expect(mailer.messages.count == 1, "a notice whose decision is not in the audit trail must not be sent")
        #expect(audit.records.count == before)
        // The trail is back: the next report is decided, recorded and mailed in English.
        audit.failWrites = nil
        clock.advance(by: 60_000)
        await service.handle([Self.finding(8, subscriber: Self.hana, at: clock.milliseconds)])
        #expect(mailer.messages.count == 2)
        #expect(mailer.messages.last?.to.map(\.address) == ["hana@example.com"])
        #expect(mailer.messages.last?.subject.unicodeScalars.allSatisfy { $0.value < 0x3040 } == true)
    }
}
