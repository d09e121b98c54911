import Detection
import Evaluation
import FlowCodec
import FlowFiles
import Foundation

/// One reader per input format: each feeds every record of its files to the analyzer, lets it
/// finish, and returns the line that says what was read.
extension OfflineAnalyzer {
    /// Lines reported as skipped per file; the others are only counted.
    static let skippedLinesReported = 20

    /// Streams every binetflow file through the analyzer (records in start-time order within a
    /// 5-minute reorder window) and tallies the labels; bad lines are reported (the first 20 per
    /// file) and skipped.
    static func readBinetflow(
        _ request: Request, into analyzer: inout ShardedFlowAnalyzer, tally: inout FlowLabelEvaluation.Tally,
        observe: (FlowRecord) -> Void, progress: (Progress) -> Void
    ) throws -> String {
        let options = BinetflowParser.Options(
            baseTimeMilliseconds: Int64((request.effectiveBaseTime * 1000).rounded()), utcOffsetSeconds: request.utcOffsetSeconds)
        var replay = BinetflowReplay(analyzer: analyzer)
        var lines = 0
        var records = 0
        var nonIP = 0
        var malformed = 0
        var unlabelled = 0
        var estimatedPackets = false
        var estimatedBytes = false
        for file in request.files {
            let text = try readText(file)
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
                        if reported < skippedLinesReported {
                            reported += 1
                            progress(.lineSkipped(file: file, reason: "\(error)"))
                        }
                    }
                }
            } catch {
                throw Failure.malformed(file: file, reason: "\(error)")
            }
            if request.scoreFileLabels && !parser.hasLabels {
                throw Failure.noLabelColumn(file: file, format: .binetflow)
            }
            estimatedPackets = estimatedPackets || !parser.hasSourcePackets
            estimatedBytes = estimatedBytes || !parser.hasSourceBytes
        }
        replay.finish(observe: observe)
        analyzer = replay.analyzer
        var summary = "read \(lines) binetflow lines: \(records) records, \(nonIP) not IP flows (skipped), \(malformed) malformed"
        if request.scoreFileLabels { summary += ", \(unlabelled) without a label" }
        if replay.lateRecords > 0 { summary += ", \(replay.lateRecords) out of start-time order by more than 5 minutes (fed late)" }
        if estimatedBytes {
            summary +=
                "; no SrcBytes column: one-way records give their bytes to the sender, two-way records split packets and bytes evenly (estimated)"
        } else if estimatedPackets {
            summary += "; no SrcPkts column: per-direction packets estimated from bytes"
        }
        return summary
    }

    /// Streams every conn.log through the analyzer (connections in start-time order within a
    /// 5-minute reorder window, as for binetflow) and tallies the labels; bad lines are reported
    /// (the first 20 per file) and skipped.
    static func readZeek(
        _ request: Request, into analyzer: inout ShardedFlowAnalyzer, tally: inout FlowLabelEvaluation.Tally,
        observe: (FlowRecord) -> Void, progress: (Progress) -> Void
    ) throws -> String {
        let options = ZeekConnLog.Options(baseTimeMilliseconds: Int64((request.effectiveBaseTime * 1000).rounded()))
        var replay = BinetflowReplay(analyzer: analyzer)
        var lines = 0
        var connections = 0
        var skipped = 0
        var malformed = 0
        var labelled = 0
        var silent = 0
        var formats = Set<String>()
        for file in request.files {
            let text = try readText(file)
            var reported = 0
            var fileLabelled = 0
            do {
                let format = try ZeekConnLog.forEachLine(of: text, options: options) { outcome in
                    lines += 1
                    switch outcome {
                    case .success(let connection):
                        connections += 1
                        if connection.label != nil { fileLabelled += 1 }
                        if connection.flows.isEmpty { silent += 1 }
                        tally.add(connection)
                        replay.add(connection, observe: observe)
                    case .failure(let error):
                        if case .notATransportFlow = error.reason {
                            skipped += 1
                            return
                        }
                        malformed += 1
                        if reported < skippedLinesReported {
                            reported += 1
                            progress(.lineSkipped(file: file, reason: "\(error)"))
                        }
                    }
                }
                formats.insert(format.rawValue)
            } catch {
                throw Failure.malformed(file: file, reason: "\(error)")
            }
            if request.scoreFileLabels && fileLabelled == 0 {
                throw Failure.noLabelColumn(file: file, format: .zeek)
            }
            labelled += fileLabelled
        }
        replay.finish(observe: observe)
        analyzer = replay.analyzer
        var summary = "read \(lines) zeek conn.log lines (\(formats.sorted().joined(separator: ", "))): \(connections) connections"
        summary += ", \(skipped) not TCP/UDP/ICMP (skipped), \(malformed) malformed"
        if silent > 0 { summary += ", \(silent) with no packets counted" }
        if request.scoreFileLabels { summary += ", \(connections - labelled) without a label" }
        if replay.lateRecords > 0 { summary += ", \(replay.lateRecords) out of start-time order by more than 5 minutes (fed late)" }
        summary += "; TCP flags reconstructed from conn_state/history"
        return summary
    }

    /// Reads nfcapd files (each file's records in end-time order, the files in the order given:
    /// nfcapd rotates files in time order), on the records' own clock.
    static func readNfcapd(
        _ files: [String], into analyzer: inout ShardedFlowAnalyzer, observe: (FlowRecord) -> Void, progress: (Progress) -> Void
    ) throws -> String {
        var total = 0
        var skipped = 0
        var damaged = 0
        var truncated = 0
        for file in files {
            let result: NfdumpFile.Result
            do {
                result = try NfdumpFile.read(try readBytes(file))
            } catch let e as NfdumpFile.Error {
                throw Failure.malformed(file: file, reason: "\(e)")
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
                progress(.fileTruncated(file: file))
            }
        }
        _ = analyzer.finish()
        return
            "read \(files.count) nfcapd file(s): \(total) flow records, \(skipped) other records skipped, \(damaged) unreadable block(s), \(truncated) truncated file(s)"
    }

    /// Decodes the pcaps' export datagrams (templates learned in capture order, never timed out)
    /// and feeds them to the analyzer on the capture's clock.
    static func readPcaps(
        _ files: [String], into analyzer: inout ShardedFlowAnalyzer, observe: (FlowRecord) -> Void, progress: (Progress) -> Void
    )
        throws -> String
    {
        var decoderConfiguration = FlowDecoder.Configuration()
        decoderConfiguration.templateTimeoutSeconds = 0
        var decoder = FlowDecoder(configuration: decoderConfiguration)
        var summary = DecodeSummary()
        var records: [FlowRecord] = []
        for file in files {
            let pcap: PcapFile
            do { pcap = try PcapFile(bytes: try readBytes(file)) } catch let e as PcapError {
                throw Failure.unreadable(file: file, reason: "\(e)")
            }
            for d in pcap.datagrams {
                records.removeAll(keepingCapacity: true)
                let time = d.timestampMicroseconds / 1000
                let report = d.payload.withUnsafeBytes {
                    decoder.decode($0, from: d.sourceAddress, receivedAtMilliseconds: time, into: &records)
                }
                summary.add(report)
                for r in records {
                    analyzer.ingest(r, receivedAt: time)
                    observe(r)
                }
                _ = analyzer.evaluate(now: time) // the analyzer's clock only moves forward
                if summary.datagrams % 1024 == 0 { progress(.analysed(analyzer.statistics)) }
            }
        }
        _ = analyzer.finish()
        return summary.text(skippedFrames: 0, templates: decoder.templates.count)
    }

    /// A file's bytes, or ``Failure/unreadable(file:reason:)``.
    static func readBytes(_ file: String) throws -> [UInt8] {
        do { return [UInt8](try Data(contentsOf: URL(fileURLWithPath: file))) } catch {
            throw Failure.unreadable(file: file, reason: "\(error)")
        }
    }

    /// A file's text (UTF-8), or ``Failure/unreadable(file:reason:)``.
    static func readText(_ file: String) throws -> String {
        do { return try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw Failure.unreadable(file: file, reason: "\(error)")
        }
    }
}
