// OfflineAnalysis: the pipeline `mamori analyze` runs, as a library function. Files of flow data
// (a pcap of NetFlow/IPFIX/sFlow export datagrams, nfcapd files, Argus binetflow text, Zeek
// conn.logs) are read in order as one stream, fed to the detectors (Detection's FlowAnalyzer) on
// the data's own clock, and the final findings come back with the analyzer's statistics and, when
// ground truth is given, their evaluation (Evaluation). It reads files and may import Foundation,
// FlowCodec, Detection, Evaluation, Simulator (for its labels) and MamoriCore; it prints nothing,
// reads no clock, parses no command line: progress and skipped lines are handed to a callback.
// Used by the `mamori analyze` command and by OfflineAnalysisTests.

import Detection
import Evaluation
import FlowCodec
import Foundation
import MamoriCore
import Simulator

/// Runs the offline analysis: ``run(_:progress:)``.
public enum OfflineAnalyzer {
    /// What to analyse, and with what.
    public struct Request: Sendable {
        /// The input files, analysed in order as one stream.
        public var files: [String]
        /// What the files hold (``InputFormat/guess(for:)`` picks one from the names).
        public var format: InputFormat
        /// The detectors' configuration; its network layout says who the subscribers are.
        public var configuration: DetectionConfiguration
        /// A simulator's ground truth (`mamori simulate --labels`): the findings are scored
        /// against it (``Outcome/labelEvaluation``).
        public var labels: Labels?
        /// A real-traffic corpus entry's ground truth: the findings are scored against it
        /// (``Outcome/corpusScore``), and its base time is used when ``baseTime`` is 0.
        public var truth: CorpusManifest.Capture?
        /// binetflow and Zeek: score the infected-device findings per host against the files'
        /// own label column (``Outcome/flowLabelEvaluation``); a file without one is an error.
        public var scoreFileLabels: Bool
        /// binetflow: offset of wall-clock StartTimes from UTC, seconds (CTU-13 is CET: 3600).
        public var utcOffsetSeconds: Int
        /// binetflow and Zeek: epoch seconds added to numeric times (files with times relative to
        /// the capture's start); 0 takes the truth's base time, if any.
        public var baseTime: Double
        /// Analysis threads (``ShardedFlowAnalyzer``): 1 analyses on the calling thread.
        public var workers = 1

        public init(
            files: [String], format: InputFormat, configuration: DetectionConfiguration, labels: Labels? = nil,
            truth: CorpusManifest.Capture? = nil, scoreFileLabels: Bool = false, utcOffsetSeconds: Int = 0, baseTime: Double = 0
        ) {
            self.files = files
            self.format = format
            self.configuration = configuration
            self.labels = labels
            self.truth = truth
            self.scoreFileLabels = scoreFileLabels
            self.utcOffsetSeconds = utcOffsetSeconds
            self.baseTime = baseTime
        }

        /// The base time for relative timestamps: ``baseTime``, else the truth's.
        var effectiveBaseTime: Double { baseTime != 0 ? baseTime : truth?.baseTime ?? 0 }
    }

    /// What the analysis found.
    public struct Outcome: Sendable {
        /// The final state of every finding, in the analyzer's order.
        public var findings: [Finding]
        /// The analyzer's counters at the end.
        public var statistics: AnalyzerStatistics
        /// One line (two when the decoder met errors) on what was read: datagrams or lines,
        /// records, what was skipped.
        public var inputSummary: String
        /// The findings scored against ``Request/labels``.
        public var labelEvaluation: LabelEvaluation?
        /// The infected-device findings scored against the files' label column (``Request/scoreFileLabels``).
        public var flowLabelEvaluation: FlowLabelEvaluation?
        /// The findings scored against ``Request/truth``.
        public var corpusScore: CorpusScore?
    }

    /// What happens along the way, for a caller that shows it.
    public enum Progress {
        /// A line that could not be read was skipped (reported for the first 20 per file).
        case lineSkipped(file: String, reason: String)
        /// An nfcapd file ends inside a block (still being written, or cut): the records before it were used.
        case fileTruncated(file: String)
        /// Every 1,024 datagrams of a pcap: the analyzer's counters so far.
        case analysed(AnalyzerStatistics)
    }

    /// Why the analysis could not run.
    public enum Failure: Error, CustomStringConvertible, Sendable {
        /// A file could not be read at all.
        case unreadable(file: String, reason: String)
        /// A file's contents are not what its format promises (a header, a block).
        case malformed(file: String, reason: String)
        /// ``Request/scoreFileLabels`` was asked for, and this file has no label column.
        case noLabelColumn(file: String, format: InputFormat)
        /// No subscriber address space was given and none came from labels or truth.
        case noSubscriberSpace
        /// A prefix of the truth's (`subscriberPrefixes`, `infrastructurePrefixes`) is not one.
        case badTruthPrefix(String, field: String)

        public var description: String {
            switch self {
            case .unreadable(let file, let reason): "cannot read \(file): \(reason)"
            case .malformed(let file, let reason): "\(file): \(reason)"
            case .noLabelColumn(let file, .zeek): "\(file) has no label column (Stratosphere `label`)"
            case .noLabelColumn(let file, _): "\(file) has no Label column"
            case .noSubscriberSpace: "no subscriber address space: without it no flow can be told inbound from outbound"
            case .badTruthPrefix(let text, let field): "the truth's \(field) '\(text)' is not a prefix like 100.64.0.0/10 or 2001:db8::/32"
            }
        }
    }

    /// Reads every file of `request`, feeds the detectors and returns the final findings, the
    /// statistics and any evaluation. Throws a ``Failure``.
    public static func run(_ request: Request, progress: (Progress) -> Void = { _ in }) throws -> Outcome {
        let layout = request.configuration.network
        var analyzer = ShardedFlowAnalyzer(configuration: request.configuration, shards: request.workers)
        // For the evaluation: which hosts were seen talking to each labelled C&C endpoint.
        var c2Contacts = request.labels.map { CommandAndControlContacts(labels: $0, layout: layout) }
        func observe(_ r: FlowRecord) { c2Contacts?.observe(r) }
        var flowLabelEvaluation: FlowLabelEvaluation? = nil
        let inputSummary: String
        switch request.format {
        case .binetflow:
            var tally = FlowLabelEvaluation.Tally(layout: layout)
            inputSummary = try readBinetflow(request, into: &analyzer, tally: &tally, observe: observe, progress: progress)
            if request.scoreFileLabels { flowLabelEvaluation = FlowLabelEvaluation(tally: tally, findings: analyzer.currentFindings) }
        case .zeek:
            var tally = FlowLabelEvaluation.Tally(layout: layout)
            inputSummary = try readZeek(request, into: &analyzer, tally: &tally, observe: observe, progress: progress)
            if request.scoreFileLabels { flowLabelEvaluation = FlowLabelEvaluation(tally: tally, findings: analyzer.currentFindings) }
        case .nfcapd:
            inputSummary = try readNfcapd(request.files, into: &analyzer, observe: observe, progress: progress)
        case .pcap:
            inputSummary = try readPcaps(request.files, into: &analyzer, observe: observe, progress: progress)
        }
        let findings = analyzer.currentFindings
        return Outcome(
            findings: findings,
            statistics: analyzer.statistics,
            inputSummary: inputSummary,
            labelEvaluation: request.labels.map {
                LabelEvaluation(labels: $0, layout: layout, findings: findings, c2Contacts: c2Contacts?.counts ?? [:])
            },
            flowLabelEvaluation: flowLabelEvaluation,
            corpusScore: request.truth.map { CorpusScore(capture: $0, findings: findings) }
        )
    }
}
