import CaseWorkflow
import Lawful
import MamoriCore
import MamoriTesting
import Testing

/// The case life cycle as a step function, driven by a test clock: no files, no sockets, no
/// sleeps. Each test plays what the server would carry out and checks the actions asked for.
@Suite struct CaseWorkflowTests {
    static let subscriber = "s:0123456789abcdef"
    static let t0: Int64 = 1_795_694_400_000 // 2026-11-26T12:00:00Z

    /// v1 discloses nothing; v2 (from 2025) discloses infection warnings.
    static let policy = LawfulPolicy(terms: [
        LawfulPolicy.Terms(version: "v1", effective: 1_704_067_200_000, discloses: []),
        LawfulPolicy.Terms(version: "v2", effective: 1_735_689_600_000, discloses: [.warnInfection, .warnVulnerability]),
    ])
    let workflow = CaseWorkflow(policy: Self.policy)

    static func consent(_ version: String, at now: Int64) -> ConsentState {
        ConsentState(
            events: [
                ConsentEvent(
                    subscriber: subscriber, kind: .termsAccepted, termsVersion: version, at: 1_740_000_000_000, method: "contract",
                    recordedBy: "test")
            ], at: now)
    }

    /// An infected-device finding: `contacts` contacts with one C&C, attributed to the subscriber.
    static func finding(
        id: String = "infected-device:00000000000000a1", contacts: Double, at now: Int64, outcome: AttributionOutcome = .attributed
    ) -> Finding {
        var evidence = Evidence()
        evidence.features = [Feature(.c2Contacts, contacts, about: "198.51.100.7:4444/tcp")]
        var f = Finding(
            id: id, kind: .infectedDevice,
            subject: FindingSubject(type: .host, address: "198.18.1.9", port: nil, protocol: nil, ports: nil),
            score: 0.9, firstSeen: now - 600_000, lastSeen: now, detectedAt: now, updatedAt: now, family: nil, summary: "",
            evidence: evidence)
        f.subscriber = FindingSubscriber(
            outcome: outcome, pseudonym: outcome == .attributed ? subscriber : nil, candidates: [], confidence: 1,
            source: "radius", reason: "", at: [now])
        return f
    }

    /// The kinds of actions, in order, in words.
    static func shape(_ actions: [CaseAction]) -> [String] {
        actions.map {
            switch $0 {
            case .audit(let e): "audit \(e.kind.rawValue)"
            case .save: "save"
            case .sendNotice: "notice"
            }
        }
    }

    /// What the server does for `.sendNotice`: e-mails it (or not) and reports the attempt.
    func mailed(_ step: CaseWorkflow.Step, delivered: Bool, at now: Int64) throws -> LawfulCase {
        let c = try #require(step.case)
        let notice = CaseNotice(
            at: now, channel: "email", language: "ja", tokenDigest: "d", expires: now + 30 * 86_400_000,
            outcome: delivered ? "250 ok" : "not sent: refused", delivered: delivered)
        let after = workflow.noticeAttempted(c, notice: notice, reminder: c.deliveredNotices)
        #expect(Self.shape(after.actions) == ["save", "audit notice"])
        if case .audit(let entry) = after.actions[1] { #expect(entry.deferrable, "the mail has left: its entry may wait for the log") }
        return try #require(after.case)
    }

    @Test("a first finding opens the case, decides, records the transition and asks for the notice, in that order")
    func firstFinding() throws {
        let clock = TestClock(Self.t0)
        let step = workflow.take(
            Self.finding(contacts: 40, at: clock.milliseconds), subscriber: Self.subscriber, latest: nil,
            consent: Self.consent("v2", at: clock.milliseconds), newID: "case-1", at: clock.milliseconds)
        #expect(Self.shape(step.actions) == ["audit case_transition", "audit decision", "audit case_transition", "notice"])
        let c = try #require(step.case)
        #expect(c.state == .basisDecided)
        #expect(c.decision?.permitted == true)
        #expect(c.evidence.commandAndControl.first?.contacts == 40)
        guard case .audit(let decision) = step.actions[1], case .decision(let d) = decision.detail else {
            Issue.record("no decision entry")
            return
        }
        #expect(decision.subject == "case-1" && d.permitted)
    }

    @Test("terms that disclose nothing: the case is held and saved, no notice")
    func held() throws {
        let now = Self.t0
        let step = workflow.take(
            Self.finding(contacts: 40, at: now), subscriber: Self.subscriber, latest: nil, consent: Self.consent("v1", at: now),
            newID: "case-2", at: now)
        #expect(Self.shape(step.actions) == ["audit case_transition", "audit decision", "audit case_transition", "save"])
        #expect(step.case?.state == .held)
    }

    @Test("the same finding reported again changes nothing and asks for nothing")
    func repeatIsQuiet() throws {
        let clock = TestClock(Self.t0)
        let f = Self.finding(contacts: 40, at: clock.milliseconds)
        let first = workflow.take(
            f, subscriber: Self.subscriber, latest: nil, consent: Self.consent("v2", at: clock.milliseconds), newID: "c",
            at: clock.milliseconds)
        let notified = try mailed(first, delivered: true, at: clock.milliseconds)
        #expect(notified.state == .notified)
        clock.advance(by: 10_000)
        let again = workflow.take(
            f, subscriber: Self.subscriber, latest: notified, consent: Self.consent("v2", at: clock.milliseconds), newID: "unused",
            at: clock.milliseconds)
        #expect(again.actions.isEmpty)
        #expect(again.case == notified)
    }

    @Test("the device keeps misbehaving: no reminder before the interval, one after it, escalation after the configured notices")
    func reminderAndEscalation() throws {
        let clock = TestClock(Self.t0)
        var c = try mailed(
            workflow.take(
                Self.finding(contacts: 40, at: clock.milliseconds), subscriber: Self.subscriber, latest: nil,
                consent: Self.consent("v2", at: clock.milliseconds), newID: "c", at: clock.milliseconds),
            delivered: true, at: clock.milliseconds)
        let interval = Int64(Self.policy.notices.renotifyAfterHours) * 3_600_000
        clock.advance(by: interval / 2)
        let early = workflow.take(
            Self.finding(contacts: 80, at: clock.milliseconds), subscriber: Self.subscriber, latest: c,
            consent: Self.consent("v2", at: clock.milliseconds), newID: "unused", at: clock.milliseconds)
        #expect(Self.shape(early.actions) == ["save"], "evidence grew: saved, no reminder yet")
        c = try #require(early.case)
        for n in 2...Self.policy.notices.escalateAfterNotices {
            clock.advance(by: interval)
            let due = workflow.take(
                Self.finding(contacts: Double(80 + n * 10), at: clock.milliseconds), subscriber: Self.subscriber, latest: c,
                consent: Self.consent("v2", at: clock.milliseconds), newID: "unused", at: clock.milliseconds)
            #expect(Self.shape(due.actions).last == "notice", "reminder \(n)")
            c = try mailed(due, delivered: true, at: clock.milliseconds)
        }
        #expect(c.deliveredNotices == Self.policy.notices.escalateAfterNotices)
        clock.advance(by: 3_600_000)
        let more = workflow.take(
            Self.finding(contacts: 500, at: clock.milliseconds), subscriber: Self.subscriber, latest: c,
            consent: Self.consent("v2", at: clock.milliseconds), newID: "unused", at: clock.milliseconds)
        #expect(more.case?.escalated == true)
    }

    @Test("a failed e-mail is tried again after 5 minutes, then 10: not at every report of the finding")
    func retryBackOff() throws {
        let clock = TestClock(Self.t0)
        var c = try mailed(
            workflow.take(
                Self.finding(contacts: 40, at: clock.milliseconds), subscriber: Self.subscriber, latest: nil,
                consent: Self.consent("v2", at: clock.milliseconds), newID: "c", at: clock.milliseconds),
            delivered: false, at: clock.milliseconds)
        #expect(c.state == .basisDecided)
        for (wait, due) in [(240_000 as Int64, false), (60_000, true)] {
            clock.advance(by: wait)
            let step = workflow.take(
                Self.finding(contacts: 40, at: Self.t0), subscriber: Self.subscriber, latest: c,
                consent: Self.consent("v2", at: clock.milliseconds), newID: "unused", at: clock.milliseconds)
            #expect(Self.shape(step.actions).contains("notice") == due, "after \(clock.milliseconds - Self.t0) ms")
            if due { c = try mailed(step, delivered: false, at: clock.milliseconds) }
        }
        clock.advance(by: 300_000)
        let tooSoon = workflow.take(
            Self.finding(contacts: 40, at: Self.t0), subscriber: Self.subscriber, latest: c,
            consent: Self.consent("v2", at: clock.milliseconds), newID: "unused", at: clock.milliseconds)
        #expect(!Self.shape(tooSoon.actions).contains("notice"), "the second retry waits 10 minutes")
    }

    @Test("an analyst's false positive: that finding never reopens the case; acknowledging is audited as the subscriber's")
    func verdictsAndAcknowledgement() throws {
        let now = Self.t0
        let f = Self.finding(contacts: 40, at: now)
        let opened = try #require(
            workflow.take(f, subscriber: Self.subscriber, latest: nil, consent: Self.consent("v2", at: now), newID: "c", at: now).case)
        let closed = try #require(workflow.close(opened, as: .falsePositive, analyst: "aki", reason: "lab device", at: now + 1))
        #expect(Self.shape(closed.actions) == ["save", "audit case_transition"])
        let fp = try #require(closed.case)
        #expect(fp.state == .falsePositive)
        #expect(
            workflow.take(f, subscriber: Self.subscriber, latest: fp, consent: Self.consent("v2", at: now + 2), newID: "x", at: now + 2)
                .actions.isEmpty)
        #expect(workflow.close(opened, as: .notified, analyst: "aki", reason: "", at: now) == nil, "not a closing state")

        let ack = try #require(workflow.acknowledge(opened, at: now + 5))
        guard case .audit(let entry) = ack.actions.last else {
            Issue.record("no audit entry")
            return
        }
        #expect(entry.actor == "subscriber")
        #expect(ack.case?.state == .acknowledged)
        #expect(workflow.acknowledge(try #require(ack.case), at: now + 6) == nil, "already acknowledged")
    }

    @Test("the finding → subscriber rule: only infected devices that attribution names one subscriber for")
    func subscriberRule() {
        #expect(CaseWorkflow.subscriber(of: Self.finding(contacts: 3, at: Self.t0)) == Self.subscriber)
        #expect(CaseWorkflow.subscriber(of: Self.finding(contacts: 3, at: Self.t0, outcome: .ambiguous)) == nil)
        #expect(CaseWorkflow.subscriber(of: Self.finding(contacts: 3, at: Self.t0, outcome: .unknown)) == nil)
        var scan = Self.finding(contacts: 3, at: Self.t0)
        scan.kind = .scanning
        #expect(CaseWorkflow.subscriber(of: scan) == nil)
    }
}
