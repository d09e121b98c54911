import Detection
import FlowCodec
import Foundation
import MamoriCore
import MamoriTesting
import Testing

/// The real C&C capture of the Stratosphere lab (a host polling its "C&C" every ~2.2 s over
/// HTTPS), exported by a real exporter — softflowd (Debian) — and analysed by Mamori's detectors.
@Suite(.serialized)
struct RealCaptureTests {
    /// Shared with the collector tests (see Tests/CollectorTests/Fixtures/traffic/SOURCES.md).
    static let capture = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("CollectorTests/Fixtures/traffic/test-cc-capture-1.pcap").path

    @Test(
        "softflowd export of the CTU C&C capture: the C&C endpoint and the infected host are found, nothing else scores as C&C",
        arguments: [9, 10])
    func commandAndControlInRealCapture(version: Int) async throws {
        let softflowd = try ExternalPeer.require("softflowd", debianPackage: "softflowd")
        let socket = try LoopbackDatagramSocket()
        try await softflowd.run(["-r", Self.capture, "-n", "127.0.0.1:\(socket.port)", "-v", "\(version)", "-c", "none", "-d"])
        let datagrams = await socket.drain()
        #expect(datagrams.count > 5, "softflowd sent only \(datagrams.count) datagrams")

        var decoder = FlowDecoder()
        var records: [FlowRecord] = []
        for d in datagrams {
            let report = d.withUnsafeBytes { decoder.decode($0, from: .v4(0x7F00_0001), receivedAtMilliseconds: 0, into: &records) }
            #expect(report.error == nil)
        }
        #expect(records.count > 500)

        // The capture's campus network is the "subscriber" side.
        let layout = NetworkLayout(subscriberPrefixes: [IPPrefix("147.32.80.0/24")!])
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: layout, pseudonymKey: Array("test key".utf8)))
        // Offline: the analyzer's clock follows the flows' end times, in order.
        for r in records.sorted(by: { $0.endMilliseconds < $1.endMilliseconds }) {
            analyzer.ingest(r, receivedAt: r.endMilliseconds)
            _ = analyzer.evaluate(now: r.endMilliseconds)
        }
        _ = analyzer.finish()
        let findings = analyzer.currentFindings

        let c2 = findings.filter { $0.kind == .commandAndControl }
        #expect(c2.map(\.subject.description) == ["141.193.213.21:443/tcp"], "C&C findings: \(c2.map(\.summary))")
        if let f = c2.first {
            #expect(f.score >= 0.9)
            let interval = f.evidence.features.first { $0.name == .medianInterval }?.value ?? 0
            #expect((2.0...2.5).contains(interval), "median interval \(interval) s; tshark measured 2.204 s")
            #expect(f.evidence.cohortSize == 1)
            // The internal host appears only as a pseudonym in a C&C finding's evidence.
            #expect(f.evidence.cohort.allSatisfy { $0.hasPrefix("h:") })
            #expect(!f.evidence.flows.contains { $0.source == "147.32.80.37" || $0.destination == "147.32.80.37" })
        }
        let devices = findings.filter { $0.kind == .infectedDevice }
        #expect(devices.map(\.subject.address) == ["147.32.80.37"])
        #expect(devices.first?.evidence.related == c2.map(\.id))
        #expect(
            findings.allSatisfy { $0.kind == .commandAndControl || $0.kind == .infectedDevice }, "unexpected: \(findings.map(\.summary))")
    }
}
