import Detection
import Evaluation
import FlowCodec
import FlowFiles
import Foundation
import MamoriCore
import MamoriTesting
import Testing

/// The real C&C capture (a host polling its C&C every ~2.2 s over HTTPS) turned into binetflow
/// text by Debian's Argus the way the Stratosphere lab makes the CTU-13 files (`argus` builds
/// bidirectional flow records, `ra` prints them with a CTU-style `ra.conf`), then parsed by
/// ``BinetflowParser`` and analysed — the same path as `mamori analyze --format binetflow`.
@Suite(.serialized)
struct BinetflowAnalysisTests {
    static let capture = RealCaptureTests.capture
    static let layout = NetworkLayout(subscriberPrefixes: [IPPrefix("147.32.80.0/24")!])

    /// Argus's records of the capture as binetflow text, the columns of the CTU-13 files plus SrcPkts.
    static func argusBinetflow(separator: String) async throws -> String {
        let argus = try ExternalPeer.require("argus", debianPackage: "argus-server")
        let ra = try ExternalPeer.require("ra", debianPackage: "argus-client")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-argus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let argusFile = directory.appendingPathComponent("capture.argus").path
        try await argus.run(["-r", capture, "-w", argusFile])
        // CTU-13's ra.conf: wall-clock times with microseconds; UTC here so the test does not
        // depend on the machine's time zone.
        let configuration = directory.appendingPathComponent("ra.conf")
        try """
        RA_TZ="UTC"
        RA_TIME_FORMAT="%Y/%m/%d %T.%f"
        RA_PRINT_LABELS=0
        RA_FIELD_DELIMITER='\(separator)'
        RA_USEC_PRECISION=6

        """.write(to: configuration, atomically: true, encoding: .utf8)
        // `-Z b`: the State lists each side's TCP flags (`FSPA_FSPA`), as in CTU-13; `state:12`
        // widens the column, which ra otherwise cuts to `FSPA*` in tab-separated output.
        return try await ra.run([
            "-F", configuration.path, "-r", argusFile, "-n", "-Z", "b",
            "-s", "stime", "dur", "proto", "saddr", "sport", "dir", "daddr", "dport", "state:12", "stos", "dtos", "pkts", "bytes", "sbytes",
            "spkts",
        ])
    }

    static func analyze(_ records: [BinetflowRecord]) -> [Finding] {
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: layout, pseudonymKey: Array("test key".utf8)))
        analyzer.replay(records)
        return analyzer.currentFindings
    }

    @Test(
        "Argus binetflow of the CTU C&C capture: the C&C endpoint and the infected host are found, nothing else scores as C&C",
        arguments: [",", "\t"])
    func commandAndControlFromArgus(separator: String) async throws {
        let text = try await Self.argusBinetflow(separator: separator == "\t" ? "\\t" : separator)
        let result = try BinetflowParser.parse(text)
        #expect(result.malformedLines == 0, "\(result.errors.prefix(5))")
        #expect(result.hasSourcePackets)
        #expect(result.records.count > 250, "argus made only \(result.records.count) records")
        // The capture is TCP sessions to 141.193.213.x:443, each answered.
        let sessions = result.records.filter { $0.forward?.destinationPort == 443 }
        #expect(sessions.count == result.records.count)
        #expect(sessions.allSatisfy { $0.reverse != nil && ($0.forward?.tcpFlags ?? 0) & 0x12 == 0x12 })

        let findings = Self.analyze(result.records)
        let c2 = findings.filter { $0.kind == .commandAndControl }
        #expect(c2.map(\.subject.description) == ["141.193.213.21:443/tcp"], "C&C findings: \(c2.map(\.summary))")
        if let f = c2.first {
            #expect(f.score >= 0.9)
            let interval = f.evidence.features.first { $0.name == .medianInterval }?.value ?? 0
            #expect((2.0...2.5).contains(interval), "median interval \(interval) s; tshark measured 2.204 s")
        }
        let devices = findings.filter { $0.kind == .infectedDevice }
        #expect(devices.map(\.subject.address) == ["147.32.80.37"])
        #expect(
            findings.allSatisfy { $0.kind == .commandAndControl || $0.kind == .infectedDevice }, "unexpected: \(findings.map(\.summary))")
    }

    @Test("a CTU-style Label column (flows to the C&C From-Botnet, the rest Normal): per-host precision 1 and recall 1")
    func perHostEvaluationAgainstLabels() async throws {
        let text = try await Self.argusBinetflow(separator: ",")
        // Label the flows as the Stratosphere lab does after the fact: a Label column appended.
        var labelled: [String] = []
        for (i, line) in text.split(separator: "\n").enumerated() {
            if i == 0 {
                labelled.append(line + ",Label")
                continue
            }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            let toC2 = fields.count > 6 && fields[3] == "147.32.80.37" && fields[6] == "141.193.213.21"
            labelled.append(line + (toC2 ? ",flow=From-Botnet-V1-TCP-HTTPS-CC" : ",flow=From-Normal-V1-TCP-HTTPS"))
        }
        let result = try BinetflowParser.parse(labelled.joined(separator: "\n"))
        #expect(result.hasLabels && result.malformedLines == 0)
        let labels = Set(result.records.compactMap(\.label))
        #expect(labels == ["flow=From-Botnet-V1-TCP-HTTPS-CC", "flow=From-Normal-V1-TCP-HTTPS"])

        let findings = Self.analyze(result.records)
        let sources = result.records.compactMap { r in r.label.map { (address: r.originator, port: r.forward?.sourcePort ?? 0, label: $0) }
        }
        let evaluation = FlowLabelEvaluation(labelledSources: sources, layout: Self.layout, findings: findings)
        #expect(evaluation.truth == ["147.32.80.37"])
        #expect(evaluation.truePositives == ["147.32.80.37"])
        #expect(evaluation.falsePositives.isEmpty && evaluation.falseNegatives.isEmpty)
        #expect(evaluation.precision == 1 && evaluation.recall == 1)
        #expect(evaluation.botnetFlows > 250 && evaluation.normalFlows == 2)
        #expect(evaluation.table.contains("precision 1.000  recall 1.000"))
    }

    @Test("replay: records out of start order within the reorder window are fed in order; later ones are fed late and counted")
    func replayReorderWindow() throws {
        let header = "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,TotPkts,TotBytes,SrcBytes"
        let parser = try BinetflowParser(header: header)
        func record(_ seconds: Int) throws -> BinetflowRecord {
            try parser.parse(line: "\(1_700_000_000 + seconds).0,1,udp,147.32.80.9,5000,->,192.0.2.1,53,2,200,100", number: seconds).get()
        }
        let analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: Self.layout, pseudonymKey: Array("test key".utf8)))
        var replay = BinetflowReplay(analyzer: analyzer, reorderWindowMilliseconds: 10_000)
        var fedStarts: [Int64] = []
        for seconds in [0, 5, 3, 12, 11, 30, 2, 31] {
            replay.add(try record(seconds)) { flow in
                if flow.sourceAddress == IPAddress("147.32.80.9")! { fedStarts.append(flow.startMilliseconds / 1000 - 1_700_000_000) }
            }
        }
        replay.finish { flow in
            if flow.sourceAddress == IPAddress("147.32.80.9")! { fedStarts.append(flow.startMilliseconds / 1000 - 1_700_000_000) }
        }
        // 0…12 are released in order once 30 arrives; 2 comes after the window closed on it.
        #expect(fedStarts == [0, 3, 5, 11, 12, 2, 30, 31])
        #expect(replay.lateRecords == 1 && replay.recordsFed == 8)
        #expect(replay.analyzer.statistics.records == 16)
    }

    @Test("per-host evaluation: hosts outside the subscriber prefixes are not truth; misses and false alarms are listed")
    func evaluationCounts() {
        let bot = IPAddress("147.32.80.5")!
        let missed = IPAddress("147.32.80.6")!
        let outside = IPAddress("8.8.8.8")!
        let sources: [(address: IPAddress, port: UInt16, label: String)] = [
            (bot, 1000, "flow=From-Botnet-V42-TCP-CC"),
            (missed, 1001, "flow=From-Botnet-V42-UDP-DNS"),
            (outside, 53, "flow=From-Botnet-V42-UDP-DNS"),
            (IPAddress("147.32.80.7")!, 1002, "flow=From-Normal-V42-Grill"),
            (IPAddress("147.32.80.8")!, 1003, "flow=Background-UDP-Established"),
        ]
        func device(_ a: String) -> Finding {
            let subject = FindingSubject.host(InternalHost(address: IPAddress(a)!))
            return Finding(
                id: Finding.id(kind: .infectedDevice, subject: subject), kind: .infectedDevice, subject: subject, score: 0.9,
                firstSeen: 0, lastSeen: 0, detectedAt: 0, updatedAt: 0, family: nil, summary: "test device \(a)", evidence: Evidence())
        }
        let e = FlowLabelEvaluation(
            labelledSources: sources, layout: Self.layout,
            findings: [device("147.32.80.5"), device("147.32.80.7"), device("147.32.80.8")])
        #expect(e.truth == ["147.32.80.5", "147.32.80.6"])
        #expect(e.truePositives == ["147.32.80.5"] && e.falseNegatives == ["147.32.80.6"])
        #expect(e.falsePositives == ["147.32.80.7", "147.32.80.8"] && e.falsePositivesLabelledNormal == ["147.32.80.7"])
        #expect(e.precision == 1.0 / 3 && e.recall == 0.5)
        #expect(e.botnetFlows == 3 && e.normalFlows == 1 && e.labelledFlows == 5)
    }
}
