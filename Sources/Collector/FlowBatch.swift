import FlowCodec
import NIOConcurrencyHelpers

/// Records decoded from one burst of datagrams, handed downstream as one unit.
///
/// The receive path also hands on what it learnt while decoding, so that sinks which need only
/// that do not read the records: every record read on the consumer's core is a cache line moved
/// from the receiving core.
public struct FlowBatch: Sendable {
    public var records: [FlowRecord]
    /// Whether any record may carry NAT fields (``FlowRecord/hasNAT``): `false` lets a sink that
    /// wants only NAT events skip the batch without reading its records.
    public var mayContainNAT: Bool
    /// Records, bytes and packets of ``records`` per exporter, one entry per run of consecutive
    /// records from one exporter (an exporter may appear in more than one run).
    public var exporterRuns: [ExporterRun]
    /// Batches still waiting in the collector's queue behind this one when the sinks were handed
    /// it: the pipeline's one measure of backlog, which a sink that sheds load (the detectors)
    /// reads instead of keeping a queue of its own. 0 for batches that did not pass the queue.
    public var queuedBehind: Int = 0

    /// A batch of `records`, scanned once for ``mayContainNAT`` and ``exporterRuns``.
    public init(records: [FlowRecord]) {
        self.records = records
        self.mayContainNAT = records.contains { $0.hasNAT }
        var runs: [ExporterRun] = []
        for r in records {
            if runs.last?.exporter != r.exporter { runs.append(ExporterRun(exporter: r.exporter)) }
            runs[runs.count - 1].add(r)
        }
        self.exporterRuns = runs
    }

    /// Moves the records out, leaving the batch empty: the caller holds the only reference to
    /// the buffer and may reuse it without a copy.
    mutating func takeRecords() -> [FlowRecord] {
        defer { records = [] }
        return records
    }

    /// A batch whose producer summed it while decoding, so nobody scans.
    init(records: [FlowRecord], mayContainNAT: Bool, exporterRuns: [ExporterRun]) {
        self.records = records
        self.mayContainNAT = mayContainNAT
        self.exporterRuns = exporterRuns
    }
}

/// Totals of consecutive records from one exporter.
public struct ExporterRun: Sendable, Hashable {
    public var exporter: IPAddress
    public var records: UInt64 = 0
    public var bytes: UInt64 = 0
    public var packets: UInt64 = 0

    public init(exporter: IPAddress) {
        self.exporter = exporter
    }

    /// Counts one record (bytes and packets wrap rather than trap: totals are diagnostics).
    mutating func add(_ record: borrowing FlowRecord) {
        records += 1
        bytes &+= record.bytes
        packets &+= record.packets
    }
}

/// Record buffers handed back by the consumer for the receive path to fill again.
///
/// A batch buffer holds about 2,500 records (400 KiB); allocating a fresh one per
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
