/// A call record with its numbers read: what was dialled (E.164, a short code, or nothing
/// usable), the destination the number plan gives it, the range it falls in, and whether it
/// left the country, cost extra or was an emergency call.
public struct Call: Sendable, Hashable {
    public var record: CallRecord
    public var dialled: DialledNumber
    public var destination: Destination?
    /// The block of numbers it falls in (``CallClassifier/range``), for E.164 numbers.
    public var range: E164Number?
    /// To another country than the carrier's.
    public var isInternational: Bool
    /// To a satellite, international-network, premium or carrier-flagged high-cost range.
    public var isHighCost: Bool
    /// To one of the emergency or public-safety numbers, which no rule ever blocks.
    public var isEmergency: Bool

    /// The E.164 number dialled, if it was one. Stored, not derived from ``dialled``: Swift 6.3's
    /// optimizer crashed (CopyPropagation, "Found ownership error") on a release build of the fraud
    /// detector when this was a computed `if case` over the enum.
    public var number: E164Number?
}

/// Reads the numbers of call records with one carrier's dialling rules and number plan.
public struct CallClassifier: Sendable {
    public let rules: DialingRules
    public var plan: NumberPlan
    /// Short codes never blocked: Japan's 110 (police), 118 (coast guard), 119 (fire and
    /// ambulance) and the 112 and 911 that phones also route, by default.
    public var emergencyNumbers: Set<String>
    /// What "one range" is: by default the block of 1,000 consecutive numbers a number sits in,
    /// the size in which premium and IRSF ranges are leased.
    public var range: NumberPlan.RangeGranularity
    /// The carrier's country code as a number prefix, read once (not for every call).
    private let home: E164Number?

    public static let defaultEmergencyNumbers: Set<String> = ["110", "118", "119", "112", "911"]

    public init(
        rules: DialingRules, plan: NumberPlan, emergencyNumbers: Set<String> = Self.defaultEmergencyNumbers,
        range: NumberPlan.RangeGranularity = .block(droppingLast: 3)
    ) {
        self.rules = rules
        self.plan = plan
        self.emergencyNumbers = emergencyNumbers
        self.range = range
        home = E164Number(digits: rules.countryCode)
    }

    public func classify(_ record: CallRecord) -> Call {
        let dialled = rules.classify(record.dialled)
        switch dialled {
        case .e164(let n):
            let index = plan.lookupIndex(n)
            let destination = index.map { plan.destinations[$0] }
            let domestic = home.map { n.hasPrefix($0) } ?? false
            return Call(
                record: record, dialled: dialled, destination: destination, range: plan.rangeKey(of: n, range),
                isInternational: !domestic, isHighCost: destination?.isHighCost ?? false, isEmergency: false, number: n)
        case .shortCode(let s):
            return Call(
                record: record, dialled: dialled, destination: nil, range: nil, isInternational: false, isHighCost: false,
                isEmergency: emergencyNumbers.contains(s), number: nil)
        case .invalid:
            return Call(
                record: record, dialled: dialled, destination: nil, range: nil, isInternational: false, isHighCost: false,
                isEmergency: false, number: nil)
        }
    }
}
