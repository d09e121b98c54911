import Detection
import FlowBus
import FlowCodec
import NIOCore

extension FuzzTarget {
    /// A batch of flow records as a detector pulls it from the cluster's bus. Decoded with small
    /// bounds; a batch that decodes is written again and decodes to the same records, every record
    /// goes to a partition in range (the parts add up to the batch, each in its order), and the
    /// records go through the detectors as a detector node's would.
    static func flowBus(_ bytes: UnsafeRawBufferPointer) {
        let limits = FlowBusBatch.Limits(maximumRecords: 512, maximumExporters: 16)
        guard let records = try? FlowBusBatch.decode(ByteBuffer(bytes: bytes), limits: limits) else { return }
        precondition(records.count <= limits.maximumRecords)
        precondition(
            (try? FlowBusBatch.decode(FlowBusBatch.encode(records), limits: limits)) == records, "a batch written again reads back the same"
        )
        var routing = FlowBusRouting(partitions: 4, network: network)
        var parts: [[FlowRecord]] = []
        routing.split(records, into: &parts)
        precondition(parts.count == 4 && parts.map(\.count).reduce(0, +) == records.count)
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: network, pseudonymKey: [1]))
        for part in parts {
            for r in part { analyzer.ingest(r, receivedAt: now) }
        }
        _ = analyzer.evaluate(now: now)
        _ = analyzer.finish()
    }
}
