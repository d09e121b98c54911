import FlowCodec
import Foundation
import MamoriCore
import NIOConcurrencyHelpers
import NIOCore

/// Counts what reached the end of the pipeline: records, bytes and packets per exporter.
///
/// Keeps only totals, never the records.
public final class FlowStatisticsSink: FlowSink, Sendable {
    public struct Totals: Sendable, Hashable, Codable {
        public var records: UInt64 = 0
        public var bytes: UInt64 = 0
        public var packets: UInt64 = 0

        public init(records: UInt64 = 0, bytes: UInt64 = 0, packets: UInt64 = 0) {
            self.records = records
            self.bytes = bytes
            self.packets = packets
        }

        mutating func add(_ other: Totals) {
            records += other.records
            bytes &+= other.bytes
            packets &+= other.packets
        }
    }

    private let totals = NIOLockedValueBox([String: Totals]())

    public init() {}

    public func consume(_ batch: FlowBatch) async {
        // The receive path summed the batch while decoding it: the records are not read here.
        // Runs alternate between few exporters: one lookup per exporter.
        var local: [IPAddress: Totals] = [:]
        for run in batch.exporterRuns {
            local[run.exporter, default: Totals()].add(Totals(records: run.records, bytes: run.bytes, packets: run.packets))
        }
        totals.withLockedValue { t in
            for (k, v) in local { t[k.description, default: Totals()].add(v) }
        }
    }

    /// Totals per exporter address.
    public var perExporter: [String: Totals] { totals.withLockedValue { $0 } }

    /// Sum over all exporters.
    public var total: Totals {
        perExporter.values.reduce(into: Totals()) { acc, t in
            acc.records += t.records
            acc.bytes &+= t.bytes
            acc.packets &+= t.packets
        }
    }
}

/// Writes every record as a JSON line to a file — a diagnostic for tests and troubleshooting.
///
/// This persists raw flow records, which Mamori otherwise never does: it is off by default,
/// and `mamori serve` logs a warning when it is on.
public final class JSONLinesFlowDumpSink: FlowSink, @unchecked Sendable {
    // @unchecked: `handle` is only used from the collector's single consumer task.
    private let handle: FileHandle
    public let path: String

    public init(path: String) throws {
        self.path = path
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let h = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        handle = h
    }

    public func consume(_ batch: FlowBatch) async {
        var text = ""
        text.reserveCapacity(batch.records.count * 400)
        for r in batch.records {
            text += FlowRecordFormatter.json(r)
            text += "\n"
        }
        handle.write(Data(text.utf8))
    }

    public func finish() async {
        try? handle.synchronize()
        try? handle.close()
    }
}
