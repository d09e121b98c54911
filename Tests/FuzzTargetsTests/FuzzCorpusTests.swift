import Foundation
import FuzzTargets
import Testing

/// Every input the coverage-guided fuzzers kept (`Fuzz/Corpus/<target>/`) and every crash they
/// ever found (`Fuzz/Crashes/<target>/`, fixed since) is replayed through the same target, in
/// the ordinary debug build: a crash that comes back fails here, without libFuzzer.
@Suite struct FuzzCorpusTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static func inputs(_ kind: String, _ target: FuzzTarget) -> [URL] {
        let dir = fuzzDirectory.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        return ((try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? [])
            .filter { !$0.lastPathComponent.hasPrefix(".") && $0.lastPathComponent != "README.md" }
            .sorted { $0.path < $1.path }
    }

    @Test("the corpus of every fuzz target replays without a trap", arguments: FuzzTarget.allCases)
    func corpus(target: FuzzTarget) throws {
        let files = Self.inputs("Corpus", target)
        #expect(files.count >= 3, "Fuzz/Corpus/\(target.rawValue) holds \(files.count) inputs: seed it (Fuzz/README.md)")
        for file in files { target.run(Array(try Data(contentsOf: file))) }
    }

    @Test("every crash the fuzzers found stays fixed", arguments: FuzzTarget.allCases)
    func crashes(target: FuzzTarget) throws {
        for file in Self.inputs("Crashes", target) { target.run(Array(try Data(contentsOf: file))) }
    }
}
