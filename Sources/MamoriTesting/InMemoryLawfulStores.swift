import Foundation
import Lawful

/// The audit trail as a list in memory, for tests of the layers above the log: what was written,
/// in order, and a switch that makes every write fail (a full disk) so the deferral path can be
/// driven without files.
public final class InMemoryAuditTrail: AuditTrail, @unchecked Sendable {
    private let lock = NSLock()
    private var _records: [AuditRecord] = []
    private var deferred: [AuditRecord] = []
    private var _failWrites: (any Error)?
    /// At most this many entries wait for a failing trail, like `AuditLog.maximumDeferred`.
    public let maximumDeferred: Int

    public init(maximumDeferred: Int = 10_000) { self.maximumDeferred = maximumDeferred }

    /// Entries written, oldest first (deferred ones once written).
    public var records: [AuditRecord] { lock.withLock { _records } }

    /// When set, every write throws it and ``writeOrDefer(_:)`` keeps the entry waiting.
    public var failWrites: (any Error)? {
        get { lock.withLock { _failWrites } }
        set { lock.withLock { _failWrites = newValue } }
    }

    public func write(_ record: AuditRecord) throws {
        try lock.withLock {
            try flushLocked()
            _records.append(record)
        }
    }

    @discardableResult
    public func writeOrDefer(_ record: AuditRecord) -> Bool {
        lock.withLock {
            do {
                try flushLocked()
                _records.append(record)
                return true
            } catch {
                if deferred.count < maximumDeferred { deferred.append(record) }
                return false
            }
        }
    }

    @discardableResult
    public func flushDeferred() -> Bool { lock.withLock { (try? flushLocked()) != nil } }

    public var deferredCount: Int { lock.withLock { deferred.count } }

    /// Drops the entries older than `cutoff` and records that it did, as the log does with its segments.
    public func prune(before cutoff: Int64, now: Int64) throws -> [String] {
        try lock.withLock {
            if let e = _failWrites { throw e }
            let old = _records.filter { $0.at < cutoff }
            guard !old.isEmpty else { return [] }
            _records.removeAll { $0.at < cutoff }
            _records.append(
                AuditRecord(
                    at: now, kind: .retention, actor: "mamori", subject: "audit", summary: "removed \(old.count) entries past retention"))
            return ["\(old.count) entries"]
        }
    }

    public func recent(limit: Int, matching: (AuditRecord) -> Bool) throws -> [AuditLine] {
        var found: [AuditLine] = []
        for (offset, record) in records.enumerated().reversed() where found.count < limit && matching(record) {
            found.append(AuditLine(sequence: UInt64(offset + 1), record: record))
        }
        return found
    }

    private func flushLocked() throws {
        if let e = _failWrites { throw e }
        _records += deferred
        deferred = []
    }
}

/// The consent registry in memory: the same contract as `Storage.SQLiteConsentRegistry` (the
/// store contract tests run against both).
public final class InMemoryConsentRegistry: ConsentRegistry, @unchecked Sendable {
    private let lock = NSLock()
    private var events: [ConsentEvent] = []
    private var contacts: [String: SubscriberContact] = [:]
    private var _failWrites: (any Error)?

    public init() {}

    /// When set, every write throws it (a full disk).
    public var failWrites: (any Error)? {
        get { lock.withLock { _failWrites } }
        set { lock.withLock { _failWrites = newValue } }
    }

    public func record(_ events: [ConsentEvent], recordedAt: Int64) throws {
        for e in events {
            if let problem = e.problem { throw InMemoryStoreError.refused(problem) }
        }
        try lock.withLock {
            if let e = _failWrites { throw e }
            self.events += events
        }
    }

    public func history(of subscriber: String) throws -> [ConsentEvent] { lock.withLock { events.filter { $0.subscriber == subscriber } } }

    public func subscribers(withEventsFor action: LawfulAction, limit: Int) throws -> [String] {
        lock.withLock { Array(Set(events.filter { $0.action == action }.map(\.subscriber)).sorted().prefix(limit)) }
    }

    public func setContact(_ contact: SubscriberContact, for subscriber: String, at: Int64) throws {
        try lock.withLock {
            if let e = _failWrites { throw e }
            contacts[subscriber] = contact
        }
    }

    public func contact(of subscriber: String) throws -> SubscriberContact? { lock.withLock { contacts[subscriber] } }

    public func subscriberCount() throws -> Int { lock.withLock { Set(events.map(\.subscriber)).union(contacts.keys).count } }

    public func importCustomers(_ file: CustomerConsentFile, pseudonym: (String) -> String, at: Int64, source: String) throws
        -> ConsentImportSummary
    {
        try lock.withLock {
            if let e = _failWrites { throw e }
            var summary = ConsentImportSummary(
                lines: file.rows.count + file.rejected.count,
                rejected: file.rejected.map { ConsentImportSummary.RejectedLine(line: $0.line, reason: $0.reason) })
            // All or nothing, as one SQLite transaction is: work on copies, keep them at the end.
            var events = self.events
            var contacts = self.contacts
            for row in file.rows {
                let subscriber = pseudonym(row.account)
                let new = row.events(
                    subscriber: subscriber, current: ConsentState(events: events.filter { $0.subscriber == subscriber }, at: .max),
                    importedAt: at, source: source)
                if let problem = new.lazy.compactMap(\.problem).first { throw InMemoryStoreError.refused(problem) }
                events += new
                summary.events += new.count
                summary.subscribers += 1
                if let contact = row.contact(updating: contacts[subscriber]) {
                    contacts[subscriber] = contact
                    summary.contacts += 1
                }
            }
            self.events = events
            self.contacts = contacts
            return summary
        }
    }
}
