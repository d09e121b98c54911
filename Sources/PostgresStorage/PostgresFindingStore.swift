import Foundation
import MamoriCore
import PostgresNIO

/// Findings in the shared PostgreSQL database: the same answers as the embedded
/// `SQLiteFindingStore` (the store contract tests hold the two to it), for a cluster of nodes.
///
/// One row per finding id, the finding as JSON beside indexed columns for the queries, and the
/// verdict in its own table. Reporting a finding again replaces its report (score, window,
/// evidence) and keeps its verdict and its first detection; its window only grows. Every
/// multi-row change is one transaction. The schema is ``PostgresSchema``'s, migrated by
/// ``PostgresDatabase/migrate(_:)`` before the store is used.
public final class PostgresFindingStore: FindingStore {
    private let database: PostgresDatabase

    public init(database: PostgresDatabase) { self.database = database }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    public func upsert(_ findings: [Finding]) async throws {
        guard !findings.isEmpty else { return }
        // A batch may report one id twice. SQLite writes the reports one after the other: the
        // first inserts (kind, subject, first detection), each later one replaces the report and
        // widens the window. The same merge is done here, so that the batch is one statement.
        var merged: [String: Row] = [:]
        for f in findings {
            var stored = f
            stored.verdict = nil // kept in its own table
            let body = String(decoding: try Self.encoder.encode(stored), as: UTF8.self)
            if var row = merged[f.id] {
                row.score = f.score
                row.firstSeen = min(row.firstSeen, f.firstSeen)
                row.lastSeen = max(row.lastSeen, f.lastSeen)
                row.updatedAt = f.updatedAt
                row.body = body
                merged[f.id] = row
            } else {
                merged[f.id] = Row(
                    id: f.id, kind: f.kind.rawValue, subject: f.subject.description, score: f.score, firstSeen: f.firstSeen,
                    lastSeen: f.lastSeen, detectedAt: f.detectedAt, updatedAt: f.updatedAt, body: body)
            }
        }
        // In id order: two nodes writing overlapping batches lock their rows in the same order,
        // so they wait for each other instead of deadlocking.
        let rows = merged.values.sorted { $0.id < $1.id }
        // One statement (so one transaction) for the whole batch, its columns as arrays.
        try await database.query(
            """
            INSERT INTO finding (id, kind, subject, score, first_seen, last_seen, detected_at, updated_at, body)
            SELECT id, kind, subject, score, first_seen, last_seen, detected_at, updated_at, body::json
            FROM unnest(\(rows.map(\.id))::text[], \(rows.map(\.kind))::text[], \(rows.map(\.subject))::text[],
                \(rows.map(\.score))::float8[], \(rows.map(\.firstSeen))::int8[], \(rows.map(\.lastSeen))::int8[],
                \(rows.map(\.detectedAt))::int8[], \(rows.map(\.updatedAt))::int8[], \(rows.map(\.body))::text[])
                AS r (id, kind, subject, score, first_seen, last_seen, detected_at, updated_at, body)
            ON CONFLICT (id) DO UPDATE SET score = excluded.score, first_seen = LEAST(finding.first_seen, excluded.first_seen),
                last_seen = GREATEST(finding.last_seen, excluded.last_seen), updated_at = excluded.updated_at, body = excluded.body
            """)
    }

    /// A finding's row as the batch writes it.
    private struct Row {
        let id: String
        let kind: String
        let subject: String
        var score: Double
        var firstSeen: Int64
        var lastSeen: Int64
        let detectedAt: Int64
        var updatedAt: Int64
        var body: String
    }

    public func findings(matching q: FindingQuery) async throws -> [Finding] {
        let kind = q.kind?.rawValue
        let limit = max(1, min(q.limit, 10_000))
        // Absent filters are NULL parameters; PostgreSQL plans an unnamed statement with the
        // values given, so a NULL filter costs nothing.
        let rows = try await database.query(
            """
            SELECT f.body::text, v.verdict, v.analyst, v.note, v.at FROM finding f LEFT JOIN verdict v ON v.finding_id = f.id
            WHERE (\(kind)::text IS NULL OR f.kind = \(kind)::text)
                AND (\(q.since)::bigint IS NULL OR f.last_seen >= \(q.since)::bigint)
                AND (\(q.until)::bigint IS NULL OR f.first_seen <= \(q.until)::bigint)
                AND (\(q.minimumScore)::double precision IS NULL OR f.score >= \(q.minimumScore)::double precision)
            ORDER BY f.score DESC, f.last_seen DESC LIMIT \(limit)
            """)
        return try rows.map(Self.finding(from:))
    }

    public func finding(id: String) async throws -> Finding? {
        let rows = try await database.query(
            """
            SELECT f.body::text, v.verdict, v.analyst, v.note, v.at FROM finding f LEFT JOIN verdict v ON v.finding_id = f.id
            WHERE f.id = \(id)
            """)
        return try rows.first.map(Self.finding(from:))
    }

    public func record(_ verdict: Verdict, forFinding id: String) async throws -> Finding? {
        // One statement: the verdict is written only if the finding exists, with its kind and subject.
        let rows = try await database.query(
            """
            INSERT INTO verdict (finding_id, verdict, analyst, note, at, kind, subject)
            SELECT id, \(verdict.verdict.rawValue), \(verdict.analyst), \(verdict.note), \(verdict.at), kind, subject FROM finding WHERE id = \(id)
            ON CONFLICT (finding_id) DO UPDATE SET verdict = excluded.verdict, analyst = excluded.analyst, note = excluded.note, at = excluded.at
            RETURNING finding_id
            """)
        return rows.isEmpty ? nil : try await finding(id: id)
    }

    public func deleteFindings(lastSeenBefore time: Int64) async throws -> Int {
        // One statement (so one transaction); the verdicts go with their findings (ON DELETE CASCADE).
        let rows = try await database.query(
            "WITH gone AS (DELETE FROM finding WHERE last_seen < \(time) RETURNING 1) SELECT count(*) FROM gone")
        return try rows.first.map { try $0.decode(Int.self) } ?? 0
    }

    public func falsePositiveEndpoints() async throws -> [FindingSubject] {
        let rows = try await database.query(
            """
            SELECT f.body::text, NULL::text, NULL::text, NULL::text, NULL::bigint FROM verdict v JOIN finding f ON f.id = v.finding_id
            WHERE v.verdict = \(Verdict.Kind.falsePositive.rawValue) AND v.kind = \(FindingKind.commandAndControl.rawValue)
            ORDER BY f.id
            """)
        return try rows.map { try Self.finding(from: $0).subject }
    }

    /// Number of stored findings (for metrics and tests).
    public func count() async throws -> Int {
        let rows = try await database.query("SELECT count(*) FROM finding")
        return try rows.first.map { try $0.decode(Int.self) } ?? 0
    }

    private static func finding(from row: PostgresRow) throws -> Finding {
        let (body, verdict, analyst, note, at) = try row.decode((String, String?, String?, String?, Int64?).self)
        var f = try JSONDecoder().decode(Finding.self, from: Data(body.utf8))
        if let verdict, let kind = Verdict.Kind(rawValue: verdict), let analyst, let at {
            f.verdict = Verdict(verdict: kind, analyst: analyst, note: note, at: at)
        }
        return f
    }
}
