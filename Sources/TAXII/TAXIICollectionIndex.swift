/// The query engine of one collection: its stored object versions in `date_added` order, and the
/// TAXII 2.1 filters and paging over them. A value: no I/O, no clock (the time is an argument).
///
/// Pages are cut by `date_added`, which is strictly increasing within a collection, so a page's
/// `next` is the last `date_added` it holds and the following page starts after it: no state is
/// kept between requests, and a version added meanwhile never shifts a page.
///
/// ```swift
/// var index = TAXIICollectionIndex()
/// let plan = index.plan(adding: candidates, now: TAXIITimestamp(milliseconds: now), capacity: 100_000)
/// try store.add(plan.added, collection: id)      // persist first …
/// index.insert(plan.added)                       // … then show
/// let page = index.select(TAXIIQuery(limit: 500), limits: .init())
/// ```
public struct TAXIICollectionIndex: Sendable {
    /// Every stored version, `date_added` ascending (strictly).
    public private(set) var versions: [TAXIIObjectVersion] = []
    /// Each object's versions, as indexes into ``versions`` (ascending).
    private var positions: [String: [Int]] = [:]

    public init() {}

    /// An index over `versions` (sorted here by `date_added`).
    public init(versions: [TAXIIObjectVersion]) {
        self.versions = versions.sorted { $0.dateAdded < $1.dateAdded }
        reindex()
    }

    private mutating func reindex() {
        positions = [:]
        for (i, v) in versions.enumerated() { positions[v.id, default: []].append(i) }
    }

    public var count: Int { versions.count }
    public var objectCount: Int { positions.count }
    public var lastDateAdded: TAXIITimestamp? { versions.last?.dateAdded }

    public func contains(id: String, version: TAXIITimestamp) -> Bool {
        positions[id]?.contains { versions[$0].version == version } ?? false
    }

    /// The versions of one object, `date_added` ascending.
    public func versions(of id: String) -> [TAXIIObjectVersion] { positions[id]?.map { versions[$0] } ?? [] }

    // MARK: - Reading

    /// Page sizes: the default when a request names none, and the most one page holds (a larger
    /// `limit` is cut to it, as TAXII lets a server do).
    public struct Limits: Sendable, Hashable {
        public var defaultLimit: Int
        public var maximumLimit: Int

        public init(defaultLimit: Int = 500, maximumLimit: Int = 1_000) {
            self.defaultLimit = max(1, min(defaultLimit, maximumLimit))
            self.maximumLimit = max(1, maximumLimit)
        }
    }

    /// One page of a selection.
    public struct Page: Sendable, Hashable {
        public var versions: [TAXIIObjectVersion]
        /// Whether more versions match after this page.
        public var more: Bool
        /// The value of `next` that asks for the following page (nil when there is none).
        public var next: String?
        /// `X-TAXII-Date-Added-First` and `-Last`: of this page's versions (nil when empty).
        public var dateAddedFirst: TAXIITimestamp? { versions.first?.dateAdded }
        public var dateAddedLast: TAXIITimestamp? { versions.last?.dateAdded }
    }

    /// The versions that match `query`, one page of them, in `date_added` order.
    ///
    /// - Parameters:
    ///   - objectID: only this object's versions (the object and versions endpoints).
    ///   - defaultVersions: what an absent `match[version]` means: `last` for objects and the
    ///     manifest, `all` for an object's versions.
    public func select(
        _ query: TAXIIQuery, limits: Limits, objectID: String? = nil, defaultVersions: Set<TAXIIQuery.VersionMatch> = [.last]
    ) -> Page {
        let limit = min(query.limit ?? limits.defaultLimit, limits.maximumLimit)
        let after = [query.addedAfter, query.next].compactMap { $0 }.max()
        let wanted = query.versions.isEmpty ? defaultVersions : query.versions
        var bounds: [String: (first: TAXIITimestamp, last: TAXIITimestamp)] = [:]
        func matches(_ v: TAXIIObjectVersion) -> Bool {
            if !query.ids.isEmpty, !query.ids.contains(v.id) { return false }
            if !query.types.isEmpty, !query.types.contains(v.type) { return false }
            if !query.specVersions.isEmpty, !query.specVersions.contains(v.specVersion) { return false }
            if wanted.contains(.all) { return true }
            if wanted.contains(.at(v.version)) { return true }
            guard wanted.contains(.first) || wanted.contains(.last) else { return false }
            let b: (first: TAXIITimestamp, last: TAXIITimestamp)
            if let known = bounds[v.id] {
                b = known
            } else {
                let all = (positions[v.id] ?? []).map { versions[$0] }.filter {
                    query.specVersions.isEmpty || query.specVersions.contains($0.specVersion)
                }
                b = (all.map(\.version).min() ?? v.version, all.map(\.version).max() ?? v.version)
                bounds[v.id] = b
            }
            return (wanted.contains(.first) && v.version == b.first) || (wanted.contains(.last) && v.version == b.last)
        }
        var page: [TAXIIObjectVersion] = []
        var more = false
        let candidates: [Int]
        if let objectID {
            candidates = (positions[objectID] ?? []).filter { after == nil || versions[$0].dateAdded > after! }
        } else {
            candidates = Array(firstIndex(after: after)..<versions.count)
        }
        for i in candidates {
            let v = versions[i]
            guard matches(v) else { continue }
            if page.count == limit {
                more = true
                break
            }
            page.append(v)
        }
        return Page(versions: page, more: more, next: more ? page.last.map { TAXIIQuery.nextValue(after: $0.dateAdded) } : nil)
    }

    /// The index of the first version added after `t` (all of them when nil).
    func firstIndex(after t: TAXIITimestamp?) -> Int {
        guard let t else { return 0 }
        var low = 0
        var high = versions.count
        while low < high {
            let mid = (low + high) / 2
            if versions[mid].dateAdded <= t { low = mid + 1 } else { high = mid }
        }
        return low
    }

    // MARK: - Adding

    /// What adding objects would do: the versions to store (each with its `date_added`), and a
    /// status line for every object offered.
    public struct AddPlan: Sendable, Hashable {
        public var added: [TAXIIObjectVersion] = []
        public var successes: [TAXIIStatusDetails] = []
        public var failures: [TAXIIStatusDetails] = []
    }

    /// Plans adding `candidates` at `now`: a version already stored (same id and version) is a
    /// success that adds nothing; each new one gets a `date_added` of its own, strictly after the
    /// collection's last (at least `now`, one microsecond after the previous otherwise); past
    /// `capacity` versions in the collection the rest fail. Changes nothing: persist
    /// ``AddPlan/added``, then ``insert(_:)`` it.
    public func plan(adding candidates: [Result<TAXIICandidate, TAXIIObjectProblem>], now: TAXIITimestamp, capacity: Int) -> AddPlan {
        var plan = AddPlan()
        var seen = Set<String>()
        var next = max(now, TAXIITimestamp(microseconds: (lastDateAdded?.microseconds ?? Int64.min) &+ 1))
        for result in candidates {
            switch result {
            case .failure(let problem): plan.failures.append(problem.details)
            case .success(let c):
                let version = c.version ?? next
                let key = c.id + "|" + version.description
                if (c.version != nil && contains(id: c.id, version: version)) || seen.contains(key) {
                    plan.successes.append(TAXIIStatusDetails(id: c.id, version: version.description, message: "already present"))
                    continue
                }
                guard versions.count + plan.added.count < capacity else {
                    plan.failures.append(
                        TAXIIStatusDetails(id: c.id, version: version.description, message: "the collection is full (\(capacity) versions)")
                    )
                    continue
                }
                seen.insert(key)
                plan.added.append(c.stored(at: next))
                plan.successes.append(TAXIIStatusDetails(id: c.id, version: version.description))
                next = TAXIITimestamp(microseconds: next.microseconds &+ 1)
            }
        }
        return plan
    }

    /// Shows versions planned by ``plan(adding:now:capacity:)`` (once they are stored).
    public mutating func insert(_ added: [TAXIIObjectVersion]) {
        for v in added {
            precondition(lastDateAdded.map { v.dateAdded > $0 } ?? true, "date_added must increase")
            positions[v.id, default: []].append(versions.count)
            versions.append(v)
        }
    }

    // MARK: - Deleting

    /// Mamori's rule for DELETE: an object may go only once its latest version is revoked, so
    /// nothing shared disappears from a peer's view without a revocation first saying why.
    public func checkDeletion(of id: String) throws(TAXIIError) {
        let all = versions(of: id)
        guard let latest = all.max(by: { $0.version < $1.version }) else {
            throw TAXIIError(.notFound, "no object \(id) in this collection")
        }
        guard latest.revoked else {
            throw TAXIIError(
                .deleteNeedsRevocation,
                "\(id) is not revoked: add a new version with \"revoked\": true first (this server deletes only revoked objects)")
        }
    }

    /// Removes every version of `id`; returns how many there were.
    @discardableResult
    public mutating func removeObject(_ id: String) -> Int {
        guard let p = positions[id] else { return 0 }
        let gone = Set(p)
        versions = versions.enumerated().filter { !gone.contains($0.offset) }.map(\.element)
        reindex()
        return gone.count
    }
}
