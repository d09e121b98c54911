import FlowCodec
import NIOConcurrencyHelpers

/// Records decoded from one burst of datagrams, handed downstream as one unit.
public struct FlowBatch: Sendable {
    public var records: [FlowRecord]

    public init(records: [FlowRecord]) {
        self.records = records
    }
}

/// Record buffers handed back by the consumer for the receive path to fill again.
///
/// A batch buffer holds about a thousand records (a few hundred KiB); allocating a fresh one per
/// batch costs page faults at millions of records per second. Buffers are values, so a sink
/// that keeps a batch keeps its own copy and nothing is shared.
final class BatchBufferPool: Sendable {
    private let buffers = NIOLockedValueBox<[[FlowRecord]]>([])
    private let limit: Int
    let capacity: Int

    init(capacity: Int, limit: Int = 32) {
        self.capacity = capacity
        self.limit = limit
    }

    /// An empty buffer with at least ``capacity`` room.
    func take() -> [FlowRecord] {
        if let b = buffers.withLockedValue({ $0.popLast() }) { return b }
        var b: [FlowRecord] = []
        b.reserveCapacity(capacity)
        return b
    }

    /// Returns a buffer once its records are consumed.
    func give(_ buffer: consuming [FlowRecord]) {
        var b = buffer
        b.removeAll(keepingCapacity: true)
        guard b.capacity >= capacity else { return }
        let kept = b
        buffers.withLockedValue { if $0.count < limit { $0.append(kept) } }
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
