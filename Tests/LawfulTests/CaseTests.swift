import Foundation
import GRDB
import Lawful
import Storage
import Testing

/// The case life cycle, and case retention checked in the database itself.
@Suite struct CaseTests {
    typealias T = LegalBasisEngineTests
    static let hour: Int64 = 3_600_000

    static func decision(_ permitted: Bool, at: Int64) -> LegalDecision {
        LegalDecision(
            action: .warnInfection, subscriber: "s:1", permitted: permitted, basis: permitted ? .comprehensiveConsent : .notPermitted,
            reasons: [permitted ? "comprehensive consent: terms v3" : "opted out"], decidedAt: at, termsInForce: "v3")
    }

    static func notice(at: Int64, delivered: Bool = true) -> CaseNotice {
        CaseNotice(
            at: at, channel: "email", language: "ja", tokenDigest: String(repeating: "a", count: 64), expires: at + 30 * 24 * hour,
            outcome: "250 OK", delivered: delivered)
    }

    @Test func aCaseMovesThroughItsStatesAndRecordsWhy() {
        var policy = LawfulPolicy()
        policy.notices.renotifyAfterHours = 24
        policy.notices.escalateAfterNotices = 2
        let t0: Int64 = 1_000 * Self.hour
        var c = LawfulCase(
            id: "0123456789abcdef0123456789abcdef", subscriber: "s:1", kind: .infection, device: "100.64.0.67", finding: "f1",
            evidence: T.miraiOnce, at: t0)
        #expect(c.state == .attributed)
        #expect(c.reference == "M-89ABCDEF")
        c.record(Self.decision(true, at: t0), at: t0)
        #expect(c.state == .basisDecided)
        #expect(c.noticeDue(at: t0, policy: policy))
        c.notices.append(Self.notice(at: t0))
        c.move(to: .notified, at: t0, reason: "notice e-mailed in ja")
        #expect(!c.noticeDue(at: t0 + 48 * Self.hour, policy: policy), "no reminder without new misbehaviour")

        // The same finding again: nothing grew, nothing to reconsider.
        c.merge(finding: "f1", evidence: T.miraiOnce, at: t0 + Self.hour)
        let r1 = c.reconsider(at: t0 + Self.hour, policy: policy)
        #expect(!r1)
        // More contacts two hours later: evidence grew, but the interval has not passed.
        c.merge(finding: "f2", evidence: T.mirai, at: t0 + 2 * Self.hour)
        #expect(c.findings == ["f1", "f2"])
        #expect(c.evidence.commandAndControl.first?.contacts == 12)
        let r2 = c.reconsider(at: t0 + 2 * Self.hour, policy: policy)
        #expect(!r2)
        // A day later it still misbehaves: a reminder is due (after a new decision).
        c.merge(finding: "f2", evidence: T.flood, at: t0 + 30 * Self.hour)
        let r3 = c.reconsider(at: t0 + 30 * Self.hour, policy: policy)
        #expect(r3)
        #expect(!c.escalated, "one notice so far")
        c.record(Self.decision(true, at: t0 + 30 * Self.hour), at: t0 + 30 * Self.hour)
        #expect(c.noticeDue(at: t0 + 30 * Self.hour, policy: policy))
        c.notices.append(Self.notice(at: t0 + 30 * Self.hour))
        c.move(to: .notified, at: t0 + 30 * Self.hour, reason: "reminder")
        // Still misbehaving after two notices: escalated to an analyst.
        c.merge(finding: "f3", evidence: T.scan, at: t0 + 60 * Self.hour)
        _ = c.reconsider(at: t0 + 60 * Self.hour, policy: policy)
        #expect(c.escalated)
        #expect(c.history.contains { $0.reason.contains("escalated: misbehaviour continues after 2 notice(s)") })

        // Acknowledged, then remediated; misbehaving again reopens it.
        c.move(to: .acknowledged, at: t0 + 61 * Self.hour, reason: "notice page")
        c.move(to: .remediated, at: t0 + 90 * Self.hour, reason: "quiet for a week")
        c.merge(finding: "f4", evidence: T.bitFlood, at: t0 + 200 * Self.hour)
        #expect(c.state == .attributed)
        #expect(
            c.history.map(\.to) == [
                .attributed, .basisDecided, .notified, .basisDecided, .notified, .notified, .acknowledged, .remediated, .attributed,
            ])

        // Held when the decision refuses.
        c.record(Self.decision(false, at: t0 + 200 * Self.hour), at: t0 + 200 * Self.hour)
        #expect(c.state == .held)
        #expect(!c.noticeDue(at: t0 + 300 * Self.hour, policy: policy))
        #expect(c.history.last?.reason == "not permitted: opted out")
    }

    @Test func aFailedNoticeIsRetriedWithBackoffAndACallCentreNoticeIsNotRepeated() {
        var policy = LawfulPolicy()
        policy.notices.renotifyAfterHours = 24
        let t0: Int64 = 1_000 * Self.hour
        let minute: Int64 = 60_000
        var c = LawfulCase(
            id: "0123456789abcdef0123456789abcdef", subscriber: "s:1", kind: .infection, device: "100.64.0.67", finding: "f1",
            evidence: T.miraiOnce, at: t0)
        c.record(Self.decision(true, at: t0), at: t0)
        // The relay refuses: 5, 10, 20, 40 … minutes between attempts, never more than a day.
        var at = t0
        for failures in 1...12 {
            #expect(c.noticeDue(at: at, policy: policy), "attempt \(failures)")
            c.notices.append(Self.notice(at: at, delivered: false))
            let wait = min(24 * Self.hour, 5 * minute << Int64(failures - 1))
            #expect(!c.noticeDue(at: at + wait - 1, policy: policy), "too soon after \(failures) failure(s)")
            at += wait
        }
        #expect(c.notices.count == 12)
        // Delivered at last: the case moves on; no reminder before the interval.
        c.notices.append(Self.notice(at: at))
        c.move(to: .notified, at: at, reason: "notice e-mailed in ja")
        #expect(!c.noticeDue(at: at + 48 * Self.hour, policy: policy))

        // No e-mail address: the notice goes to the call-centre export once, not at every report.
        var d = LawfulCase(
            id: "fedcba9876543210fedcba9876543210", subscriber: "s:2", kind: .infection, device: "100.64.0.68", finding: "f9",
            evidence: T.miraiOnce, at: t0)
        d.record(Self.decision(true, at: t0), at: t0)
        #expect(d.noticeDue(at: t0, policy: policy))
        var csv = Self.notice(at: t0, delivered: false)
        csv.channel = "csv"
        d.notices.append(csv)
        #expect(!d.noticeDue(at: t0 + 10 * minute, policy: policy))
        #expect(!d.noticeDue(at: t0 + 23 * Self.hour, policy: policy))
        #expect(d.noticeDue(at: t0 + 24 * Self.hour, policy: policy), "a reminder in the export after the interval")
    }

    @Test func finishedCasesPastRetentionAreGoneFromTheDatabase() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-cases-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try SQLiteCaseStore(path: path)
        let day: Int64 = 24 * Self.hour
        let now: Int64 = 1_000 * day
        func make(_ id: String, _ state: CaseState, updated: Int64) throws {
            var c = LawfulCase(id: id, subscriber: "s:\(id)", kind: .infection, device: "d", finding: "f", evidence: T.flood, at: updated)
            c.move(to: state, at: updated, reason: "test")
            try store.save(c)
            try store.addToken(digest: "digest-\(id)", caseID: id, language: "ja", expires: updated + 30 * day)
        }
        try make("old-closed", .closed, updated: now - 400 * day)
        try make("old-held", .held, updated: now - 400 * day)
        try make("old-open", .notified, updated: now - 400 * day) // unfinished: kept however old
        try make("new-closed", .closed, updated: now - 10 * day)
        let removed = try store.sweep(finishedBefore: now - 365 * day, now: now)
        #expect(removed == 2)
        // Checked in the database file itself, not through the store.
        let db = try DatabaseQueue(path: path)
        let ids = try db.read { try String.fetchAll($0, sql: "SELECT id FROM lawful_case ORDER BY id") }
        #expect(ids == ["new-closed", "old-open"])
        let tokens = try db.read { try String.fetchAll($0, sql: "SELECT digest FROM notice_token ORDER BY digest") }
        #expect(tokens == ["digest-new-closed"], "tokens of deleted cases and expired tokens are gone")
    }
}
