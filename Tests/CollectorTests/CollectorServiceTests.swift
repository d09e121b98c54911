import FlowCodec
import FlowEncoding
import Foundation
import Logging
import MamoriCore
import MamoriTesting
import Metrics
import MetricsTestKit
import NIOCore
import ServiceLifecycle
import Testing

@testable import Collector

#if canImport(Glibc)
import Glibc
#endif

/// The collector as a service, over real UDP sockets on loopback (port 0).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct CollectorServiceTests {
    static let v4 = SocketEndpoint(host: "127.0.0.1", port: 0)
    static let v6 = SocketEndpoint(host: "::1", port: 0)

    static var nowMilliseconds: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    // MARK: 1. every protocol, IPv4 and IPv6

    @Test(
        "NetFlow v5, v9, IPFIX and sFlow over IPv4 and IPv6 listeners: records and per-exporter metrics",
        .enabled(if: loopbackIPv6Available))
    func everyProtocolOverBothFamilies() async throws {
        let metrics = TestMetrics()
        let sink = ProbeSink()
        let running = try await RunningCollector.start(listen: [Self.v4, Self.v6], sinks: [sink], metrics: metrics)
        let ports = [false: try running.port("127.0.0.1"), true: try running.port("::1")]
        let sender = try UDPTestSender()
        let now = Self.nowMilliseconds
        let boot = now - 3_600_000

        typealias Expected = (keys: [FlowKey: (bytes: UInt64, packets: UInt64)], datagrams: Int, records: Int)
        var expected: [String: [ExportProtocol: Expected]] = [:] // exporter → protocol → flows

        for ipv6 in [false, true] {
            let exporter = ipv6 ? "::1" : "127.0.0.1"
            let port = ports[ipv6]!
            var sent: [ExportProtocol: Expected] = [:]

            var v5 = FlowExportEncoder(protocol: .netflowV5, observationDomain: 5, bootMilliseconds: boot)
            let v5Flows = testFlows(40, base: now - 60_000, tag: 1)
            let v5Datagrams = v5.encode(v5Flows, exportTimeMilliseconds: now)
            sent[.netflowV5] = Self.expectation(v5Flows, datagrams: v5Datagrams.count)

            var v9 = FlowExportEncoder(protocol: .netflowV9, observationDomain: 9, bootMilliseconds: boot)
            let v9Flows = testFlows(30, base: now - 60_000, tag: 2) + testFlows(10, ipv6: true, base: now - 60_000, tag: 3)
            let v9Datagrams = v9.encode(v9Flows, exportTimeMilliseconds: now)
            sent[.netflowV9] = Self.expectation(v9Flows, datagrams: v9Datagrams.count)

            var ipfix = FlowExportEncoder(protocol: .ipfix, observationDomain: 10, bootMilliseconds: boot)
            let ipfixFlows = testFlows(30, base: now - 60_000, tag: 4) + testFlows(10, ipv6: true, base: now - 60_000, tag: 5)
            let ipfixDatagrams = ipfix.encode(ipfixFlows, exportTimeMilliseconds: now)
            sent[.ipfix] = Self.expectation(ipfixFlows, datagrams: ipfixDatagrams.count)

            var sflow = SFlowEncoder(agent: .v4(0xC000_0201), subAgentID: 7, samplingRate: 10)
            let sflowFlows = testFlows(12, base: now, tag: 6) + testFlows(4, ipv6: true, base: now, tag: 7)
            let sflowDatagrams = sflow.encode(sflowFlows, uptimeMilliseconds: 1_000_000)
            var sflowExpected = Self.expectation(sflowFlows, datagrams: sflowDatagrams.count)
            // One sampled packet of bytes/packets octets (≥ 64) per flow, scaled by the rate.
            for f in sflowFlows { sflowExpected.keys[FlowKey(f)] = (max(64, f.bytes / f.packets) * 10, 10) }
            sent[.sflowV5] = sflowExpected

            for d in [v5Datagrams, v9Datagrams, ipfixDatagrams, sflowDatagrams] { try sender.send(d, toPort: port, ipv6: ipv6) }
            expected[exporter] = sent
        }

        let totalRecords = expected.values.flatMap(\.values).reduce(0) { $0 + $1.records }
        let arrived = try await waitUntil { sink.count >= totalRecords }
        #expect(arrived, "\(sink.count) of \(totalRecords) records arrived")
        try await running.stop()
        #expect(sink.count == totalRecords)

        for (exporter, byProtocol) in expected {
            for (proto, exp) in byProtocol {
                let got = sink.records.filter { $0.exporter.description == exporter && $0.exportProtocol == proto }
                #expect(got.count == exp.records, "\(exporter) \(proto)")
                var seen: [FlowKey: (bytes: UInt64, packets: UInt64)] = [:]
                for r in got { seen[FlowKey(r)] = (r.bytes, r.packets) }
                #expect(Set(seen.keys) == Set(exp.keys.keys), "\(exporter) \(proto): different flows")
                let wrongCounters = exp.keys.filter { k, v in seen[k].map { $0 != v } ?? false }
                #expect(wrongCounters.isEmpty, "\(exporter) \(proto): counters differ for \(wrongCounters.keys.prefix(3))")
                let domain: UInt32 = [.netflowV5: 5, .netflowV9: 9, .ipfix: 10, .sflowV5: 7][proto]!
                #expect(got.allSatisfy { $0.observationDomain == domain }, "\(exporter) \(proto): observation domain")
                if proto == .sflowV5 {
                    #expect(got.allSatisfy { $0.samplingInterval == 10 })
                } else {
                    // Flow durations survive every encoding of flow times.
                    #expect(got.allSatisfy { $0.endMilliseconds - $0.startMilliseconds == 500 }, "\(exporter) \(proto): durations")
                }
                if proto == .ipfix || proto == .netflowV5 {
                    // Absolute times too, where the header carries milliseconds.
                    let starts = Set(got.map(\.startMilliseconds))
                    #expect(
                        starts.allSatisfy { ($0 - (now - 60_000)) % 1000 == 0 && $0 >= now - 60_000 && $0 < now },
                        "\(exporter) \(proto): start times")
                }
            }
            let datagrams = byProtocol.values.reduce(0) { $0 + $1.datagrams }
            let records = byProtocol.values.reduce(0) { $0 + $1.records }
            #expect(metrics.counter("mamori_collector_datagrams_total", exporter: exporter) == Int64(datagrams))
            #expect(metrics.counter("mamori_collector_flow_records_total", exporter: exporter) == Int64(records))
            #expect(metrics.counter("mamori_collector_template_misses_total", exporter: exporter) == 0)
            #expect(metrics.counter("mamori_collector_decode_errors_total", exporter: exporter) == 0)
        }
        // Two exporters, one per listener: the gauge counts both (each listener alone sees one).
        #expect(metrics.gauge("mamori_collector_exporters") == 2)
        #expect(metrics.counterTotal(label: "mamori_collector_delivered_records_total") == Int64(totalRecords))
        #expect(metrics.counterTotal(label: "mamori_collector_queue_dropped_records_total") == 0)
        #expect(sink.finished)
    }

    static func expectation(_ flows: [FlowRecord], datagrams: Int) -> (
        keys: [FlowKey: (bytes: UInt64, packets: UInt64)], datagrams: Int, records: Int
    ) {
        var keys: [FlowKey: (bytes: UInt64, packets: UInt64)] = [:]
        for f in flows { keys[FlowKey(f)] = (f.bytes, f.packets) }
        return (keys, datagrams, flows.count)
    }

    @Test("one exporter sending to two listeners is one exporter")
    func exporterGaugeAcrossListeners() async throws {
        let metrics = TestMetrics()
        let sink = ProbeSink()
        let running = try await RunningCollector.start(listen: [Self.v4, Self.v4], sinks: [sink], metrics: metrics)
        let ports = running.collector.listeners.compactMap(\.address.port)
        #expect(Set(ports).count == 2)
        let sender = try UDPTestSender()
        var v5 = FlowExportEncoder(protocol: .netflowV5)
        for port in ports {
            try sender.send(v5.encode(testFlows(3), exportTimeMilliseconds: Self.nowMilliseconds), toPort: port, ipv6: false)
        }
        #expect(try await waitUntil { sink.count == 6 })
        try await running.stop()
        #expect(metrics.gauge("mamori_collector_exporters") == 1)
        #expect(metrics.counter("mamori_collector_datagrams_total", exporter: "127.0.0.1") == 2)
    }

    @Test("once a second: the template gauge and each listener's kernel drop gauge, labelled with its bound address")
    func maintenanceGauges() async throws {
        let metrics = TestMetrics()
        let sink = ProbeSink()
        let running = try await RunningCollector.start(listen: [Self.v4, Self.v4], sinks: [sink], metrics: metrics)
        let ports = running.collector.listeners.compactMap(\.address.port)
        #expect(ports.count == 2)
        var ipfix = FlowExportEncoder(protocol: .ipfix, observationDomain: 8)
        try UDPTestSender().send(ipfix.encode(testFlows(2), exportTimeMilliseconds: Self.nowMilliseconds), toPort: ports[0], ipv6: false)
        #expect(try await waitUntil { sink.count == 2 })
        let published = try await waitUntil(timeout: .seconds(30)) {
            metrics.gauge("mamori_collector_templates") == 2
                && ports.allSatisfy { p in
                    (try? metrics.expectGauge("mamori_collector_socket_receive_drops", [("listener", "127.0.0.1:\(p)")]))?.lastValue == 0
                }
        }
        #expect(
            published,
            "templates \(String(describing: metrics.gauge("mamori_collector_templates"))), drops \(metrics.recorders.filter { $0.label.hasSuffix("drops") }.map { "\($0.dimensions) \(String(describing: $0.lastValue))" })"
        )
        try await running.stop()
    }

    // MARK: 2. bad input

    @Test("garbage, truncated and malformed datagrams are counted by kind, logged once per kind, and good ones still arrive")
    func badInputIsCountedAndLoggedOnce() async throws {
        let metrics = TestMetrics()
        let sink = ProbeSink()
        let logs = LogStore()
        let running = try await RunningCollector.start(
            listen: [Self.v4], sinks: [sink], metrics: metrics, logger: logs.logger(level: .info)
        ) {
            $0.errorLogIntervalSeconds = 60
        }
        let port = try running.port("127.0.0.1")
        let sender = try UDPTestSender()
        let now = Self.nowMilliseconds

        let bad: [(kind: String, bytes: [UInt8])] = [
            ("unsupported_version", [0x12, 0x34] + (0..<40).map { UInt8(truncatingIfNeeded: $0 &* 37) }),
            ("truncated", [0x00, 0x0A, 0x00]),
            ("bad_length", [0x00, 0x0A, 0x00, 0x08] + [UInt8](repeating: 0, count: 12)), // IPFIX length 8 < header
            // IPFIX message (domain 99) whose only set claims a length of 2.
            ("bad_set", [0x00, 0x0A, 0x00, 0x18, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 99, 0x01, 0x00, 0x00, 0x02, 0xFF, 0xFF, 0xFF, 0xFF]),
        ]
        var ipfix = FlowExportEncoder(protocol: .ipfix, observationDomain: 1, recordsPerDatagram: 5)
        let flows = testFlows(60, base: now - 10_000)
        let good = ipfix.encode(flows, exportTimeMilliseconds: now) // 12 datagrams, template in the first
        #expect(good.count == 12)
        // good, bad, good, bad … each bad kind three times.
        var sent = 0
        for (i, g) in good.enumerated() {
            try sender.send(g, toPort: port, ipv6: false)
            try sender.send(bad[i % bad.count].bytes, toPort: port, ipv6: false)
            sent += 2
        }
        #expect(try await waitUntil { metrics.counter("mamori_collector_datagrams_total", exporter: "127.0.0.1") == Int64(sent) })
        #expect(try await waitUntil { sink.count == flows.count }, "\(sink.count) of \(flows.count) good records")
        try await running.stop()

        #expect(Set(sink.records.map(FlowKey.init)) == Set(flows.map(FlowKey.init)))
        for b in bad {
            #expect(metrics.counter("mamori_collector_decode_errors_total", exporter: "127.0.0.1", [("kind", b.kind)]) == 3, "\(b.kind)")
        }
        #expect(metrics.counter("mamori_collector_decode_errors_total", exporter: "127.0.0.1") == 12)
        #expect(metrics.counter("mamori_collector_flow_records_total", exporter: "127.0.0.1") == Int64(flows.count))
        let lines = logs.entries("undecodable export data")
        #expect(lines.count == bad.count, "\(lines.map(\.metadata))")
        #expect(Set(lines.compactMap { $0.metadata["flow.error"] }) == Set(bad.map(\.kind)))
        #expect(lines.allSatisfy { $0.metadata["flow.exporter"] == "127.0.0.1" && $0.level <= .info })
    }

    @Test("with error_log_interval_seconds 0 every bad datagram is logged")
    func errorLogIntervalZeroLogsEveryTime() async throws {
        let metrics = TestMetrics()
        let logs = LogStore()
        let running = try await RunningCollector.start(listen: [Self.v4], sinks: [], metrics: metrics, logger: logs.logger(level: .info)) {
            $0.errorLogIntervalSeconds = 0
        }
        let sender = try UDPTestSender()
        for _ in 0..<5 { try sender.send([0x77, 0x77, 0, 0, 0, 0], toPort: try running.port("127.0.0.1"), ipv6: false) }
        #expect(try await waitUntil { metrics.counter("mamori_collector_decode_errors_total", exporter: "127.0.0.1") == 5 })
        try await running.stop()
        #expect(logs.entries("undecodable export data").count == 5)
    }

    // MARK: 3. data before template

    @Test("data before its template is a template miss; after the template it decodes", arguments: [ExportProtocol.netflowV9, .ipfix])
    func dataBeforeTemplate(proto: ExportProtocol) async throws {
        let metrics = TestMetrics()
        let sink = ProbeSink()
        let running = try await RunningCollector.start(listen: [Self.v4], sinks: [sink], metrics: metrics)
        let port = try running.port("127.0.0.1")
        let sender = try UDPTestSender()
        let now = Self.nowMilliseconds
        var encoder = FlowExportEncoder(
            protocol: proto, observationDomain: 3, recordsPerDatagram: 4, templateRefreshInterval: 1_000, bootMilliseconds: now - 600_000)
        let flows = testFlows(16, base: now - 30_000)
        let datagrams = encoder.encode(flows, exportTimeMilliseconds: now) // [template+data, data, data, data]
        #expect(datagrams.count == 4)

        try sender.send(Array(datagrams[1...]), toPort: port, ipv6: false)
        #expect(try await waitUntil { metrics.counter("mamori_collector_template_misses_total", exporter: "127.0.0.1") == 3 })
        #expect(sink.count == 0)
        try sender.send(datagrams[0], toPort: port, ipv6: false)
        try sender.send(Array(datagrams[1...]), toPort: port, ipv6: false)
        #expect(try await waitUntil { sink.count == 16 }, "\(sink.count) of 16")
        try await running.stop()
        #expect(metrics.counter("mamori_collector_template_misses_total", exporter: "127.0.0.1") == 3)
        #expect(metrics.counter("mamori_collector_flow_records_total", exporter: "127.0.0.1") == 16)
        #expect(metrics.counter("mamori_collector_decode_errors_total", exporter: "127.0.0.1") == 0)
        #expect(Set(sink.records.map(FlowKey.init)) == Set(flows.map(FlowKey.init)))
    }

    // MARK: 4. template persistence

    @Test("templates survive a restart through the template file")
    func templatesPersistAcrossRestart() async throws {
        let dir = try TemporaryDirectory()
        let file = dir.path + "/state/templates.json"
        let now = Self.nowMilliseconds
        var encoder = FlowExportEncoder(protocol: .ipfix, observationDomain: 4, recordsPerDatagram: 5, templateRefreshInterval: 1_000)
        let flows = testFlows(20, base: now - 30_000)
        let datagrams = encoder.encode(flows, exportTimeMilliseconds: now)
        let sender = try UDPTestSender()

        // First run: the template (with five records) arrives; graceful stop writes the file.
        let first = TestMetrics()
        let sink1 = ProbeSink()
        let run1 = try await RunningCollector.start(listen: [Self.v4], sinks: [sink1], metrics: first) { $0.templateFile = file }
        try sender.send(datagrams[0], toPort: try run1.port("127.0.0.1"), ipv6: false)
        #expect(try await waitUntil { sink1.count == 5 })
        try await run1.stop()
        let saved = try JSONDecoder().decode(SavedTemplates.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
        #expect(saved.templates.contains { $0.exporter == "127.0.0.1" && $0.observationDomain == 4 && $0.templateID == 256 })

        // Second run: only data; it decodes without a miss.
        let second = TestMetrics()
        let sink2 = ProbeSink()
        let logs = LogStore()
        let run2 = try await RunningCollector.start(listen: [Self.v4], sinks: [sink2], metrics: second, logger: logs.logger(level: .info)) {
            $0.templateFile = file
        }
        try sender.send(Array(datagrams[1...]), toPort: try run2.port("127.0.0.1"), ipv6: false)
        #expect(try await waitUntil { sink2.count == 15 }, "\(sink2.count) of 15")
        try await run2.stop()
        #expect(second.counter("mamori_collector_template_misses_total", exporter: "127.0.0.1") == 0)
        #expect(Set(sink2.records.map(FlowKey.init)) == Set(flows[5...].map(FlowKey.init)))
        #expect(!logs.entries("restored templates").isEmpty)
    }

    @Test("a corrupt template file is ignored with a warning; the collector runs and rewrites it")
    func corruptTemplateFileIsIgnored() async throws {
        let dir = try TemporaryDirectory()
        let file = dir.path + "/templates.json"
        try Data("{ this is not JSON".utf8).write(to: URL(fileURLWithPath: file))
        let metrics = TestMetrics()
        let sink = ProbeSink()
        let logs = LogStore()
        let running = try await RunningCollector.start(
            listen: [Self.v4], sinks: [sink], metrics: metrics, logger: logs.logger(level: .info)
        ) { $0.templateFile = file }
        let warnings = logs.entries("ignoring unreadable template file")
        #expect(warnings.count == 1)
        #expect(warnings.first?.level == .warning)
        var ipfix = FlowExportEncoder(protocol: .ipfix, observationDomain: 2)
        try UDPTestSender().send(
            ipfix.encode(testFlows(3), exportTimeMilliseconds: Self.nowMilliseconds), toPort: try running.port("127.0.0.1"), ipv6: false)
        #expect(try await waitUntil { sink.count == 3 })
        try await running.stop()
        let saved = try JSONDecoder().decode(SavedTemplates.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
        #expect(saved.templates.count == 2) // the encoder's IPv4 and IPv6 templates
    }

    // MARK: 5. bounded queue

    @Test("a blocked sink fills the bounded queue: batches are dropped and counted, the sockets keep reading")
    func blockedSinkDropsBatches() async throws {
        let metrics = TestMetrics()
        let sink = ProbeSink(gateOpen: false)
        let running = try await RunningCollector.start(listen: [Self.v4], sinks: [sink], metrics: metrics) { $0.queueCapacity = 2 }
        let port = try running.port("127.0.0.1")
        let sender = try UDPTestSender()
        var v5 = FlowExportEncoder(protocol: .netflowV5)
        let perDatagram = 30
        var sent = 0
        // In bursts, waiting for each to be read: reading must go on although the sink is stuck.
        for burst in 0..<20 {
            let datagrams = v5.encode(testFlows(perDatagram * 10, tag: UInt32(burst)), exportTimeMilliseconds: Self.nowMilliseconds)
            try sender.send(datagrams, toPort: port, ipv6: false)
            sent += datagrams.count
            // Generous: under the whole suite's load the reader thread was once seen to wait over
            // 5 s for the CPU; a stuck reader still fails this.
            let caughtUp = try await waitUntil(timeout: .seconds(30)) {
                metrics.counter("mamori_collector_datagrams_total", exporter: "127.0.0.1") == Int64(sent)
            }
            #expect(
                caughtUp,
                "burst \(burst): \(metrics.counter("mamori_collector_datagrams_total", exporter: "127.0.0.1")) of \(sent) datagrams read")
        }
        let decoded = metrics.counter("mamori_collector_flow_records_total", exporter: "127.0.0.1")
        #expect(decoded == Int64(sent * perDatagram))
        // The last records read wait up to the flush delay (10 ms) before they are handed on (and,
        // the queue being full, dropped): let the drop counter settle before reading it.
        var dropped = metrics.counterTotal(label: "mamori_collector_queue_dropped_records_total")
        for _ in 0..<50 {
            try await Task.sleep(for: .milliseconds(100))
            let now = metrics.counterTotal(label: "mamori_collector_queue_dropped_records_total")
            if now == dropped { break }
            dropped = now
        }
        #expect(dropped > 0)
        #expect(metrics.counterTotal(label: "mamori_collector_queue_dropped_batches_total") > 0)
        #expect(sink.count == 0)
        #expect(sink.blockedCalls == 1)
        #expect(metrics.counterTotal(label: "mamori_collector_delivered_records_total") == 0)

        sink.open()
        let settled = try await waitUntil {
            metrics.counterTotal(label: "mamori_collector_delivered_records_total") + dropped == decoded
        }
        #expect(
            settled,
            "delivered \(metrics.counterTotal(label: "mamori_collector_delivered_records_total")) + dropped \(dropped) ≠ decoded \(decoded)"
        )
        try await running.stop()
        // What was queued arrived: the batch in the sink plus at most `queueCapacity` waiting ones.
        #expect(Int64(sink.count) + dropped == decoded)
        #expect(metrics.counterTotal(label: "mamori_collector_queue_dropped_records_total") == dropped)
        let batches = metrics.counterTotal(label: "mamori_collector_queue_dropped_batches_total")
        #expect(batches >= 1)
        #expect(sink.finished)
    }

    // MARK: 6. graceful shutdown

    @Test("graceful shutdown drains the queue into the sinks, calls finish() and persists templates")
    func gracefulShutdownDrains() async throws {
        let dir = try TemporaryDirectory()
        let file = dir.path + "/templates.json"
        let metrics = TestMetrics()
        let sink = ProbeSink(gateOpen: false)
        let running = try await RunningCollector.start(listen: [Self.v4], sinks: [sink], metrics: metrics) {
            $0.queueCapacity = 64
            $0.templateFile = file
        }
        let port = try running.port("127.0.0.1")
        let sender = try UDPTestSender()
        var ipfix = FlowExportEncoder(protocol: .ipfix, observationDomain: 6, recordsPerDatagram: 10)
        let flows = testFlows(100)
        for d in ipfix.encode(flows, exportTimeMilliseconds: Self.nowMilliseconds) {
            try sender.send(d, toPort: port, ipv6: false)
            try await Task.sleep(for: .milliseconds(5)) // several batches
        }
        #expect(try await waitUntil { metrics.counter("mamori_collector_flow_records_total", exporter: "127.0.0.1") == 100 })

        let shutdown = Task { try await running.stop(within: .seconds(20)) }
        try await Task.sleep(for: .milliseconds(300))
        #expect(!sink.finished, "finish() before the queued batches were consumed")
        sink.open()
        try await withTimeLimit(.seconds(10), "run() after the sink was unblocked") { try await shutdown.value }

        #expect(metrics.counterTotal(label: "mamori_collector_queue_dropped_records_total") == 0)
        #expect(sink.count == 100)
        #expect(sink.finished)
        #expect(sink.recordsAtFinish == 100)
        let saved = try JSONDecoder().decode(SavedTemplates.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
        #expect(saved.templates.filter { $0.observationDomain == 6 }.count == 2)
    }

    @Test("an idle collector stops promptly on graceful shutdown")
    func idleShutdownIsPrompt() async throws {
        let sink = ProbeSink()
        let running = try await RunningCollector.start(listen: [Self.v4, Self.v4], sinks: [sink], metrics: TestMetrics())
        let start = ContinuousClock.now
        try await running.stop(within: .seconds(5))
        #expect(ContinuousClock.now - start < .seconds(3))
        #expect(sink.finished)
    }

    @Test("when another service of the group fails, the collector returns (cancellation closes the sockets)")
    func cancellationEndsRun() async throws {
        let logger = LogStore().logger(level: .critical)
        let collector = FlowCollector(
            configuration: .init(listen: [Self.v4]), sinks: [ProbeSink()], metricsFactory: TestMetrics(), logger: logger)
        let group = ServiceGroup(services: [collector, FailingService()], gracefulShutdownSignals: [], logger: logger)
        await #expect(throws: FailingService.Failure.self) {
            try await withTimeLimit(.seconds(10), "the service group after a failure") { try await group.run() }
        }
    }

    @Test("run() is cancelled directly: it returns")
    func directCancellation() async throws {
        let collector = FlowCollector(
            configuration: .init(listen: [Self.v4]), sinks: [], metricsFactory: TestMetrics(), logger: LogStore().logger(level: .critical))
        let task = Task { try await collector.run() }
        try await withTimeLimit(.seconds(5), "binding") { await collector.waitUntilReady() }
        task.cancel()
        try await withTimeLimit(.seconds(5), "run() after cancel") { try await task.value }
    }

    // MARK: binding

    @Test("a port already in use is refused, and listeners opened before it are closed")
    func portInUseIsRefused() async throws {
        let metrics = TestMetrics()
        let first = try await RunningCollector.start(listen: [Self.v4], sinks: [], metrics: metrics)
        let taken = try first.port("127.0.0.1")
        let collector = FlowCollector(
            configuration: .init(listen: [Self.v4, SocketEndpoint(host: "127.0.0.1", port: taken)]), sinks: [],
            metricsFactory: TestMetrics(), logger: LogStore().logger(level: .critical)
        )
        let error = await #expect(throws: CollectorError.self) {
            try await withTimeLimit(.seconds(5), "bind failure") { try await collector.run() }
        }
        if case .bindFailed(let endpoint, _) = error { #expect(endpoint.port == taken) }
        // The first listener of the failed collector was bound, then closed again.
        let opened = collector.boundAddresses.values.compactMap(\.port).filter { $0 != taken }
        #expect(opened.count == 1)
        for p in opened { #expect(KernelSocketStatistics.receiveDrops(localPort: p, ipv6: false) == nil) }
        try await first.stop()
    }

    @Test("missing address families are recognised from the socket error")
    func addressFamilyErrors() {
        #expect(UDPReceiverError(errno: EAFNOSUPPORT, "socket()").isAddressFamilyUnsupported)
        #expect(UDPReceiverError(errno: EADDRNOTAVAIL, "bind()").isAddressFamilyUnsupported)
        #expect(!UDPReceiverError(errno: EADDRINUSE, "bind()").isAddressFamilyUnsupported)
    }

    // MARK: 9. kernel drop counter

    @Test("KernelSocketStatistics reads the drops of a bound port from /proc/net/udp")
    func kernelDropCounter() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var small: Int32 = 1024
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: a.sin_port))
        #expect(KernelSocketStatistics.receiveDrops(localPort: port, ipv6: false) == 0)

        // Never read; overflow the tiny buffer.
        let sender = try UDPTestSender()
        for _ in 0..<200 { try sender.send([UInt8](repeating: 0xAB, count: 1000), toPort: port, ipv6: false) }
        let drops = KernelSocketStatistics.receiveDrops(localPort: port, ipv6: false)
        #expect((drops ?? 0) > 0, "drops: \(String(describing: drops))")
        #expect(KernelSocketStatistics.receiveDrops(localPort: port, ipv6: true) == nil)
    }
}

/// The template file's layout, as far as the tests read it.
struct SavedTemplates: Decodable {
    var version: Int
    var templates: [PersistedTemplate]
}

/// Fails shortly after starting, like an HTTP server whose port is taken.
struct FailingService: Service {
    struct Failure: Error {}
    func run() async throws {
        try await Task.sleep(for: .milliseconds(300))
        throw Failure()
    }
}
