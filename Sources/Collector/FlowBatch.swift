import FlowCodec

/// Records decoded from one burst of datagrams, handed downstream as one unit.
public struct FlowBatch: Sendable {
    public var records: [FlowRecord]

    public init(records: [FlowRecord]) {
        self.records = records
    }
}

/// A downstream consumer of decoded flow records (analysis, counting, debugging dumps).
///
/// `consume` runs on the collector's consumer task, never on the receive path: a slow sink
/// fills the bounded queue, and the collector then drops (and counts) batches instead of
/// slowing the sockets.
public protocol FlowSink: Sendable {
    func consume(_ batch: FlowBatch) async
    /// Called once after the last batch, at shutdown.
    func finish() async
}

extension FlowSink {
    public func finish() async {}
}
