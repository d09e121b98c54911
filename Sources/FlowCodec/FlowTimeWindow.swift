/// Which flow times a decoder believes, checked on every record it emits.
///
/// Any sender may put any value in a flow record's time fields (IPFIX `flowEndMilliseconds` is
/// 64 bits; 2^64−1 is one datagram away). Everything after the decoder — windows, periods,
/// rates, retention, attribution by time — does arithmetic on these times, so the decoder is the
/// edge where they are made sane, once:
///
/// - **Always**: both times lie in ``earliestMilliseconds`` ... ``latestMilliseconds`` (1970 to
///   2100). Within that range no sum or difference of two times, or of a time and a window of
///   less than a century, can overflow `Int64`. A record outside it is dropped and counted
///   (``DecodeReport/rejectedTimes``).
/// - **End before start** (a router's clock stepped mid-flow): the record is kept with its end
///   set to its start, and counted (``DecodeReport/repairedTimes``). Its addresses, ports and
///   counters are still good.
/// - **Relative to the receive time**, when ``maximumAgeMilliseconds`` or
///   ``maximumLeadMilliseconds`` is set (the live collector sets both): a flow that started
///   longer ago than the age, or ends further ahead of the receive time than the lead, is
///   dropped and counted. A spoofed record stamped in the future could otherwise push a
///   detector's window ahead and blind it to real traffic; one stamped decades ago would sit in
///   tables meant for recent traffic. Offline decoding (captures, archives) leaves both unset:
///   there the receive time is the capture's, and an exporter's clock may be off from it.
public struct FlowTimeWindow: Sendable, Hashable {
    /// 1970-01-01T00:00:00Z.
    public static let earliestMilliseconds: Int64 = 0
    /// 2100-01-01T00:00:00Z.
    public static let latestMilliseconds: Int64 = 4_102_444_800_000

    /// A flow starting longer than this before the receive time is refused; `nil`: no limit.
    public var maximumAgeMilliseconds: Int64?
    /// A flow ending more than this after the receive time is refused; `nil`: no limit.
    public var maximumLeadMilliseconds: Int64?

    public init(maximumAgeMilliseconds: Int64? = nil, maximumLeadMilliseconds: Int64? = nil) {
        self.maximumAgeMilliseconds = maximumAgeMilliseconds.map { min(max($0, 0), Self.latestMilliseconds) }
        self.maximumLeadMilliseconds = maximumLeadMilliseconds.map { min(max($0, 0), Self.latestMilliseconds) }
    }

    /// Only the absolute range: for captures and archives, whose receive time is not "now".
    public static let anyTime = FlowTimeWindow()

    /// The live collector's default: flows that started up to a day before they arrive (routers
    /// export long flows at their active timeout, at most an hour on common platforms; a day
    /// leaves room for a backlog), ending no more than ten minutes after (a router's clock a
    /// little ahead of this machine's).
    public static let live = FlowTimeWindow(maximumAgeMilliseconds: 86_400_000, maximumLeadMilliseconds: 600_000)

    /// What to do with a record's times.
    public enum Verdict: Sendable, Hashable {
        case accept
        /// Kept, with the end set to the start.
        case repairEndBeforeStart
        /// Before 1970 or after 2100.
        case outOfRange
        /// Started longer ago than ``maximumAgeMilliseconds``.
        case tooOld
        /// Ends further ahead than ``maximumLeadMilliseconds``.
        case ahead
    }

    /// The verdict on a flow of `start` ... `end` received at `now` (ms since the epoch). Pure,
    /// never traps, whatever the three values.
    @inlinable
    public func check(start: Int64, end: Int64, now: Int64) -> Verdict {
        guard start >= Self.earliestMilliseconds, start <= Self.latestMilliseconds,
            end >= Self.earliestMilliseconds, end <= Self.latestMilliseconds
        else { return .outOfRange }
        // `now` may be anything a caller passes: compare through differences only when it too is
        // in range, so that no subtraction can overflow.
        if now >= Self.earliestMilliseconds, now <= Self.latestMilliseconds {
            if let age = maximumAgeMilliseconds, now - min(start, end) > age { return .tooOld }
            // Against the later of the two: an end before the start is repaired to the start.
            if let lead = maximumLeadMilliseconds, max(start, end) - now > lead { return .ahead }
        }
        return end < start ? .repairEndBeforeStart : .accept
    }

    /// The earliest start and the latest end ``check(start:end:now:)`` accepts at `now`: a record
    /// with `minStart ≤ start ≤ end ≤ maxEnd` is accepted, one outside may still be repaired.
    @inlinable
    public func bounds(now: Int64) -> (minStart: Int64, maxEnd: Int64) {
        var minStart = Self.earliestMilliseconds
        var maxEnd = Self.latestMilliseconds
        if now >= Self.earliestMilliseconds, now <= Self.latestMilliseconds {
            if let age = maximumAgeMilliseconds { minStart = max(minStart, now - age) }
            if let lead = maximumLeadMilliseconds { maxEnd = min(maxEnd, now + lead) }
        }
        return (minStart, maxEnd)
    }

    /// Whether both times lie in the absolute range (1970–2100): what every stage after the
    /// decoder may assume, and checks again where records arrive from elsewhere (files, tests).
    @inlinable
    public static func isSane(start: Int64, end: Int64) -> Bool {
        start >= earliestMilliseconds && start <= latestMilliseconds && end >= start && end <= latestMilliseconds
    }

    /// Whether `time` lies in the absolute range (1970–2100).
    @inlinable
    public static func isSane(_ time: Int64) -> Bool {
        time >= earliestMilliseconds && time <= latestMilliseconds
    }
}

extension Int64 {
    /// `self − other`, saturated at `Int64`'s bounds instead of trapping: for ages and gaps
    /// computed from times that a caller, a sender or a file supplied.
    @inlinable
    public func saturatingDifference(_ other: Int64) -> Int64 {
        let (d, overflow) = subtractingReportingOverflow(other)
        return overflow ? (self >= 0 ? .max : .min) : d
    }
}
