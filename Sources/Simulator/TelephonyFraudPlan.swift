import MamoriCore
import Telephony

/// One IRSF episode as planned: a hijacked line pumping calls to some ranges for a while.
struct PlannedEpisode: Sendable {
    var id: Int
    var campaign: Int
    var line: Int
    var style: TelephonyEpisodeStyle
    var numbering: TelephonyNumbering
    /// The 1,000-number blocks pumped (E.164 value ÷ 1000).
    var blocks: [UInt64]
    /// Simultaneous calls (1 for low and slow).
    var channels: Int
    var pumpingStart: Int64
    /// When the fraudster stops placing calls (the calls up then run to their end).
    var pumpingEnd: Int64
    var testCalls = 0
    /// The first call (a test call, if any) and the last call's end: the episode's window.
    var start: Int64 = .max
    var end: Int64 = .min
    var calls = 0
    var answered = 0
    var billedSeconds = 0
    /// The ids of its calls, test calls first.
    var callIDs: [String] = []
}

/// The IRSF of a world: campaigns, each a fraudster's ranges and hours, carried out by one or
/// more hijacked lines (episodes), and every call they place. Built once; small beside the stream.
struct FraudPlan: Sendable {
    var episodes: [PlannedEpisode] = []
    /// Every fraudulent call, by start.
    var calls: [PendingCall] = []
    var blocks = Set<UInt64>()
    /// The shipped table's row of each block's numbers.
    var destinations: [UInt64: Destination] = [:]

    /// The campaigns' styles in turn, so that even a few episodes show each.
    static let styles: [TelephonyEpisodeStyle] = [.loud, .lowAndSlow, .moderate, .loud, .loud, .lowAndSlow, .moderate, .loud]

    init(configuration c: TelephonyWorld.Configuration, traits: [LineTraits]) {
        let plan = NumberPlan.shipped
        let seed = c.seed
        let t0 = c.startMilliseconds
        let t1 = c.endMilliseconds
        var remaining = c.episodeCount
        var campaign = 0
        var hijacked: [Int: [(Int64, Int64)]] = [:] // line → planned windows
        let fridays = (0..<c.days).compactMap { d -> Int64? in
            let dayStart = Self.japanDayStart(t0 + Int64(d) * 86_400_000)
            return JapanTime(dayStart).weekday == 5 ? dayStart : nil
        }
        while remaining > 0 {
            var r = StableHash.generator(seed, TelephonyTag.campaign, UInt64(campaign))
            let style = Self.styles[campaign % Self.styles.count]
            let lineCount = min(remaining, style == .loud ? 1 + r.below(4) : style == .moderate ? 1 + r.below(2) : 1)
            let numbering: TelephonyNumbering = style == .lowAndSlow ? .few : r.chance(0.5) ? .sequential : .random
            // Ranges: one to three blocks, mostly of one destination; high-cost ranges and small
            // countries' ranges by turns.
            var campaignBlocks: [UInt64] = []
            let catalogue = campaign % 2 == 0 ? TelephonyNumbers.fraudHighCost : TelephonyNumbers.fraudSmallCountries
            let first = catalogue[r.below(catalogue.count)]
            for i in 0..<(style == .loud ? 1 + r.below(3) : 1) {
                let template = i == 0 || r.chance(0.6) ? first : catalogue[r.below(catalogue.count)]
                if let (block, destination) = Self.drawBlock(template, plan: plan, taken: blocks, &r) {
                    campaignBlocks.append(block)
                    blocks.insert(block)
                    destinations[block] = destination
                }
            }
            guard !campaignBlocks.isEmpty else { // no block left to draw (a tiny table): the next campaign
                campaign += 1
                if campaign > 100_000 { break }
                continue
            }
            // When: a night, a weekend (from Friday evening) or, low and slow, any time for days.
            var anchor: Int64
            var duration: Int64
            switch style {
            case .loud where !fridays.isEmpty && r.chance(0.4):
                anchor = fridays[r.below(fridays.count)] + 19 * 3_600_000 + r.int64(in: 0..<9 * 3_600_000)
                duration = r.int64(in: 20 * 3_600_000..<56 * 3_600_000)
            case .loud, .moderate:
                let day = Self.japanDayStart(t0 + Int64(r.below(c.days)) * 86_400_000)
                anchor = day + 22 * 3_600_000 + r.int64(in: 0..<7 * 3_600_000)
                if anchor >= t1 - 3_600_000 { anchor = day + r.int64(in: 0..<5 * 3_600_000) }
                duration =
                    style == .loud
                    ? Int64(r.seconds(median: 3 * 3600, sigma: 0.8, 2400...36_000)) * 1000 : r.int64(in: 3 * 3_600_000..<12 * 3_600_000)
            case .lowAndSlow:
                anchor = t0 + 2 * 3_600_000 + r.int64(in: 0..<max(1, t1 - t0 - 8 * 3_600_000))
                duration = r.int64(in: 36 * 3_600_000..<120 * 3_600_000)
            }
            anchor = min(max(anchor, t0 + 1_800_000), t1 - 1_800_000)
            var campaignLines: Set<Int> = []
            for j in 0..<lineCount {
                var e = StableHash.generator(seed, TelephonyTag.episode, UInt64(campaign), UInt64(j))
                let start = j == 0 ? anchor : min(t1 - 600_000, anchor + e.int64(in: 0..<3 * 3_600_000))
                let end = min(t1, start + max(1_200_000, Int64(Double(duration) * (0.5 + 0.7 * e.unit()))))
                let line = Self.hijack(
                    traits: traits, seed: seed, campaign: campaign, slot: j, window: (start, end), hijacked: hijacked,
                    exclude: campaignLines)
                campaignLines.insert(line)
                hijacked[line, default: []].append((start, end))
                let channels =
                    switch style {
                    case .loud: e.int(in: 6...30)
                    case .moderate: e.int(in: 2...5)
                    case .lowAndSlow: 1
                    }
                var episode = PlannedEpisode(
                    id: episodes.count, campaign: campaign, line: line, style: style, numbering: numbering, blocks: campaignBlocks,
                    channels: channels, pumpingStart: start, pumpingEnd: end)
                generateCalls(&episode, seed: seed, worldStart: t0, worldEnd: t1)
                episodes.append(episode)
            }
            remaining -= lineCount
            campaign += 1
        }
        // Ids: the order the calls were planned in, then the stream's order of starts.
        for i in calls.indices {
            calls[i].serial = 1 << 40 | UInt64(i)
            episodes[Int(calls[i].episode)].callIDs.append(calls[i].callID)
        }
        calls.sort { $0.start != $1.start ? $0.start < $1.start : $0.serial < $1.serial }
    }

    /// Midnight in Japan of the day `ms` falls in.
    static func japanDayStart(_ ms: Int64) -> Int64 { JapanTime(ms).day * 86_400_000 - JapanTime.offsetMilliseconds }

    /// A block of `template`'s numbers that the table puts in the template's own row, not yet taken.
    static func drawBlock(_ template: NumberTemplate, plan: NumberPlan, taken: Set<UInt64>, _ r: inout SplitMix64)
        -> (UInt64, Destination)?
    {
        let free = template.digits - 3 - template.prefixDigits
        guard free >= 0 else { return nil }
        for _ in 0..<40 {
            let block = template.prefix * pow10[free] + UInt64(r.below(Int(pow10[free])))
            guard !taken.contains(block), let number = E164Number(digits: String(block * 1000)),
                let destination = plan.lookup(number), destination.prefix == String(template.prefix)
            else { continue }
            return (block, destination)
        }
        return nil
    }

    /// The line a campaign hijacks: now and then one hijacked before (its PBX was never fixed),
    /// else a business's PBX (85 %) or a home's line not hijacked yet; never a hard negative.
    static func hijack(
        traits: [LineTraits], seed: UInt64, campaign: Int, slot: Int, window: (Int64, Int64), hijacked: [Int: [(Int64, Int64)]],
        exclude: Set<Int>
    ) -> Int {
        var r = StableHash.generator(seed, TelephonyTag.hijack, UInt64(campaign), UInt64(slot))
        if !hijacked.isEmpty && r.chance(0.15) {
            let candidates = hijacked.keys.sorted()
            let line = candidates[r.below(candidates.count)]
            // Test calls come up to 6 h before a planned window, calls run up to 2 h after it.
            let margin: Int64 = 12 * 3_600_000
            if !exclude.contains(line),
                hijacked[line, default: []].allSatisfy({ window.1 + margin < $0.0 || $0.1 + margin < window.0 })
            {
                return line
            }
        }
        let wanted: TelephonyLineKind = r.chance(0.85) ? .business : .residential
        for attempt in 0..<100_000 {
            let line = r.below(traits.count)
            let kind = traits[line].kind
            guard !kind.isHardNegative, hijacked[line] == nil, !exclude.contains(line) else { continue }
            if kind == wanted || attempt > 500 { return line }
        }
        // Unreachable while hard negatives and episodes take at most half the lines (validated).
        return (0..<traits.count).first { !traits[$0].kind.isHardNegative && !exclude.contains($0) } ?? 0
    }

    /// Test calls, then the pumping, each call to one of the episode's blocks.
    mutating func generateCalls(_ e: inout PlannedEpisode, seed: UInt64, worldStart: Int64, worldEnd: Int64) {
        var r = StableHash.generator(seed, TelephonyTag.episode, UInt64(e.id), 0x7E57)
        let base = r.below(1000)
        var made: [PendingCall] = []
        func call(_ start: Int64, _ number: UInt64, _ form: DialForm) -> PendingCall {
            PendingCall(
                hangUp: start, start: start, answer: -1, number: number, serial: 0, line: Int32(e.line), billed: 0, episode: Int32(e.id),
                form: form, outcome: .noAnswer)
        }
        // A few seconds to the range, to see that it connects, minutes to hours before.
        if r.chance(0.6) {
            let lead = r.int64(in: 600_000..<6 * 3_600_000)
            for _ in 0..<(1 + r.below(4)) {
                let t = e.pumpingStart - lead + r.int64(in: 0..<lead)
                guard t >= worldStart else { continue }
                var c = call(t, e.blocks[0] * 1000 + UInt64(r.below(1000)), .international)
                if r.chance(0.7) {
                    c.outcome = .answered
                    c.answer = t + r.int64(in: 2000..<6000)
                    c.billed = Int32(r.int(in: 1...8))
                    c.hangUp = c.answer + Int64(c.billed) * 1000
                } else {
                    c.hangUp = t + r.int64(in: 10_000..<30_000)
                }
                made.append(c)
                e.testCalls += 1
            }
        }
        func number(_ r: inout SplitMix64, channel: Int, index: Int) -> UInt64 {
            let block = e.blocks[r.below(e.blocks.count)]
            switch e.numbering {
            case .sequential: return block * 1000 + UInt64((base + channel + index * e.channels) % 1000)
            case .random: return block * 1000 + UInt64(r.below(1000))
            case .few: return block * 1000 + UInt64((base + 97 * r.below(3)) % 1000)
            }
        }
        switch e.style {
        case .loud, .moderate:
            // Each channel calls back to back: ring, a long answered call, a few seconds, the next.
            let median: Double = e.style == .loud ? 1200 : 900
            for channel in 0..<e.channels {
                var ch = StableHash.generator(seed, TelephonyTag.channel, UInt64(e.id), UInt64(channel))
                var t = e.pumpingStart + (channel == 0 ? 0 : ch.int64(in: 0..<600_000))
                var index = 0
                while t < e.pumpingEnd && t < worldEnd {
                    var c = call(t, number(&ch, channel: channel, index: index), ch.chance(0.05) ? .plus : .international)
                    if ch.chance(0.9) {
                        c.outcome = .answered
                        c.answer = t + ch.int64(in: 2000..<8000)
                        c.billed = Int32(ch.seconds(median: median, sigma: 0.7, 60...7200))
                        c.hangUp = c.answer + Int64(c.billed) * 1000
                    } else {
                        c.outcome = ch.chance(0.5) ? .failed : .noAnswer
                        c.hangUp = t + ch.int64(in: 1000..<30_000)
                    }
                    made.append(c)
                    index += 1
                    t = c.hangUp + ch.int64(in: 1000..<30_000)
                    if ch.chance(0.04) { t += ch.int64(in: 300_000..<1_800_000) }
                }
            }
        case .lowAndSlow:
            // A few calls an hour, whatever the hour, for days.
            let perHour = 0.5 + 2.5 * r.unit()
            var hour = e.pumpingStart
            var index = 0
            while hour < e.pumpingEnd && hour < worldEnd {
                for _ in 0..<r.poisson(perHour) {
                    let t = hour + r.int64(in: 0..<3_600_000)
                    guard t < e.pumpingEnd && t < worldEnd else { continue }
                    var c = call(t, number(&r, channel: 0, index: index), .international)
                    index += 1
                    if r.chance(0.85) {
                        c.outcome = .answered
                        c.answer = t + r.int64(in: 2000..<8000)
                        c.billed = Int32(r.seconds(median: 420, sigma: 0.6, 30...3600))
                        c.hangUp = c.answer + Int64(c.billed) * 1000
                    } else {
                        c.hangUp = t + r.int64(in: 10_000..<30_000)
                    }
                    made.append(c)
                }
                hour += 3_600_000
            }
        }
        // The pumping starts with its first call (low and slow: within the planned hour).
        e.pumpingStart = made.dropFirst(e.testCalls).map(\.start).min() ?? e.pumpingStart
        for c in made {
            e.start = min(e.start, c.start)
            e.end = max(e.end, c.hangUp)
            e.calls += 1
            if c.outcome == .answered {
                e.answered += 1
                e.billedSeconds += Int(c.billed)
            }
        }
        if made.isEmpty {
            e.start = e.pumpingStart
            e.end = e.pumpingStart
        }
        calls += made
    }
}
