/// An analyst's judgement of a finding. A false positive on a C&C finding puts its endpoint on
/// the allowlist, so it is not reported again.
public struct Verdict: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case truePositive = "true-positive"
        case falsePositive = "false-positive"
    }
    public var verdict: Kind
    public var analyst: String
    public var note: String?
    /// ms since the Unix epoch.
    public var at: Int64

    public init(verdict: Kind, analyst: String, note: String? = nil, at: Int64) {
        self.verdict = verdict
        self.analyst = analyst
        self.note = note
        self.at = at
    }
}

/// Which findings to list.
public struct FindingQuery: Sendable, Hashable {
    public var kind: FindingKind?
    /// Findings active at or after this time (last seen ≥ since), ms.
    public var since: Int64?
    /// Findings active at or before this time (first seen ≤ until), ms.
    public var until: Int64?
    public var minimumScore: Double?
    public var limit: Int

    public init(kind: FindingKind? = nil, since: Int64? = nil, until: Int64? = nil, minimumScore: Double? = nil, limit: Int = 100) {
        self.kind = kind
        self.since = since
        self.until = until
        self.minimumScore = minimumScore
        self.limit = limit
    }
}

/// Where findings are kept: an embedded SQLite file by default; PostgreSQL can implement the same.
///
/// A finding is stored under its stable id: reporting it again updates it (score, window,
/// evidence) and keeps its verdict.
public protocol FindingStore: Sendable {
    func upsert(_ findings: [Finding]) async throws
    func findings(matching query: FindingQuery) async throws -> [Finding]
    func finding(id: String) async throws -> Finding?
    /// Records a verdict; nil if there is no such finding.
    func record(_ verdict: Verdict, forFinding id: String) async throws -> Finding?
    /// Deletes findings last seen before `time` (retention); returns how many.
    func deleteFindings(lastSeenBefore time: Int64) async throws -> Int
    /// Every endpoint an analyst marked as a false positive C&C (to rebuild the allowlist at start).
    func falsePositiveEndpoints() async throws -> [FindingSubject]
}
