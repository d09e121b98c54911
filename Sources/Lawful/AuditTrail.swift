import Foundation

/// One entry to write to the audit trail, before it is sealed into the chain.
public struct AuditRecord: Sendable, Hashable {
    public var at: Int64
    public var kind: AuditKind
    public var actor: String
    public var subject: String
    public var summary: String
    /// Canonical JSON (``AuditEntry/canonicalEncoder``); `{}` when there is nothing more to say.
    public var detail: String

    public init(at: Int64, kind: AuditKind, actor: String, subject: String, summary: String, detail: String = "{}") {
        self.at = at
        self.kind = kind
        self.actor = actor
        self.subject = subject
        self.summary = summary
        self.detail = detail
    }
}

/// Where decisions, notices, reveals, consent changes and operator actions are recorded: the
/// hash-chained log on disk in production (`Storage.AuditLog`), a list in memory in the tests of
/// the layers above (`MamoriTesting.InMemoryAuditTrail`).
public protocol AuditTrail: AnyObject, Sendable {
    /// Writes `record` durably, after any waiting ones; throws when it cannot, and then nothing of
    /// it is kept. For what is yet to be done: a failure stops the action.
    func write(_ record: AuditRecord) throws
    /// Records something that has already happened: written now if possible, else kept in memory
    /// (bounded) and written, in order, before the next entry. Returns whether it was written now.
    @discardableResult func writeOrDefer(_ record: AuditRecord) -> Bool
    /// Writes the entries waiting from ``writeOrDefer(_:)``; returns whether none is left waiting.
    @discardableResult func flushDeferred() -> Bool
    /// Entries waiting from ``writeOrDefer(_:)``.
    var deferredCount: Int { get }
    /// Removes what is past retention (recording the removal); returns the names of what went.
    func prune(before cutoff: Int64, now: Int64) throws -> [String]
    /// The newest entries that `matching` accepts, newest first, at most `limit` (the console's
    /// audit page). Reads what is written, not what waits.
    func recent(limit: Int, matching: (AuditRecord) -> Bool) throws -> [AuditLine]
}

/// An entry as read back: its place in the chain and what it says.
public struct AuditLine: Sendable, Hashable {
    public var sequence: UInt64
    public var record: AuditRecord

    public init(sequence: UInt64, record: AuditRecord) {
        self.sequence = sequence
        self.record = record
    }
}

extension AuditTrail {
    /// Writes an entry whose detail is a value, as canonical JSON; see ``write(_:)``.
    public func append(at: Int64, kind: AuditKind, actor: String, subject: String, summary: String, detail: some Encodable) throws {
        let text = String(decoding: try AuditEntry.canonicalEncoder.encode(detail), as: UTF8.self)
        try write(AuditRecord(at: at, kind: kind, actor: actor, subject: subject, summary: summary, detail: text))
    }

    /// Writes an entry whose detail is JSON text already; see ``write(_:)``.
    public func append(at: Int64, kind: AuditKind, actor: String, subject: String, summary: String, detail: String = "{}") throws {
        try write(AuditRecord(at: at, kind: kind, actor: actor, subject: subject, summary: summary, detail: detail))
    }

    /// Records what has already happened; see ``writeOrDefer(_:)``. A detail that cannot be
    /// encoded is written as `{}` (the entry itself is not lost).
    @discardableResult
    public func appendOrDefer(at: Int64, kind: AuditKind, actor: String, subject: String, summary: String, detail: some Encodable)
        -> Bool
    {
        let text = (try? AuditEntry.canonicalEncoder.encode(detail)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return writeOrDefer(AuditRecord(at: at, kind: kind, actor: actor, subject: subject, summary: summary, detail: text))
    }
}
