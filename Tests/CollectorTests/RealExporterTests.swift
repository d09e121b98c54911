import Collector
import FlowCodec
import Foundation
import Logging
import MamoriCore
import MamoriTesting
import Metrics
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Testing

/// softflowd (Debian) exports a real traffic capture as NetFlow v5, v9 and IPFIX, once to Mamori
/// and once to nfcapd (Debian nfdump); both must see the same flows, bytes and packets per 5-tuple.
@Suite(.serialized)
struct RealExporterTests {
    static let capture = Bundle.module.url(forResource: "Fixtures/traffic/test-cc-capture-1", withExtension: "pcap")!.path

    @Test("softflowd → Mamori equals softflowd → nfcapd", arguments: [5, 9, 10])
    func softflowdExportMatchesNfdump(version: Int) async throws {
        let softflowd = try ExternalPeer.require("softflowd", debianPackage: "softflowd")
        let nfcapd = try ExternalPeer.require("nfcapd", debianPackage: "nfdump")
        let nfdump = try ExternalPeer.require("nfdump", debianPackage: "nfdump")

        // Mamori, in process, on an ephemeral loopback port.
        let metrics = TestMetrics()
        // softflowd -r stamps the export with the capture's own (years old) times: the live
        // collector would refuse every record as too old, so this comparison believes any time
        // in 1970–2100, as nfcapd does.
        let harness = try await CollectorHarness.start(metrics: metrics) { $0.decoder.timeWindow = .anyTime }
        try await softflowd.run(["-r", Self.capture, "-n", "127.0.0.1:\(harness.port)", "-v", "\(version)", "-c", "none", "-d"])
        let mamoriRecords = try await harness.stop(settleAfter: .milliseconds(500))

        // nfcapd, on another loopback port, fed the same export.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-nfcapd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (collector, port) = try await nfcapd.startUDPListener { p in ["-b", "127.0.0.1", "-p", "\(p)", "-w", dir.path, "-t", "3600"] }
        try await softflowd.run(["-r", Self.capture, "-n", "127.0.0.1:\(port)", "-v", "\(version)", "-c", "none", "-d"])
        try await Task.sleep(for: .milliseconds(500))
        collector.stop()
        let text = try await nfdump.run(["-R", dir.path, "-q", "-N", "-o", "fmt:%sa|%sp|%da|%dp|%pr|%pkt|%byt"])
        let nfdumpFlows = try NfdumpFlow.parse(text)

        let mine = Aggregate.byFiveTuple(mamoriRecords.map { FiveTuple($0) }, mamoriRecords.map { ($0.bytes, $0.packets) })
        let theirs = Aggregate.byFiveTuple(nfdumpFlows.map(\.tuple), nfdumpFlows.map { ($0.bytes, $0.packets) })
        #expect(nfdumpFlows.count > 100, "nfdump saw only \(nfdumpFlows.count) flows")
        #expect(mamoriRecords.count == nfdumpFlows.count)
        #expect(mine.count == theirs.count)
        let differing = theirs.filter { mine[$0.key] != $0.value }
        #expect(
            differing.isEmpty,
            "\(differing.count) 5-tuples differ, e.g. \(differing.first.map { "\($0.key): nfdump \($0.value) vs Mamori \(String(describing: mine[$0.key]))" } ?? "")"
        )
        #expect(mamoriRecords.allSatisfy { $0.exportProtocol.rawValue == UInt8(version) })

        // Nothing went wrong on the way: every datagram decoded, no template missing.
        #expect(metrics.counterTotal("mamori_collector_decode_errors_total") == 0)
        #expect(metrics.counterTotal("mamori_collector_template_misses_total") == 0)
        #expect(metrics.counterTotal("mamori_collector_flow_records_total") == Int64(mamoriRecords.count))
        #expect(metrics.counterTotal("mamori_collector_queue_dropped_records_total") == 0)
    }
}

/// Source/destination address and port, and IP protocol.
struct FiveTuple: Hashable, CustomStringConvertible {
    var source: IPAddress
    var sourcePort: UInt16
    var destination: IPAddress
    var destinationPort: UInt16
    var ipProtocol: UInt8

    init(_ r: FlowRecord) {
        self.init(
            source: r.sourceAddress, sourcePort: r.sourcePort, destination: r.destinationAddress, destinationPort: r.destinationPort,
            ipProtocol: r.ipProtocol)
    }

    init(source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16, ipProtocol: UInt8) {
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
        self.ipProtocol = ipProtocol
    }

    var description: String { "\(source):\(sourcePort) → \(destination):\(destinationPort)/\(ipProtocol)" }
}

/// Flows, bytes and packets of one 5-tuple.
struct Aggregate: Equatable, CustomStringConvertible {
    var flows = 0
    var bytes: UInt64 = 0
    var packets: UInt64 = 0

    static func byFiveTuple(_ tuples: [FiveTuple], _ counters: [(UInt64, UInt64)]) -> [FiveTuple: Aggregate] {
        var out: [FiveTuple: Aggregate] = [:]
        for (t, c) in zip(tuples, counters) {
            out[t, default: Aggregate()].flows += 1
            out[t, default: Aggregate()].bytes += c.0
            out[t, default: Aggregate()].packets += c.1
        }
        return out
    }

    var description: String { "\(flows) flows, \(bytes) bytes, \(packets) packets" }
}

/// One line of `nfdump -o fmt:%sa|%sp|%da|%dp|%pr|%pkt|%byt`.
struct NfdumpFlow {
    var tuple: FiveTuple
    var packets: UInt64
    var bytes: UInt64

    static func parse(_ text: String) throws -> [NfdumpFlow] {
        try text.split(separator: "\n").compactMap { line -> NfdumpFlow? in
            let f = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 7 else { return nil }
            guard let sa = IPAddress(f[0]), let sp = UInt16(f[1]), let da = IPAddress(f[2]), let dp = UInt16(f[3]),
                let pkt = UInt64(f[5]), let byt = UInt64(f[6])
            else { throw PeerError("unreadable nfdump line: \(line)") }
            let proto: UInt8
            switch f[4].uppercased() {
            case "TCP": proto = 6
            case "UDP": proto = 17
            case "ICMP": proto = 1
            case "ICMP6": proto = 58
            default:
                guard let p = UInt8(f[4]) else { throw PeerError("unknown protocol in nfdump line: \(line)") }
                proto = p
            }
            return NfdumpFlow(
                tuple: FiveTuple(source: sa, sourcePort: sp, destination: da, destinationPort: dp, ipProtocol: proto), packets: pkt,
                bytes: byt)
        }
    }
}

/// Keeps every record it is given (tests only).
final class RecordingSink: FlowSink {
    private let box = NIOLockedValueBox([FlowRecord]())
    func consume(_ batch: FlowBatch) async { box.withLockedValue { $0 += batch.records } }
    var records: [FlowRecord] { box.withLockedValue { $0 } }
    var count: Int { box.withLockedValue { $0.count } }
}

/// A FlowCollector on 127.0.0.1:0 running in its own ServiceGroup.
struct CollectorHarness {
    let collector: FlowCollector
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let sink: RecordingSink
    let port: Int

    static func start(metrics: TestMetrics, configure: (inout FlowCollector.Configuration) -> Void = { _ in }) async throws
        -> CollectorHarness
    {
        var configuration = FlowCollector.Configuration(listen: [SocketEndpoint(host: "127.0.0.1", port: 0)])
        configure(&configuration)
        let sink = RecordingSink()
        var logger = Logger(label: "test.collector")
        logger.logLevel = .warning
        let collector = FlowCollector(configuration: configuration, sinks: [sink], metricsFactory: metrics, logger: logger)
        let group = ServiceGroup(services: [collector], gracefulShutdownSignals: [], logger: logger)
        let task = Task { try await group.run() }
        await collector.waitUntilReady()
        guard let port = collector.boundAddresses.values.first?.port else {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
            throw PeerError("collector did not bind")
        }
        return CollectorHarness(collector: collector, group: group, task: task, sink: sink, port: port)
    }

    /// Waits until no new record arrived for `settleAfter` (at most 15 s), stops, returns the records.
    func stop(settleAfter quiet: Duration) async throws -> [FlowRecord] {
        var last = -1
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            let n = sink.count
            if n == last { break }
            last = n
            try await Task.sleep(for: quiet)
        }
        await group.triggerGracefulShutdown()
        try await task.value
        return sink.records
    }
}
