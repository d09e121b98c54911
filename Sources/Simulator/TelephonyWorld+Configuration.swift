extension TelephonyWorld {
    /// Everything that shapes a telephony world. Two equal configurations give identical call
    /// records and identical labels.
    ///
    /// ```swift
    /// var c = TelephonyWorld.Configuration(seed: 7, lines: 5_000, days: 7)
    /// c.episodes = 20
    /// let world = try TelephonyWorld(configuration: c)
    /// ```
    public struct Configuration: Sendable, Hashable {
        /// Seed of every random choice.
        public var seed: UInt64
        /// Subscriber lines of the carrier (20 to 1,000,000): homes' phone lines and businesses'
        /// PBX trunks, the hard negatives among them.
        public var lines: Int
        /// Simulated days (1 to 366): calls are placed from ``startMilliseconds`` for this many days.
        public var days: Int
        /// When the world starts, ms since the Unix epoch: by default Monday 2026-12-07 00:00 JST.
        public var startMilliseconds: Int64 = 1_796_569_200_000
        /// Share of lines that are businesses' PBX trunks (weekday office hours, many short calls);
        /// the others are homes' lines (evenings and weekends).
        public var businessFraction: Double = 0.2
        /// Share of homes with family abroad, which they call a few times a week.
        public var familyAbroadFraction: Double = 0.15
        /// Hard negatives: call centres calling many numbers in one foreign country in office hours
        /// (up to ~150 calls an hour, several at once).
        public var callCentreLines: Int = 2
        /// Hard negatives: shipping or fishing companies calling their vessels' Inmarsat and Iridium
        /// numbers (satellite, high-cost) every day.
        public var satelliteFleetLines: Int = 1
        /// Hard negatives: traders calling partners in Pacific island states (Palau, Kiribati) —
        /// small-country ranges of the kind IRSF pumps.
        public var islandTradeLines: Int = 1
        /// IRSF episodes: hijacked lines pumping calls (a line may be hijacked twice). nil: two per
        /// simulated day but no more than one per 500 lines, at least 1 and at most 60.
        public var episodes: Int? = nil
        /// The softswitch whose CDRs the records are: Asterisk or Kamailio (see ``TelephonyFeed``).
        public var feed: TelephonyFeed = .asterisk
        /// Stop the record stream after this many records (the labels still describe the whole
        /// world); nil: every call of the simulated days.
        public var maximumRecords: Int? = nil

        public init(seed: UInt64 = 1, lines: Int = 10_000, days: Int = 7) {
            self.seed = seed
            self.lines = lines
            self.days = days
        }

        public var endMilliseconds: Int64 { startMilliseconds + Int64(days) * 86_400_000 }

        /// The number of IRSF episodes the world plans.
        public var episodeCount: Int { episodes ?? Swift.min(60, Swift.max(1, Swift.min(2 * days, lines / 500))) }

        var hardNegativeLines: Int { callCentreLines + satelliteFleetLines + islandTradeLines }

        /// Throws the first setting out of range (``TelephonyWorld/init(configuration:)`` does too).
        public func validate() throws(SimulationConfigurationError) {
            guard (20...1_000_000).contains(lines) else { throw .init("lines must be 20 to 1,000,000 (got \(lines))") }
            guard (1...366).contains(days) else { throw .init("days must be 1 to 366 (got \(days))") }
            for (name, v) in [("businessFraction", businessFraction), ("familyAbroadFraction", familyAbroadFraction)]
            where !(0...1).contains(v) {
                throw .init("\(name) must be between 0 and 1 (got \(v))")
            }
            for (name, v) in [
                ("callCentreLines", callCentreLines), ("satelliteFleetLines", satelliteFleetLines),
                ("islandTradeLines", islandTradeLines), ("episodes", episodeCount),
            ] where !(0...1000).contains(v) {
                throw .init("\(name) must be 0 to 1,000 (got \(v))")
            }
            guard hardNegativeLines + episodeCount <= lines / 2 else {
                throw .init(
                    "\(lines) lines are too few for \(hardNegativeLines) hard negatives and \(episodeCount) episodes (at most half the lines)"
                )
            }
            guard startMilliseconds >= 0, endMilliseconds < 4_102_444_800_000 else {
                throw .init("the world must lie between 1970 and 2100")
            }
            if let m = maximumRecords, m < 0 { throw .init("maximumRecords must not be negative") }
        }
    }
}

/// The softswitch a telephony world's records come from. The two record a call differently, as
/// their readers in `Telephony` do: Asterisk's `Master.csv` has the time the call was placed and
/// the answer, whole seconds, and the accountcode apart from the caller; Kamailio's dialog CDR
/// (`cdr_start_on_confirmed=1`) starts at the answer, in milliseconds, and its account is the
/// caller (`src_user`).
public enum TelephonyFeed: String, Sendable, Hashable, Codable, CaseIterable {
    case asterisk
    case kamailio
}

/// What kind of subscriber a line is.
public enum TelephonyLineKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// A home: evenings and weekends, mostly domestic and mobile, now and then family abroad.
    case residential
    /// A business's PBX: weekday office hours in JST, many short calls, some to trade partners abroad.
    case business
    /// Hard negative: a call centre calling many numbers in one foreign country, several at once.
    case callCentre = "call-centre"
    /// Hard negative: a company calling its vessels' satellite phones (Inmarsat, Iridium).
    case satelliteFleet = "satellite-fleet"
    /// Hard negative: a trader calling partners in small Pacific island states.
    case islandTrade = "island-trade"

    /// The hard negatives: heavy international use that is legitimate.
    public var isHardNegative: Bool { self == .callCentre || self == .satelliteFleet || self == .islandTrade }
}

/// How an IRSF episode pumps.
public enum TelephonyEpisodeStyle: String, Sendable, Hashable, Codable, CaseIterable {
    /// Many simultaneous long calls (6–30 channels, back to back) for an hour to a weekend.
    case loud
    /// A few simultaneous long calls (2–5 channels) for a night.
    case moderate
    /// A few calls an hour, one at a time, for days: what a rate threshold misses.
    case lowAndSlow = "low-and-slow"
}

/// How an episode picks numbers in its ranges.
public enum TelephonyNumbering: String, Sendable, Hashable, Codable, CaseIterable {
    /// Consecutive numbers of the block, one after the other.
    case sequential
    /// Any number of the block.
    case random
    /// One to three numbers of the block, again and again.
    case few
}
