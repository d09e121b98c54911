import MamoriCore
import Telephony

/// A Japanese carrier's voice subscribers and their calls for some days, with IRSF on hijacked
/// lines and the ground truth of it: the call records a CDR feed would deliver, in its order.
///
/// Homes call in the evening and at weekends, mostly within Japan, now and then family abroad;
/// businesses' PBXs call in office hours (JST), many short calls, some to trade partners abroad;
/// a few lines are heavy international users that are legitimate (call centres, a fleet's
/// satellite phones, traders in Pacific island states) — the hard negatives. IRSF episodes
/// (``TelephonyLabels``) hijack lines, mostly at night or at a weekend: short test calls, then
/// calls to premium, satellite, international-network or small-country ranges of the shipped
/// number plan, loud (many at once) or low and slow (a few an hour for days), several lines of
/// different customers pumping the same ranges in the same hours; then they stop.
///
/// Every choice comes from ``StableHash`` of the seed and what is decided (a line and an hour, an
/// episode), so equal configurations give equal records and labels. The records are generated
/// hour by hour and handed on in the order of their end: only the calls still in progress are
/// held, never the whole stream.
///
/// ```swift
/// let world = try TelephonyWorld(configuration: .init(seed: 1, lines: 10_000, days: 7))
/// for call in world.calls() { feed(call.record) }
/// let truth = world.labels   // Codable
/// ```
public struct TelephonyWorld: Sendable {
    public let configuration: Configuration
    /// The ground truth: episodes, hijacked lines, the ranges pumped, the fraudulent calls.
    public let labels: TelephonyLabels
    let traits: [LineTraits]
    /// Every fraudulent call (test calls included), by start.
    let fraudCalls: [PendingCall]
    /// The 1,000-number blocks (E.164 value ÷ 1000) IRSF pumps: no legitimate call goes there.
    let fraudBlocks: Set<UInt64>
    let lineNumberOffset: UInt64

    public init(configuration: Configuration) throws(SimulationConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        let seed = configuration.seed
        let n = configuration.lines
        lineNumberOffset = StableHash.of(seed, TelephonyTag.numbering) % 80_000_000
        var traits = [LineTraits]()
        traits.reserveCapacity(n)
        for i in 0..<n { traits.append(LineTraits(seed: seed, line: i, businessFraction: configuration.businessFraction, configuration)) }
        // The hard negatives: lines drawn at random, of their own kind from then on.
        var hardKinds: [TelephonyLineKind] = []
        hardKinds += Array(repeating: .callCentre, count: configuration.callCentreLines)
        hardKinds += Array(repeating: .satelliteFleet, count: configuration.satelliteFleetLines)
        hardKinds += Array(repeating: .islandTrade, count: configuration.islandTradeLines)
        var attempt: UInt64 = 0
        var ordinal = 0
        for kind in hardKinds {
            while true {
                var r = StableHash.generator(seed, TelephonyTag.hardNegative, attempt)
                attempt += 1
                let line = r.below(n)
                guard !traits[line].kind.isHardNegative else { continue }
                traits[line] = LineTraits(hardNegative: kind, ordinal: ordinal, seed: seed, line: line)
                ordinal += 1
                break
            }
        }
        self.traits = traits
        let plan = FraudPlan(configuration: configuration, traits: traits)
        fraudCalls = plan.calls
        fraudBlocks = plan.blocks
        labels = TelephonyLabels(world: configuration, plan: plan, traits: traits, lineNumberOffset: lineNumberOffset)
    }

    /// The lines of the world, 0..<``Configuration/lines``.
    public var lineCount: Int { traits.count }

    public func kind(ofLine line: Int) -> TelephonyLineKind { traits[line].kind }

    /// The account the records name for a line: its number as dialled in Japan (`0312345678`).
    public func account(ofLine line: Int) -> String { dialledText(lineNumber(line), .national) }

    /// The line's number as an E.164 value (8131234…).
    func lineNumber(_ line: Int) -> UInt64 {
        Self.lineNumber(line, area: traits[line].area, offset: lineNumberOffset)
    }

    /// Tokyo (03) or Osaka (06) and eight digits from 2000 0000 on, one number per line: the
    /// line's index through a bijection of 0..<80,000,000.
    static func lineNumber(_ line: Int, area: UInt8, offset: UInt64) -> UInt64 {
        let subscriber = (UInt64(line) &* 7_368_787 &+ offset) % 80_000_000 + 20_000_000
        return 81 * pow10[9] + UInt64(area) * pow10[8] + subscriber
    }

    /// The records, as the feed delivers them: by the time each call ended.
    public func calls() -> TelephonyCallStream { TelephonyCallStream(world: self) }
}

/// Domain-separation words of the telephony world's random streams.
enum TelephonyTag {
    static let line: UInt64 = 0x7E1_01
    static let numbering: UInt64 = 0x7E1_02
    static let hardNegative: UInt64 = 0x7E1_03
    static let hour: UInt64 = 0x7E1_04
    static let fixedNumber: UInt64 = 0x7E1_05
    static let campaign: UInt64 = 0x7E1_06
    static let episode: UInt64 = 0x7E1_07
    static let channel: UInt64 = 0x7E1_08
    static let hijack: UInt64 = 0x7E1_09
}

/// What a line is and how it calls: drawn once per line.
struct LineTraits: Sendable {
    var kind: TelephonyLineKind
    /// Tokyo (3) or Osaka (6).
    var area: UInt8
    /// Multiplies the line's calls per hour: households and companies differ in size.
    var activity: Float
    /// Index into the family or trade countries (or the hard negative's own list); 255: none.
    var abroad: UInt8 = 255
    var abroad2: UInt8 = 255
    /// Share of the line's calls that go abroad.
    var internationalShare: Float = 0
    /// The hard negative's number among its kind (which country a call centre calls).
    var ordinal: UInt16 = 0

    init(seed: UInt64, line: Int, businessFraction: Double, _ c: TelephonyWorld.Configuration) {
        var r = StableHash.generator(seed, TelephonyTag.line, UInt64(line))
        kind = r.chance(businessFraction) ? .business : .residential
        area = r.chance(0.7) ? 3 : 6
        // Households 0.5–4× the mean, companies 0.5–8×: a heavy tail (Pareto, α = 2, mean ≈ 1).
        activity = Float(r.pareto(minimum: 0.5, maximum: kind == .business ? 8 : 4))
        switch kind {
        case .residential:
            if r.chance(c.familyAbroadFraction) {
                abroad = UInt8(r.below(TelephonyNumbers.familyCountries.count))
                if r.chance(0.3) { abroad2 = UInt8(r.below(TelephonyNumbers.familyCountries.count)) }
                internationalShare = Float(0.15 + 0.2 * r.unit())
            } else {
                internationalShare = 0.002
            }
        case .business:
            if r.chance(0.7) {
                abroad = UInt8(r.below(TelephonyNumbers.tradeCountries.count))
                if r.chance(0.5) { abroad2 = UInt8(r.below(TelephonyNumbers.tradeCountries.count)) }
                internationalShare = Float(0.02 + 0.08 * r.unit())
            } else {
                internationalShare = 0.002
            }
        case .callCentre, .satelliteFleet, .islandTrade: break
        }
    }

    init(hardNegative kind: TelephonyLineKind, ordinal: Int, seed: UInt64, line: Int) {
        var r = StableHash.generator(seed, TelephonyTag.line, UInt64(line), 1)
        self.kind = kind
        area = r.chance(0.7) ? 3 : 6
        self.ordinal = UInt16(truncatingIfNeeded: ordinal)
        switch kind {
        case .callCentre:
            activity = Float(0.8 + 0.4 * r.unit())
            internationalShare = 0.97
        case .satelliteFleet:
            activity = Float(0.8 + 0.4 * r.unit())
            internationalShare = 0.7
        default:
            activity = Float(0.8 + 0.4 * r.unit())
            internationalShare = 0.6
        }
    }
}

/// Expected calls per hour of a line of activity 1, by JST hour.
enum CallingHours {
    static let residentialWeekday: [Double] = scaled(
        [0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.4, 1, 1.5, 2, 2.5, 2.5, 3, 2.5, 2.5, 2.5, 3, 4, 5.5, 6.5, 6, 4.5, 2.5, 1], perDay: 1.4)
    static let residentialWeekend: [Double] = scaled(
        [0.3, 0.2, 0.1, 0.05, 0.05, 0.05, 0.2, 0.6, 1.5, 3, 4, 4.5, 4.5, 4.5, 4.5, 4.5, 4.5, 5, 5.5, 6, 5.5, 4, 2.5, 1.2], perDay: 2)
    static let businessWeekday: [Double] = scaled(
        [0, 0, 0, 0, 0, 0, 0.05, 0.3, 2.5, 7, 9, 9, 4, 7.5, 9, 8.5, 7.5, 5, 2.5, 0.8, 0.4, 0.2, 0.1, 0.02], perDay: 30)
    /// Saturdays: a twentieth of a weekday; Sundays a fiftieth.
    static let businessSaturday: [Double] = businessWeekday.map { $0 * 0.05 }
    static let businessSunday: [Double] = businessWeekday.map { $0 * 0.02 }
    /// A call centre's agents: 9:00–18:00 on weekdays, Saturdays 10:00–17:00 at a third.
    static let callCentreWeekday: [Double] = (0..<24).map { h in
        switch h {
        case 9..<12, 13..<18: 150
        case 12: 90
        case 18: 40
        default: 0
        }
    }
    static let callCentreSaturday: [Double] = (0..<24).map { h in (10..<17).contains(h) ? 50 : 0 }
    /// The fleet's office: every day, 6:00–21:00 (the vessels are at sea at weekends too).
    static let fleet: [Double] = scaled((0..<24).map { h in (6..<21).contains(h) ? 1 : 0.03 }, perDay: 10)
    static let islandTradeWeekday: [Double] = scaled((0..<24).map { h in (8..<19).contains(h) ? 1 : 0.01 }, perDay: 8)

    static func scaled(_ shape: [Double], perDay: Double) -> [Double] {
        let sum = shape.reduce(0, +)
        return shape.map { $0 / sum * perDay }
    }

    static func rate(_ t: LineTraits, _ time: JapanTime) -> Double {
        let h = time.hour
        let base: Double
        switch t.kind {
        case .residential: base = time.isWeekday ? residentialWeekday[h] : residentialWeekend[h]
        case .business: base = time.isWeekday ? businessWeekday[h] : time.weekday == 6 ? businessSaturday[h] : businessSunday[h]
        case .islandTrade: base = time.isWeekday ? islandTradeWeekday[h] : islandTradeWeekday[h] * 0.05
        case .callCentre: base = time.isWeekday ? callCentreWeekday[h] : time.weekday == 6 ? callCentreSaturday[h] : 0
        case .satelliteFleet: base = time.isWeekday ? fleet[h] : fleet[h] * 0.6
        }
        return base * Double(t.activity)
    }
}

extension SplitMix64 {
    /// A log-normal value: `median` × e^(σZ), Z approximately standard normal (a sum of six
    /// uniforms), with only +, ×, ÷ so that every platform draws the same.
    mutating func logNormal(median: Double, sigma: Double) -> Double {
        let z = (unit() + unit() + unit() + unit() + unit() + unit() - 3) * 1.4142135623730951
        let x = sigma * z
        return median * (x <= 0 ? deterministicExp(x) : 1 / deterministicExp(-x))
    }

    /// A whole number of seconds, log-normal, within `bounds`.
    mutating func seconds(median: Double, sigma: Double, _ bounds: ClosedRange<Int>) -> Int {
        min(bounds.upperBound, max(bounds.lowerBound, Int(logNormal(median: median, sigma: sigma).rounded())))
    }

    /// A uniform integer in `range` (non-empty).
    mutating func int(in range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }
}
