import Detection
import Evaluation
import FlowCodec
import FlowFiles
import Foundation
import MamoriCore
import Testing

/// Zeek conn.logs through the offline path of `mamori analyze --format zeek`: the replay and
/// the per-host evaluation against Stratosphere's labels.
struct ZeekAnalysisTests {
    /// The corpus's njRAT log (see Benchmarks/detection/corpus/README.md).
    static let log = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Benchmarks/detection/corpus/CTU-Malware-Capture-Botnet-230-1.labeled-conn.log")
        .path

    @Test(
        "Stratosphere's Zeek labels: Malicious (any case, IoT-23's 'Malicious   C&C') is botnet, Benign is normal; CTU-13 labels unchanged")
    func labelClasses() {
        for botnet in ["Malicious", "malicious", "Malicious   C&C", "  MALICIOUS", "flow=From-Botnet-V42-TCP-Attempt", "flow=To-Botnet"] {
            #expect(FlowLabelEvaluation.isBotnet(botnet), "\(botnet)")
            #expect(!FlowLabelEvaluation.isNormal(botnet), "\(botnet)")
        }
        for normal in ["Benign", "benign   -", "flow=From-Normal-V42-UDP-CVUT-DNS-Server"] {
            #expect(!FlowLabelEvaluation.isBotnet(normal) && FlowLabelEvaluation.isNormal(normal), "\(normal)")
        }
        for neither in ["Background", "flow=Background-Established-cmpgw-CVUT", "", "-", "NotMalicious"] {
            #expect(!FlowLabelEvaluation.isBotnet(neither) && !FlowLabelEvaluation.isNormal(neither), "\(neither)")
        }
    }

    @Test("the labelled njRAT conn.log: replayed connection by connection, the truth is the one infected host")
    func labelledLog() throws {
        let layout = NetworkLayout(subscriberPrefixes: [IPPrefix("192.168.1.0/24")!])
        let result = try ZeekConnLog.parse(
            try String(contentsOfFile: Self.log, encoding: .utf8), options: .init(baseTimeMilliseconds: 1_488_980_824_000))
        var tally = FlowLabelEvaluation.Tally(layout: layout)
        var replay = BinetflowReplay(
            analyzer: FlowAnalyzer(configuration: DetectionConfiguration(network: layout, pseudonymKey: Array("test key".utf8))))
        var fed = 0
        for c in result.connections {
            tally.add(c)
            replay.add(c) { _ in fed += 1 }
        }
        replay.finish { _ in fed += 1 }
        #expect(replay.recordsFed == 992 && fed == 1431)
        let evaluation = FlowLabelEvaluation(tally: tally, findings: replay.analyzer.currentFindings)
        #expect(evaluation.truth == ["192.168.1.115"])
        #expect(evaluation.labelledFlows == 992 && evaluation.botnetFlows == 244 && evaluation.normalFlows == 9)
        #expect(replay.analyzer.statistics.records == 1431)
    }
}
