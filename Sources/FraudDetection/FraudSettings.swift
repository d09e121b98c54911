import Telephony

/// The bars of the fraud detectors. Defaults are a starting point for a Japanese carrier; the
/// evaluation (EVALUATION.md) says what they catch and miss on the simulated worlds.
public struct FraudSettings: Sendable, Hashable {
    /// The sliding window the signals look at.
    public var windowMinutes: Int64 = 60
    /// A burst: at least this many international calls in the window …
    public var burstMinimumCalls = 8
    /// … and this many times what the line (or, while it is new, its peers) usually makes.
    public var burstFactor = 4.0
    /// A burst of minutes: at least this many international minutes billed in the window, and
    /// ``burstFactor`` times the line's (or its peers') usual minutes. Long calls, few of them.
    public var burstMinimumMinutes = 90.0
    /// How fast a line's usual rate of international calls and minutes forgets (half-life, hours).
    public var baselineHalfLifeHours = 72.0
    /// A line younger than this has no usual rate of its own: its peers' stands for it.
    public var learningHours: Int64 = 72
    /// Calls to high-cost ranges (satellite, international networks, premium) in the window.
    public var highCostCalls = 2
    /// Destinations of the number plan (countries, satellite and international networks) the line
    /// never called before, in the window (once the line has a history). Destinations, not blocks
    /// of numbers: a call centre calls new blocks of one country all day.
    public var newDestinations = 2
    /// Distinct numbers of one range in the window …
    public var numbersInOneRange = 5
    /// … or this many numbers of one range within ``sequentialSpan`` of each other.
    public var sequentialNumbers = 3
    public var sequentialSpan: UInt64 = 20
    /// Calls up at the same time, beyond the most the line had before (and at least the minimum).
    public var concurrencyMargin = 2
    public var concurrencyMinimum = 3
    /// Business hours (local time at ``offsetMinutes``), Monday to Friday.
    public var businessHours: Range<Int> = 8..<19
    public var offsetMinutes = 540
    /// International calls outside business hours, in the window, on a business line.
    public var offHoursCalls = 3
    /// A test call: answered and shorter than this; a long call: longer than ``longCallSeconds``.
    public var testCallSeconds = 10
    public var longCallSeconds = 600
    /// A line is reported when this many signals hold at once, one of them a burst (of calls or of
    /// minutes) or high-cost calls; or ``signalsAlone`` signals whatever they are — and in either
    /// case at least one that is not about volume (bursts and concurrency alone are what a call
    /// centre shows). ``FraudSignal/sustained`` is reported alone: it is both a pattern and a volume.
    public var signalsWithVolume = 2
    public var signalsAlone = 3
    /// Sustained calling ("low and slow"): over ``sustainedWindowMinutes``, calls to one destination
    /// the line first called within that window (once it has a history), in at least
    /// ``sustainedHours`` different hours, for at least ``sustainedMinimumMinutes`` billed minutes
    /// and ``sustainedFactor`` times the line's usual international minutes over as long. A few
    /// calls an hour, round the clock, to a country or network the line never called: what a rate
    /// threshold per hour misses.
    public var sustainedWindowMinutes: Int64 = 1440
    /// A destination is new to a line that has been followed this long without calling it
    /// (shorter than ``learningHours``: a hijacking in a line's first days is not to be missed).
    public var sustainedHistoryHours: Int64 = 24
    public var sustainedHours = 6
    public var sustainedMinimumMinutes = 60.0
    public var sustainedFactor = 4.0
    /// An episode ends after this long without a suspicious call.
    public var quietMinutes: Int64 = 120
    /// Lines followed at once (a new line past this is counted, not followed).
    public var maximumLines = 2_000_000
    /// Calls kept per line in the window (past this the oldest go first).
    public var maximumCallsPerLine = 4_096
    /// Ranges remembered per line as "called before".
    public var maximumKnownRanges = 256
    /// A line is a business line when it has made at least this many calls, at least
    /// ``businessShare`` of them in business hours (lines listed in the configuration are
    /// business lines whatever they do).
    public var businessMinimumCalls = 20
    public var businessShare = 0.8

    public init() {}

    var windowMilliseconds: Int64 { windowMinutes * 60_000 }
    var sustainedWindowMilliseconds: Int64 { sustainedWindowMinutes * 60_000 }
}

/// What made a line suspect: each is measured in the window and kept as evidence.
public enum FraudSignal: String, Sendable, Hashable, Codable, CodingKeyRepresentable, CaseIterable, Comparable {
    /// Many more international calls than the line (or its peers) usually make.
    case burst
    /// Many more international minutes than the line (or its peers) usually run up.
    case minutesBurst = "minutes_burst"
    /// Calls to satellite, international-network or premium ranges.
    case highCost = "high_cost"
    /// Destinations (countries, networks) the line never called before.
    case newDestinations = "new_destinations"
    /// Many numbers, or sequential numbers, in one range: a range being pumped.
    case rangeSweep = "range_sweep"
    /// More calls at once than the line ever had.
    case concurrency
    /// International calls at night or at a weekend from a business line.
    case offHours = "off_hours"
    /// Short test calls to a range, then long calls to it.
    case testThenLong = "test_then_long"
    /// Hours of calls, spread over a day, to a destination the line had never called.
    case sustained

    public static func < (a: FraudSignal, b: FraudSignal) -> Bool { a.rawValue < b.rawValue }
}
