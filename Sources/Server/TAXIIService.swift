import Accounts
import Foundation
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import STIX
import TAXII

/// The TAXII 2.1 server's collections inside `mamori serve`: each configured collection's
/// ``TAXIICollectionIndex`` (the pure query engine) in memory, kept in step with a
/// ``TAXIIObjectStore`` (SQLite in the data directory). A change goes to the store first and is
/// shown to readers only once it is stored.
///
/// The rest of the server publishes into a collection with ``publish(collection:bundle:now:)``,
/// which takes only what the sharing guard let through:
///
/// ```swift
/// let status = try taxii.publish(collection: "cnc", bundle: sharingGuard.screen(objects), now: clock.milliseconds)
/// ```
public final class TAXIIService: Sendable {
    public let settings: TAXIISettings
    let store: any TAXIIObjectStore
    let logger: Logger
    /// The server's clock (the `date_added` of what peers post).
    let clock: any WallClock
    private let indexes: NIOLockedValueBox<[String: TAXIICollectionIndex]>
    private let served: [String: Counter]
    private let added: [String: Counter]
    private let refused: [String: Counter]
    private let errors: NIOLockedValueBox<[Int: Counter]>
    private let metricsFactory: any MetricsFactory

    /// Loads every configured collection from `store`.
    public init(
        settings: TAXIISettings, store: any TAXIIObjectStore, clock: any WallClock, logger: Logger, metricsFactory: any MetricsFactory
    ) throws {
        self.settings = settings
        self.clock = clock
        self.store = store
        self.logger = logger
        self.metricsFactory = metricsFactory
        var indexes: [String: TAXIICollectionIndex] = [:]
        var served: [String: Counter] = [:]
        var added: [String: Counter] = [:]
        var refused: [String: Counter] = [:]
        for c in settings.collections {
            indexes[c.id] = TAXIICollectionIndex(versions: try store.versions(collection: c.id))
            let dimensions = [("collection", c.alias ?? c.id)]
            served[c.id] = Counter(label: "mamori_taxii_objects_served_total", dimensions: dimensions, factory: metricsFactory)
            added[c.id] = Counter(label: "mamori_taxii_objects_added_total", dimensions: dimensions, factory: metricsFactory)
            refused[c.id] = Counter(label: "mamori_taxii_objects_refused_total", dimensions: dimensions, factory: metricsFactory)
        }
        self.indexes = NIOLockedValueBox(indexes)
        self.served = served
        self.added = added
        self.refused = refused
        errors = NIOLockedValueBox([:])
    }

    /// The collection with this id or alias.
    public func collection(_ idOrAlias: String) -> TAXIISettings.Collection? {
        settings.collections.first { $0.id == idOrAlias.lowercased() } ?? settings.collections.first { $0.alias == idOrAlias }
    }

    /// Object versions held in a collection (all of them, every version).
    public func count(collection: String) -> Int {
        guard let c = self.collection(collection) else { return 0 }
        return indexes.withLockedValue { $0[c.id]?.count ?? 0 }
    }

    /// Every object version of `collection` added after `after` (microseconds of `date_added`;
    /// nil: from the start), in `date_added` order, at most `limit`: what a push to a peer
    /// sends next (``IndicatorExporter``).
    public func added(collection: String, after: Int64?, limit: Int) -> [TAXIIObjectVersion] {
        guard let c = self.collection(collection) else { return [] }
        let query = TAXIIQuery(addedAfter: after.map { TAXIITimestamp(microseconds: $0) }, limit: limit, versions: [.all])
        return indexes.withLockedValue {
            $0[c.id]?.select(query, limits: .init(defaultLimit: limit, maximumLimit: limit)).versions ?? []
        }
    }

    // MARK: - Publishing and adding

    /// Publishes STIX objects (each one JSON object, as the STIX exporter makes them) into a
    /// collection, as a peer's envelope would add them: each checked, versions already present
    /// not duplicated, each new one with a `date_added` of its own. Not bounded by
    /// `max_objects_per_request` (the server's own objects), only by the collection's size.
    ///
    /// - Parameters:
    ///   - collection: the collection's id or alias.
    ///   - now: ms since the epoch (the server's clock).
    /// - Returns: the status, which lists every object that was refused and why.
    /// Only a ``GuardedBundle`` can be published: the type holds that everything the server puts
    /// in its collections for peers to read has passed the one ``SharingGuard`` (nothing about a
    /// subscriber). Peers' own additions (POST) are theirs and are not re-published.
    @discardableResult
    public func publish(collection: String, bundle: GuardedBundle, now: Int64) throws(TAXIIError) -> TAXIIStatus {
        try publish(collection: collection, objects: bundle.objects.map { Data($0.json.encoded()) }, now: now)
    }

    /// The same for raw objects: not public — the server's own code publishes guarded bundles;
    /// tests fill collections with it.
    @discardableResult
    func publish(collection: String, objects: [Data], now: Int64) throws(TAXIIError) -> TAXIIStatus {
        guard let c = self.collection(collection) else { throw TAXIIError(.notFound, "no collection \(collection)") }
        let candidates = objects.map { data -> Result<TAXIICandidate, TAXIIObjectProblem> in
            guard data.count <= settings.maxObjectBytes, let o = try? JSONSerialization.jsonObject(with: data) else {
                return .failure(TAXIIObjectProblem(id: nil, version: nil, "not a JSON object of at most \(settings.maxObjectBytes) bytes"))
            }
            return TAXIICandidate.validate(o)
        }
        return try add(candidates, to: c, owner: Self.serverOwner, now: now)
    }

    /// The owner of the status resources of what the server publishes itself: no account can
    /// have this name (a colon), so no peer reads them.
    static let serverOwner = ":server"

    /// Adds checked objects to `collection` and keeps the status resource for `owner`.
    func add(_ candidates: [Result<TAXIICandidate, TAXIIObjectProblem>], to collection: TAXIISettings.Collection, owner: String, now: Int64)
        throws(TAXIIError) -> TAXIIStatus
    {
        let plan: TAXIICollectionIndex.AddPlan
        do {
            plan = try indexes.withLockedValue { indexes in
                let index = indexes[collection.id] ?? TAXIICollectionIndex()
                let plan = index.plan(
                    adding: candidates, now: TAXIITimestamp(milliseconds: now), capacity: settings.maxObjectsPerCollection)
                try store.add(plan.added, collection: collection.id)
                indexes[collection.id, default: TAXIICollectionIndex()].insert(plan.added)
                return plan
            }
        } catch {
            logger.error("taxii: objects could not be stored", metadata: ["taxii.collection": "\(collection.id)", "error": "\(error)"])
            throw TAXIIError(.unavailable, "the objects could not be stored; nothing was added")
        }
        added[collection.id]?.increment(by: plan.added.count)
        refused[collection.id]?.increment(by: plan.failures.count)
        let status = TAXIIStatus(
            id: UUID().uuidString.lowercased(), requestTimestamp: TAXIITimestamp(milliseconds: now), successes: plan.successes,
            failures: plan.failures)
        do {
            try store.save(TAXIIStatusRecord(status: status, owner: owner, createdAt: now))
            try store.sweepStatuses(before: now - Int64(settings.statusRetentionSeconds) * 1000, keep: settings.maxStatuses)
        } catch {
            // The objects are stored; only the status resource is lost. Say so, and answer it anyway.
            logger.error("taxii: a status resource could not be stored", metadata: ["error": "\(error)"])
        }
        return status
    }

    // MARK: - Reading

    /// One page of a collection's versions (a snapshot: the lock is held only to copy the index).
    func select(
        _ query: TAXIIQuery, collection: TAXIISettings.Collection, objectID: String? = nil,
        defaultVersions: Set<TAXIIQuery.VersionMatch> = [.last]
    ) -> TAXIICollectionIndex.Page {
        let index = indexes.withLockedValue { $0[collection.id] } ?? TAXIICollectionIndex()
        let page = index.select(
            query, limits: .init(defaultLimit: settings.defaultPageSize, maximumLimit: settings.maxPageSize), objectID: objectID,
            defaultVersions: defaultVersions)
        return page
    }

    /// Counts objects served to peers.
    func served(_ count: Int, collection: TAXIISettings.Collection) { served[collection.id]?.increment(by: count) }

    /// The status resource `id`, for its owner only (nil for anyone else, as for one that is not there).
    func status(id: String, owner: String) throws(TAXIIError) -> TAXIIStatus? {
        do {
            guard let record = try store.status(id: id), record.owner == owner else { return nil }
            return record.status
        } catch {
            throw TAXIIError(.unavailable, "the status resources cannot be read")
        }
    }

    // MARK: - Deleting

    /// Deletes every version of `objectID`, which must be revoked in its latest version.
    func delete(objectID: String, collection: TAXIISettings.Collection) throws(TAXIIError) {
        let outcome: Result<Void, TAXIIError> = indexes.withLockedValue { indexes in
            let index = indexes[collection.id] ?? TAXIICollectionIndex()
            do throws(TAXIIError) {
                try index.checkDeletion(of: objectID)
            } catch {
                return .failure(error)
            }
            do {
                try store.deleteObject(objectID, collection: collection.id)
            } catch {
                return .failure(TAXIIError(.unavailable, "the object could not be deleted"))
            }
            indexes[collection.id]?.removeObject(objectID)
            return .success(())
        }
        try outcome.get()
        logger.notice("taxii: revoked object deleted", metadata: ["taxii.collection": "\(collection.id)", "taxii.object": "\(objectID)"])
    }

    /// Counts an error answer by its HTTP status (`mamori_taxii_errors_total{status=…}`).
    func countError(_ status: Int) {
        errors.withLockedValue { e in
            if e[status] == nil {
                e[status] = Counter(label: "mamori_taxii_errors_total", dimensions: [("status", String(status))], factory: metricsFactory)
            }
            e[status]?.increment()
        }
    }
}
