import MamoriCore
import Telephony

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A line reported for fraud: which signals held, what it called, since when.
public struct FraudFinding: Sendable, Hashable, Codable, Identifiable {
    public var id: String
    /// The line or account (the one billed).
    public var account: String
    /// The first and the latest fraudulent call's start (ms).
    public var firstCall: Int64
    public var lastCall: Int64
    /// When it was first reported (the feed's time, ms).
    public var detectedAt: Int64
    /// Each signal that held, with what was measured the last time it held.
    public var signals: [FraudSignal: Double]
    /// Fraudulent calls so far, and their billed seconds.
    public var calls: Int
    public var billedSeconds: Int
    /// Ranges called (1,000-number blocks, E.164 digits) with their fraudulent calls; the ten largest.
    public var ranges: [String: Int]
    /// Countries (ISO codes, or the plan's pseudo codes) of those calls.
    public var countries: [String]
    public var businessLine: Bool
    /// The episode is over: no suspicious call for the quiet time.
    public var ended: Bool
}

/// A call classed as fraudulent, for the billing system (victims are not to pay for it).
public struct FraudulentCall: Sendable, Hashable, Codable {
    public var findingID: String
    public var account: String
    public var callID: String
    public var start: Int64
    public var dialled: String
    /// E.164 digits.
    public var number: String
    /// The block of numbers it fell in, and the number plan's row (a country, a network).
    public var range: String
    public var destinationPrefix: String
    public var country: String
    public var destination: String
    public var billedSeconds: Int
    public var outcome: CallRecord.Outcome
    public var refusedByBlock: Bool
    /// true: the call is still up (reported when it was answered; ``billedSeconds`` is 0 so far).
    public var inProgress: Bool?
    /// true: this ends a call reported while it was up, with its billed time; the destination's
    /// figures counted it then (the billing system replaces the earlier row).
    public var update: Bool?
}

public enum FraudEvent: Sendable, Hashable {
    /// A new finding, or one that changed (new signals, more calls).
    case finding(FraudFinding)
    case fraudulentCall(FraudulentCall)
    /// The episode is over.
    case ended(FraudFinding)
}

/// Follows every line's calls and reports hijacked lines: the signals of ``FraudSignal`` over a
/// sliding window, each line against its own usual international calling and, while it is new,
/// against its peers'. Calls are taken in the order the feed delivers them (by their end); the
/// feed's latest time is the detector's clock (a pure value: no clock is read).
///
/// Memory is bounded: ``FraudSettings/maximumLines`` lines, ``FraudSettings/maximumCallsPerLine``
/// calls and ``FraudSettings/maximumKnownRanges`` known ranges each.
public struct FraudDetector: Sendable {
    public let settings: FraudSettings
    /// Accounts that are business lines whatever their calls look like (from the configuration).
    public var businessAccounts: Set<String>
    private var lines: [String: LineState] = [:]
    private var openEpisodes: Set<String> = []
    private var peers = PeerRates()
    /// The feed's latest time (ms).
    public private(set) var now: Int64 = 0
    /// Lines not followed because ``FraudSettings/maximumLines`` were.
    public private(set) var linesNotFollowed = 0
    /// Calls taken, and calls dropped from full windows.
    public private(set) var callsTaken = 0
    public private(set) var callsDroppedFromWindows = 0
    /// The last call taken ended a call taken while it was up (its destination was counted then),
    /// or repeated one up already (and was passed over).
    public private(set) var lastCallCompleted = false
    public private(set) var lastCallRepeated = false

    public init(settings: FraudSettings = FraudSettings(), businessAccounts: Set<String> = []) {
        self.settings = settings
        self.businessAccounts = businessAccounts
    }

    public var linesFollowed: Int { lines.count }
    public var openFindings: Int { openEpisodes.count }

    /// Takes one call; returns what it caused.
    public mutating func take(_ call: Call) -> [FraudEvent] {
        let r = call.record
        now = max(now, r.end)
        callsTaken += 1
        lastCallCompleted = false
        lastCallRepeated = false
        var events = endQuietEpisodes()
        guard !call.isEmergency else { return events }
        let account = r.account
        var line: LineState
        if let l = lines.removeValue(forKey: account) {
            line = l
        } else {
            guard lines.count < settings.maximumLines else {
                linesNotFollowed += 1
                return events
            }
            line = LineState(firstSeen: r.start)
        }
        switch line.take(call, settings: settings, peers: &peers, droppedFromWindow: &callsDroppedFromWindows, now: now) {
        case .repeated:
            lastCallRepeated = true
            lines[account] = line
            return events
        case .completed: lastCallCompleted = true
        case .new: break
        }
        let isBusiness = businessAccounts.contains(account) || line.looksLikeBusiness(settings)
        let measured = line.signals(settings: settings, peers: peers, isBusiness: isBusiness)
        // Volume alone (many calls, many minutes, many at once) is what a call centre does too: one
        // signal of where the calls go or how they are made must hold as well.
        let pattern = measured.keys.contains { !FraudSignal.volume.contains($0) }
        let volume = measured[.burst] != nil || measured[.minutesBurst] != nil || measured[.highCost] != nil
        let suspicious =
            pattern
            && ((measured.count >= settings.signalsWithVolume && volume) || measured.count >= settings.signalsAlone
                || measured[.sustained] != nil)
        if var episode = line.episode {
            var changed = false
            if call.isInternational || call.isHighCost, episode.isFraudulent(call) {
                events.append(.fraudulentCall(episode.record(call)))
                episode.lastSuspicious = max(episode.lastSuspicious, r.start)
                changed = true
            }
            if suspicious {
                episode.lastSuspicious = max(episode.lastSuspicious, r.start)
                for (s, v) in measured where episode.finding.signals[s] == nil {
                    episode.finding.signals[s] = v
                    changed = true
                }
            }
            if changed { events.append(.finding(episode.finding)) }
            line.episode = episode
        } else if suspicious, call.isInternational || call.isHighCost {
            let from = min(line.windowStart, line.novel.lazy.map(\.record.start).min() ?? .max)
            var episode = Episode(
                account: account, detectedAt: now, signals: measured, known: line.knownBefore(window: from), businessLine: isBusiness)
            // The window's calls that belong to it are fraudulent from their start, not from the
            // report; so are the calls of the day to the destinations the line had never called.
            var calls: [FraudulentCall] = []
            var recorded = Set<String>()
            for c in line.novel.lazy + line.international.lazy.map(\.call)
            where episode.isFraudulent(c) && recorded.insert(c.record.callID).inserted {
                calls.append(episode.record(c))
            }
            episode.lastSuspicious = r.start
            events.append(.finding(episode.finding))
            events += calls.map(FraudEvent.fraudulentCall)
            if !calls.isEmpty { events.append(.finding(episode.finding)) }
            line.episode = episode
            openEpisodes.insert(account)
        } else {
            line.learnConcurrency()
        }
        lines[account] = line
        return events
    }

    /// Ends the episodes quiet since ``FraudSettings/quietMinutes`` at `time` (the service calls
    /// it with its clock when the feed is idle).
    public mutating func advance(to time: Int64) -> [FraudEvent] {
        now = max(now, time)
        return endQuietEpisodes()
    }

    private mutating func endQuietEpisodes() -> [FraudEvent] {
        guard !openEpisodes.isEmpty else { return [] }
        var events: [FraudEvent] = []
        let quiet = settings.quietMinutes * 60_000
        for account in openEpisodes {
            guard var line = lines[account], var episode = line.episode else {
                openEpisodes.remove(account)
                continue
            }
            guard now - episode.lastSuspicious >= quiet else { continue }
            episode.finding.ended = true
            events.append(.ended(episode.finding))
            line.episode = nil
            line.endEpisode(known: episode.finding.ranges.keys)
            lines[account] = line
            openEpisodes.remove(account)
        }
        return events
    }
}

/// The usual rate of international calls and minutes of all lines past their learning time, by kind.
struct PeerRates: Sendable {
    var sum = [0.0, 0.0]
    var minutes = [0.0, 0.0]
    var count = [0, 0]

    func rate(business: Bool) -> Double? {
        let k = business ? 1 : 0
        return count[k] > 0 ? sum[k] / Double(count[k]) : nil
    }

    func minuteRate(business: Bool) -> Double? {
        let k = business ? 1 : 0
        return count[k] > 0 ? minutes[k] / Double(count[k]) : nil
    }
}

extension FraudSignal {
    /// Signals about how much, not where or how: a call centre shows them too.
    static let volume: Set<FraudSignal> = [.burst, .minutesBurst, .concurrency]
}

struct Mark: Sendable {
    var call: Call
    /// The range had not been called by the line before (and the line has a history).
    var newRange: Bool
}

struct LineState: Sendable {
    /// An answered call whose record never came is taken as ended this long after its answer.
    static let openCallLimit: Int64 = 4 * 3_600_000

    enum Taken {
        case new
        /// The record of a call taken while it was up.
        case completed
        /// A call up already (the softswitch logged its answer twice).
        case repeated
    }

    var firstSeen: Int64
    /// Calls up (answered, their record not come yet), by Call-ID, with their answer.
    var open: [String: Int64] = [:]
    /// Calls in the window: international ones whole, all of them as (start, end) for concurrency.
    var international: [Mark] = []
    var spans: [(start: Int64, end: Int64)] = []
    var known: [E164Number: Int64] = [:]
    /// Destinations of the number plan (countries, networks) the line has called, with when.
    var knownDestinations: [String: Int64] = [:]
    /// Destinations first called once the line had a history, within the sustained window, with
    /// when; and the international calls to them in that window (empty for almost every line).
    var novelDestinations: [String: Int64] = [:]
    var novel: [Call] = []
    /// Usual international calls and minutes per hour (EWMA), the hour they are folded up to, the
    /// calls and billed seconds since.
    var rate = 0.0
    var minuteRate = 0.0
    var rateHour: Int64 = -1
    var pending = 0
    var pendingSeconds = 0
    /// Counted into the peers' rates (past the learning time), with its kind then.
    var inPeers: Bool? = nil
    var usualConcurrent = 1
    var currentConcurrent = 1
    var calls = 0
    var businessHourCalls = 0
    var episode: Episode?

    init(firstSeen: Int64) { self.firstSeen = firstSeen }

    /// The earliest start in the window (a call's record, when it ends, goes after the calls
    /// answered since, so the first mark is not always the earliest).
    var windowStart: Int64 { international.lazy.map(\.call.record.start).min() ?? 0 }

    mutating func take(_ call: Call, settings s: FraudSettings, peers: inout PeerRates, droppedFromWindow: inout Int, now: Int64)
        -> Taken
    {
        let r = call.record
        // A call up is taken when it is answered; its record, when it ends, replaces it.
        var carriedNew: Bool?
        var completed = false
        if r.inProgress {
            guard !r.callID.isEmpty, open[r.callID] == nil else { return .repeated }
            if open.count >= s.maximumCallsPerLine, let oldest = open.min(by: { $0.value < $1.value }) {
                open.removeValue(forKey: oldest.key)
            }
            open[r.callID] = r.start
        } else if !r.callID.isEmpty, let answeredAt = open.removeValue(forKey: r.callID) {
            completed = true
            if let i = spans.firstIndex(where: { $0.start == answeredAt && $0.end == answeredAt + Self.openCallLimit }) {
                spans.remove(at: i)
            }
            if let i = international.firstIndex(where: { $0.call.record.callID == r.callID }) {
                carriedNew = international[i].newRange
                international.remove(at: i)
            }
            novel.removeAll { $0.record.callID == r.callID }
        }
        firstSeen = min(firstSeen, r.start)
        let from = now - s.windowMilliseconds
        international.removeAll { $0.call.record.end < from }
        spans.removeAll { $0.end < from }
        if open.values.contains(where: { $0 < now - Self.openCallLimit }) { open = open.filter { $0.value >= now - Self.openCallLimit } }
        if !completed {
            calls += 1
            if Self.inBusinessHours(r.start, s) { businessHourCalls += 1 }
        }
        currentConcurrent = 1 + spans.reduce(0) { $0 + ($1.start < r.end && $1.end > r.start ? 1 : 0) }
        spans.append((r.start, r.inProgress ? r.start + Self.openCallLimit : r.end))
        if spans.count > s.maximumCallsPerLine {
            spans.removeFirst(spans.count - s.maximumCallsPerLine)
            droppedFromWindow += 1
        }
        guard call.isInternational || call.isHighCost, let range = call.range else { return completed ? .completed : .new }
        foldRate(upTo: r.start / 3_600_000, s, peers: &peers, business: looksLikeBusiness(s))
        if !completed { pending += 1 }
        pendingSeconds += r.billedSeconds
        let hasHistory = r.start - firstSeen >= s.learningHours * 3_600_000
        let destination = call.destination?.prefix ?? range.digits
        let isNew = carriedNew ?? (hasHistory && knownDestinations[destination] == nil)
        international.append(Mark(call: call, newRange: isNew))
        let isNovel = knownDestinations[destination] == nil && r.start - firstSeen >= s.sustainedHistoryHours * 3_600_000
        takeNovel(call, destination: destination, isNew: isNovel, s, now: now)
        if knownDestinations[destination] == nil {
            if knownDestinations.count >= s.maximumKnownRanges, let oldest = knownDestinations.min(by: { $0.value < $1.value }) {
                knownDestinations.removeValue(forKey: oldest.key)
            }
            knownDestinations[destination] = r.start
        }
        if international.count > s.maximumCallsPerLine {
            international.removeFirst(international.count - s.maximumCallsPerLine)
            droppedFromWindow += 1
        }
        if known[range] == nil {
            if known.count >= s.maximumKnownRanges, let oldest = known.min(by: { $0.value < $1.value }) {
                known.removeValue(forKey: oldest.key)
            }
            known[range] = r.start
        }
        return completed ? .completed : .new
    }

    /// Keeps the calls to destinations new to the line for the sustained window.
    private mutating func takeNovel(_ call: Call, destination: String, isNew: Bool, _ s: FraudSettings, now: Int64) {
        let from = now - s.sustainedWindowMilliseconds
        if !novel.isEmpty { novel.removeAll { $0.record.end < from } }
        if novelDestinations.values.contains(where: { $0 < from }) { novelDestinations = novelDestinations.filter { $0.value >= from } }
        if isNew, novelDestinations.count < s.maximumKnownRanges { novelDestinations[destination] = call.record.start }
        guard novelDestinations[destination] != nil else { return }
        novel.append(call)
        if novel.count > s.maximumCallsPerLine { novel.removeFirst(novel.count - s.maximumCallsPerLine) }
    }

    /// Folds the finished hours into the usual rates; a line past its learning time joins the peers.
    mutating func foldRate(upTo hour: Int64, _ s: FraudSettings, peers: inout PeerRates, business: Bool) {
        if rateHour < 0 { rateHour = hour }
        guard hour > rateHour else { return }
        let keep = Self.pow(0.5, 1 / s.baselineHalfLifeHours)
        let old = (rate, minuteRate)
        let gap = Self.pow(keep, Double(hour - rateHour - 1))
        rate = (rate * keep + (1 - keep) * Double(pending)) * gap
        minuteRate = (minuteRate * keep + (1 - keep) * Double(pendingSeconds) / 60) * gap
        pending = 0
        pendingSeconds = 0
        rateHour = hour
        let learned = hour * 3_600_000 - firstSeen >= s.learningHours * 3_600_000
        if let was = inPeers {
            peers.sum[was ? 1 : 0] -= old.0
            peers.minutes[was ? 1 : 0] -= old.1
            peers.count[was ? 1 : 0] -= 1
            inPeers = nil
        }
        if learned {
            peers.sum[business ? 1 : 0] += rate
            peers.minutes[business ? 1 : 0] += minuteRate
            peers.count[business ? 1 : 0] += 1
            inPeers = business
        }
    }

    func knownBefore(window start: Int64) -> Set<E164Number> {
        Set(known.lazy.filter { $0.value < start }.map(\.key))
    }

    mutating func learnConcurrency() { usualConcurrent = max(usualConcurrent, currentConcurrent) }

    /// After an episode the ranges it pumped are not "known" to the line: calling them again is new.
    mutating func endEpisode(known pumped: some Sequence<String>) {
        for digits in pumped {
            if let n = E164Number(digits: digits) { known.removeValue(forKey: n) }
        }
    }

    func looksLikeBusiness(_ s: FraudSettings) -> Bool {
        calls >= s.businessMinimumCalls && Double(businessHourCalls) >= s.businessShare * Double(calls)
    }

    /// The signals that hold now, with what was measured.
    func signals(settings s: FraudSettings, peers: PeerRates, isBusiness: Bool) -> [FraudSignal: Double] {
        var out: [FraudSignal: Double] = [:]
        let count = international.count
        guard count > 0 || currentConcurrent > 1 else { return out }
        let learned = (international.last?.call.record.start ?? firstSeen) - firstSeen >= s.learningHours * 3_600_000
        let usual = learned ? rate : (peers.rate(business: isBusiness) ?? rate)
        let expected = max(usual, 0.1) * Double(s.windowMinutes) / 60
        if count >= s.burstMinimumCalls, Double(count) >= s.burstFactor * expected {
            out[.burst] = Double(count)
        }
        let minutes = Double(international.reduce(0) { $0 + $1.call.record.billedSeconds }) / 60
        let usualMinutes = learned ? minuteRate : (peers.minuteRate(business: isBusiness) ?? minuteRate)
        if minutes >= s.burstMinimumMinutes, minutes >= s.burstFactor * max(usualMinutes, 1) * Double(s.windowMinutes) / 60 {
            out[.minutesBurst] = minutes.rounded()
        }
        if let sustained = sustainedMinutes(s, usual: learned ? minuteRate : max(minuteRate, usualMinutes)) {
            out[.sustained] = sustained.rounded()
        }
        let highCost = international.reduce(0) { $0 + ($1.call.isHighCost ? 1 : 0) }
        if highCost >= s.highCostCalls { out[.highCost] = Double(highCost) }
        var newDestinations = Set<String>()
        var byRange: [E164Number: [Mark]] = [:]
        for m in international {
            guard let range = m.call.range else { continue }
            if m.newRange { newDestinations.insert(m.call.destination?.prefix ?? range.digits) }
            byRange[range, default: []].append(m)
        }
        if newDestinations.count >= s.newDestinations { out[.newDestinations] = Double(newDestinations.count) }
        var sweep = 0
        var testThenLong = false
        for (_, marks) in byRange {
            let numbers = Set(marks.compactMap { $0.call.number.map(Self.value) }).sorted()
            sweep = max(
                sweep,
                numbers.count >= s.numbersInOneRange
                    ? numbers.count : Self.longestRun(numbers, span: s.sequentialSpan, need: s.sequentialNumbers))
            if !testThenLong,
                let test = marks.lazy.filter({
                    $0.call.record.outcome == .answered && !$0.call.record.inProgress && $0.call.record.billedSeconds <= s.testCallSeconds
                })
                .map({ $0.call.record.start }).min(),
                marks.contains(where: { $0.call.record.start > test && $0.call.record.billedSeconds >= s.longCallSeconds })
            {
                testThenLong = true
            }
        }
        if sweep >= s.sequentialNumbers { out[.rangeSweep] = Double(sweep) }
        if testThenLong { out[.testThenLong] = 1 }
        if currentConcurrent >= max(usualConcurrent + s.concurrencyMargin, s.concurrencyMinimum) {
            out[.concurrency] = Double(currentConcurrent)
        }
        if isBusiness {
            let off = international.reduce(0) { $0 + (Self.inBusinessHours($1.call.record.start, s) ? 0 : 1) }
            if off >= s.offHoursCalls { out[.offHours] = Double(off) }
        }
        return out
    }

    /// The most minutes called to one destination new to the line over the sustained window, if
    /// they pass the bars (hours, minutes, and the line's usual minutes per hour over as long;
    /// while the line is learning, its peers' if more).
    func sustainedMinutes(_ s: FraudSettings, usual perHour: Double) -> Double? {
        guard novel.count >= s.sustainedHours else { return nil }
        var seconds: [String: Int] = [:]
        var hours: [String: Set<Int64>] = [:]
        for c in novel {
            let key = c.destination?.prefix ?? c.range?.digits ?? ""
            seconds[key, default: 0] += c.record.billedSeconds
            hours[key, default: []].insert(c.record.start / 3_600_000)
        }
        let usual = max(perHour, 0.1) * Double(s.sustainedWindowMinutes) / 60
        var best: Double?
        for (key, total) in seconds where hours[key, default: []].count >= s.sustainedHours {
            let minutes = Double(total) / 60
            if minutes >= s.sustainedMinimumMinutes, minutes >= s.sustainedFactor * usual { best = max(best ?? 0, minutes) }
        }
        return best
    }

    /// The most numbers of a sorted list within `span` of the first of them, if at least `need`.
    static func longestRun(_ sorted: [UInt64], span: UInt64, need: Int) -> Int {
        var best = 0
        var lo = 0
        for hi in sorted.indices {
            while sorted[hi] - sorted[lo] > span { lo += 1 }
            best = max(best, hi - lo + 1)
        }
        return best >= need ? best : 0
    }

    static func value(_ n: E164Number) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<n.digitCount { v = v * 10 + UInt64(n.digit(at: i)) }
        return v
    }

    /// Monday to Friday within the business hours, at the settings' offset.
    static func inBusinessHours(_ ms: Int64, _ s: FraudSettings) -> Bool {
        let local = ms / 1000 + Int64(s.offsetMinutes) * 60
        let day = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let hour = Int((local - day * 86_400) / 3600)
        // 1970-01-01 was a Thursday: weekday 0 = Monday.
        let weekday = Int(((day + 3) % 7 + 7) % 7)
        return weekday < 5 && s.businessHours.contains(hour)
    }

    static func pow(_ base: Double, _ exponent: Double) -> Double {
        guard exponent != 0 else { return 1 }
        guard base > 0 else { return 0 }
        return exp(exponent * log(base))
    }
}

/// One hijacking of a line, from its report until it has been quiet long enough.
struct Episode: Sendable {
    var finding: FraudFinding
    /// Ranges the line called before the episode: calls to them are not fraud.
    var known: Set<E164Number>
    var lastSuspicious: Int64 = 0
    /// Calls reported fraudulent while they were up, whose records have not come yet.
    var reportedUp: Set<String> = []

    init(account: String, detectedAt: Int64, signals: [FraudSignal: Double], known: Set<E164Number>, businessLine: Bool) {
        finding = FraudFinding(
            id: "fraud-\(account)-\(detectedAt)", account: account, firstCall: detectedAt, lastCall: detectedAt,
            detectedAt: detectedAt, signals: signals, calls: 0, billedSeconds: 0, ranges: [:], countries: [],
            businessLine: businessLine, ended: false)
        self.known = known
    }

    func isFraudulent(_ call: Call) -> Bool {
        guard let range = call.range else { return false }
        return call.isHighCost || !known.contains(range)
    }

    mutating func record(_ call: Call) -> FraudulentCall {
        let r = call.record
        let update = !r.inProgress && !r.callID.isEmpty && reportedUp.remove(r.callID) != nil
        if r.inProgress, reportedUp.count < 4096 { reportedUp.insert(r.callID) }
        if finding.calls == 0 || r.start < finding.firstCall { finding.firstCall = r.start }
        finding.lastCall = max(finding.lastCall, r.start)
        finding.billedSeconds += r.billedSeconds
        if !update { finding.calls += 1 }
        if !update, let range = call.range {
            let key = range.digits
            if finding.ranges[key] != nil || finding.ranges.count < 10 { finding.ranges[key, default: 0] += 1 }
        }
        let country = call.destination?.country ?? "??"
        if !finding.countries.contains(country), finding.countries.count < 20 { finding.countries.append(country) }
        return FraudulentCall(
            findingID: finding.id, account: r.account, callID: r.callID, start: r.start, dialled: r.dialled,
            number: call.number?.digits ?? "", range: call.range?.digits ?? "", destinationPrefix: call.destination?.prefix ?? "",
            country: country, destination: call.destination?.name ?? "",
            billedSeconds: r.billedSeconds, outcome: r.outcome, refusedByBlock: r.refusedByBlock, inProgress: r.inProgress ? true : nil,
            update: update ? true : nil)
    }
}
