import ArgumentParser
import Detection
import Evaluation
import Foundation
import MamoriCore

/// `mamori analyze --truth corpus.json`: scoring against the real-traffic corpus.
extension Analyze {
    /// The --truth entry for this run, or nil without --truth.
    func loadTruthCapture() throws -> CorpusManifest.Capture? {
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

    /// The base time for relative timestamps: --base-time, else the --truth entry's.
    func baseTime(from capture: CorpusManifest.Capture?) -> Double {
        baseTime != 0 ? baseTime : capture?.baseTime ?? 0
    }

    /// Prints the score (standard error) and writes it as JSON with --evaluation-json.
    func score(_ findings: [Finding], against capture: CorpusManifest.Capture) throws {
        let score = CorpusScore(capture: capture, findings: findings)
        FileHandle.standardError.write(Data(score.text.utf8))
        if let evaluationJSON {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            try e.encode(score).write(to: URL(fileURLWithPath: evaluationJSON))
        }
    }
}
