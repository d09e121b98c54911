import FlowCodec
import Testing

@testable import Collector

/// The receive path's pacing and the totals it hands on with each batch.
@Suite struct ReceivePathTests {
    // MARK: pacing

    @Test("a reader pauses for as long as the target number of datagrams takes to arrive, less its own work")
    func pauseAimsAtTarget() {
        // 12 datagrams in the 1,000 µs between two reads: 96 take 8,000 µs; 2 ms at most.
        #expect(UDPReceiver.pause(drained: 12, interval: 1000, busy: 100, target: 96, limit: 2000) == 2000)
        // 48 in 1,000 µs: 96 take 2,000 µs, less 300 µs of decoding.
        #expect(UDPReceiver.pause(drained: 48, interval: 1000, busy: 300, target: 96, limit: 2000) == 1700)
        // A backlog (more than the target already there): read again at once.
        #expect(UDPReceiver.pause(drained: 512, interval: 400, busy: 350, target: 96, limit: 2000) == 0)
    }

    @Test("no pause when the stream stopped or the clock did not move; a huge gap cannot overflow")
    func pauseEdges() {
        #expect(UDPReceiver.pause(drained: 0, interval: 1000, busy: 0, target: 96, limit: 2000) == 0)
        #expect(UDPReceiver.pause(drained: 5, interval: 0, busy: 0, target: 96, limit: 2000) == 0)
        #expect(UDPReceiver.pause(drained: 1, interval: .max, busy: 0, target: 96, limit: 2000) == 2000)
        // A small socket buffer makes the limit small.
        #expect(UDPReceiver.pause(drained: 1, interval: 10_000, busy: 0, target: 3, limit: 41) == 41)
    }

    // MARK: batch totals

    static func record(_ exporter: UInt32, bytes: UInt64, packets: UInt64, nat: Bool = false) -> FlowRecord {
        var r = FlowRecord(exporter: .v4(exporter), sourceAddress: .v4(1), destinationAddress: .v4(2), bytes: bytes, packets: packets)
        if nat { r.nat = NATFields() }
        return r
    }

    @Test("a batch built from records sums them per run of one exporter and notes NAT events")
    func batchFromRecords() {
        let batch = FlowBatch(records: [
            Self.record(7, bytes: 100, packets: 1), Self.record(7, bytes: 50, packets: 2),
            Self.record(8, bytes: 10, packets: 1), Self.record(7, bytes: 1, packets: 1, nat: true),
        ])
        #expect(batch.mayContainNAT)
        #expect(batch.exporterRuns.map(\.exporter) == [.v4(7), .v4(8), .v4(7)])
        #expect(batch.exporterRuns.map(\.records) == [2, 1, 1])
        #expect(batch.exporterRuns.map(\.bytes) == [150, 10, 1])
        #expect(batch.exporterRuns.map(\.packets) == [3, 1, 1])
        #expect(!FlowBatch(records: [Self.record(7, bytes: 1, packets: 1)]).mayContainNAT)
    }

    @Test("the statistics sink adds the batch's runs per exporter without reading its records")
    func statisticsFromRuns() async {
        let sink = FlowStatisticsSink()
        await sink.consume(
            FlowBatch(records: [
                Self.record(7, bytes: 100, packets: 1), Self.record(8, bytes: 10, packets: 1), Self.record(7, bytes: 5, packets: 3),
            ]))
        // A batch whose producer summed it: the records are not looked at (none are here).
        var run = ExporterRun(exporter: .v4(8))
        run.records = 4
        run.bytes = 40
        run.packets = 4
        await sink.consume(FlowBatch(records: [], mayContainNAT: false, exporterRuns: [run]))
        let seven = sink.perExporter["0.0.0.7"]
        let eight = sink.perExporter["0.0.0.8"]
        #expect(seven == FlowStatisticsSink.Totals(records: 2, bytes: 105, packets: 4))
        #expect(eight == FlowStatisticsSink.Totals(records: 5, bytes: 50, packets: 5))
        #expect(sink.total == FlowStatisticsSink.Totals(records: 7, bytes: 155, packets: 9))
    }

    @Test("a consumed batch's buffer goes back to the pool itself, not a copy")
    func bufferIsReused() {
        let pool = BatchBufferPool(capacity: 64)
        var buffer = pool.take()
        buffer.append(Self.record(7, bytes: 1, packets: 1))
        let address = buffer.withUnsafeBufferPointer { $0.baseAddress }
        var batch = FlowBatch(records: buffer, mayContainNAT: false, exporterRuns: [])
        buffer = []
        pool.give(batch.takeRecords())
        #expect(batch.records.isEmpty)
        let again = pool.take()
        #expect(again.isEmpty)
        #expect(again.capacity >= 64)
        #expect(again.withUnsafeBufferPointer { $0.baseAddress } == address)
    }
}
