import Foundation
import Synchronization

/// A status resource as kept: the status, who posted the envelope (only they may read it) and
/// when (ms since the epoch, for the retention sweep).
public struct TAXIIStatusRecord: Sendable, Hashable {
    public var status: TAXIIStatus
    public var owner: String
    public var createdAt: Int64

    public init(status: TAXIIStatus, owner: String, createdAt: Int64) {
        self.status = status
        self.owner = owner
        self.createdAt = createdAt
    }
}

/// Where a TAXII server keeps its collections' object versions and its status resources.
///
/// The query engine (``TAXIICollectionIndex``) runs in memory over what ``versions(collection:)``
/// returns at start; the store makes additions, deletions and statuses survive a restart. A
/// change is made in the store first and shown in the index only once it returned.
/// Implementations must be safe to call from any thread, and every call is a short transaction.
public protocol TAXIIObjectStore: Sendable {
    /// Every version stored in `collection`, in any order.
    func versions(collection: String) throws -> [TAXIIObjectVersion]
    /// Stores new versions (all or none).
    func add(_ versions: [TAXIIObjectVersion], collection: String) throws
    /// Deletes every version of the object `id`.
    func deleteObject(_ id: String, collection: String) throws
    func save(_ status: TAXIIStatusRecord) throws
    func status(id: String) throws -> TAXIIStatusRecord?
    /// Deletes statuses made before `cutoff` and all but the newest `keep`.
    func sweepStatuses(before cutoff: Int64, keep: Int) throws
}

/// A ``TAXIIObjectStore`` in memory, for tests and for a server without a data directory.
public final class InMemoryTAXIIObjectStore: TAXIIObjectStore {
    private struct State {
        var versions: [String: [TAXIIObjectVersion]] = [:]
        var statuses: [String: TAXIIStatusRecord] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func versions(collection: String) throws -> [TAXIIObjectVersion] { state.withLock { $0.versions[collection] ?? [] } }

    public func add(_ versions: [TAXIIObjectVersion], collection: String) throws {
        state.withLock { $0.versions[collection, default: []].append(contentsOf: versions) }
    }

    public func deleteObject(_ id: String, collection: String) throws {
        state.withLock { $0.versions[collection]?.removeAll { $0.id == id } }
    }

    public func save(_ status: TAXIIStatusRecord) throws { state.withLock { $0.statuses[status.status.id] = status } }

    public func status(id: String) throws -> TAXIIStatusRecord? { state.withLock { $0.statuses[id] } }

    public func sweepStatuses(before cutoff: Int64, keep: Int) throws {
        state.withLock { s in
            let kept = s.statuses.values.filter { $0.createdAt >= cutoff }.sorted { $0.createdAt > $1.createdAt }.prefix(max(0, keep))
            s.statuses = Dictionary(uniqueKeysWithValues: kept.map { ($0.status.id, $0) })
        }
    }

    /// Status resources held (for tests of the bounds).
    public var statusCount: Int { state.withLock { $0.statuses.count } }
}
