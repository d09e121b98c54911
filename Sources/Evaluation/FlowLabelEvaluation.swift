import Detection
import FlowCodec
import FlowFiles
import Foundation
import MamoriCore

/// Infected-device findings scored per host against per-flow labels, as the CTU-13 datasets
/// carry them in the `Label` column of their binetflow files and the Stratosphere Zeek datasets
/// (IoT-23, security-datasets-for-testing) in the `label` column of their conn.logs.
///
/// Truth: the internal hosts (inside the subscriber prefixes) that are the source (`SrcAddr`,
/// `id.orig_h`) of at least one flow whose label contains "Botnet" (CTU-13:
/// `flow=From-Botnet-V42-TCP-…`) or begins with "Malicious" (Zeek: `Malicious`,
/// `Malicious   C&C`). Every other label — `Normal`, `Benign`, `Background`, none — is not botnet. Predicted: the hosts of the
/// infected-device findings. A predicted host outside the truth is a false positive; those seen
/// with a "Normal" label are listed apart, because CTU's "Background" flows are unknown rather
/// than known clean.
public struct FlowLabelEvaluation: Sendable, Codable, Hashable {
    /// Internal hosts that sent Botnet-labelled flows.
    public var truth: [String]
    /// Hosts of infected-device findings.
    public var predicted: [String]
    /// Predicted hosts that are in the truth.
    public var truePositives: [String]
    /// Predicted hosts that sent no Botnet-labelled flow.
    public var falsePositives: [String]
    /// The false positives that sent at least one flow labelled "Normal".
    public var falsePositivesLabelledNormal: [String]
    /// Hosts in the truth without an infected-device finding.
    public var falseNegatives: [String]
    /// TP / (TP + FP); nil when nothing was predicted.
    public var precision: Double?
    /// TP / (TP + FN); nil when the labels name no infected host.
    public var recall: Double?
    /// Labelled flows read (any source, internal or not).
    public var labelledFlows: Int
    /// Of those, labelled Botnet.
    public var botnetFlows: Int
    /// Of those, labelled Normal.
    public var normalFlows: Int

    /// Whether a label marks its source as infected: CTU-13's contain "Botnet", Stratosphere's Zeek
    /// labels begin with "Malicious" (any case, leading spaces ignored). CTU-13 labels all begin
    /// with `flow=`, so the second rule does not change how they are read.
    public static func isBotnet(_ label: String) -> Bool {
        label.range(of: "botnet", options: .caseInsensitive) != nil || startsWord("malicious", label)
    }

    /// Whether a label marks a known clean flow: CTU-13's contain "Normal", Stratosphere's Zeek
    /// labels begin with "Benign" (any case).
    public static func isNormal(_ label: String) -> Bool {
        !isBotnet(label) && (label.range(of: "normal", options: .caseInsensitive) != nil || startsWord("benign", label))
    }

    /// Whether `label`, without leading spaces, begins with `word` in any case.
    private static func startsWord(_ word: String, _ label: String) -> Bool {
        label.drop(while: { $0 == " " || $0 == "\t" }).prefix(word.count).lowercased() == word
    }

    /// Collects the labels of a file as it is read, without keeping the flows.
    public struct Tally: Sendable {
        /// The subscriber prefixes (and CGNAT pools) that say which sources are internal hosts.
        public let layout: NetworkLayout
        var infected = Set<String>()
        var normal = Set<String>()
        var labelled = 0
        var botnet = 0
        var normalCount = 0

        public init(layout: NetworkLayout) { self.layout = layout }

        /// Counts one labelled flow sent by `address` from `port`.
        public mutating func add(address: IPAddress, port: UInt16, label: String) {
            labelled += 1
            let isBot = FlowLabelEvaluation.isBotnet(label)
            let isNormal = !isBot && FlowLabelEvaluation.isNormal(label)
            if isBot { botnet += 1 } else if isNormal { normalCount += 1 }
            guard isBot || isNormal, layout.subscriberPrefixes.contains(address) else { return }
            let host = FindingSubject.host(layout.host(address, port: port)).description
            if isBot { infected.insert(host) } else { normal.insert(host) }
        }

        /// Counts the label of an Argus record (its SrcAddr is the labelled host).
        public mutating func add(_ record: BinetflowRecord) {
            guard let label = record.label else { return }
            add(address: record.originator, port: record.forward?.sourcePort ?? record.reverse?.destinationPort ?? 0, label: label)
        }

        /// Counts the label of a Zeek connection (its originator is the labelled host); the
        /// detailed label is not used (`CC`, `PartOfAHorizontalPortScan` only refine `Malicious`).
        public mutating func add(_ connection: ZeekConnection) {
            guard let label = connection.label else { return }
            add(address: connection.originator, port: connection.originatorPort, label: label)
        }
    }

    /// - Parameters:
    ///   - labelledSources: one (source address, source port, label) per labelled flow.
    ///   - layout: the subscriber prefixes (and CGNAT pools) that say which sources are internal hosts.
    ///   - findings: the analyzer's findings; only infected-device ones count.
    public init(
        labelledSources: some Sequence<(address: IPAddress, port: UInt16, label: String)>, layout: NetworkLayout, findings: [Finding]
    ) {
        var tally = Tally(layout: layout)
        for (address, port, label) in labelledSources { tally.add(address: address, port: port, label: label) }
        self.init(tally: tally, findings: findings)
    }

    /// Scores `findings` against the labels counted in `tally`.
    public init(tally: Tally, findings: [Finding]) {
        let infected = tally.infected
        let normal = tally.normal
        let predictedSet = Set(findings.filter { $0.kind == .infectedDevice }.map(\.subject.description))
        truth = infected.sorted()
        predicted = predictedSet.sorted()
        truePositives = predictedSet.intersection(infected).sorted()
        falsePositives = predictedSet.subtracting(infected).sorted()
        falsePositivesLabelledNormal = predictedSet.subtracting(infected).intersection(normal).sorted()
        falseNegatives = infected.subtracting(predictedSet).sorted()
        precision = predictedSet.isEmpty ? nil : Double(truePositives.count) / Double(predictedSet.count)
        recall = infected.isEmpty ? nil : Double(truePositives.count) / Double(infected.count)
        labelledFlows = tally.labelled
        botnetFlows = tally.botnet
        normalFlows = tally.normalCount
    }

    /// A few readable lines: counts, precision, recall and the host lists.
    public var table: String {
        func ratio(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "n/a" }
        func list(_ hosts: [String]) -> String {
            hosts.isEmpty ? "-" : hosts.prefix(20).joined(separator: " ") + (hosts.count > 20 ? " … (+\(hosts.count - 20))" : "")
        }
        return """
            per-host evaluation against the labels (\(labelledFlows) labelled flows: \(botnetFlows) Botnet/Malicious, \(normalFlows) Normal/Benign)
              infected hosts: truth \(truth.count), predicted \(predicted.count)  TP \(truePositives.count)  FP \(falsePositives.count) (\(falsePositivesLabelledNormal.count) with Normal flows)  FN \(falseNegatives.count)
              precision \(ratio(precision))  recall \(ratio(recall))
              TP: \(list(truePositives))
              FP: \(list(falsePositives))
              FN: \(list(falseNegatives))
            """
    }
}
