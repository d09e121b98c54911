import FraudDetection
import HeapModule
import MamoriCore
import Simulator
import Telephony

/// Scores the IRSF detectors and block rules on a simulated telephony world (issue 24): its calls
/// go through a softswitch emulated the way docs/kamailio.md configures Kamailio (emergency
/// numbers first, opted-out lines through, the longest blocked prefix refused — the refused
/// attempt logged as Kamailio logs it), then through the `FraudEngine` as `mamori serve` runs it,
/// with the clock ticking every simulated minute. Each call is screened when it is placed; with
/// ``answers`` (as Kamailio logs them) an answered call is also taken when it is answered, its
/// record when it ends. Against the world's labels: hijacked lines
/// found, blocked ranges, time to detect and to block, calls blocked that were not fraud, and the
/// calls classed fraudulent for the billing system.
public struct TelephonyEvaluation: Sendable {
    public var settings: FraudSettings
    public var policy: BlockPolicy
    public var optOuts: Set<String>
    /// The softswitch reports answers (Kamailio's `ACC: transaction answered`), not only records
    /// at the end (Asterisk's Master.csv).
    public var answers: Bool

    public init(
        settings: FraudSettings = FraudSettings(), policy: BlockPolicy = BlockPolicy(), optOuts: Set<String> = [], answers: Bool = true
    ) {
        self.settings = settings
        self.policy = policy
        self.optOuts = optOuts
        self.answers = answers
    }

    /// A call placed (screened, and taken as up if answered) or ended (its record), in time order.
    struct Event: Comparable {
        var time: Int64
        var serial: Int
        var ends: Bool
        var call: SimulatedCall
        static func < (a: Event, b: Event) -> Bool { (a.time, a.serial) < (b.time, b.serial) }
        static func == (a: Event, b: Event) -> Bool { a.time == b.time && a.serial == b.serial }
    }

    /// The world's calls come in the order they end; a call is placed at most this long before
    /// (the longest call of the simulator, two hours, and its ringing).
    static let lookahead: Int64 = 7_800_000

    public struct Score: Sendable, Codable, Hashable {
        public var seed: UInt64
        public var lines: Int
        public var days: Int
        public var calls: Int
        public var internationalCalls: Int
        public var hijackedLines: Int
        public var linesFlagged: Int
        public var linesFlaggedHijacked: Int
        public var linePrecision: Double
        public var lineRecall: Double
        public var episodes: Int
        public var episodesDetected: Int
        /// From an episode's first call to the finding (s), over the episodes detected.
        public var secondsToDetect: [Double]
        /// From the pumping's start (after the test calls, which may come hours before) to the finding (s).
        public var secondsToDetectFromPumping: [Double] = []
        /// The same, by the episode's style (loud, moderate, low and slow).
        public var episodesByStyle: [String: StyleTally] = [:]
        /// Hard negatives (call centres, fleets, island traders) flagged.
        public var hardNegativesFlagged: [String]
        /// The signals of the findings on lines that were not hijacked, by how often each held.
        public var falsePositiveSignals: [String: Int]
        /// The same for the findings on hijacked lines.
        public var truePositiveSignals: [String: Int]
        public var fraudRanges: Int
        public var rangesBlocked: Int
        public var rangesBlockedFraud: Int
        public var rangePrecision: Double
        public var rangeRecall: Double
        /// From the first fraudulent call to a range to its block (s), over the ranges blocked.
        public var secondsToBlock: [Double]
        public var destinationsProposed: [String]
        /// Calls the emulated softswitch refused: fraudulent ones, and legitimate ones (none may be
        /// to an emergency number).
        public var blockedFraudulentCalls: Int
        public var blockedLegitimateCalls: Int
        public var blockedEmergencyCalls: Int
        /// Legitimate international calls placed while at least one block was in force, to judge the rate by.
        public var legitimateInternationalCalls: Int
        /// Fraudulent calls of the labels, and those Mamori classed fraudulent (for the billing system).
        public var fraudulentCalls: Int
        public var classedFraudulent: Int
        public var classedFraudulentCorrectly: Int
        public var billingPrecision: Double
        public var billingRecall: Double
        /// Fraudulent minutes the softswitch let through before the block, and after.
        public var fraudulentBilledSeconds: Int
        public var fraudulentBilledSecondsLabelled: Int
    }

    /// Episodes of one style: how many, how many detected, and how fast (s, sorted).
    public struct StyleTally: Sendable, Codable, Hashable {
        public var episodes = 0
        public var detected = 0
        public var secondsToDetect: [Double] = []
        public var secondsToDetectFromPumping: [Double] = []
    }

    /// Runs the world; `progress` is told the calls done now and then.
    public func run(_ world: TelephonyWorld, progress: (Int) -> Void = { _ in }) -> Score {
        let labels = world.labels
        let classifier = CallClassifier(rules: .japan, plan: .shipped)
        var engine = FraudEngine(detector: FraudDetector(settings: settings), book: BlockRuleBook(policy: policy))
        var flagged: [String: Int64] = [:] // finding id → detectedAt
        var findingAccount: [String: String] = [:]
        var findingSignals: [String: Set<FraudSignal>] = [:]
        var classed = Set<String>()
        var blockedAt: [String: Int64] = [:]
        var proposedDestinations = Set<String>()
        var firstFraudCall: [String: Int64] = [:]
        var score = Score(
            seed: world.configuration.seed, lines: world.configuration.lines, days: world.configuration.days, calls: 0,
            internationalCalls: 0, hijackedLines: labels.hijackedLines.count, linesFlagged: 0, linesFlaggedHijacked: 0, linePrecision: 0,
            lineRecall: 0, episodes: labels.episodes.count, episodesDetected: 0, secondsToDetect: [], hardNegativesFlagged: [],
            falsePositiveSignals: [:], truePositiveSignals: [:],
            fraudRanges: labels.fraudRanges.count, rangesBlocked: 0, rangesBlockedFraud: 0, rangePrecision: 0, rangeRecall: 0,
            secondsToBlock: [], destinationsProposed: [], blockedFraudulentCalls: 0, blockedLegitimateCalls: 0, blockedEmergencyCalls: 0,
            legitimateInternationalCalls: 0, fraudulentCalls: 0, classedFraudulent: 0, classedFraudulentCorrectly: 0, billingPrecision: 0,
            billingRecall: 0, fraudulentBilledSeconds: 0, fraudulentBilledSecondsLabelled: 0)
        let fraudIDs = Set(labels.episodes.flatMap(\.callIDs))
        var lastTick: Int64 = 0
        func absorb(_ out: FraudEngine.Outcome) {
            for e in out.events {
                switch e {
                case .finding(let f):
                    if flagged[f.id] == nil { flagged[f.id] = f.detectedAt }
                    findingAccount[f.id] = f.account
                    findingSignals[f.id, default: []].formUnion(f.signals.keys)
                case .fraudulentCall(let c): classed.insert(c.callID)
                case .ended: break
                }
            }
            for change in out.changes {
                switch change {
                case .applied(let r),
                    .renewed(_, let r) where r.state == .active:
                    if r.scope == .range, blockedAt[r.prefix] == nil { blockedAt[r.prefix] = r.appliedAt ?? r.proposedAt }
                case .proposed(let r) where r.scope == .destination: proposedDestinations.insert(r.prefix)
                default: break
                }
            }
        }
        var refused = Set<Int>()
        func handle(_ event: Event) {
            let simulated = event.call
            if event.time - lastTick >= 60_000 {
                absorb(engine.tick(now: event.time))
                lastTick = event.time
            }
            let isFraud = simulated.episode != nil
            if event.ends {
                guard refused.remove(event.serial) == nil else { return }
                let call = classifier.classify(simulated.record)
                if isFraud { score.fraudulentBilledSeconds += simulated.record.billedSeconds }
                absorb(engine.take(call))
                return
            }
            var record = simulated.record
            var call = classifier.classify(record)
            if isFraud, let r = call.range { firstFraudCall[r.digits] = min(firstFraudCall[r.digits] ?? .max, record.start) }
            score.calls += 1
            if call.isInternational || call.isHighCost { score.internationalCalls += 1 }
            if isFraud { score.fraudulentBilledSecondsLabelled += simulated.record.billedSeconds }
            if !isFraud, call.isInternational || call.isHighCost, !engine.book.active.isEmpty { score.legitimateInternationalCalls += 1 }
            // The softswitch, when the call is placed: emergency first, opted-out lines, then the
            // longest blocked prefix. A refused call is logged then, and never ends.
            if !call.isEmergency, !optOuts.contains(record.account), let n = call.number?.digits,
                engine.book.active.values.contains(where: { n.hasPrefix($0.prefix) })
            {
                record.answered = nil
                record.billedSeconds = 0
                record.outcome = .failed
                record.refusedByBlock = true
                refused.insert(event.serial)
                if isFraud { score.blockedFraudulentCalls += 1 } else { score.blockedLegitimateCalls += 1 }
                absorb(engine.take(classifier.classify(record)))
            } else if answers, let answered = record.answered, !record.callID.isEmpty {
                record.start = answered
                record.billedSeconds = 0
                record.inProgress = true
                call = classifier.classify(record)
                absorb(engine.take(call))
            }
            if score.calls % 100_000 == 0 { progress(score.calls) }
        }
        var events = Heap<Event>()
        var serial = 0
        for simulated in world.calls() {
            events.insert(Event(time: simulated.record.start, serial: serial, ends: false, call: simulated))
            events.insert(Event(time: simulated.hangUp, serial: serial, ends: true, call: simulated))
            serial += 1
            while let first = events.min, first.time <= simulated.hangUp - Self.lookahead { handle(events.removeMin()) }
        }
        while let next = events.popMin() { handle(next) }
        absorb(engine.tick(now: world.configuration.endMilliseconds + 86_400_000))

        let hijacked = Set(labels.hijackedLines.map(\.account))
        let flaggedAccounts = Set(findingAccount.values)
        score.linesFlagged = flaggedAccounts.count
        score.linesFlaggedHijacked = flaggedAccounts.intersection(hijacked).count
        score.linePrecision = Self.ratio(score.linesFlaggedHijacked, score.linesFlagged)
        score.lineRecall = Self.ratio(score.linesFlaggedHijacked, hijacked.count)
        let negatives = Dictionary(labels.hardNegatives.map { ($0.account, $0.kind.rawValue) }, uniquingKeysWith: { a, _ in a })
        score.hardNegativesFlagged = flaggedAccounts.compactMap { negatives[$0] }.sorted()
        for (id, signals) in findingSignals {
            let hit = hijacked.contains(findingAccount[id] ?? "")
            for s in signals {
                if hit {
                    score.truePositiveSignals[s.rawValue, default: 0] += 1
                } else {
                    score.falsePositiveSignals[s.rawValue, default: 0] += 1
                }
            }
        }
        let quiet = settings.quietMinutes * 60_000
        for episode in labels.episodes {
            let detections = flagged.filter {
                findingAccount[$0.key] == episode.account && (episode.start...(episode.end + quiet)).contains($0.value)
            }
            score.episodesByStyle[episode.style.rawValue, default: StyleTally()].episodes += 1
            if let first = detections.values.min() {
                let seconds = Double(max(0, first - episode.start)) / 1000
                score.episodesDetected += 1
                score.secondsToDetect.append(seconds)
                score.episodesByStyle[episode.style.rawValue, default: StyleTally()].detected += 1
                score.episodesByStyle[episode.style.rawValue, default: StyleTally()].secondsToDetect.append(seconds)
                let fromPumping = Double(max(0, first - episode.pumpingStart)) / 1000
                score.secondsToDetectFromPumping.append(fromPumping)
                score.episodesByStyle[episode.style.rawValue, default: StyleTally()].secondsToDetectFromPumping.append(fromPumping)
            }
        }
        let fraudRanges = Set(labels.fraudRanges.map(\.range))
        score.rangesBlocked = blockedAt.count
        score.rangesBlockedFraud = blockedAt.keys.filter { fraudRanges.contains($0) }.count
        score.rangePrecision = Self.ratio(score.rangesBlockedFraud, score.rangesBlocked)
        score.rangeRecall = Self.ratio(score.rangesBlockedFraud, fraudRanges.count)
        for (range, at) in blockedAt.sorted(by: { $0.key < $1.key }) {
            if let first = firstFraudCall[range] { score.secondsToBlock.append(Double(max(0, at - first)) / 1000) }
        }
        score.destinationsProposed = proposedDestinations.sorted()
        score.fraudulentCalls = fraudIDs.count
        score.classedFraudulent = classed.count
        score.classedFraudulentCorrectly = classed.intersection(fraudIDs).count
        score.billingPrecision = Self.ratio(score.classedFraudulentCorrectly, score.classedFraudulent)
        score.billingRecall = Self.ratio(score.classedFraudulentCorrectly, fraudIDs.count)
        score.secondsToDetect.sort()
        score.secondsToDetectFromPumping.sort()
        for style in score.episodesByStyle.keys {
            score.episodesByStyle[style]?.secondsToDetect.sort()
            score.episodesByStyle[style]?.secondsToDetectFromPumping.sort()
        }
        score.secondsToBlock.sort()
        return score
    }

    static func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 1 : Double(a) / Double(b) }
}
