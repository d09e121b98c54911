/// How far a followed source's clock is from ours, estimated from when its records arrive.
///
/// A softswitch writes a call's record when the call ends, and Mamori reads it within a poll: the
/// record's end and the time it is read differ by the delivery delay (≥ 0) minus the source's
/// offset (its clock minus ours). Over a batch the smallest difference is the one with the least
/// delay, so the median over recent batches of each batch's smallest difference is about minus the
/// offset — robust to a few late records and to one batch written out of order.
///
/// A source ahead of us is unambiguous (its records would end after they are read): once the
/// estimate is firm and beyond the tolerance, its records are moved back by it (``correct(_:)``)
/// rather than refused as from the future, so a PBX whose clock runs ten minutes fast still has
/// every call judged, in step with the other sources. A source behind cannot be told from a
/// delayed export (a CSV written every quarter hour), so it is reported, not corrected.
///
/// Pure: the caller says when each record was read.
public struct SourceClock: Sendable, Hashable {
    /// The offset counted as none (ms): the clocks of a carrier's NTP-fed servers agree within it.
    public let tolerance: Int64
    /// Batches the estimate needs before it is used, and the most kept.
    public static let firmAfter = 5
    public static let batchesKept = 31

    private var minima: [Int64] = []
    private var next = 0
    private var batchMinimum: Int64?
    /// The estimated offset (ms, positive: the source runs ahead), once firm.
    public private(set) var offset: Int64?
    /// Records moved back by the estimate.
    public private(set) var corrected = 0

    public init(toleranceMilliseconds: Int64) { tolerance = max(0, toleranceMilliseconds) }

    /// Notes a record that ended at `end` (the source's clock) and was read at `readAt` (ours).
    public mutating func observe(end: Int64, readAt: Int64) {
        let lag = readAt &- end
        batchMinimum = min(batchMinimum ?? lag, lag)
    }

    /// Ends a batch (one read of the source): its smallest lag joins the estimate.
    public mutating func endBatch() {
        guard let m = batchMinimum else { return }
        batchMinimum = nil
        if minima.count < Self.batchesKept {
            minima.append(m)
        } else {
            minima[next] = m
            next = (next + 1) % Self.batchesKept
        }
        guard minima.count >= Self.firmAfter else { return }
        let sorted = minima.sorted()
        offset = -sorted[sorted.count / 2]
    }

    /// The source runs ahead by more than the tolerance: its records are to be moved back.
    public var runsAhead: Bool { (offset ?? 0) > tolerance }
    /// Its records arrive later than the tolerance: a clock behind, or a delayed export.
    public var runsBehind: Bool { (offset ?? 0) < -tolerance }

    public enum Standing: String, Sendable, Hashable, Codable {
        /// Not estimated yet (fewer than ``SourceClock/firmAfter`` reads with records).
        case unknown
        case inStep = "in_step"
        /// Its records are moved back by the estimate.
        case ahead
        /// Its records arrive late: a slow clock, or an export written late.
        case behind
    }

    public var standing: Standing { offset == nil ? .unknown : runsAhead ? .ahead : runsBehind ? .behind : .inStep }

    /// `record` in our time: moved back by the offset when the source runs ahead, else as it is.
    public mutating func correct(_ record: CallRecord) -> CallRecord {
        guard runsAhead, let offset else { return record }
        var r = record
        r.start &-= offset
        if let a = r.answered { r.answered = a &- offset }
        corrected += 1
        return r
    }
}
