import Detection
import FlowCodec

extension FlowAnalyzer {
    /// Feeds Argus records (from ``BinetflowParser``) to the analyzer offline, the way
    /// `mamori analyze --format binetflow` does.
    ///
    /// Records go in start-time order (file order breaks ties); the analyzer's clock is each
    /// record's end time, never moving backwards, and the detectors are evaluated whenever that
    /// clock has advanced by `evaluationInterval` ms (a collector evaluates on a timer too).
    /// Ends with ``FlowAnalyzer/finish()``. `observe` sees every unidirectional flow fed.
    public mutating func replay(
        _ records: [BinetflowRecord], evaluationIntervalMilliseconds: Int64 = 1000,
        observe: (FlowRecord) -> Void = { _ in }
    ) {
        let order = records.indices.sorted { a, b in
            let (x, y) = (records[a].startMilliseconds, records[b].startMilliseconds)
            return x != y ? x < y : a < b
        }
        var clock = Int64.min
        var lastEvaluation = Int64.min
        for i in order {
            for flow in records[i].flows {
                clock = max(clock, flow.endMilliseconds)
                ingest(flow, receivedAt: clock)
                observe(flow)
            }
            if lastEvaluation == .min || clock - lastEvaluation >= evaluationIntervalMilliseconds {
                lastEvaluation = clock
                _ = evaluate(now: clock)
            }
        }
        if clock != .min { _ = evaluate(now: clock) }
        _ = finish()
    }
}
