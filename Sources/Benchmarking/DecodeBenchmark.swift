import FlowCodec
import FlowEncoding
import Foundation
import MamoriCore

/// Decoder throughput per core, in flow records per second, for one export protocol at a time:
/// realistic export datagrams built in memory (NetFlow v5: 30 records each; v9 and IPFIX: 24
/// records, 15 fields; sFlow: 8 flow samples with raw Ethernet/IPv4/TCP headers), decoded on the
/// calling thread for ``seconds`` of its CPU time.
public struct DecodeBenchmark: Sendable {
    /// CPU seconds of decoding per protocol.
    public var seconds: Double

    public init(seconds: Double) {
        self.seconds = seconds
    }

    /// One protocol's figures.
    public struct Result: Sendable {
        public var exportProtocol: ExportProtocol
        /// Records per CPU-second of the decoding thread.
        public var rate: Double
        public var records: Int
        public var datagrams: Int
        public var cpu: Double

        /// One JSON object.
        public var json: String {
            "{\"benchmark\":\"decode\",\"protocol\":\"\(exportProtocol)\",\"records_per_cpu_second\":\(Int(rate)),\"ns_per_record\":\(String(format: "%.2f", 1e9 / rate)),\"records\":\(records),\"cpu_seconds\":\(String(format: "%.3f", cpu))}"
        }

        /// One row under ``DecodeBenchmark/tableHeader``.
        public var tableRow: String {
            let rateText = String(format: "%.2f M", rate / 1e6)
            return exportProtocol.description.padding(toLength: 13, withPad: " ", startingAt: 0)
                + rateText.padding(toLength: 21, withPad: " ", startingAt: 0)
                + String(format: "%-12.1f", 1e9 / rate) + "\(datagrams)".padding(toLength: 12, withPad: " ", startingAt: 0) + "\(records)"
        }
    }

    /// The record size and the table's column heads (two lines).
    public static var tableHeader: String {
        "flow record: \(MemoryLayout<FlowRecord>.stride) bytes\n"
            + "protocol     records/s per core   ns/record   datagrams   records checked"
    }

    /// Decodes `p`'s datagrams over and over for ``seconds`` of CPU time.
    public func measure(_ p: ExportProtocol) -> Result {
        let records = SyntheticTraffic.records(count: 24_000, seed: 42)
        let now: Int64 = 1_795_000_000_000
        let datagrams: [[UInt8]]
        if p == .sflowV5 {
            var e = SFlowEncoder(agent: .v4(0xC000_0201), samplingRate: 1000)
            datagrams = e.encode(records, uptimeMilliseconds: 1000)
        } else {
            var e = FlowExportEncoder(
                protocol: p, observationDomain: 1, templateRefreshInterval: 1_000_000, bootMilliseconds: now - 86_400_000)
            datagrams = e.encode(records, exportTimeMilliseconds: now)
        }
        var decoder = FlowDecoder()
        var out: [FlowRecord] = []
        out.reserveCapacity(64)
        // Warm up: learn templates.
        for d in datagrams.prefix(2) {
            _ = d.withUnsafeBytes { decoder.decode($0, from: .v4(0xC000_0201), receivedAtMilliseconds: now, into: &out) }
            out.removeAll(keepingCapacity: true)
        }
        var decoded = 0
        var checksum: UInt64 = 0
        var passes = 0
        let cpu0 = BenchMeasure.threadCPUSeconds()
        var cpu = 0.0
        repeat {
            for d in datagrams {
                let report = d.withUnsafeBytes { decoder.decode($0, from: .v4(0xC000_0201), receivedAtMilliseconds: now, into: &out) }
                decoded += report.flowRecords
                checksum &+= out.last?.bytes ?? 0
                out.removeAll(keepingCapacity: true)
            }
            passes += 1
            cpu = BenchMeasure.threadCPUSeconds() - cpu0
        } while cpu < seconds
        precondition(checksum > 0 && decoded >= records.count, "decoder produced nothing")
        return Result(exportProtocol: p, rate: Double(decoded) / cpu, records: decoded, datagrams: datagrams.count * passes, cpu: cpu)
    }
}

/// Deterministic, ISP-like flow records for benchmarks: subscribers in 10/8 talking to a
/// Zipf-ish set of external services, TCP/UDP/ICMP mix, both directions.
public enum SyntheticTraffic {
    public static func records(count: Int, seed: UInt64) -> [FlowRecord] {
        var rng = SplitMix64(seed: seed)
        let start: Int64 = 1_795_000_000_000 - 60_000
        return (0..<count).map { _ in
            let subscriber = IPAddress.v4(0x0A00_0000 | UInt32(truncatingIfNeeded: rng.next() % 250_000))
            let service = IPAddress.v4(0xC633_6400 &+ UInt32(truncatingIfNeeded: (rng.next() % 1000) * (rng.next() % 1000) % 500_000))
            let roll = rng.next() % 100
            let proto: UInt8 = roll < 75 ? 6 : roll < 97 ? 17 : 1
            let outbound = rng.next() % 2 == 0
            let packets = 1 + rng.next() % 200
            let clientPort = UInt16(1024 + rng.next() % 60_000)
            let servicePort: UInt16 = [443, 80, 53, 123, 8080, 993][Int(rng.next() % 6)]
            let t0 = start + Int64(rng.next() % 50_000)
            return FlowRecord(
                sourceAddress: outbound ? subscriber : service, destinationAddress: outbound ? service : subscriber,
                sourcePort: outbound ? clientPort : servicePort, destinationPort: outbound ? servicePort : clientPort,
                ipProtocol: proto, tcpFlags: proto == 6 ? 0x1B : 0, bytes: packets * (40 + rng.next() % 1400), packets: packets,
                startMilliseconds: t0, endMilliseconds: t0 + Int64(rng.next() % 10_000),
                inputInterface: UInt32(1 + rng.next() % 8), outputInterface: UInt32(1 + rng.next() % 8),
                sourceAS: 64_500, destinationAS: 15_169
            )
        }
    }
}
