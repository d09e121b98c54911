import Detection
import FlowCodec
import Foundation
import MamoriCore

/// The real-traffic corpus (`Benchmarks/detection/corpus/corpus.json`): public captures of real
/// networks that nobody here wrote, each with the network layout to analyse it with and its
/// ground truth — what must be found, what must not be reported, and what cannot be seen in flow
/// records at all (and why).
public struct CorpusManifest: Sendable, Codable, Hashable {
    public var schema: String
    public var captures: [Capture]

    public struct Capture: Sendable, Codable, Hashable {
        /// Short name, the table's row.
        public var name: String
        /// File in the corpus directory.
        public var file: String
        /// `packets` (a raw packet capture: softflowd turns it into NetFlow v9), `binetflow` or `zeek`.
        public var format: String
        /// `benign` (nothing may be reported) or `malicious`.
        public var role: String
        /// One line on what the capture holds.
        public var what: String
        public var subscriberPrefixes: [String]
        public var infrastructurePrefixes: [String]?
        /// Epoch seconds added to relative times (binetflow, Zeek).
        public var baseTime: Double?
        /// What must be found.
        public var expect: Expected
        /// Addresses whose findings count neither as true nor as false (unlabelled background, or
        /// ground truth the source itself is unsure of).
        public var unscored: [String]?
        /// Ground truth that flow records cannot show, with the reason.
        public var unseeable: [Unseeable]?
    }

    public struct Expected: Sendable, Codable, Hashable {
        /// C&C endpoints, `address:port/protocol`.
        public var commandAndControl: [String]?
        /// Infected internal hosts (addresses).
        public var infected: [String]?
        /// Internal hosts that scan.
        public var scanners: [String]?
        /// Internal hosts flooded from outside.
        public var inboundAttacks: [String]?
        /// External targets flooded from inside.
        public var outboundAttacks: [String]?
    }

    public struct Unseeable: Sendable, Codable, Hashable {
        public var item: String
        public var reason: String
    }

    public static func load(_ path: String) throws -> CorpusManifest {
        try JSONDecoder().decode(CorpusManifest.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    public func capture(named name: String) -> Capture? {
        captures.first { $0.name == name || $0.file == name }
    }
}

/// One capture's findings scored against its ground truth.
public struct CorpusScore: Sendable, Codable, Hashable {
    public var capture: String
    public var role: String
    /// Expected items, `kind subject` (e.g. `c2-server 185.56.145.73:80/tcp`), found and missed.
    public var found: [String]
    public var missed: [String]
    /// Findings about what must not be reported, `kind subject`.
    public var falseCommandAndControl: [String]
    public var falseInfected: [String]
    /// Other false findings (scans, attacks, indicators).
    public var falseOther: [String]
    /// Findings about unscored addresses.
    public var unscored: [String]
    /// What the truth says flow records cannot show.
    public var unseeable: [CorpusManifest.Unseeable]

    public var expectedCount: Int { found.count + missed.count }
    public var falseCount: Int { falseCommandAndControl.count + falseInfected.count + falseOther.count }

    /// Scores `findings` (the final state of every finding) against `capture`'s truth.
    public init(capture: CorpusManifest.Capture, findings: [Finding]) {
        self.capture = capture.name
        role = capture.role
        let e = capture.expect
        var expected: [(kind: FindingKind, subject: String)] = []
        expected += (e.commandAndControl ?? []).map { (.commandAndControl, Self.normalise($0)) }
        expected += (e.infected ?? []).map { (.infectedDevice, $0) }
        expected += (e.scanners ?? []).map { (.scanning, $0) }
        expected += (e.inboundAttacks ?? []).map { (.inboundDDoS, $0) }
        expected += (e.outboundAttacks ?? []).map { (.outboundDDoS, $0) }
        let unscoredAddresses = Set(capture.unscored ?? [])
        func key(_ f: Finding) -> String {
            f.kind == .commandAndControl || f.kind == .knownIndicator ? f.subject.description : f.subject.address
        }
        let reported = Set(findings.map { "\($0.kind.rawValue) \(key($0))" })
        found = []
        missed = []
        for x in expected {
            let name = "\(x.kind.rawValue) \(x.subject)"
            if reported.contains(name) { found.append(name) } else { missed.append(name) }
        }
        let expectedNames = Set(expected.map { "\($0.kind.rawValue) \($0.subject)" })
        falseCommandAndControl = []
        falseInfected = []
        falseOther = []
        unscored = []
        for f in findings {
            let name = "\(f.kind.rawValue) \(key(f))"
            if expectedNames.contains(name) { continue }
            if unscoredAddresses.contains(f.subject.address) {
                unscored.append(name)
                continue
            }
            switch f.kind {
            case .commandAndControl, .knownIndicator: falseCommandAndControl.append(name)
            case .infectedDevice: falseInfected.append(name)
            default: falseOther.append(name)
            }
        }
        falseCommandAndControl.sort()
        falseInfected.sort()
        falseOther.sort()
        unscored.sort()
        unseeable = capture.unseeable ?? []
    }

    /// `1.2.3.4:80/TCP` → `1.2.3.4:80/tcp`; IPv6 endpoints keep their brackets.
    static func normalise(_ endpoint: String) -> String { endpoint.lowercased() }

    /// The header of ``row``'s table (Markdown).
    public static let tableHeader = """
        | capture | role | expected found | missed | false C&C | false infected | other false findings |
        |---|---|---|---|---|---|---|
        """

    /// One Markdown table row.
    public var row: String {
        func list(_ xs: [String]) -> String { xs.isEmpty ? "0" : "\(xs.count): " + xs.joined(separator: ", ") }
        return
            "| \(capture) | \(role) | \(found.count)/\(expectedCount) | \(list(missed)) | \(list(falseCommandAndControl)) | \(list(falseInfected)) | \(list(falseOther)) |"
    }

    /// The score in words, for standard error.
    public var text: String {
        var out = "\(capture) (\(role)): found \(found.count) of \(expectedCount) expected; \(falseCount) false finding(s)\n"
        for x in found { out += "  found    \(x)\n" }
        for x in missed { out += "  MISSED   \(x)\n" }
        for x in falseCommandAndControl + falseInfected + falseOther { out += "  FALSE    \(x)\n" }
        for x in unscored { out += "  unscored \(x)\n" }
        for u in unseeable { out += "  not visible in flows: \(u.item) — \(u.reason)\n" }
        return out
    }
}
