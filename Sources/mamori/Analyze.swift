import ArgumentParser
import Detection
import Evaluation
import FlowCodec
import FlowFiles
import Foundation
import MamoriCore
import OfflineAnalysis
import Simulator

struct Analyze: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Mamori's detectors offline over captured flow exports and print the findings.",
        discussion: """
            Reads a pcap of NetFlow/IPFIX/sFlow export datagrams (as `mamori decode` does), feeds \
            every flow record to the same detectors `mamori serve` runs — C&C beacons, known \
            indicators, scanning, outbound and inbound DDoS, infected devices — on the capture's \
            clock, and prints the final state of every finding: JSON lines with --json (schema in \
            docs/findings.md), a readable list otherwise. A summary goes to standard error.

            The detectors must know which addresses are the carrier's subscribers: give \
            --subscriber-prefix (repeatable) and, for CGNAT pools with fixed port blocks, \
            --cgnat PREFIX:FIRST-PORT:PORTS-PER-BLOCK so hosts sharing a public address are told apart.

            With --labels (a `mamori simulate --labels` file) the network comes from the labels and \
            precision, recall and time-to-detect per finding kind are printed (EVALUATION.md).

            --format nfcapd reads nfdump's binary files as nfcapd 1.6 or 1.7 writes them (uncompressed or \
            LZ4; the default for files named nfcapd.*), so an existing nfcapd archive can be analysed.

            --format binetflow reads Argus bidirectional flow text as the Stratosphere CTU-13 \
            datasets publish it (header StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,…, \
            comma or tab separated; the default for .binetflow and .csv files). With \
            --labels-from-file its Label column is the truth: internal hosts that sent "Botnet" flows \
            are infected, and precision and recall of the infected-device findings per host are printed.

            --format zeek reads Zeek conn.logs, tab-separated or JSON lines (the default for files \
            named *conn*.log or starting with #separator or {); each connection becomes one flow per \
            direction with TCP flags rebuilt from conn_state/history. --base-time shifts relative \
            times; with --labels-from-file the Stratosphere label column is the truth (Malicious = infected).

            --truth scores the findings against the real-traffic corpus's ground truth \
            (Benchmarks/detection/corpus/corpus.json: expected C&C endpoints, infected hosts, scanners \
            and attacks, found or missed, and every false finding); the capture's network and base \
            time come from it. Benchmarks/detection/real.sh runs the whole corpus this way.

            Flows between a subscriber and a multicast, broadcast, link-local, private, documentation \
            or other special-purpose address are never analysed (no host on the Internet has one); a \
            lab capture names the special-purpose space that plays the Internet with --laboratory-internet.

            Examples:
              mamori analyze export.pcap --subscriber-prefix 147.32.80.0/24 --json
              mamori simulate --pcap isp.pcap --labels isp.json --duration 2h && mamori analyze isp.pcap --labels isp.json
              mamori analyze export.pcap --subscriber-prefix 198.18.0.0/15 --cgnat 198.18.0.0/22:1024:1008 --indicators c2.txt
              mamori analyze capture20110810.binetflow --subscriber-prefix 147.32.84.0/24 --labels-from-file
              mamori analyze Benchmarks/detection/corpus/test4.binetflow --truth Benchmarks/detection/corpus/corpus.json
              mamori analyze labeled-conn.log --subscriber-prefix 192.168.1.0/24 --base-time 1488980824 --labels-from-file
              mamori analyze /var/cache/nfdump/2026/11/23/nfcapd.2026112310* --subscriber-prefix 198.51.100.0/22
            """
    )

    @Argument(help: "pcap files holding export datagrams (or binetflow or nfcapd files), analysed in order as one stream.")
    var files: [String]

    @Option(
        help:
            "Input format: pcap (export datagrams), binetflow (Argus text, CTU-13), nfcapd (nfdump files) or zeek (conn.log, TSV or JSON). Default: zeek for *conn*.log files or files starting with #separator or {, binetflow for .binetflow/.csv/.tsv files, nfcapd for files named nfcapd.*, pcap otherwise."
    )
    var format: InputFormat?

    @Flag(help: "binetflow, zeek: score infected-device findings per host against the files' Label (label) column.")
    var labelsFromFile = false

    @Option(
        help: ArgumentHelp(
            "binetflow: offset of wall-clock StartTimes from UTC, seconds (CTU-13 is CET: 3600). Default 0 (UTC).", valueName: "seconds"))
    var utcOffset: Int = 0

    @Option(
        help: ArgumentHelp(
            "binetflow, zeek: epoch seconds added to numeric StartTimes/ts (for files with times relative to the capture start).",
            valueName: "seconds"))
    var baseTime: Double = 0

    @Flag(help: "Print findings as JSON lines.")
    var json = false

    @Option(
        help: ArgumentHelp(
            "Analysis threads: the subscriber hosts split into that many shards analysed in parallel (the findings are the same as with 1). 1 to 64.",
            valueName: "n"))
    var workers: Int = 1

    @Option(help: ArgumentHelp("Subscriber address space (repeatable), e.g. 100.64.0.0/10, 2001:db8::/32.", valueName: "prefix"))
    var subscriberPrefix: [String] = []

    @Option(help: ArgumentHelp("The carrier's own infrastructure, never analysed (repeatable).", valueName: "prefix"))
    var infrastructurePrefix: [String] = []

    @Option(
        help: ArgumentHelp(
            "Special-purpose space (documentation, reserved…) that plays the Internet in a lab capture (repeatable). Without it, flows to or from multicast, broadcast, link-local, private and other special-purpose addresses are not analysed.",
            valueName: "prefix"))
    var laboratoryInternet: [String] = []

    @Option(help: ArgumentHelp("A CGNAT pool with fixed port blocks (repeatable): PREFIX:FIRST-PORT:PORTS-PER-BLOCK.", valueName: "pool"))
    var cgnat: [String] = []

    @Option(help: ArgumentHelp("Indicator list (address, prefix or address:port/proto per line, then a family).", valueName: "file"))
    var indicators: String?

    @Option(help: ArgumentHelp("Allowlist of endpoints never reported as C&C (same format).", valueName: "file"))
    var allowlist: String?

    @Option(help: ArgumentHelp("Simulator labels: take the network from them and report precision and recall.", valueName: "file"))
    var labels: String?

    @Option(help: ArgumentHelp("Write the evaluation as JSON to this file (with --labels or --labels-from-file).", valueName: "file"))
    var evaluationJSON: String?

    @Option(help: "Only print findings with at least this score.")
    var minimumScore: Double = 0

    @Option(
        help: ArgumentHelp(
            "Real-traffic ground truth (Benchmarks/detection/corpus/corpus.json): score the findings against the capture's entry — found, missed, false — and take its network and base time unless given.",
            valueName: "file"))
    var truth: String?

    @Option(help: ArgumentHelp("The --truth entry to score against (default: the one naming the first input file).", valueName: "name"))
    var truthCapture: String?

    func run() async throws {
        let truth = try loadLabels()
        let corpusCapture = try loadTruthCapture()
        let network = try networkOptions()
        let layout = try Self.explained { try OfflineAnalyzer.networkLayout(network, labels: truth, truth: corpusCapture) }
        var configuration = DetectionConfiguration(network: layout, pseudonymKey: (0..<32).map { _ in UInt8.random(in: 0...255) })
        if let indicators { configuration.indicators = try readList(indicators, "--indicators") }
        if let allowlist { configuration.allowlist = try readList(allowlist, "--allowlist") }
        let inputFormat = format ?? InputFormat.guess(for: files)
        if labelsFromFile && !inputFormat.carriesLabels {
            throw ValidationError("--labels-from-file needs binetflow or zeek input (--format binetflow|zeek): pcaps carry no labels")
        }
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1 to 64") }
        var request = OfflineAnalyzer.Request(
            files: files, format: inputFormat, configuration: configuration, labels: truth, truth: corpusCapture,
            scoreFileLabels: labelsFromFile, utcOffsetSeconds: utcOffset, baseTime: baseTime)
        request.workers = workers
        let wallStart = Date()
        var lastProgress = wallStart
        let outcome = try Self.explained {
            try OfflineAnalyzer.run(request) { event in
                switch event {
                case .lineSkipped(let file, let reason):
                    FileHandle.standardError.write(Data("\(file): \(reason) (line skipped)\n".utf8))
                case .fileTruncated(let file):
                    FileHandle.standardError.write(
                        Data("\(file): ends inside a block (still being written, or cut): the records before it are used\n".utf8))
                case .analysed(let s):
                    // Every 1,024 datagrams of a pcap; shown at most once a second.
                    guard Date().timeIntervalSince(lastProgress) >= 1 else { return }
                    lastProgress = Date()
                    FileHandle.standardError.write(
                        Data("\ranalysed \(s.records) records  findings \(s.findingsReported)  pairs \(s.trackedPairs)   ".utf8))
                }
            }
        }
        try report(outcome, wallStart: wallStart)
    }

    /// Prints the findings (standard output), the summary and any evaluation (standard error),
    /// and writes the evaluation as JSON with --evaluation-json.
    private func report(_ outcome: OfflineAnalyzer.Outcome, wallStart: Date) throws {
        let findings = outcome.findings.filter { $0.score >= minimumScore }
        var out = ""
        // The API's form (docs/findings.md): snake_case keys.
        let encoder = APIJSON.encoder()
        for f in findings {
            if json {
                out += String(decoding: try encoder.encode(f), as: UTF8.self) + "\n"
            } else {
                out +=
                    "\(f.kind.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)) \(String(format: "%.2f", f.score))  \(f.summary)\n"
                for r in f.evidence.reasons { out += "    · \(r)\n" }
            }
        }
        FileHandle.standardOutput.write(Data(out.utf8))
        let s = outcome.statistics
        let seconds = Date().timeIntervalSince(wallStart)
        var tail = "\r" + outcome.inputSummary + "\n"
        tail +=
            "analysed \(s.records) records (\(s.outbound) outbound, \(s.inbound) inbound, \(s.notCrossing) not crossing the subscriber edge, \(s.specialPurpose) with a special-purpose remote address) in \(String(format: "%.1f", seconds)) s; "
        let perKind: [String] = FindingKind.allCases.map { k in
            let n = findings.filter { $0.kind == k }.count
            return "\(k.rawValue) \(n)"
        }
        tail += "\(findings.count) findings (\(perKind.joined(separator: ", ")))\n"
        let held = [
            ("a popular service", s.suppressedPopular), ("content, not check-ins", s.suppressedBulk),
            ("a peer-to-peer application", s.suppressedPeerToPeer), ("a time server", s.suppressedTimeService),
            ("allowlisted", s.suppressedAllowlisted),
        ].filter { $0.1 > 0 }
        if !held.isEmpty {
            tail +=
                "periodic contacts explained by a benign hypothesis (evaluations): "
                + held.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + "\n"
        }
        if s.outbound + s.inbound == 0 && s.records > 0 {
            tail += "warning: no record crossed the subscriber edge — check --subscriber-prefix\n"
        }
        FileHandle.standardError.write(Data(tail.utf8))

        if let evaluation = outcome.labelEvaluation {
            FileHandle.standardError.write(Data((evaluation.table + "\n").utf8))
            try writeEvaluationJSON(evaluation)
        }
        if let evaluation = outcome.flowLabelEvaluation {
            FileHandle.standardError.write(Data((evaluation.table + "\n").utf8))
            try writeEvaluationJSON(evaluation)
        }
        if let score = outcome.corpusScore {
            FileHandle.standardError.write(Data(score.text.utf8))
            try writeEvaluationJSON(score)
        }
    }

    /// Writes an evaluation to --evaluation-json, if given (the last one written stays).
    private func writeEvaluationJSON(_ evaluation: some Encodable) throws {
        guard let evaluationJSON else { return }
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try e.encode(evaluation).write(to: URL(fileURLWithPath: evaluationJSON))
    }

    /// The simulator labels of --labels, or nil without it.
    private func loadLabels() throws -> Labels? {
        guard let labels else { return nil }
        do {
            return try JSONDecoder().decode(Labels.self, from: Data(contentsOf: URL(fileURLWithPath: labels)))
        } catch {
            throw ValidationError("cannot read labels \(labels): \(error)")
        }
    }

    /// The --truth entry for this run, or nil without --truth.
    private func loadTruthCapture() throws -> CorpusManifest.Capture? {
        guard let truth else { return nil }
        let manifest: CorpusManifest
        do { manifest = try CorpusManifest.load(truth) } catch {
            throw ValidationError("cannot read --truth \(truth): \(error)")
        }
        let name = truthCapture ?? files.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? ""
        guard let capture = manifest.capture(named: name) else {
            let names = manifest.captures.map(\.name).joined(separator: ", ")
            throw ValidationError("--truth \(truth) has no capture named '\(name)' (it has: \(names)); choose one with --truth-capture")
        }
        return capture
    }

    /// The network options as given on the command line.
    private func networkOptions() throws -> NetworkOptions {
        func prefixes(_ list: [String], _ option: String) throws -> [IPPrefix] {
            try list.map { text in
                guard let p = IPPrefix(text) else {
                    throw ValidationError("\(option) '\(text)' is not a prefix like 100.64.0.0/10 or 2001:db8::/32")
                }
                return p
            }
        }
        let subscribers = try prefixes(subscriberPrefix, "--subscriber-prefix")
        let infrastructure = try prefixes(infrastructurePrefix, "--infrastructure-prefix")
        let pools: [CGNATPool] = try cgnat.map { text in
            let parts = text.split(separator: ":")
            guard parts.count == 3, let p = IPPrefix(parts[0]), p.isIPv4, let first = UInt16(parts[1]), let size = UInt16(parts[2]),
                size > 0
            else {
                throw ValidationError("--cgnat '\(text)' must be PREFIX:FIRST-PORT:PORTS-PER-BLOCK, e.g. 198.18.0.0/22:1024:1008")
            }
            return CGNATPool(prefix: p, firstPort: first, portsPerBlock: size)
        }
        return NetworkOptions(
            subscriberPrefixes: subscribers, infrastructurePrefixes: infrastructure, cgnatPools: pools,
            laboratoryInternet: try prefixes(laboratoryInternet, "--laboratory-internet"))
    }

    private func readList(_ path: String, _ option: String) throws -> EndpointList {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("cannot read \(option) \(path)") }
        let (list, errors) = EndpointList.parse(text)
        for e in errors { FileHandle.standardError.write(Data("\(path): \(e) (line skipped)\n".utf8)) }
        return list
    }

    /// Runs `body`; an analysis failure becomes a usage error in the words of this command's options.
    private static func explained<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let failure as OfflineAnalyzer.Failure {
            switch failure {
            case .noLabelColumn(let file, .zeek):
                throw ValidationError("\(file) has no label column (Stratosphere `label`): --labels-from-file needs one")
            case .noLabelColumn(let file, _): throw ValidationError("\(file) has no Label column: --labels-from-file needs one")
            case .noSubscriberSpace:
                throw ValidationError(
                    "give the subscriber address space with --subscriber-prefix (or simulator --labels): without it no flow can be told inbound from outbound"
                )
            case .badTruthPrefix(let text, let field):
                throw ValidationError("--truth \(field) '\(text)' is not a prefix like 100.64.0.0/10 or 2001:db8::/32")
            case .unreadable, .malformed: throw ValidationError(failure.description)
            }
        }
    }
}

extension InputFormat: ExpressibleByArgument {}
