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

        mutating func add(_ other: Totals) {
            records += other.records
            bytes &+= other.bytes
            packets &+= other.packets
        }
    }

    private let totals = NIOLockedValueBox([String: Totals]())

    public init() {}

    public func consume(_ batch: FlowBatch) async {
        // Records arrive in runs from one exporter: sum each run, then one lookup per run.
        var local: [IPAddress: Totals] = [:]
        var current: IPAddress? = nil
        var run = Totals()
        batch.records.withUnsafeBufferPointer { records in
            // Borrowed: three fields read per record, no 160-byte copy.
            for k in records.indices {
                let exporter = records[k].exporter
                if exporter != current {
                    if let c = current { local[c, default: Totals()].add(run) }
                    current = exporter
                    run = Totals()
                }
                run.records += 1
                run.bytes &+= records[k].bytes
                run.packets &+= records[k].packets
            }
        }
        if let c = current { local[c, default: Totals()].add(run) }
        totals.withLockedValue { t in
            for (k, v) in local {
                let key = k.description
                t[key, default: Totals()].records += v.records
                t[key, default: Totals()].bytes &+= v.bytes
                t[key, default: Totals()].packets &+= v.packets
            }
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
