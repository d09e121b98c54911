/// sFlow v5 state: datagram sequence numbers per agent, bounded in size.
///
/// An agent is keyed by the UDP source the datagram came from, the agent address in the
/// datagram and the sub-agent ID (sFlow v5 §"sFlow Datagram": the sequence number is kept per
/// agent and sub-agent).
struct SFlowDecoderState: Sendable {
    struct AgentKey: Sendable, Hashable {
        var exporter: IPAddress
        var agent: IPAddress
        var subAgent: UInt32
    }

    struct AgentState: Sendable {
        /// Datagram sequence; `recordsPerDatagram` is the moving average of flow samples.
        var sequence = SequenceTracker()
        var lastSeen: Int64 = 0
    }

    private(set) var agents: [AgentKey: AgentState] = [:]

    /// Runs `body` on the state of `key`, creating it if needed. When the table holds `capacity`
    /// agents, the least recently seen quarter is dropped in one pass, so a flood of spoofed
    /// agents costs amortised O(log n) per new agent instead of a full scan each time.
    mutating func withAgent<R>(_ key: AgentKey, now: Int64, capacity: Int, _ body: (inout AgentState) -> R) -> R {
        if agents[key] == nil, agents.count >= max(capacity, 1) {
            let times = agents.values.map(\.lastSeen).sorted()
            let cut = times[max(0, times.count / 4 - 1)]
            agents = agents.filter { $0.value.lastSeen > cut }
        }
        return body(&agents[key, default: AgentState()])
    }
}
