import Telephony

/// The detector, the destination ledger and the rule book in the one order they must see each
/// call: counted to its destination, judged with its line, its fraudulent calls marked, their
/// destinations considered for blocking. `mamori serve`, the evaluation and the benchmark all go
/// through it.
public struct FraudEngine: Sendable {
    public var detector: FraudDetector
    public var ledger: DestinationLedger
    public var book: BlockRuleBook
    private var lastPrune: Int64 = 0

    public struct Outcome: Sendable {
        public var events: [FraudEvent] = []
        public var changes: [BlockChange] = []
        public var isEmpty: Bool { events.isEmpty && changes.isEmpty }
        public init(events: [FraudEvent] = [], changes: [BlockChange] = []) {
            self.events = events
            self.changes = changes
        }
    }

    public init(
        detector: FraudDetector = FraudDetector(), ledger: DestinationLedger = DestinationLedger(), book: BlockRuleBook = BlockRuleBook()
    ) {
        self.detector = detector
        self.ledger = ledger
        self.book = book
    }

    public mutating func take(_ call: Call) -> Outcome {
        var out = Outcome(events: detector.take(call))
        // A call is counted to its destination once: when it is answered if the softswitch says
        // so, else when its record comes. An update (the record of a call reported while up) was
        // marked and considered then.
        if !detector.lastCallCompleted && !detector.lastCallRepeated { ledger.count(call) }
        for case .fraudulentCall(let f) in out.events where f.update != true { ledger.markFraudulent(f) }
        let now = detector.now
        for case .fraudulentCall(let f) in out.events where f.update != true {
            out.changes += book.consider(f, ledger: ledger, now: now)
        }
        return out
    }

    /// The clock moves on without calls: quiet episodes end, rules lift, expire or renew.
    public mutating func tick(now: Int64) -> Outcome {
        var out = Outcome(events: detector.advance(to: now))
        let t = max(now, detector.now)
        out.changes = book.tick(ledger: ledger, now: t)
        if t - lastPrune >= DestinationLedger.bucketMilliseconds {
            ledger.prune(now: t)
            lastPrune = t
        }
        return out
    }
}
