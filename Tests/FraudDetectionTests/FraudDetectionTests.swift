import MamoriCore
import Telephony
import Testing

@testable import FraudDetection

/// Small worlds written by hand: lines with a history, a hijacked PBX pumping a satellite range at
/// night, a call centre that must not be flagged, and the block rules that follow.
struct FraudDetectionTests {
    static let classifier = CallClassifier(rules: .japan, plan: .shipped)
    /// Monday 2026-11-30 00:00 JST.
    static let monday = TimeText.parse("2026-11-30T00:00:00+09:00")!
    static let hour: Int64 = 3_600_000
    static let minute: Int64 = 60_000

    static func call(
        _ account: String, _ dialled: String, at start: Int64, seconds: Int = 60, outcome: CallRecord.Outcome = .answered,
        refused: Bool = false, id: String? = nil
    ) -> Call {
        var r = CallRecord(
            feed: "test", callID: id ?? "\(account)-\(start)-\(dialled)", account: account, caller: account, dialled: dialled,
            start: start, answered: outcome == .answered ? start : nil, billedSeconds: outcome == .answered ? seconds : 0,
            outcome: outcome)
        r.refusedByBlock = refused
        return classifier.classify(r)
    }

    /// Four days of ordinary calling for `lines` lines: domestic calls in the evening, a call to
    /// the UK every other day.
    static func history(_ engine: inout FraudEngine, lines: [String]) {
        var calls: [Call] = []
        for day in 0..<4 {
            let base = monday + Int64(day) * 24 * hour
            for (i, line) in lines.enumerated() {
                calls.append(call(line, "03-1234-\(1000 + i)", at: base + 19 * hour + Int64(i) * minute, seconds: 180))
                calls.append(call(line, "090-1111-\(2000 + i)", at: base + 20 * hour + Int64(i) * minute, seconds: 60))
                if day % 2 == 0 { calls.append(call(line, "010-44-20-7946-\(1000 + i)", at: base + 21 * hour, seconds: 600)) }
            }
        }
        for c in calls.sorted(by: { $0.record.end < $1.record.end }) { _ = engine.take(c) }
    }

    /// A hijacked line: from 02:00 on Friday, `count` calls of 15 min to consecutive numbers of
    /// Iridium's +881 6 block, two minutes apart (so several are up at once).
    static func pump(_ account: String, from start: Int64, count: Int, firstNumber: Int = 1000) -> [Call] {
        (0..<count).map { i in
            call(account, "010-8816-3123-\(firstNumber + i)", at: start + Int64(i) * 2 * minute, seconds: 900)
        }.sorted { $0.record.end < $1.record.end }
    }

    @Test func aHijackedLinePumpingASatelliteRangeIsFoundAndTheRangeBlocked() throws {
        var engine = FraudEngine()
        Self.history(&engine, lines: ["L1", "L2", "L3"])
        let friday = Self.monday + 4 * 24 * Self.hour
        var events: [FraudEvent] = []
        var changes: [BlockChange] = []
        for c in Self.pump("L2", from: friday + 2 * Self.hour, count: 20) {
            let out = engine.take(c)
            events += out.events
            changes += out.changes
        }
        let findings = events.compactMap { if case .finding(let f) = $0 { f } else { nil } }
        let finding = try #require(findings.last)
        #expect(finding.account == "L2" && !finding.ended)
        #expect(Set(findings.map(\.account)) == ["L2"], "the lines with ordinary calls are not reported")
        #expect(finding.signals[.highCost] != nil && finding.signals[.rangeSweep] != nil, "\(finding.signals)")
        #expect(finding.signals[.burst] != nil || finding.signals[.concurrency] != nil, "\(finding.signals)")
        let fraudulent = events.compactMap { if case .fraudulentCall(let f) = $0 { f } else { nil } }
        #expect(fraudulent.count == 20, "every pumped call, the ones before the report too")
        #expect(fraudulent.allSatisfy { $0.country == "XS" && $0.number.hasPrefix("8816") && $0.billedSeconds == 900 })
        #expect(finding.calls == 20 && finding.billedSeconds == 20 * 900 && finding.countries == ["XS"])
        #expect(finding.firstCall == friday + 2 * Self.hour, "the episode starts at its first call, not at the report")

        // The range was called only by the hijacked line: blocked automatically (range mode).
        let applied = changes.compactMap { if case .applied(let r) = $0 { r } else { nil } }
        let rule = try #require(applied.first)
        #expect(applied.count == 1 && rule.scope == .range && rule.prefix == "881631231" && rule.state == .active)
        #expect(rule.figures.share == 1 && rule.figures.fraudulentAttempts >= 10 && rule.figures.accounts == 1)
        #expect(rule.legalBasis == "carrier_judgment" && rule.approvedBy == "automatic")
        #expect(rule.expiresAt == rule.appliedAt! + 360 * Self.minute)
    }

    @Test func aCallCentreCallingOneCountryAllDayIsNotFlagged() {
        var engine = FraudEngine()
        Self.history(&engine, lines: ["L1"])
        // Business days: 25 calls an hour to London numbers all over the 20 area, 9:00–17:00.
        var calls: [Call] = []
        for day in 0..<5 {
            for h in 9..<17 {
                for i in 0..<25 {
                    let start = Self.monday + Int64(day) * 24 * Self.hour + Int64(h) * Self.hour + Int64(i) * 2 * Self.minute
                    let number = 10_000 + (day * 997 + h * 131 + i * 7919) % 89_999
                    calls.append(Self.call("CC", "010-44-20-79\(number)", at: start, seconds: 90))
                }
            }
        }
        var reported = 0
        for c in calls.sorted(by: { $0.record.end < $1.record.end }) {
            reported += engine.take(c).events.filter { if case .finding = $0 { true } else { false } }.count
        }
        #expect(reported == 0)
    }

    @Test func emergencyCallsAreNeverCountedOrJudged() {
        var engine = FraudEngine()
        for i in 0..<50 { _ = engine.take(Self.call("E", i % 2 == 0 ? "110" : "119", at: Self.monday + Int64(i) * Self.minute)) }
        #expect(engine.detector.linesFollowed == 0 && engine.ledger.count == 0)
    }

    @Test func theEpisodeEndsWhenTheLineFallsQuietAndTheRuleIsLiftedWhenTheFraudSubsides() throws {
        var engine = FraudEngine()
        Self.history(&engine, lines: ["L1", "L2"])
        let friday = Self.monday + 4 * 24 * Self.hour
        for c in Self.pump("L2", from: friday + 2 * Self.hour, count: 20) { _ = engine.take(c) }
        let rule = try #require(engine.book.active.values.first)
        let lastCall = friday + 2 * Self.hour + 19 * 2 * Self.minute
        // 29 minutes after the last fraudulent call: still in force.
        #expect(engine.tick(now: lastCall + 29 * Self.minute).changes.isEmpty)
        let lifted = engine.tick(now: lastCall + 31 * Self.minute).changes
        #expect(lifted == [.lifted(engine.book.history.last!)])
        #expect(engine.book.history.last?.id == rule.id && engine.book.history.last?.endReason?.hasPrefix("fraud subsided") == true)
        #expect(engine.book.active.isEmpty)
        // The line's episode ends after two quiet hours.
        let ended = engine.tick(now: lastCall + 15 * Self.minute + 121 * Self.minute).events
        #expect(ended.count == 1)
        if case .ended(let f) = ended.first { #expect(f.account == "L2" && f.ended) } else { Issue.record("\(ended)") }
        #expect(engine.detector.openFindings == 0)
    }

    @Test func aRuleWhoseFraudGoesOnIsRenewedAsANewDecisionAtTheEndOfItsPeriod() throws {
        var policy = BlockPolicy()
        policy.periodMinutes = 60
        var engine = FraudEngine(book: BlockRuleBook(policy: policy))
        Self.history(&engine, lines: ["L1", "L2"])
        let friday = Self.monday + 4 * 24 * Self.hour
        for c in Self.pump("L2", from: friday + 2 * Self.hour, count: 20) { _ = engine.take(c) }
        let first = try #require(engine.book.active.values.first)
        // The hijacked PBX keeps trying; Kamailio refuses each attempt and logs it.
        var t = friday + 2 * Self.hour + 40 * Self.minute
        var renewed: [BlockChange] = []
        var i = 0
        while t < first.expiresAt + 5 * Self.minute {
            let attempt = Self.call("L2", "010-8816-3123-\(1100 + i % 300)", at: t, seconds: 0, outcome: .failed, refused: true)
            _ = engine.take(attempt)
            renewed += engine.tick(now: t).changes
            t += Self.minute
            i += 1
        }
        #expect(renewed.count == 1)
        guard case .renewed(let old, let new) = renewed.first else { return #expect(Bool(false), "\(renewed)") }
        #expect(old.id == first.id && old.endReason == "period ended")
        #expect(new.id != first.id && new.renewalOf == first.id && new.state == .active && new.figures.share == 1)
    }

    @Test func manualApprovalHoldsARuleUntilAnOperatorDecides() throws {
        var policy = BlockPolicy()
        policy.modes[.range] = .manualApproval
        var engine = FraudEngine(book: BlockRuleBook(policy: policy))
        Self.history(&engine, lines: ["L1", "L2"])
        var changes: [BlockChange] = []
        for c in Self.pump("L2", from: Self.monday + 4 * 24 * Self.hour + 2 * Self.hour, count: 20) { changes += engine.take(c).changes }
        #expect(engine.book.active.isEmpty && engine.book.pending.count == 1)
        guard case .proposed(let rule) = changes.first else { return #expect(Bool(false), "\(changes)") }
        let now = engine.detector.now
        let approved = engine.book.approve(rule.id, by: "aiko", now: now)
        guard case .applied(let r) = approved else { return #expect(Bool(false), "\(String(describing: approved))") }
        #expect(r.approvedBy == "aiko" && r.state == .active && engine.book.active[r.id] != nil)
        #expect(engine.book.approve(rule.id, by: "aiko", now: now) == nil, "approved once")
    }

    @Test func dryRunRecordsWithoutBlocking() {
        var policy = BlockPolicy()
        policy.modes[.range] = .dryRun
        var engine = FraudEngine(book: BlockRuleBook(policy: policy))
        Self.history(&engine, lines: ["L1", "L2"])
        for c in Self.pump("L2", from: Self.monday + 4 * 24 * Self.hour + 2 * Self.hour, count: 20) { _ = engine.take(c) }
        #expect(engine.book.active.isEmpty && engine.book.dryRuns.count == 1)
    }

    @Test func aRangeAlsoCalledByOrdinaryLinesIsNotBlocked() {
        var engine = FraudEngine()
        let lines = (0..<30).map { "N\($0)" }
        Self.history(&engine, lines: lines + ["L2"])
        let friday = Self.monday + 4 * 24 * Self.hour
        var calls = Self.pump("L2", from: friday + 2 * Self.hour, count: 20)
        // Thirty ordinary lines call the same satellite block in that hour (a ship's crew's families).
        for (i, l) in lines.enumerated() {
            calls.append(Self.call(l, "010-8816-3123-\(1500 + i)", at: friday + 2 * Self.hour + Int64(i) * Self.minute, seconds: 300))
        }
        var changes: [BlockChange] = []
        for c in calls.sorted(by: { $0.record.end < $1.record.end }) { changes += engine.take(c).changes }
        #expect(changes.isEmpty, "\(changes.map(\.rule.summary))")
        let f = engine.ledger.figures(.range("881631231"), now: engine.detector.now, windowMinutes: 60)
        #expect(f.fraudulentAttempts == 20 && f.attempts == 50 && f.share == 0.4)
    }

    @Test func theRailsRefuseTheHomeCountryAndProtectedPrefixes() {
        var policy = BlockPolicy()
        policy.protected = ["8816"]
        var book = BlockRuleBook(policy: policy)
        var ledger = DestinationLedger()
        let now = Self.monday
        for i in 0..<12 {
            let c = Self.call("X", "010-8816-3123-\(1000 + i)", at: now - Int64(i) * Self.minute)
            ledger.count(c)
            ledger.markFraudulent(
                FraudulentCall(
                    findingID: "f", account: "X", callID: "\(i)", start: c.record.start, dialled: "", number: c.number!.digits,
                    range: c.range!.digits, destinationPrefix: c.destination!.prefix, country: "XS", destination: "Iridium",
                    billedSeconds: 60, outcome: .answered, refusedByBlock: false))
        }
        let fc = FraudulentCall(
            findingID: "f", account: "X", callID: "x", start: now, dialled: "", number: "88163123100", range: "881631231",
            destinationPrefix: "8816", country: "XS", destination: "Iridium", billedSeconds: 60, outcome: .answered, refusedByBlock: false)
        let changes = book.consider(fc, ledger: ledger, now: now)
        guard case .refused(_, let reason) = changes.first else { return #expect(Bool(false), "\(changes)") }
        #expect(reason == "touches the protected prefix +8816")
        #expect(book.consider(fc, ledger: ledger, now: now + Self.minute).isEmpty, "not proposed again at once")
        let home = BlockRule(
            id: "h", scope: .destination, prefix: "81", country: "JP", name: "Japan", state: .pending, proposedAt: now, appliedAt: nil,
            expiresAt: now, endedAt: nil, endReason: nil,
            figures: BlockFigures(attempts: 0, fraudulentAttempts: 0, accounts: 0, windowMinutes: 60, hourlyShare: [], lastFraudulent: nil))
        #expect(book.rail(home, now: now)?.contains("carrier's own country") == true)
    }

    @Test func linesBeyondTheBoundAreCountedNotFollowed() {
        var settings = FraudSettings()
        settings.maximumLines = 10
        var detector = FraudDetector(settings: settings)
        for i in 0..<25 { _ = detector.take(Self.call("L\(i)", "03-1234-5678", at: Self.monday + Int64(i) * Self.minute)) }
        #expect(detector.linesFollowed == 10 && detector.linesNotFollowed == 15)
    }

    @Test func businessHoursAreReadInTheCarriersZone() {
        let s = FraudSettings()
        #expect(LineState.inBusinessHours(Self.monday + 9 * Self.hour, s))
        #expect(!LineState.inBusinessHours(Self.monday + 7 * Self.hour, s))
        #expect(!LineState.inBusinessHours(Self.monday + 5 * 24 * Self.hour + 10 * Self.hour, s), "Saturday")
        #expect(LineState.longestRun([100, 101, 103, 500, 900], span: 20, need: 3) == 3)
        #expect(LineState.longestRun([100, 300, 500], span: 20, need: 3) == 0)
    }

    /// Low and slow: two seven-minute calls an hour, round the clock, to three numbers of the Cook
    /// Islands, a country the line never called. No hour looks like a burst; the day does.
    @Test func lowAndSlowCallingToANewCountryIsFoundFromItsDayNotItsHour() throws {
        let friday = Self.monday + 4 * 24 * Self.hour
        // The first call lasts 50 minutes: its record comes after the next calls were answered.
        let calls = (0..<48).map { i in
            Self.call("L2", "010-682-2\(1234 + 97 * (i % 3))", at: friday + Int64(i) * 30 * Self.minute, seconds: i == 0 ? 3000 : 420)
        }
        try Self.lowAndSlow(calls, friday: friday, answers: false)
        // The same calls, each also reported when answered (as Kamailio logs them).
        try Self.lowAndSlow(calls, friday: friday, answers: true)
    }

    static func lowAndSlow(_ calls: [Call], friday: Int64, answers: Bool) throws {
        var engine = FraudEngine()
        Self.history(&engine, lines: ["L1", "L2", "L3"])
        var feed: [(Int64, Call)] = []
        for c in calls {
            if answers {
                var up = c
                up.record.billedSeconds = 0
                up.record.inProgress = true
                feed.append((c.record.start, up))
            }
            feed.append((c.record.end, c))
        }
        let calls = feed.sorted { $0.0 < $1.0 }.map(\.1)
        var events: [FraudEvent] = []
        var reportedAfter: Int?
        for (i, c) in calls.enumerated() {
            let out = engine.take(c).events
            if reportedAfter == nil, out.contains(where: { if case .finding = $0 { true } else { false } }) { reportedAfter = i + 1 }
            events += out
        }
        let findings = events.compactMap { if case .finding(let f) = $0 { f } else { nil } }
        let finding = try #require(findings.last)
        #expect(finding.account == "L2" && finding.signals[.sustained] != nil, "\(finding.signals)")
        #expect(finding.signals[.burst] == nil, "two calls an hour are no burst")
        let after = try #require(reportedAfter)
        #expect(
            (answers ? 21...48 : 11...24).contains(after),
            "reported once calls fell in six different hours (the 11th call), not before: \(after)")
        let fraudulent = events.compactMap { if case .fraudulentCall(let f) = $0, f.inProgress != true { f } else { nil } }
        #expect(fraudulent.count == 48, "the calls before the report are billed as fraud too (answers: \(answers))")
        #expect(fraudulent.map(\.start).min() == friday && fraudulent.allSatisfy { $0.country == "CK" })
    }

    /// The same country called by a line for one long evening call, and a day later once more, is
    /// family, not fraud: too few hours.
    @Test func aLongCallToANewCountryIsNotSustainedCalling() {
        var engine = FraudEngine()
        Self.history(&engine, lines: ["L1", "L2"])
        let friday = Self.monday + 4 * 24 * Self.hour
        var reported = 0
        for c in [
            Self.call("L2", "010-682-21234", at: friday + 20 * Self.hour, seconds: 7200),
            Self.call("L2", "010-682-21234", at: friday + 44 * Self.hour, seconds: 3600),
        ] {
            reported += engine.take(c).events.filter { if case .finding = $0 { true } else { false } }.count
        }
        #expect(reported == 0)
    }

    /// Few calls but long ones: four forty-minute calls to two countries the line never called, in
    /// one hour. Not a burst of calls (four), a burst of minutes.
    @Test func aBurstOfMinutesCountsWhereTheCallsAreFew() throws {
        var engine = FraudEngine()
        Self.history(&engine, lines: ["L1", "L2"])
        let night = Self.monday + 4 * 24 * Self.hour + 2 * Self.hour
        var events: [FraudEvent] = []
        for (i, number) in ["010-682-21234", "010-683-4123", "010-682-21300", "010-683-4200"].enumerated() {
            events += engine.take(Self.call("L2", number, at: night + Int64(i) * 4 * Self.minute, seconds: 2400)).events
        }
        let finding = try #require(events.compactMap { if case .finding(let f) = $0 { f } else { nil } }.last)
        // Reported at the third call (120 minutes, over the bar of 90), with the minutes measured then.
        #expect(finding.signals[.minutesBurst] == 120 && finding.signals[.newDestinations] == 2, "\(finding.signals)")
        #expect(finding.signals[.burst] == nil)
    }

    /// Kamailio says when a call is answered, and writes its record when it ends: a line pumping
    /// half-hour calls on ten channels is found while its first calls are still up, each call is
    /// counted once, and its record completes the report with its billed time.
    @Test func aLineIsFoundWhileItsCallsAreUpAndEachCallCountsOnce() throws {
        var engine = FraudEngine()
        Self.history(&engine, lines: ["L1", "L2", "L3"])
        let night = Self.monday + 4 * 24 * Self.hour + 2 * Self.hour
        var events: [(Int64, FraudCall)] = []
        for i in 0..<10 {
            var up = Self.call("L2", "010-8816-3123-\(1000 + i)", at: night + Int64(i) * 20_000, seconds: 0, id: "c\(i)")
            up.record.inProgress = true
            events.append((up.record.start, .up(up)))
            let done = Self.call("L2", "010-8816-3123-\(1000 + i)", at: night + Int64(i) * 20_000, seconds: 1800, id: "c\(i)")
            events.append((done.record.end, .done(done)))
        }
        var reportedAt: Int64?
        var fraudulent: [FraudulentCall] = []
        var finding: FraudFinding?
        for (time, e) in events.sorted(by: { $0.0 < $1.0 }) {
            let out = engine.take(e.call)
            if reportedAt == nil, out.events.contains(where: { if case .finding = $0 { true } else { false } }) { reportedAt = time }
            for ev in out.events {
                if case .fraudulentCall(let f) = ev { fraudulent.append(f) }
                if case .finding(let f) = ev { finding = f }
            }
            if case .up = e { _ = engine.take(e.call) } // the answer logged twice: passed over
        }
        let at = try #require(reportedAt)
        #expect(at < night + 1800 * 1000, "found before the first call ended: \((at - night) / 1000) s")
        #expect(
            fraudulent.filter { $0.inProgress == true }.count == 10
                && fraudulent.allSatisfy { $0.inProgress != true || $0.billedSeconds == 0 })
        #expect(
            fraudulent.filter { $0.update == true }.count == 10 && fraudulent.allSatisfy { $0.update != true || $0.billedSeconds == 1800 })
        let f = try #require(finding)
        #expect(f.calls == 10 && f.billedSeconds == 10 * 1800, "each call once, with its billed time: \(f.calls) \(f.billedSeconds)")
        let figures = engine.ledger.figures(.range("881631231"), now: engine.detector.now, windowMinutes: 60)
        #expect(figures.attempts == 10 && figures.fraudulentAttempts == 10, "\(figures)")
    }

    /// An answer whose record never comes (the softswitch's log lost it) is taken as ended four
    /// hours later: it does not hold the line's concurrency up, nor its table, for ever.
    @Test func anAnswerWithoutItsRecordEndsAfterFourHours() {
        let s = FraudSettings()
        var line = LineState(firstSeen: Self.monday)
        var peers = PeerRates()
        var dropped = 0
        let t = Self.monday + 24 * Self.hour
        for i in 0..<5 {
            var up = Self.call("L1", "03-1234-567\(i)", at: t + Int64(i) * 1000, seconds: 0, id: "lost-\(i)")
            up.record.inProgress = true
            #expect(line.take(up, settings: s, peers: &peers, droppedFromWindow: &dropped, now: up.record.start) == .new)
            #expect(line.take(up, settings: s, peers: &peers, droppedFromWindow: &dropped, now: up.record.start) == .repeated)
        }
        #expect(line.open.count == 5 && line.currentConcurrent == 5)
        let later = Self.call("L1", "03-1234-0000", at: t + 3 * Self.hour, seconds: 60)
        _ = line.take(later, settings: s, peers: &peers, droppedFromWindow: &dropped, now: later.record.end)
        #expect(line.currentConcurrent == 6, "three hours on, the five calls may still be up")
        let muchLater = Self.call("L1", "03-1234-0001", at: t + 5 * Self.hour, seconds: 60)
        _ = line.take(muchLater, settings: s, peers: &peers, droppedFromWindow: &dropped, now: muchLater.record.end)
        #expect(line.open.isEmpty && line.currentConcurrent == 1, "\(line.open) \(line.currentConcurrent)")
        #expect(line.calls == 7, "each answer counted once")
    }

    enum FraudCall {
        case up(Call)
        case done(Call)
        var call: Call {
            switch self {
            case .up(let c), .done(let c): c
            }
        }
    }
}
