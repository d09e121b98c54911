import Foundation
import Lawful
import MamoriCore

/// Cases kept in memory, for tests of the layers above the store: the same contract as
/// `Storage.SQLiteCaseStore` (the store contract tests run against both).
public final class InMemoryCaseStore: CaseStore, @unchecked Sendable {
    private let lock = NSLock()
    private var cases: [String: LawfulCase] = [:]
    private var tokens: [String: (caseID: String, language: String, expires: Int64)] = [:]
    /// When set, every write throws it (a full disk).
    public var failWrites: (any Error)? {
        get { lock.withLock { _failWrites } }
        set { lock.withLock { _failWrites = newValue } }
    }
    private var _failWrites: (any Error)?

    public init() {}

    public func save(_ c: LawfulCase) throws {
        try lock.withLock {
            if let e = _failWrites { throw e }
            cases[c.id] = c
        }
    }

    public func get(_ id: String) throws -> LawfulCase? { lock.withLock { cases[id] } }

    public func latest(subscriber: String, kind: NoticeContent.Kind) throws -> LawfulCase? {
        lock.withLock { cases.values.filter { $0.subscriber == subscriber && $0.kind == kind }.max { $0.updated < $1.updated } }
    }

    public func cases(subscriber: String, kind: NoticeContent.Kind, limit: Int) throws -> [LawfulCase] {
        lock.withLock {
            Array(
                cases.values.filter { $0.subscriber == subscriber && $0.kind == kind }.sorted { $0.updated > $1.updated }.prefix(
                    max(0, limit)))
        }
    }

    public func list(state: CaseState?, limit: Int) throws -> [LawfulCase] {
        lock.withLock {
            Array(cases.values.filter { state == nil || $0.state == state }.sorted { $0.updated > $1.updated }.prefix(max(0, limit)))
        }
    }

    public func addToken(digest: String, caseID: String, language: String, expires: Int64) throws {
        try lock.withLock {
            if let e = _failWrites { throw e }
            guard tokens[digest] == nil else { throw InMemoryStoreError.duplicate(digest) }
            tokens[digest] = (caseID, language, expires)
        }
    }

    public func token(digest: String) throws -> (caseID: String, language: String, expires: Int64)? { lock.withLock { tokens[digest] } }

    public func sweep(finishedBefore cutoff: Int64, now: Int64) throws -> Int {
        try lock.withLock {
            if let e = _failWrites { throw e }
            let swept = Self.sweptStates
            let old = Set(cases.values.filter { swept.contains($0.state) && $0.updated < cutoff }.map(\.id))
            tokens = tokens.filter { $0.value.expires >= now && !old.contains($0.value.caseID) }
            for id in old { cases[id] = nil }
            return old.count
        }
    }

    public func count() throws -> Int { lock.withLock { cases.count } }
}

/// Findings kept in memory: the same contract as `Storage.SQLiteFindingStore` (the newest report
/// of a finding replaces the stored one; its verdict is kept apart and survives it).
public actor InMemoryFindingStore: FindingStore {
    private var findings: [String: Finding] = [:]
    private var verdicts: [String: Verdict] = [:]

    public init() {}

    private func withVerdict(_ f: Finding) -> Finding {
        var f = f
        f.verdict = verdicts[f.id]
        return f
    }

    public func upsert(_ new: [Finding]) async throws {
        for f in new {
            var stored = f
            stored.verdict = nil
            findings[f.id] = stored
        }
    }

    public func findings(matching q: FindingQuery) async throws -> [Finding] {
        let matching = findings.values.filter { f in
            (q.kind == nil || f.kind == q.kind) && (q.since.map { f.lastSeen >= $0 } ?? true) && (q.until.map { f.firstSeen <= $0 } ?? true)
                && (q.minimumScore.map { f.score >= $0 } ?? true)
        }
        return matching.sorted { ($0.score, $0.lastSeen) > ($1.score, $1.lastSeen) }.prefix(max(0, q.limit)).map(withVerdict)
    }

    public func finding(id: String) async throws -> Finding? { findings[id].map(withVerdict) }

    public func record(_ verdict: Verdict, forFinding id: String) async throws -> Finding? {
        guard let f = findings[id] else { return nil }
        verdicts[id] = verdict
        return withVerdict(f)
    }

    public func deleteFindings(lastSeenBefore time: Int64) async throws -> Int {
        let old = findings.values.filter { $0.lastSeen < time }.map(\.id)
        for id in old {
            findings[id] = nil
            verdicts[id] = nil
        }
        return old.count
    }

    public func falsePositiveEndpoints() async throws -> [FindingSubject] {
        verdicts.filter { $0.value.verdict == .falsePositive }.compactMap { findings[$0.key] }
            .filter { $0.kind == .commandAndControl }.map(\.subject)
    }
}

public enum InMemoryStoreError: Error, CustomStringConvertible {
    case duplicate(String)
    /// A value its SQLite counterpart would refuse too, and why.
    case refused(String)
    public var description: String {
        switch self {
        case .duplicate(let key): "duplicate key \(key)"
        case .refused(let why): why
        }
    }
}
