import Foundation

/// What `/healthz` says beyond the collector's figures: `ok`, or `degraded` with what cannot be
/// stored. A pure value, so its JSON is tested without a server.
struct HealthReport: Sendable {
    var storage: [StorageHealth.Failure]
    /// Findings kept in memory because the findings store refused them.
    var unstoredFindings: Int
    /// Audit entries waiting for the log to take them.
    var waitingAuditEntries: Int

    var status: String { storage.isEmpty && unstoredFindings == 0 && waitingAuditEntries == 0 ? "ok" : "degraded" }

    /// `,"storage":[…],"findings_unstored":N,"audit_entries_waiting":N` when degraded, nothing when ok
    /// (so a healthy answer is exactly what it always was).
    var jsonFields: String {
        guard status != "ok" else { return "" }
        struct Entry: Encodable {
            var store: String
            var error: String
            var since: String
            var failures: Int
        }
        let formatter = ISO8601DateFormatter()
        let entries = storage.map {
            Entry(
                store: $0.store, error: $0.error, since: formatter.string(from: Date(timeIntervalSince1970: Double($0.since) / 1000)),
                failures: $0.failures)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let list = (try? encoder.encode(entries)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        return ",\"storage\":\(list),\"findings_unstored\":\(unstoredFindings),\"audit_entries_waiting\":\(waitingAuditEntries)"
    }
}
