import Detection
import FlowCodec
import FlowFiles

/// Feeds bidirectional log records — Argus records from ``BinetflowParser``, Zeek connections
/// from ``ZeekConnLog`` — to a ``FlowAnalyzer`` offline as they are read, the way
/// `mamori analyze --format binetflow` and `--format zeek` do.
///
/// Records go to the analyzer in start-time order (read order breaks ties). Argus writes a
/// record when a flow's status interval ends, so files are only roughly in start order: records
/// wait in a buffer until one starting `reorderWindowMilliseconds` later has been read, which
/// bounds memory to that window (Zeek writes a connection when it ends, so the same holds). A record arriving later than the window is still fed, after
/// newer ones, and counted in ``lateRecords``. The analyzer's clock is each record's end time,
/// never moving backwards; the detectors are evaluated whenever that clock has advanced by
/// `evaluationIntervalMilliseconds` (a collector evaluates on a timer too).
public struct BinetflowReplay: Sendable {
    /// The analyzer being fed; its findings are final after ``finish()``.
    public private(set) var analyzer: ShardedFlowAnalyzer
    /// How far back in start time a record may arrive and still be fed in order.
    public let reorderWindowMilliseconds: Int64
    /// How often, in analyzer-clock ms, the detectors are evaluated.
    public let evaluationIntervalMilliseconds: Int64
    /// Records fed after one that started later (they arrived beyond the reorder window).
    public private(set) var lateRecords = 0
    /// Records fed so far.
    public private(set) var recordsFed = 0

    private var pending = StartOrderHeap()
    private var newestStart = Int64.min
    private var lastFedStart = Int64.min
    private var clock = Int64.min
    private var lastEvaluation = Int64.min
    private var sequence = 0

    public init(analyzer: FlowAnalyzer, reorderWindowMilliseconds: Int64 = 300_000, evaluationIntervalMilliseconds: Int64 = 1000) {
        self.init(
            analyzer: ShardedFlowAnalyzer(analyzer), reorderWindowMilliseconds: reorderWindowMilliseconds,
            evaluationIntervalMilliseconds: evaluationIntervalMilliseconds)
    }

    /// Feeds a sharded analyzer (``ShardedFlowAnalyzer``).
    public init(
        analyzer: ShardedFlowAnalyzer, reorderWindowMilliseconds: Int64 = 300_000, evaluationIntervalMilliseconds: Int64 = 1000
    ) {
        self.analyzer = analyzer
        self.reorderWindowMilliseconds = reorderWindowMilliseconds
        self.evaluationIntervalMilliseconds = evaluationIntervalMilliseconds
    }

    /// Takes one record; feeds every buffered record that started a reorder window before the newest.
    /// `observe` sees every unidirectional flow fed.
    public mutating func add(_ record: some ConversationRecord, observe: (FlowRecord) -> Void = { _ in }) {
        let start = record.startMilliseconds
        newestStart = max(newestStart, start)
        pending.push(start: start, flows: record.flows, sequence: sequence)
        sequence += 1
        let horizon = newestStart == .min ? Int64.min : newestStart &- reorderWindowMilliseconds
        while let first = pending.firstStart, first <= horizon, let next = pending.pop() {
            feed(next, observe: observe)
        }
    }

    /// Feeds what is still buffered, evaluates once more and lets the analyzer finish.
    public mutating func finish(observe: (FlowRecord) -> Void = { _ in }) {
        while let next = pending.pop() { feed(next, observe: observe) }
        if clock != .min { _ = analyzer.evaluate(now: clock) }
        _ = analyzer.finish()
    }

    private mutating func feed(_ record: (start: Int64, flows: [FlowRecord]), observe: (FlowRecord) -> Void) {
        recordsFed += 1
        if record.start < lastFedStart { lateRecords += 1 }
        lastFedStart = max(lastFedStart, record.start)
        for flow in record.flows {
            clock = max(clock, flow.endMilliseconds)
            analyzer.ingest(flow, receivedAt: clock)
            observe(flow)
        }
        if clock != .min && (lastEvaluation == .min || clock - lastEvaluation >= evaluationIntervalMilliseconds) {
            lastEvaluation = clock
            _ = analyzer.evaluate(now: clock)
        }
    }
}

extension FlowAnalyzer {
    /// Feeds all `records` in start-time order (file order breaks ties) through a
    /// ``BinetflowReplay`` with an unbounded reorder window, then finishes.
    public mutating func replay(_ records: [some ConversationRecord], evaluationIntervalMilliseconds: Int64 = 1000) {
        var replay = BinetflowReplay(
            analyzer: self, reorderWindowMilliseconds: .max, evaluationIntervalMilliseconds: evaluationIntervalMilliseconds)
        for r in records { replay.add(r) }
        replay.finish()
        // One analyzer went in (one shard): the same comes out.
        if let whole = replay.analyzer.whole { self = whole }
    }
}

/// A binary min-heap of records' flows by (start time, arrival sequence).
private struct StartOrderHeap: Sendable {
    private var items: [(start: Int64, sequence: Int, flows: [FlowRecord])] = []

    var firstStart: Int64? { items.first?.start }

    mutating func push(start: Int64, flows: [FlowRecord], sequence: Int) {
        items.append((start, sequence, flows))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (start: Int64, flows: [FlowRecord])? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count && Self.less(items[left], items[smallest]) { smallest = left }
            if right < items.count && Self.less(items[right], items[smallest]) { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.start, top.flows)
    }

    private static func less(
        _ a: (start: Int64, sequence: Int, flows: [FlowRecord]), _ b: (start: Int64, sequence: Int, flows: [FlowRecord])
    ) -> Bool {
        a.start != b.start ? a.start < b.start : a.sequence < b.sequence
    }
}
