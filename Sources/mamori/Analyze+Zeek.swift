import ArgumentParser
import Detection
import Evaluation
import FlowCodec
import FlowFiles
import Foundation

/// `mamori analyze --format zeek`: Zeek conn.logs (TSV or JSON lines), as RITA and the
/// Stratosphere IoT-23 / security-datasets publish them.
extension Analyze {
    /// Whether every file looks like a Zeek conn.log: its name contains `conn` and ends in `.log`,
    /// or its first line is Zeek's `#separator` header or a JSON object.
    static func looksLikeZeekConnLog(_ files: [String]) -> Bool {
        !files.isEmpty && files.allSatisfy { file in
            let name = URL(fileURLWithPath: file).lastPathComponent.lowercased()
            if name.contains("conn") && name.hasSuffix(".log") { return true }
            guard let handle = FileHandle(forReadingAtPath: file) else { return false }
            defer { try? handle.close() }
            let head = (try? handle.read(upToCount: 64)) ?? Data()
            let text = String(decoding: head, as: UTF8.self).drop(while: { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\u{FEFF}" })
            return text.hasPrefix("#separator") || text.hasPrefix("{")
        }
    }

    /// Streams every conn.log through the analyzer (connections in start-time order within a
    /// 5-minute reorder window, as for binetflow) and tallies the labels; bad lines are reported
    /// on standard error (the first 20 per file) and skipped.
    func analyzeZeek(
        _ analyzer: FlowAnalyzer, baseTime: Double, tally: inout FlowLabelEvaluation.Tally, observe: (FlowRecord) -> Void, summary: inout String
    ) throws -> FlowAnalyzer {
        let options = ZeekConnLog.Options(baseTimeMilliseconds: Int64((baseTime * 1000).rounded()))
        var replay = BinetflowReplay(analyzer: analyzer)
        var lines = 0, connections = 0, skipped = 0, malformed = 0, labelled = 0, silent = 0
        var formats = Set<String>()
        for file in files {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw ValidationError("cannot read \(file): \(error)")
            }
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
                        if reported < 20 {
                            reported += 1
                            FileHandle.standardError.write(Data("\(file): \(error) (line skipped)\n".utf8))
                        }
                    }
                }
                formats.insert(format.rawValue)
            } catch {
                throw ValidationError("\(file): \(error)")
            }
            if labelsFromFile && fileLabelled == 0 {
                throw ValidationError("\(file) has no label column (Stratosphere `label`): --labels-from-file needs one")
            }
            labelled += fileLabelled
        }
        replay.finish(observe: observe)
        summary = "read \(lines) zeek conn.log lines (\(formats.sorted().joined(separator: ", "))): \(connections) connections"
        summary += ", \(skipped) not TCP/UDP/ICMP (skipped), \(malformed) malformed"
        if silent > 0 { summary += ", \(silent) with no packets counted" }
        if labelsFromFile { summary += ", \(connections - labelled) without a label" }
        if replay.lateRecords > 0 { summary += ", \(replay.lateRecords) out of start-time order by more than 5 minutes (fed late)" }
        summary += "; TCP flags reconstructed from conn_state/history"
        return replay.analyzer
    }
}
