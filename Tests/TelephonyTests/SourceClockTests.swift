import Testing

@testable import Telephony

/// A followed source's clock estimated from when its records are read.
struct SourceClockTests {
    static func record(start: Int64, seconds: Int = 60) -> CallRecord {
        CallRecord(
            feed: "t", callID: "c\(start)", account: "1001", caller: "1001", dialled: "0312345678", start: start, answered: start,
            billedSeconds: seconds, outcome: .answered)
    }

    /// Reads `batches` batches of records that end `ahead` ms after they are read (plus a delay
    /// of 0–900 ms), one a second.
    static func feed(_ clock: inout SourceClock, batches: Int, ahead: Int64, from t0: Int64 = 1_800_000_000_000) {
        for b in 0..<batches {
            let readAt = t0 + Int64(b) * 1000
            for i in 0..<3 { clock.observe(end: readAt + ahead - Int64(i) * 300, readAt: readAt) }
            clock.endBatch()
        }
    }

    @Test func aClockAheadIsEstimatedOnceFirmAndItsRecordsMovedBack() {
        var clock = SourceClock(toleranceMilliseconds: 300_000)
        Self.feed(&clock, batches: 4, ahead: 1_200_000)
        #expect(clock.offset == nil && clock.standing == .unknown, "not firm before five reads")
        let early = Self.record(start: 1_800_000_000_000)
        #expect(clock.correct(early) == early, "nothing is moved on a guess")
        Self.feed(&clock, batches: 1, ahead: 1_200_000, from: 1_800_000_004_000)
        #expect(clock.offset == 1_200_000 && clock.standing == .ahead)
        let moved = clock.correct(Self.record(start: 1_800_001_200_000))
        #expect(moved.start == 1_800_000_000_000 && moved.answered == 1_800_000_000_000 && moved.billedSeconds == 60)
        #expect(clock.corrected == 1)
    }

    @Test func aClockInStepOrBehindIsNotCorrected() {
        var inStep = SourceClock(toleranceMilliseconds: 300_000)
        Self.feed(&inStep, batches: 10, ahead: -2_000)
        #expect(inStep.standing == .inStep && inStep.offset == -2_000)
        var behind = SourceClock(toleranceMilliseconds: 300_000)
        Self.feed(&behind, batches: 10, ahead: -1_800_000)
        #expect(behind.standing == .behind && behind.offset == -1_800_000)
        let r = Self.record(start: 1_800_000_000_000)
        #expect(behind.correct(r) == r && behind.corrected == 0, "late cannot be told from delayed: reported, not moved")
    }

    @Test func oneOddBatchDoesNotMoveTheEstimate() {
        var clock = SourceClock(toleranceMilliseconds: 300_000)
        Self.feed(&clock, batches: 10, ahead: 0)
        // A batch of records replayed from an hour ago, then one with a record an hour ahead.
        Self.feed(&clock, batches: 1, ahead: -3_600_000, from: 1_800_000_010_000)
        Self.feed(&clock, batches: 1, ahead: 3_600_000, from: 1_800_000_011_000)
        #expect(clock.standing == .inStep && abs(clock.offset ?? .max) < 1_000)
        // Empty reads do not count.
        for _ in 0..<100 { clock.endBatch() }
        #expect(clock.standing == .inStep)
    }
}
