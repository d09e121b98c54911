import Foundation

/// Paths of the bundled fixtures (`Tests/FlowFilesTests/Fixtures`, copied as a resource folder).
enum Fixtures {
    static var root: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    }

    /// The real-traffic corpus of the detection benchmark (Benchmarks/detection/corpus), whose
    /// logs the file-reader tests read too: `real-traffic/FILE` is looked up there first.
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Benchmarks/detection/corpus")

    static func path(_ relative: String) -> String {
        if relative.hasPrefix("real-traffic/") {
            let shared = corpus.appendingPathComponent(String(relative.dropFirst("real-traffic/".count))).path
            if FileManager.default.fileExists(atPath: shared) { return shared }
        }
        return root.appendingPathComponent(relative).path
    }
}
