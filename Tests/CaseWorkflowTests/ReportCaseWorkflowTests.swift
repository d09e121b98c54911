import CaseWorkflow
import Lawful
import MamoriCore
import MamoriTesting
import Testing

/// Cases opened by reports from outside, as steps: one per subscriber and problem, merged across
/// days, noticed once, reminded and escalated while the device keeps being reported, remediated
/// when a daily report no longer names it, reopened when it comes back.
@Suite struct ReportCaseWorkflowTests {
    let workflow = CaseWorkflow(policy: CaseWorkflowTests.policy)
    static let day: Int64 = 86_400_000

    static func sighting(_ n: Int, at time: Int64, problem: String = "open-resolver", source: String = "shadowserver") -> ReportSighting {
        ReportSighting(
            id: "report:\(source)/scan_dns/\(n)", problem: ReportedProblem(problem: problem, source: source, service: "dns", port: 53),
            reportType: "\(source)/scan_dns", time: time, device: "198.18.200.5:53/udp")
    }

    @Test("a report opens a vulnerable-device case, decided on warn_vulnerability, noticed; the next day's report merges without a notice")
    func openAndMerge() throws {
        let t0 = CaseWorkflowTests.t0
        let consent = CaseWorkflowTests.consent("v2", at: t0)
        let first = workflow.take(
            Self.sighting(1, at: t0), subscriber: CaseWorkflowTests.subscriber, latest: nil, consent: consent, newID: "c1", at: t0)
        #expect(CaseWorkflowTests.shape(first.actions) == ["audit case_transition", "audit decision", "audit case_transition", "notice"])
        var c = try #require(first.case)
        #expect(c.kind == .vulnerability && c.decision?.action == .warnVulnerability && c.decision?.permitted == true)
        #expect(c.decision?.basis == .comprehensiveConsent, "the terms v2 disclose vulnerability warnings: \(c.decision?.reasons ?? [])")
        c = try CaseWorkflowTests().mailed(first, delivered: true, at: t0)
        #expect(c.state == .notified && c.report?.days == [ReportCaseEvidence.day(t0)])

        // The same report again: nothing new, nothing written.
        let again = workflow.take(
            Self.sighting(1, at: t0), subscriber: CaseWorkflowTests.subscriber, latest: c, consent: consent, newID: "x", at: t0 + 60_000)
        #expect(again.case?.report?.reports == 2 && again.case?.report?.days.count == 1)
        #expect(CaseWorkflowTests.shape(again.actions) == ["save"], "the count of reports changed; no decision, no notice")
        // The next day: merged, a day more, no notice before the reminder interval.
        let next = workflow.take(
            Self.sighting(2, at: t0 + Self.day), subscriber: CaseWorkflowTests.subscriber, latest: c, consent: consent, newID: "x",
            at: t0 + Self.day)
        #expect(next.case?.id == "c1" && next.case?.report?.days.count == 2 && next.case?.state == .notified)
        #expect(!CaseWorkflowTests.shape(next.actions).contains("notice"))
    }

    @Test("reported day after day past the reminder interval: a reminder, then escalation after escalate_after_notices")
    func reminderAndEscalation() throws {
        let t0 = CaseWorkflowTests.t0
        let consent = CaseWorkflowTests.consent("v2", at: t0)
        let helper = CaseWorkflowTests()
        var c = try helper.mailed(
            workflow.take(
                Self.sighting(0, at: t0), subscriber: CaseWorkflowTests.subscriber, latest: nil, consent: consent, newID: "c1", at: t0),
            delivered: true, at: t0)
        let interval = Int64(CaseWorkflowTests.policy.notices.renotifyAfterHours) * 3_600_000
        var now = t0
        var reminders = 0
        for n in 1...20 where reminders < CaseWorkflowTests.policy.notices.escalateAfterNotices {
            now += Self.day
            let step = workflow.take(
                Self.sighting(n, at: now), subscriber: CaseWorkflowTests.subscriber, latest: c, consent: consent, newID: "x", at: now)
            if CaseWorkflowTests.shape(step.actions).contains("notice") {
                #expect(now - (c.notices.last?.at ?? 0) >= interval, "a reminder only after the interval")
                c = try helper.mailed(step, delivered: true, at: now)
                reminders += 1
            } else {
                c = try #require(step.case)
            }
        }
        #expect(reminders == CaseWorkflowTests.policy.notices.escalateAfterNotices)
        #expect(c.escalated, "still reported after \(c.deliveredNotices) notices")
    }

    @Test(
        "a daily report without the device remediates the case (with the day); a later report reopens it; other types and finished cases are left"
    )
    func remediatedAndReopened() throws {
        let t0 = CaseWorkflowTests.t0
        let consent = CaseWorkflowTests.consent("v2", at: t0)
        let c = try CaseWorkflowTests().mailed(
            workflow.take(
                Self.sighting(1, at: t0), subscriber: CaseWorkflowTests.subscriber, latest: nil, consent: consent, newID: "c1", at: t0),
            delivered: true, at: t0)
        let day1 = ReportCaseEvidence.day(t0)
        let day2 = ReportCaseEvidence.day(t0 + Self.day)
        #expect(
            workflow.reportAbsent(c, day: day1, reportType: "shadowserver/scan_dns", remediateAfter: 1, at: t0) == nil,
            "not after the last sighting")
        #expect(workflow.reportAbsent(c, day: day2, reportType: "shadowserver/scan_ntp", remediateAfter: 1, at: t0) == nil, "another type")
        let waiting = try #require(
            workflow.reportAbsent(c, day: day2, reportType: "shadowserver/scan_dns", remediateAfter: 2, at: t0 + Self.day))
        #expect(
            waiting.case?.state == .notified && waiting.case?.report?.absentDays == [day2]
                && CaseWorkflowTests.shape(waiting.actions) == ["save"])
        let step = try #require(
            workflow.reportAbsent(c, day: day2, reportType: "shadowserver/scan_dns", remediateAfter: 1, at: t0 + Self.day))
        let done = try #require(step.case)
        #expect(done.state == .remediated && done.history.last?.reason.contains(day2) == true)
        #expect(CaseWorkflowTests.shape(step.actions) == ["save", "audit case_transition"])
        #expect(
            workflow.reportAbsent(
                done, day: ReportCaseEvidence.day(t0 + 2 * Self.day), reportType: "shadowserver/scan_dns", remediateAfter: 1, at: t0) == nil
        )

        let back = workflow.take(
            Self.sighting(3, at: t0 + 3 * Self.day), subscriber: CaseWorkflowTests.subscriber, latest: done, consent: consent, newID: "x",
            at: t0 + 3 * Self.day)
        #expect(
            back.case?.id == "c1" && back.case?.state != .remediated && back.case?.report?.absentDays == [], "\(back.case?.state as Any)")
    }

    @Test(
        "abuse reports: a spam complaint opens an abuse-report case decided on the infected-device rules; without consent, a trusted source's report is a legitimate business act and an untrusted one's is held"
    )
    func abuseAndUntrusted() throws {
        let t0 = CaseWorkflowTests.t0
        let consent = CaseWorkflowTests.consent("v2", at: t0)
        let spam = workflow.take(
            Self.sighting(1, at: t0, problem: "spam", source: "fbl.example.net"), subscriber: CaseWorkflowTests.subscriber, latest: nil,
            consent: consent, newID: "a1", at: t0)
        #expect(spam.case?.kind == .abuseReport && spam.case?.decision?.action == .warnInfection && spam.case?.decision?.permitted == true)
        // Terms v1 disclose nothing: the legitimate business route, open to trusted sources only.
        let v1 = CaseWorkflowTests.consent("v1", at: t0)
        let trusted = workflow.take(
            Self.sighting(1, at: t0), subscriber: CaseWorkflowTests.subscriber, latest: nil, consent: v1, newID: "t1", at: t0)
        #expect(trusted.case?.decision?.basis == .legitimateBusinessAct, "\(trusted.case?.decision?.reasons ?? [])")
        #expect(
            trusted.case?.decision?.reasons.contains { $0.contains("shadowserver reported") && $0.contains("explains the fix") } == true)
        let untrusted = workflow.take(
            Self.sighting(1, at: t0, source: "somebody"), subscriber: CaseWorkflowTests.subscriber, latest: nil, consent: v1, newID: "u1",
            at: t0)
        #expect(
            untrusted.case?.state == .held, "the policy trusts notice and shadowserver only: \(untrusted.case?.decision?.reasons ?? [])")
    }
}
