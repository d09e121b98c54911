import ArgumentParser
import FlowCodec
import FlowEncoding
import MamoriCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Mamori on this machine (figures for BENCHMARKS.md).",
        discussion: """
            Build with `swift build -c release` first; debug builds are many times slower.
            End-to-end collector figures (Mamori beside nfcapd on the same generated traffic) come \
            from Benchmarks/collector/run.sh.
            """,
        subcommands: [BenchDecode.self, BenchAttribution.self, BenchRADIUS.self, BenchDetection.self, BenchSpoofing.self]
    )
}

struct BenchDecode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decoder throughput per core, in flow records per second, for each protocol.",
        discussion: """
            Builds realistic export datagrams in memory (NetFlow v5: 30 records each; v9: 24 records, \
            15 fields; IPFIX: 24 records, 15 fields; sFlow: 8 flow samples with raw Ethernet/IPv4/TCP \
            headers), then decodes them on one thread for --seconds per protocol. Rates are records \
            per CPU-second of the decoding thread (CLOCK_THREAD_CPUTIME_ID), so another process on \
            the machine slows the wall clock but not the figure.

            Example:  swift build -c release && .build/release/mamori bench decode --seconds 5
            """
    )

    enum ProtocolChoice: String, ExpressibleByArgument, CaseIterable {
        case all, v5, v9, ipfix, sflow
    }

    @Option(help: "Protocol to measure: all, v5, v9, ipfix, sflow.")
    var `protocol`: ProtocolChoice = .all

    @Option(help: "Seconds of decoding per protocol.")
    var seconds: Double = 3

    @Flag(help: "Print one JSON object per protocol instead of a table.")
    var json = false

    func run() async throws {
        let chosen: [ExportProtocol] = switch `protocol` {
        case .all: [.netflowV5, .netflowV9, .ipfix, .sflowV5]
        case .v5: [.netflowV5]
        case .v9: [.netflowV9]
        case .ipfix: [.ipfix]
        case .sflow: [.sflowV5]
        }
        BenchMeasure.warnIfDebugBuild()
        if !json {
            print("flow record: \(MemoryLayout<FlowRecord>.stride) bytes")
            print("protocol     records/s per core   ns/record   datagrams   records checked")
        }
        for p in chosen {
            let result = measure(p)
            if json {
                print("{\"benchmark\":\"decode\",\"protocol\":\"\(p)\",\"records_per_cpu_second\":\(Int(result.rate)),\"ns_per_record\":\(String(format: "%.2f", 1e9 / result.rate)),\"records\":\(result.records),\"cpu_seconds\":\(String(format: "%.3f", result.cpu))}")
            } else {
                let rate = String(format: "%.2f M", result.rate / 1e6)
                print(p.description.padding(toLength: 13, withPad: " ", startingAt: 0) + rate.padding(toLength: 21, withPad: " ", startingAt: 0)
                      + String(format: "%-12.1f", 1e9 / result.rate) + "\(result.datagrams)".padding(toLength: 12, withPad: " ", startingAt: 0) + "\(result.records)")
            }
        }
    }

    struct Result {
        var rate: Double
        var records: Int
        var datagrams: Int
        var cpu: Double
    }

    func measure(_ p: ExportProtocol) -> Result {
        let records = SyntheticTraffic.records(count: 24_000, seed: 42)
        let now: Int64 = 1_795_000_000_000
        let datagrams: [[UInt8]]
        if p == .sflowV5 {
            var e = SFlowEncoder(agent: .v4(0xC000_0201), samplingRate: 1000)
            datagrams = e.encode(records, uptimeMilliseconds: 1000)
        } else {
            var e = FlowExportEncoder(protocol: p, observationDomain: 1, templateRefreshInterval: 1_000_000, bootMilliseconds: now - 86_400_000)
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
        return Result(rate: Double(decoded) / cpu, records: decoded, datagrams: datagrams.count * passes, cpu: cpu)
    }

}

/// Deterministic, ISP-like flow records for benchmarks: subscribers in 10/8 talking to a
/// Zipf-ish set of external services, TCP/UDP/ICMP mix, both directions.
enum SyntheticTraffic {
    static func records(count: Int, seed: UInt64) -> [FlowRecord] {
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
