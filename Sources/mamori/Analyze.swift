import ArgumentParser
import Detection
import Evaluation
import FlowCodec
import FlowFiles
import Foundation
import MamoriCore
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

    /// What the input files hold.
    enum InputFormat: String, ExpressibleByArgument, CaseIterable {
        case pcap, binetflow, nfcapd, zeek
    }

    @Option(help: "Input format: pcap (export datagrams), binetflow (Argus text, CTU-13), nfcapd (nfdump files) or zeek (conn.log, TSV or JSON). Default: zeek for *conn*.log files or files starting with #separator or {, binetflow for .binetflow/.csv/.tsv files, nfcapd for files named nfcapd.*, pcap otherwise.")
    var format: InputFormat?

    @Flag(help: "binetflow, zeek: score infected-device findings per host against the files' Label (label) column.")
    var labelsFromFile = false

    @Option(help: ArgumentHelp("binetflow: offset of wall-clock StartTimes from UTC, seconds (CTU-13 is CET: 3600). Default 0 (UTC).", valueName: "seconds"))
    var utcOffset: Int = 0

    @Option(help: ArgumentHelp("binetflow, zeek: epoch seconds added to numeric StartTimes/ts (for files with times relative to the capture start).", valueName: "seconds"))
    var baseTime: Double = 0

    @Flag(help: "Print findings as JSON lines.")
    var json = false

    @Option(help: ArgumentHelp("Subscriber address space (repeatable), e.g. 100.64.0.0/10, 2001:db8::/32.", valueName: "prefix"))
    var subscriberPrefix: [String] = []

    @Option(help: ArgumentHelp("The carrier's own infrastructure, never analysed (repeatable).", valueName: "prefix"))
    var infrastructurePrefix: [String] = []

    @Option(help: ArgumentHelp("Special-purpose space (documentation, reserved…) that plays the Internet in a lab capture (repeatable). Without it, flows to or from multicast, broadcast, link-local, private and other special-purpose addresses are not analysed.", valueName: "prefix"))
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

    @Option(help: ArgumentHelp("Real-traffic ground truth (Benchmarks/detection/corpus/corpus.json): score the findings against the capture's entry — found, missed, false — and take its network and base time unless given.", valueName: "file"))
    var truth: String?

    @Option(help: ArgumentHelp("The --truth entry to score against (default: the one naming the first input file).", valueName: "name"))
    var truthCapture: String?

    func run() async throws {
        var truth: Labels? = nil
        if let labels {
            do {
                truth = try JSONDecoder().decode(Labels.self, from: Data(contentsOf: URL(fileURLWithPath: labels)))
            } catch {
                throw ValidationError("cannot read labels \(labels): \(error)")
            }
        }
        let corpusCapture = try loadTruthCapture()
        let layout = try networkLayout(labels: truth, corpus: corpusCapture)
        var configuration = DetectionConfiguration(network: layout, pseudonymKey: (0..<32).map { _ in UInt8.random(in: 0...255) })
        if let indicators { configuration.indicators = try readList(indicators, "--indicators") }
        if let allowlist { configuration.allowlist = try readList(allowlist, "--allowlist") }
        var analyzer = FlowAnalyzer(configuration: configuration)

        // For the evaluation: which hosts were seen talking to each labelled C&C endpoint.
        var c2Contacts = truth.map { CommandAndControlContacts(labels: $0, layout: layout) }
        func observe(_ r: FlowRecord) { c2Contacts?.observe(r) }
        let wallStart = Date()
        let textExtensions = [".binetflow", ".csv", ".tsv"]
        let looksLikeText = files.allSatisfy { file in textExtensions.contains { file.lowercased().hasSuffix($0) } }
        let looksLikeNfcapd = files.allSatisfy { URL(fileURLWithPath: $0).lastPathComponent.hasPrefix("nfcapd.") }
        let inputFormat: InputFormat = format ?? (Self.looksLikeZeekConnLog(files) ? .zeek : looksLikeText ? .binetflow : looksLikeNfcapd ? .nfcapd : .pcap)
        if labelsFromFile && inputFormat != .binetflow && inputFormat != .zeek {
            throw ValidationError("--labels-from-file needs binetflow or zeek input (--format binetflow|zeek): pcaps carry no labels")
        }
        var flowLabelEvaluation: FlowLabelEvaluation? = nil
        var decodeSummaryText = ""
        if inputFormat == .binetflow {
            var tally = FlowLabelEvaluation.Tally(layout: layout)
            analyzer = try analyzeBinetflow(analyzer, baseTime: baseTime(from: corpusCapture), tally: &tally, observe: observe, summary: &decodeSummaryText)
            if labelsFromFile {
                flowLabelEvaluation = FlowLabelEvaluation(tally: tally, findings: analyzer.currentFindings)
            }
        } else if inputFormat == .zeek {
            var tally = FlowLabelEvaluation.Tally(layout: layout)
            analyzer = try analyzeZeek(analyzer, baseTime: baseTime(from: corpusCapture), tally: &tally, observe: observe, summary: &decodeSummaryText)
            if labelsFromFile { flowLabelEvaluation = FlowLabelEvaluation(tally: tally, findings: analyzer.currentFindings) }
        } else if inputFormat == .nfcapd {
            decodeSummaryText = try analyzeNfcapd(&analyzer, observe: observe)
        } else {
            decodeSummaryText = try analyzePcaps(&analyzer, observe: observe, wallStart: wallStart)
        }
        try report(analyzer: analyzer, layout: layout, truth: truth, c2Contacts: c2Contacts?.counts ?? [:], flowLabelEvaluation: flowLabelEvaluation,
                   decodeSummary: decodeSummaryText, wallStart: wallStart)
        if let corpusCapture { try score(analyzer.currentFindings, against: corpusCapture) }
    }

    /// Streams every binetflow file through the analyzer (records in start-time order within a
    /// 5-minute reorder window) and tallies the labels; bad lines are reported on standard error
    /// (the first 20 per file) and skipped.
    private func analyzeBinetflow(
        _ analyzer: FlowAnalyzer, baseTime: Double, tally: inout FlowLabelEvaluation.Tally, observe: (FlowRecord) -> Void, summary: inout String
    ) throws -> FlowAnalyzer {
        let options = BinetflowParser.Options(baseTimeMilliseconds: Int64((baseTime * 1000).rounded()), utcOffsetSeconds: utcOffset)
        var replay = BinetflowReplay(analyzer: analyzer)
        var lines = 0, records = 0, nonIP = 0, malformed = 0, unlabelled = 0
        var estimatedPackets = false, estimatedBytes = false
        for file in files {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw ValidationError("cannot read \(file): \(error)")
            }
            var reported = 0
            let parser: BinetflowParser
            do {
                parser = try BinetflowParser.forEachLine(of: text, options: options) { outcome in
                    lines += 1
                    switch outcome {
                    case .success(let record):
                        records += 1
                        if record.label == nil { unlabelled += 1 }
                        tally.add(record)
                        replay.add(record, observe: observe)
                    case .failure(let error):
                        if case .notAnIPFlow = error.reason {
                            nonIP += 1
                            return
                        }
                        malformed += 1
                        if reported < 20 {
                            reported += 1
                            FileHandle.standardError.write(Data("\(file): \(error) (line skipped)\n".utf8))
                        }
                    }
                }
            } catch {
                throw ValidationError("\(file): \(error)")
            }
            if labelsFromFile && !parser.hasLabels {
                throw ValidationError("\(file) has no Label column: --labels-from-file needs one")
            }
            estimatedPackets = estimatedPackets || !parser.hasSourcePackets
            estimatedBytes = estimatedBytes || !parser.hasSourceBytes
        }
        replay.finish(observe: observe)
        summary = "read \(lines) binetflow lines: \(records) records, \(nonIP) not IP flows (skipped), \(malformed) malformed"
        if labelsFromFile { summary += ", \(unlabelled) without a label" }
        if replay.lateRecords > 0 { summary += ", \(replay.lateRecords) out of start-time order by more than 5 minutes (fed late)" }
        if estimatedBytes {
            summary += "; no SrcBytes column: one-way records give their bytes to the sender, two-way records split packets and bytes evenly (estimated)"
        } else if estimatedPackets {
            summary += "; no SrcPkts column: per-direction packets estimated from bytes"
        }
        return replay.analyzer
    }

    /// Reads nfcapd files and feeds their records in end-time order (nfcapd writes them in export
    /// order), on the records' own clock.
    private func analyzeNfcapd(_ analyzer: inout FlowAnalyzer, observe: (FlowRecord) -> Void) throws -> String {
        var total = 0, skipped = 0, damaged = 0, truncated = 0
        for file in files {
            let result: NfdumpFile.Result
            do {
                result = try NfdumpFile.read([UInt8](Data(contentsOf: URL(fileURLWithPath: file))))
            } catch let e as NfdumpFile.Error {
                throw ValidationError("\(file): \(e)")
            } catch {
                throw ValidationError("cannot read \(file): \(error)")
            }
            let records = result.records.sorted { $0.endMilliseconds < $1.endMilliseconds }
            for (i, r) in records.enumerated() {
                analyzer.ingest(r, receivedAt: r.endMilliseconds)
                observe(r)
                if i % 1024 == 1023 { _ = analyzer.evaluate(now: r.endMilliseconds) }
            }
            if let last = records.last { _ = analyzer.evaluate(now: last.endMilliseconds) }
            total += records.count
            skipped += result.skippedRecords
            damaged += result.damagedBlocks
            if result.truncated {
                truncated += 1
                FileHandle.standardError.write(Data("\(file): ends inside a block (still being written, or cut): the records before it are used\n".utf8))
            }
        }
        _ = analyzer.finish()
        return "read \(files.count) nfcapd file(s): \(total) flow records, \(skipped) other records skipped, \(damaged) unreadable block(s), \(truncated) truncated file(s)"
    }

    /// Decodes the pcaps' export datagrams and feeds them to the analyzer on the capture's clock.
    private func analyzePcaps(_ analyzer: inout FlowAnalyzer, observe: (FlowRecord) -> Void, wallStart: Date) throws -> String {

        var decoderConfiguration = FlowDecoder.Configuration()
        decoderConfiguration.templateTimeoutSeconds = 0
        var decoder = FlowDecoder(configuration: decoderConfiguration)
        var summary = DecodeSummary()
        var records: [FlowRecord] = []
        var lastProgress = wallStart
        for file in files {
            let pcap: PcapFile
            do { pcap = try PcapFile(bytes: [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))) } catch {
                throw ValidationError("cannot read \(file): \(error)")
            }
            for d in pcap.datagrams {
                records.removeAll(keepingCapacity: true)
                let time = d.timestampMicroseconds / 1000
                let report = d.payload.withUnsafeBytes { decoder.decode($0, from: d.sourceAddress, receivedAtMilliseconds: time, into: &records) }
                summary.add(report)
                for r in records {
                    analyzer.ingest(r, receivedAt: time)
                    observe(r)
                }
                _ = analyzer.evaluate(now: time)  // the analyzer's clock only moves forward
                // The clock is read every 1,024 datagrams, not per datagram.
                if summary.datagrams % 1024 == 0 && Date().timeIntervalSince(lastProgress) >= 1 {
                    lastProgress = Date()
                    let s = analyzer.statistics
                    FileHandle.standardError.write(Data("\ranalysed \(s.records) records  findings \(s.findingsReported)  pairs \(s.trackedPairs)   ".utf8))
                }
            }
        }
        _ = analyzer.finish()
        return summary.text(skippedFrames: 0, templates: decoder.templates.count)
    }

    /// Prints the findings (standard output), the summary and any evaluation (standard error).
    private func report(
        analyzer: FlowAnalyzer, layout: NetworkLayout, truth: Labels?, c2Contacts: [String: Int],
        flowLabelEvaluation: FlowLabelEvaluation?, decodeSummary: String, wallStart: Date
    ) throws {
        let findings = analyzer.currentFindings.filter { $0.score >= minimumScore }
        var out = ""
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for f in findings {
            if json {
                out += String(decoding: try encoder.encode(f), as: UTF8.self) + "\n"
            } else {
                out += "\(f.kind.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)) \(String(format: "%.2f", f.score))  \(f.summary)\n"
                for r in f.evidence.reasons { out += "    · \(r)\n" }
            }
        }
        FileHandle.standardOutput.write(Data(out.utf8))
        let s = analyzer.statistics
        let seconds = Date().timeIntervalSince(wallStart)
        var tail = "\r" + decodeSummary + "\n"
        tail += "analysed \(s.records) records (\(s.outbound) outbound, \(s.inbound) inbound, \(s.notCrossing) not crossing the subscriber edge, \(s.specialPurpose) with a special-purpose remote address) in \(String(format: "%.1f", seconds)) s; "
        let perKind: [String] = FindingKind.allCases.map { k in
            let n = findings.filter { $0.kind == k }.count
            return "\(k.rawValue) \(n)"
        }
        tail += "\(findings.count) findings (\(perKind.joined(separator: ", ")))\n"
        let held = [("a popular service", s.suppressedPopular), ("content, not check-ins", s.suppressedBulk),
                    ("a peer-to-peer application", s.suppressedPeerToPeer), ("a time server", s.suppressedTimeService),
                    ("allowlisted", s.suppressedAllowlisted)].filter { $0.1 > 0 }
        if !held.isEmpty {
            tail += "periodic contacts explained by a benign hypothesis (evaluations): " + held.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + "\n"
        }
        if s.outbound + s.inbound == 0 && s.records > 0 {
            tail += "warning: no record crossed the subscriber edge — check --subscriber-prefix\n"
        }
        FileHandle.standardError.write(Data(tail.utf8))

        if let truth {
            let evaluation = LabelEvaluation(labels: truth, layout: layout, findings: analyzer.currentFindings, c2Contacts: c2Contacts)
            FileHandle.standardError.write(Data((evaluation.table + "\n").utf8))
            if let evaluationJSON {
                let e = JSONEncoder()
                e.outputFormatting = [.prettyPrinted, .sortedKeys]
                try e.encode(evaluation).write(to: URL(fileURLWithPath: evaluationJSON))
            }
        }
        if let flowLabelEvaluation {
            FileHandle.standardError.write(Data((flowLabelEvaluation.table + "\n").utf8))
            if let evaluationJSON {
                let e = JSONEncoder()
                e.outputFormatting = [.prettyPrinted, .sortedKeys]
                try e.encode(flowLabelEvaluation).write(to: URL(fileURLWithPath: evaluationJSON))
            }
        }
    }

    private func networkLayout(labels: Labels?, corpus: CorpusManifest.Capture?) throws -> NetworkLayout {
        func prefixes(_ list: [String], _ option: String) throws -> [IPPrefix] {
            try list.map { text in
                guard let p = IPPrefix(text) else { throw ValidationError("\(option) '\(text)' is not a prefix like 100.64.0.0/10 or 2001:db8::/32") }
                return p
            }
        }
        var subscribers = try prefixes(subscriberPrefix, "--subscriber-prefix")
        var infrastructure = try prefixes(infrastructurePrefix, "--infrastructure-prefix")
        if subscribers.isEmpty, let corpus {
            subscribers = try prefixes(corpus.subscriberPrefixes, "--truth subscriberPrefixes")
            infrastructure += try prefixes(corpus.infrastructurePrefixes ?? [], "--truth infrastructurePrefixes")
        }
        var pools: [CGNATPool] = try cgnat.map { text in
            let parts = text.split(separator: ":")
            guard parts.count == 3, let p = IPPrefix(parts[0]), p.isIPv4, let first = UInt16(parts[1]), let size = UInt16(parts[2]), size > 0 else {
                throw ValidationError("--cgnat '\(text)' must be PREFIX:FIRST-PORT:PORTS-PER-BLOCK, e.g. 198.18.0.0/22:1024:1008")
            }
            return CGNATPool(prefix: p, firstPort: first, portsPerBlock: size)
        }
        if subscribers.isEmpty, let labels, let layout = LabelEvaluation.networkLayout(labels) {
            subscribers = layout.subscriberPrefixes.prefixes
            infrastructure += layout.infrastructurePrefixes.prefixes
            pools += layout.cgnatPools
        }
        guard !subscribers.isEmpty else {
            throw ValidationError("give the subscriber address space with --subscriber-prefix (or simulator --labels): without it no flow can be told inbound from outbound")
        }
        var lab = try prefixes(laboratoryInternet, "--laboratory-internet")
        if lab.isEmpty, labels != nil { lab = LabelEvaluation.simulatorInternet }
        return NetworkLayout(subscriberPrefixes: subscribers, infrastructurePrefixes: infrastructure, cgnatPools: pools, laboratoryInternet: lab)
    }

    private func readList(_ path: String, _ option: String) throws -> EndpointList {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("cannot read \(option) \(path)") }
        let (list, errors) = EndpointList.parse(text)
        for e in errors { FileHandle.standardError.write(Data("\(path): \(e) (line skipped)\n".utf8)) }
        return list
    }
}
