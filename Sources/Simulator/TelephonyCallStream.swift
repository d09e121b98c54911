import MamoriCore
import Telephony

/// One call of a telephony world: the record the feed delivers, and what the simulator knows of it.
public struct SimulatedCall: Sendable, Hashable {
    /// What a detector sees: the CDR as the configured feed's reader gives it back.
    public var record: CallRecord
    /// When the call ended and its CDR was written, ms: the stream's order. The answer plus the
    /// billed time for an answered call; the hang-up after ringing (later than ``CallRecord/end``,
    /// which is the start) for one never answered.
    public var hangUp: Int64
    /// Ground truth, not for detectors: the line that placed the call (0..<lines) and its kind.
    public var line: Int
    public var lineKind: TelephonyLineKind
    /// Ground truth: the IRSF episode (``TelephonyLabels/Episode/id``) the call belongs to; nil
    /// for a legitimate call.
    public var episode: Int?
}

/// The records of a ``TelephonyWorld`` in the order a CDR feed delivers them: by the time each
/// call ended (``SimulatedCall/hangUp``, ties by start and id). Calls are generated an hour of
/// start times at a time; a call is handed on once no call generated later can end before it, so
/// only the calls in progress at the hour's end are held.
public struct TelephonyCallStream: Sequence, IteratorProtocol, Sendable {
    let world: TelephonyWorld
    let hours: Int
    var nextHour = 0
    var pending = CallHeap()
    var fraudCursor = 0
    /// Records handed on so far.
    public private(set) var delivered = 0
    /// The most calls held at once (generated, not yet handed on): the stream's memory.
    public private(set) var mostPending = 0

    init(world: TelephonyWorld) {
        self.world = world
        hours = world.configuration.days * 24
    }

    /// Every call placed before this time has been generated (the simulated clock of progress).
    public var generatedUntil: Int64 { world.hourStart(nextHour) }

    public mutating func next() -> SimulatedCall? {
        if let limit = world.configuration.maximumRecords, delivered >= limit { return nil }
        while true {
            if let top = pending.top, nextHour >= hours || top.hangUp < world.hourStart(nextHour) {
                let call = pending.pop()
                delivered += 1
                return world.simulated(call)
            }
            guard nextHour < hours else { return nil }
            generate(hour: nextHour)
            nextHour += 1
            mostPending = Swift.max(mostPending, pending.count)
        }
    }

    private mutating func generate(hour: Int) {
        let start = world.hourStart(hour)
        let end = world.hourStart(hour + 1)
        let time = JapanTime(start)
        for line in 0..<world.lineCount {
            world.legitimateCalls(line: line, hour: hour, hourStart: start, time: time, into: &pending)
        }
        let fraud = world.fraudCalls
        while fraudCursor < fraud.count && fraud[fraudCursor].start < end {
            pending.push(fraud[fraudCursor])
            fraudCursor += 1
        }
    }
}

/// A call as generated, before it is written as a record: fixed size, no strings.
struct PendingCall: Sendable {
    var hangUp: Int64
    /// Placed, ms.
    var start: Int64
    /// Answered, ms; -1 if never.
    var answer: Int64
    /// The E.164 value dialled, or a short code's digits.
    var number: UInt64
    /// With the start's second, the call's id: line × 4096 + its number in the hour for
    /// legitimate calls, 2⁴⁰ + its index for fraudulent ones.
    var serial: UInt64
    var line: Int32
    var billed: Int32
    /// -1: legitimate.
    var episode: Int32
    var form: DialForm
    var outcome: CallRecord.Outcome

    /// The stream's order.
    static func precedes(_ a: PendingCall, _ b: PendingCall) -> Bool {
        if a.hangUp != b.hangUp { return a.hangUp < b.hangUp }
        if a.start != b.start { return a.start < b.start }
        return a.serial < b.serial
    }

    /// `<start second>.<serial>`, Asterisk's uniqueid form, used by both feeds.
    var callID: String { callIdentifier(start: start, serial: serial) }
}

func callIdentifier(start: Int64, serial: UInt64) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(32)
    appendInteger(floorDivide(start, 1000), to: &bytes)
    bytes.append(UInt8(ascii: "."))
    appendDigits(serial, to: &bytes)
    return String(decoding: bytes, as: UTF8.self)
}

/// A binary min-heap of calls in the stream's order.
struct CallHeap: Sendable {
    private var items: [PendingCall] = []

    var count: Int { items.count }
    var top: PendingCall? { items.first }

    mutating func push(_ call: PendingCall) {
        items.append(call)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard PendingCall.precedes(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    /// Removes and returns the first call; the heap must not be empty.
    mutating func pop() -> PendingCall {
        let first = items[0]
        let last = items.removeLast()
        guard !items.isEmpty else { return first }
        items[0] = last
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < n && PendingCall.precedes(items[l], items[m]) { m = l }
            if r < n && PendingCall.precedes(items[r], items[m]) { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return first
    }
}

/// How long a kind of call lasts and how often it is answered.
struct CallProfile: Sendable {
    let median: Double
    let sigma: Double
    let longest: Int
    let answered: Double

    static let fixed = CallProfile(median: 100, sigma: 1.1, longest: 7200, answered: 0.78)
    static let mobile = CallProfile(median: 70, sigma: 1.1, longest: 5400, answered: 0.75)
    static let office = CallProfile(median: 55, sigma: 1, longest: 3600, answered: 0.72)
    static let service = CallProfile(median: 180, sigma: 0.9, longest: 3600, answered: 0.9)
    static let family = CallProfile(median: 600, sigma: 0.8, longest: 7200, answered: 0.75)
    static let trade = CallProfile(median: 150, sigma: 0.9, longest: 3600, answered: 0.65)
    static let callCentre = CallProfile(median: 170, sigma: 0.8, longest: 3600, answered: 0.55)
    static let vessel = CallProfile(median: 240, sigma: 0.7, longest: 3600, answered: 0.7)
    static let island = CallProfile(median: 300, sigma: 0.7, longest: 3600, answered: 0.65)
    static let emergency = CallProfile(median: 90, sigma: 0.6, longest: 1800, answered: 1)
    static let information = CallProfile(median: 30, sigma: 0.4, longest: 180, answered: 1)
}

extension TelephonyWorld {
    func hourStart(_ hour: Int) -> Int64 { configuration.startMilliseconds + Int64(hour) * 3_600_000 }

    /// The legitimate calls `line` places in `hour`, into the heap.
    func legitimateCalls(line: Int, hour: Int, hourStart: Int64, time: JapanTime, into heap: inout CallHeap) {
        let t = traits[line]
        let lambda = CallingHours.rate(t, time)
        guard lambda > 0 else { return }
        var r = StableHash.generator(configuration.seed, TelephonyTag.hour, UInt64(line), UInt64(hour))
        let count = min(r.poisson(lambda), 4095)
        guard count > 0 else { return }
        for k in 0..<count {
            let start = hourStart + r.int64(in: 0..<3_600_000)
            let (number, form, profile) = destination(line: line, t, &r)
            var call = PendingCall(
                hangUp: 0, start: start, answer: -1, number: number, serial: UInt64(line) << 12 | UInt64(k), line: Int32(line),
                billed: 0, episode: -1, form: form, outcome: .answered)
            Self.ring(&call, profile, &r)
            heap.push(call)
        }
    }

    /// Whether the call is answered, when, for how long, and when it ends.
    static func ring(_ call: inout PendingCall, _ p: CallProfile, _ r: inout SplitMix64) {
        if r.chance(p.answered) {
            call.outcome = .answered
            call.answer = call.start + r.int64(in: 2000..<20_000)
            call.billed = Int32(r.seconds(median: p.median, sigma: p.sigma, 1...p.longest))
            call.hangUp = call.answer + Int64(call.billed) * 1000
        } else {
            let v = r.unit()
            let ringing: Range<Int64>
            if v < 0.6 {
                call.outcome = .noAnswer
                ringing = 15_000..<45_000
            } else if v < 0.85 {
                call.outcome = .busy
                ringing = 1000..<4000
            } else {
                call.outcome = .failed
                ringing = 200..<3000
            }
            call.hangUp = call.start + r.int64(in: ringing)
        }
    }

    /// Whom a legitimate call goes to, as dialled, and what kind of call it is.
    func destination(line: Int, _ t: LineTraits, _ r: inout SplitMix64) -> (UInt64, DialForm, CallProfile) {
        let seed = configuration.seed
        switch t.kind {
        case .residential:
            let u = r.unit()
            if u < 0.0005 { return (TelephonyNumbers.emergency[r.below(TelephonyNumbers.emergency.count)], .short, .emergency) }
            if u < 0.0035 { return (TelephonyNumbers.information[r.below(TelephonyNumbers.information.count)], .short, .information) }
            if r.chance(Double(t.internationalShare)) {
                let form: DialForm = r.chance(0.03) ? .plus : .international
                if t.abroad == 255 {
                    let country = TelephonyNumbers.familyCountries[r.below(TelephonyNumbers.familyCountries.count)]
                    return (avoidingFraud(country.templates[r.below(country.templates.count)], &r), form, .family)
                }
                let which = t.abroad2 != 255 && r.chance(0.3) ? t.abroad2 : t.abroad
                let country = TelephonyNumbers.familyCountries[Int(which)]
                let number = Self.fixedNumber(
                    seed: seed, line: line, slot: Int(which) * 8 + r.below(3), country.templates, avoiding: fraudBlocks)
                return (number, form, .family)
            }
            let v = r.unit()
            if v < 0.45 {
                if r.chance(0.04) { // a neighbour, dialled without the area code
                    let number = 81 * pow10[9] + UInt64(t.area) * pow10[8] + 20_000_000 + UInt64(r.below(80_000_000))
                    return (number, .local, .fixed)
                }
                return (draw(TelephonyNumbers.domesticFixed, &r), .national, .fixed)
            }
            if v < 0.9 { return (draw(TelephonyNumbers.domesticMobile, &r), .national, .mobile) }
            if v < 0.93 { return (TelephonyNumbers.ipPhone.draw(&r), .national, .mobile) }
            if v < 0.97 { return (TelephonyNumbers.freephone.draw(&r), .national, .service) }
            return (TelephonyNumbers.naviDial.draw(&r), .national, .service)
        case .business:
            if r.chance(0.0002) { return (TelephonyNumbers.emergency[r.below(TelephonyNumbers.emergency.count)], .short, .emergency) }
            if r.chance(Double(t.internationalShare)) {
                let form: DialForm = r.chance(0.05) ? .plus : .international
                let which =
                    t.abroad == 255
                    ? r.below(TelephonyNumbers.tradeCountries.count) : Int(t.abroad2 != 255 && r.chance(0.4) ? t.abroad2 : t.abroad)
                let country = TelephonyNumbers.tradeCountries[which]
                if t.abroad != 255 && r.chance(0.7) {
                    let number = Self.fixedNumber(
                        seed: seed, line: line, slot: 200 + which * 8 + r.below(4), country.templates, avoiding: fraudBlocks)
                    return (number, form, .trade)
                }
                return (avoidingFraud(country.templates[r.below(country.templates.count)], &r), form, .trade)
            }
            return officeDomestic(&r)
        case .callCentre:
            guard r.chance(Double(t.internationalShare)) else { return officeDomestic(&r) }
            let country = t.ordinal % 2 == 0 ? TelephonyNumbers.unitedStates : TelephonyNumbers.philippines
            return (avoidingFraud(country.templates[r.below(country.templates.count)], &r), .international, .callCentre)
        case .satelliteFleet:
            guard r.chance(Double(t.internationalShare)) else { return officeDomestic(&r) }
            let vessel = r.below(9)
            let template = vessel < 6 ? TelephonyNumbers.inmarsat : TelephonyNumbers.iridium
            return (
                Self.fixedNumber(seed: seed, line: line, slot: 400 + vessel, [template], avoiding: fraudBlocks), .international, .vessel
            )
        case .islandTrade:
            guard r.chance(Double(t.internationalShare)) else { return officeDomestic(&r) }
            let partner = r.below(5)
            let country = TelephonyNumbers.islandPartners[partner < 3 ? 0 : 1]
            return (
                Self.fixedNumber(seed: seed, line: line, slot: 500 + partner, country.templates, avoiding: fraudBlocks), .international,
                .island
            )
        }
    }

    private func officeDomestic(_ r: inout SplitMix64) -> (UInt64, DialForm, CallProfile) {
        let v = r.unit()
        if v < 0.5 { return (draw(TelephonyNumbers.domesticFixed, &r), .national, .office) }
        if v < 0.85 { return (draw(TelephonyNumbers.domesticMobile, &r), .national, .office) }
        if v < 0.93 { return (TelephonyNumbers.freephone.draw(&r), .national, .service) }
        if v < 0.97 { return (TelephonyNumbers.naviDial.draw(&r), .national, .service) }
        return (TelephonyNumbers.ipPhone.draw(&r), .national, .office)
    }

    private func draw(_ templates: [NumberTemplate], _ r: inout SplitMix64) -> UInt64 {
        templates[r.below(templates.count)].draw(&r)
    }

    private func avoidingFraud(_ template: NumberTemplate, _ r: inout SplitMix64) -> UInt64 {
        Self.avoiding(fraudBlocks, template, &r)
    }

    /// A number of `template` outside the IRSF blocks (drawn again while it falls in one).
    static func avoiding(_ blocks: Set<UInt64>, _ template: NumberTemplate, _ r: inout SplitMix64) -> UInt64 {
        var n = template.draw(&r)
        var tries = 0
        while blocks.contains(n / 1000) && tries < 64 {
            n = template.draw(&r)
            tries += 1
        }
        return n
    }

    /// A number the line calls again and again (a relative, a partner, a vessel): the same for a
    /// line and slot all run long.
    static func fixedNumber(seed: UInt64, line: Int, slot: Int, _ templates: [NumberTemplate], avoiding blocks: Set<UInt64>)
        -> UInt64
    {
        var r = StableHash.generator(seed, TelephonyTag.fixedNumber, UInt64(line), UInt64(slot))
        return avoiding(blocks, templates[r.below(templates.count)], &r)
    }

    /// The call as the configured feed records it.
    func simulated(_ c: PendingCall) -> SimulatedCall {
        let line = Int(c.line)
        let account = account(ofLine: line)
        let dialled = dialledText(c.number, c.form)
        let answered = c.answer >= 0
        var record: CallRecord
        switch configuration.feed {
        case .asterisk:
            record = CallRecord(
                feed: "asterisk", callID: c.callID, account: account, caller: account, dialled: dialled,
                start: floorDivide(c.start, 1000) * 1000, answered: answered ? floorDivide(c.answer, 1000) * 1000 : nil,
                billedSeconds: Int(c.billed), outcome: c.outcome)
        case .kamailio:
            // cdr_start_on_confirmed=1: an answered call's CDR starts at the answer.
            record = CallRecord(
                feed: "kamailio", callID: c.callID, account: account, caller: account, dialled: dialled,
                start: answered ? c.answer : c.start, answered: answered ? c.answer : nil, billedSeconds: Int(c.billed),
                outcome: c.outcome)
        }
        record.refusedByBlock = false
        return SimulatedCall(
            record: record, hangUp: c.hangUp, line: line, lineKind: traits[line].kind, episode: c.episode >= 0 ? Int(c.episode) : nil)
    }
}
