import Telephony

/// The ground truth of a telephony world, written as JSON by `mamori simulate telephony --labels
/// FILE` (docs/simulator-labels.md, "Telephony world"). Times are ms since the Unix epoch; numbers
/// and ranges are E.164 digits without `+`; a range is a block of 1,000 numbers written as its
/// digits without the last three (`37190123` is +371 90123000 … +371 90123999), as
/// `CallClassifier`'s default range is.
public struct TelephonyLabels: Sendable, Hashable, Codable {
    public var schema = "mamori-telephony-labels/1"
    public var seed: UInt64
    /// Calls are placed in [start, end); the last ones end after it.
    public var start: Int64
    public var end: Int64
    public var feed: TelephonyFeed
    /// The world's local time (JST): its Asterisk `Master.csv` is written in it.
    public var timeZoneOffsetMinutes = 540
    public var lines: Int
    public var linesByKind: [String: Int]
    /// Every line hijacked, with its episodes' windows.
    public var hijackedLines: [HijackedLine]
    public var episodes: [Episode]
    /// Every range pumped, with the hours it was pumped in. No legitimate call of the world ever
    /// goes to one of these ranges: in those hours they carry fraud only.
    public var fraudRanges: [FraudRange]
    /// The legitimate heavy international users a detector must leave alone.
    public var hardNegatives: [HardNegative]

    public struct HijackedLine: Sendable, Hashable, Codable {
        /// The account its records carry.
        public var account: String
        public var kind: TelephonyLineKind
        public var episodes: [Window]
    }

    public struct Window: Sendable, Hashable, Codable {
        public var episode: Int
        public var start: Int64
        public var end: Int64
    }

    /// One hijacked line's fraud: from its first call (a test call, if any) to its last call's end.
    public struct Episode: Sendable, Hashable, Codable {
        public var id: Int
        /// Episodes of one campaign pump the same ranges at about the same time, from lines of
        /// different customers.
        public var campaign: Int
        public var account: String
        public var lineKind: TelephonyLineKind
        public var style: TelephonyEpisodeStyle
        public var numbering: TelephonyNumbering
        public var start: Int64
        public var pumpingStart: Int64
        public var end: Int64
        /// Simultaneous calls at most (back to back on each channel).
        public var channels: Int
        /// Short calls before the pumping, to see the range answer.
        public var testCalls: Int
        public var calls: Int
        public var answeredCalls: Int
        public var billedSeconds: Int
        public var ranges: [String]
        /// Every call of the episode, test calls included: the records' `callID`.
        public var callIDs: [String]
    }

    public struct FraudRange: Sendable, Hashable, Codable {
        public var range: String
        /// The shipped table's row its numbers fall in.
        public var tablePrefix: String
        public var country: String
        public var destination: String
        public var category: String
        public var episodes: [Int]
        public var calls: Int
        /// The hours (their start, ms, UTC-aligned) in which a fraudulent call to the range was
        /// placed or up: in each, the range carried fraud and nothing else.
        public var fraudOnlyHours: [Int64]
    }

    public struct HardNegative: Sendable, Hashable, Codable {
        public var account: String
        public var kind: TelephonyLineKind
        public var description: String
        /// The countries it calls (ISO 3166-1 alpha-2; XS for satellite networks).
        public var countries: [String]
        /// The numbers it calls again and again (empty for a call centre: many numbers).
        public var numbers: [String]
    }

    /// Every fraudulent call's id.
    public var fraudulentCallIDs: Set<String> { Set(episodes.flatMap(\.callIDs)) }

    init(world c: TelephonyWorld.Configuration, plan: FraudPlan, traits: [LineTraits], lineNumberOffset: UInt64) {
        func account(_ line: Int) -> String {
            dialledText(TelephonyWorld.lineNumber(line, area: traits[line].area, offset: lineNumberOffset), .national)
        }
        seed = c.seed
        start = c.startMilliseconds
        end = c.endMilliseconds
        feed = c.feed
        lines = traits.count
        var byKind: [String: Int] = [:]
        for t in traits { byKind[t.kind.rawValue, default: 0] += 1 }
        linesByKind = byKind
        episodes = plan.episodes.map { e in
            Episode(
                id: e.id, campaign: e.campaign, account: account(e.line), lineKind: traits[e.line].kind, style: e.style,
                numbering: e.numbering, start: e.start, pumpingStart: e.pumpingStart, end: e.end, channels: e.channels,
                testCalls: e.testCalls, calls: e.calls, answeredCalls: e.answered, billedSeconds: e.billedSeconds,
                ranges: e.blocks.map { String($0) }, callIDs: e.callIDs)
        }
        var byLine: [Int: [Window]] = [:]
        for e in plan.episodes { byLine[e.line, default: []].append(Window(episode: e.id, start: e.start, end: e.end)) }
        hijackedLines = byLine.keys.sorted().map { line in
            HijackedLine(
                account: account(line), kind: traits[line].kind, episodes: byLine[line]!.sorted { $0.start < $1.start })
        }
        var hours: [UInt64: Set<Int64>] = [:]
        var rangeEpisodes: [UInt64: Set<Int>] = [:]
        var rangeCalls: [UInt64: Int] = [:]
        for call in plan.calls {
            let block = call.number / 1000
            var h = floorDivide(call.start, 3_600_000)
            while h <= floorDivide(call.hangUp, 3_600_000) {
                hours[block, default: []].insert(h * 3_600_000)
                h += 1
            }
            rangeEpisodes[block, default: []].insert(Int(call.episode))
            rangeCalls[block, default: 0] += 1
        }
        fraudRanges = plan.destinations.keys.sorted().map { block in
            let d = plan.destinations[block]!
            return FraudRange(
                range: String(block), tablePrefix: d.prefix, country: d.country, destination: d.name, category: d.category.rawValue,
                episodes: rangeEpisodes[block, default: []].sorted(), calls: rangeCalls[block, default: 0],
                fraudOnlyHours: hours[block, default: []].sorted())
        }
        var negatives: [HardNegative] = []
        for (line, t) in traits.enumerated() where t.kind.isHardNegative {
            func fixed(_ slots: Range<Int>, _ templates: (Int) -> [NumberTemplate]) -> [String] {
                slots.map { slot in
                    String(TelephonyWorld.fixedNumber(seed: c.seed, line: line, slot: slot, templates(slot), avoiding: plan.blocks))
                }
            }
            switch t.kind {
            case .callCentre:
                let country = t.ordinal % 2 == 0 ? "US" : "PH"
                negatives.append(
                    HardNegative(
                        account: account(line), kind: t.kind,
                        description:
                            "call centre: weekdays 9:00-18:00 JST, up to ~150 calls an hour to many numbers in \(country), several at once",
                        countries: [country], numbers: []))
            case .satelliteFleet:
                negatives.append(
                    HardNegative(
                        account: account(line), kind: t.kind,
                        description: "fleet office: every day, its vessels' Inmarsat (+870) and Iridium (+881 6) phones, satellite ranges",
                        countries: ["XS"],
                        numbers: fixed(400..<409) { $0 < 406 ? [TelephonyNumbers.inmarsat] : [TelephonyNumbers.iridium] }))
            case .islandTrade:
                negatives.append(
                    HardNegative(
                        account: account(line), kind: t.kind,
                        description: "trader: weekday office hours, partners in Palau and Kiribati (small Pacific island states)",
                        countries: ["PW", "KI"],
                        numbers: fixed(500..<505) { TelephonyNumbers.islandPartners[$0 < 503 ? 0 : 1].templates }))
            case .residential, .business: break
            }
        }
        hardNegatives = negatives
    }
}
