import Detection
import Evaluation
import FlowCodec
import FlowFiles
import Foundation
import MamoriCore
import OfflineAnalysis
import Simulator
import Testing

/// The offline pipeline called as a library, on real files: the public captures of the
/// real-traffic corpus (Benchmarks/detection/corpus, ground truth in corpus.json) and a simulated
/// ISP's export datagrams written to a pcap.
@Suite struct OfflineAnalysisTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Benchmarks/detection/corpus")

    static func capture(_ name: String) throws -> CorpusManifest.Capture {
        let manifest = try CorpusManifest.load(corpus.appendingPathComponent("corpus.json").path)
        return try #require(manifest.capture(named: name), "no \(name) in corpus.json")
    }

    /// A request for a corpus capture: its file, the format its name suggests, its network and truth.
    static func request(_ c: CorpusManifest.Capture, scoreFileLabels: Bool = false) throws -> OfflineAnalyzer.Request {
        let file = corpus.appendingPathComponent(c.file).path
        let layout = try OfflineAnalyzer.networkLayout(NetworkOptions(), truth: c)
        return OfflineAnalyzer.Request(
            files: [file], format: InputFormat.guess(for: [file]),
            configuration: DetectionConfiguration(network: layout, pseudonymKey: Array("offline test".utf8)),
            truth: c, scoreFileLabels: scoreFileLabels)
    }

    /// A scratch directory, removed by the caller.
    static func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-offline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("CTU botnet 207 (binetflow, 5.7 days): the 6-hourly HTTP beacon's C&C and the infected host are found, nothing false")
    func binetflowBeacon() throws {
        let c = try Self.capture("ctu-botnet-207")
        let request = try Self.request(c)
        #expect(request.format == .binetflow)
        var skipped: [String] = []
        let outcome = try OfflineAnalyzer.run(request) { event in
            if case .lineSkipped(_, let reason) = event { skipped.append(reason) }
        }
        #expect(skipped.isEmpty, "\(skipped)")
        let commandAndControl = outcome.findings.filter { $0.kind == .commandAndControl }.map(\.subject.description)
        #expect(commandAndControl == ["185.56.145.73:80/tcp"])
        #expect(outcome.findings.contains { $0.kind == .infectedDevice && $0.subject.address == "192.168.1.110" })
        let score = try #require(outcome.corpusScore)
        #expect(score.missed.isEmpty, "missed \(score.missed)")
        #expect(score.falseCount == 0, "\(score.falseCommandAndControl + score.falseInfected + score.falseOther)")
        #expect(outcome.statistics.records > 0 && outcome.statistics.outbound > 0)
        #expect(outcome.inputSummary.hasPrefix("read ") && outcome.inputSummary.contains(" binetflow lines: "), "\(outcome.inputSummary)")
        #expect(outcome.labelEvaluation == nil && outcome.flowLabelEvaluation == nil)
    }

    @Test("njRAT (Zeek conn.log): the dead C&C retried every ~11.5 s is found, and the file's own labels score the infected host")
    func zeekConnLog() throws {
        let c = try Self.capture("ctu-botnet-230-njrat")
        let request = try Self.request(c, scoreFileLabels: true)
        #expect(request.format == .zeek)
        let outcome = try OfflineAnalyzer.run(request)
        #expect(outcome.findings.contains { $0.kind == .commandAndControl && $0.subject.description == "41.108.179.197:1177/tcp" })
        let score = try #require(outcome.corpusScore)
        #expect(score.missed.isEmpty, "missed \(score.missed)")
        let labels = try #require(outcome.flowLabelEvaluation)
        #expect(labels.truth.contains("192.168.1.115"), "\(labels.truth)")
        #expect(labels.truePositives.contains("192.168.1.115"), "\(labels.truePositives)")
        #expect(outcome.inputSummary.contains("zeek conn.log lines"), "\(outcome.inputSummary)")
    }

    @Test("IoT bot (binetflow): 109 SYN probes in 32 ms make 192.168.2.12 a scanner and an infected device")
    func binetflowScanner() throws {
        let outcome = try OfflineAnalyzer.run(try Self.request(try Self.capture("stratosphere-test4-iot")))
        #expect(outcome.findings.contains { $0.kind == .scanning && $0.subject.address == "192.168.2.12" })
        #expect(outcome.findings.contains { $0.kind == .infectedDevice && $0.subject.address == "192.168.2.12" })
        #expect(outcome.corpusScore?.missed == [])
    }

    @Test("a simulated ISP's export datagrams in a pcap: every exported flow record is analysed and the labels score the findings")
    func simulatedPcap() throws {
        var world = ISPModel.Configuration(seed: 7, subscribers: 1000)
        world.durationMilliseconds = 1_800_000
        world.botnets.beaconPeriodSeconds = 30...240
        var simulation = try Simulation(configuration: world)
        let labels = simulation.labels
        var writer = PcapWriter()
        var sequence: Int64 = 0
        while let window = simulation.nextWindow() {
            for d in window {
                writer.append(
                    CapturedDatagram(
                        timestampMicroseconds: d.timeMilliseconds * 1000 + sequence % 1000, sourceAddress: d.exporter,
                        sourcePort: UInt16(49152 + d.exporterIndex),
                        destinationAddress: AddressPlan.collectorAddress, destinationPort: 4739, payload: d.payload))
                sequence += 1
            }
        }
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pcap = dir.appendingPathComponent("isp.pcap").path
        try Data(writer.bytes).write(to: URL(fileURLWithPath: pcap))

        let layout = try OfflineAnalyzer.networkLayout(NetworkOptions(), labels: labels)
        #expect(Set(layout.laboratoryInternet.prefixes) == Set(LabelEvaluation.simulatorInternet))
        #expect(InputFormat.guess(for: [pcap]) == .pcap)
        var progressReports = 0
        let outcome = try OfflineAnalyzer.run(
            OfflineAnalyzer.Request(
                files: [pcap], format: .pcap, configuration: DetectionConfiguration(network: layout, pseudonymKey: [1, 2, 3]),
                labels: labels)
        ) { event in
            if case .analysed = event { progressReports += 1 }
        }
        let st = simulation.statistics
        #expect(outcome.statistics.records == st.exportedFlows)
        #expect(
            outcome.inputSummary.hasPrefix("\(st.datagrams) datagrams (ipfix \(st.datagrams)), \(st.exportedFlows) flow records"),
            "\(outcome.inputSummary)")
        #expect(progressReports == st.datagrams / 1024)
        let evaluation = try #require(outcome.labelEvaluation)
        #expect(evaluation.decoysFlagged.isEmpty, "\(evaluation.decoysFlagged)")
        let scanning = try #require(evaluation.kinds.first { $0.kind == "scanning" })
        #expect(scanning.truth > 0 && scanning.truePositives > 0, "\(scanning)")
        #expect(scanning.falsePositives.isEmpty, "\(scanning.falsePositives)")
    }

    @Test("skipped lines reach the callback (the first 20 per file), and the summary counts them all")
    func skippedLines() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("damaged.binetflow").path
        var lines = ["StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label"]
        for k in 0..<25 {
            lines.append(
                "2011/08/10 09:46:\(10 + k).000000,not-a-duration,tcp,147.32.84.165,1025,   ->,8.8.8.8,53,CON,0,0,2,200,100,flow=Background"
            )
        }
        lines.append("2011/08/10 09:47:00.000000,0.5,tcp,147.32.84.165,1026,   ->,8.8.8.8,80,SRPA_SPA,0,0,10,2000,800,flow=From-Botnet-V42")
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let layout = try OfflineAnalyzer.networkLayout(NetworkOptions(subscriberPrefixes: [try #require(IPPrefix("147.32.84.0/24"))]))
        var skipped: [(file: String, reason: String)] = []
        let outcome = try OfflineAnalyzer.run(
            OfflineAnalyzer.Request(
                files: [file], format: .binetflow, configuration: DetectionConfiguration(network: layout, pseudonymKey: [1]),
                scoreFileLabels: true)
        ) { event in
            if case .lineSkipped(let f, let reason) = event { skipped.append((f, reason)) }
        }
        #expect(skipped.count == 20)
        #expect(skipped.allSatisfy { $0.file == file })
        #expect(
            outcome.inputSummary.hasPrefix("read 26 binetflow lines: 1 records, 0 not IP flows (skipped), 25 malformed, 0 without a label"),
            "\(outcome.inputSummary)")
        #expect(outcome.statistics.outbound == 1)
        #expect(outcome.flowLabelEvaluation?.truth == ["147.32.84.165"])
    }

    @Test("what cannot be analysed is said: an unreadable file, no label column, no subscriber space")
    func failures() throws {
        let layout = try OfflineAnalyzer.networkLayout(NetworkOptions(subscriberPrefixes: [try #require(IPPrefix("192.168.1.0/24"))]))
        let configuration = DetectionConfiguration(network: layout, pseudonymKey: [1])
        let missing = "/nonexistent/capture.pcap"
        #expect {
            try OfflineAnalyzer.run(OfflineAnalyzer.Request(files: [missing], format: .pcap, configuration: configuration))
        } throws: { error in
            guard case .unreadable(let file, _) = error as? OfflineAnalyzer.Failure else { return false }
            return file == missing
        }
        // Binetflow without a Label column, asked to score against the labels.
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("unlabelled.binetflow").path
        try
            "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes\n2011/08/10 09:47:00.000000,0.5,tcp,192.168.1.5,1026,   ->,8.8.8.8,80,SRPA_SPA,0,0,10,2000,800\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        #expect {
            try OfflineAnalyzer.run(
                OfflineAnalyzer.Request(files: [file], format: .binetflow, configuration: configuration, scoreFileLabels: true))
        } throws: { error in
            guard case .noLabelColumn(let f, .binetflow) = error as? OfflineAnalyzer.Failure else { return false }
            return f == file
        }
        #expect(throws: OfflineAnalyzer.Failure.self) { try OfflineAnalyzer.networkLayout(NetworkOptions()) }
    }
}
