import DNSWire

/// One step of a zone's history: what changed from one serial to the next (RFC 1995's
/// difference sequence, without the SOAs, which the answer writes around it).
public struct JournalStep: Hashable, Sendable {
    public let oldSerial: DNSSerial
    public let newSerial: DNSSerial
    /// Records of the old version that the new one does not have, in canonical order.
    public let deleted: [DNSRecord]
    /// Records of the new version that the old one did not have, in canonical order.
    public let added: [DNSRecord]

    public init(oldSerial: DNSSerial, newSerial: DNSSerial, deleted: [DNSRecord], added: [DNSRecord]) {
        self.oldSerial = oldSerial
        self.newSerial = newSerial
        self.deleted = deleted
        self.added = added
    }

    /// Deleted and added records together.
    public var recordCount: Int { deleted.count + added.count }
}

/// A zone's current version and a bounded journal of the steps that led to it, for IXFR.
///
/// Each `update` with different records is one new version: the serial moves on by one with
/// RFC 1982 arithmetic (`DNSSerial.next`, which skips 0). The first serial is the caller's: give
/// one derived from the time (seconds since 1970 fit 32 bits until 2106, and RFC 1982 compares
/// them correctly), so that a restart, whose journal is empty, never publishes a serial behind
/// what the secondaries already hold. A secondary whose serial the journal no longer reaches
/// gets the whole zone (RFC 1995 §4 allows an AXFR-style answer to an IXFR).
public struct RPZZoneHistory: Sendable {
    /// How much history is kept.
    public struct Limits: Hashable, Sendable {
        /// The most steps kept.
        public var maximumVersions: Int
        /// The most records (deleted plus added) over all kept steps.
        public var maximumRecords: Int

        public init(maximumVersions: Int = 100, maximumRecords: Int = 200_000) {
            self.maximumVersions = maximumVersions
            self.maximumRecords = maximumRecords
        }
    }

    public let limits: Limits
    /// The current version.
    public private(set) var zone: RPZZone
    /// The kept steps, oldest first; the last one ends at the current serial.
    public private(set) var journal: [JournalStep] = []
    var journalRecords = 0

    /// A history that starts at `zone` (whose serial is the initial one).
    public init(zone: RPZZone, limits: Limits = Limits()) {
        self.zone = zone
        self.limits = limits
    }

    /// Publishes `next` (as `RPZRenderer` writes it; its serial is ignored) as the new version,
    /// with the serial after the current one. Nothing changes, and nil is returned, when its
    /// records and SOA fields are the same as the current version's.
    /// - Returns: the step taken, also appended to the journal unless it alone exceeds the limits.
    @discardableResult
    public mutating func update(to next: RPZZone) -> JournalStep? {
        let old = Set(zone.records)
        let new = Set(next.records)
        let deleted = zone.records.filter { !new.contains($0) }
        let added = next.records.filter { !old.contains($0) }
        var sameSOA = next.soa
        sameSOA.serial = zone.soa.serial
        guard !deleted.isEmpty || !added.isEmpty || sameSOA != zone.soa || next.soaTTL != zone.soaTTL else { return nil }
        return commit(next, deleted: deleted, added: added)
    }

    /// Makes `next` (its serial replaced) the current version, one serial on, and journals the step.
    private mutating func commit(_ next: RPZZone, deleted: [DNSRecord], added: [DNSRecord]) -> JournalStep {
        let serial = zone.serial.next
        let step = JournalStep(oldSerial: zone.serial, newSerial: serial, deleted: deleted, added: added)
        var fields = next.soa
        fields.serial = serial
        zone = RPZZone(apex: next.apex, soa: fields, soaTTL: next.soaTTL, records: next.records)
        journal.append(step)
        journalRecords += step.recordCount
        while !journal.isEmpty && (journal.count > limits.maximumVersions || journalRecords > limits.maximumRecords) {
            journalRecords -= journal.removeFirst().recordCount
        }
        return step
    }

    /// What `update(removing:adding:)` did.
    enum IncrementalUpdate {
        /// The changes were applied: the step taken, nil when the zone's records (as a set) did
        /// not change.
        case applied(JournalStep?)
        /// A record to remove is not in the zone: the zone was not rendered the way the caller
        /// thinks; nothing was changed (render the whole zone instead).
        case inconsistent
    }

    /// Publishes the current version with `removing` taken out (one occurrence each) and `adding`
    /// put in, at their places in the canonical order (the zone's records after its leading NS
    /// records are in `RPZRenderer.canonicalOrder`): the same version, serial and step as
    /// `update(to:)` with the whole new zone, in time proportional to the changes (and one copy
    /// of the records).
    mutating func update(removing: [DNSRecord], adding: [DNSRecord]) -> IncrementalUpdate {
        typealias Keyed = (key: [UInt8], record: DNSRecord)
        func less(_ a: Keyed, _ b: Keyed) -> Bool { RPZRenderer.compare(a.record, key: a.key, b.record, key: b.key) < 0 }
        let removals = removing.map { (key: RPZRenderer.ownerKey($0), record: $0) }.sorted(by: less)
        let additions = adding.map { (key: RPZRenderer.ownerKey($0), record: $0) }.sorted(by: less)
        // A record both removed and added (an entry replaced by one with the same records) cancels out.
        var removed: [Keyed] = []
        var added: [Keyed] = []
        var (i, j) = (0, 0)
        while i < removals.count || j < additions.count {
            if j == additions.count {
                removed.append(removals[i])
                i += 1
                continue
            }
            if i == removals.count {
                added.append(additions[j])
                j += 1
                continue
            }
            let order = RPZRenderer.compare(removals[i].record, key: removals[i].key, additions[j].record, key: additions[j].key)
            if order == 0 && removals[i].record == additions[j].record {
                i += 1
                j += 1
            } else if order <= 0 {
                removed.append(removals[i])
                i += 1
            } else {
                added.append(additions[j])
                j += 1
            }
        }
        if removed.isEmpty && added.isEmpty { return .applied(nil) }
        let records = zone.records
        let base = records.prefix { $0.type == .NS && $0.name == zone.apex }.count
        /// The first index from `base` whose record is not before `record` in the canonical order.
        func lowerBound(_ item: Keyed) -> Int {
            var low = base
            var high = records.count
            while low < high {
                let middle = (low + high) / 2
                let probe = records[middle]
                if RPZRenderer.compare(probe, key: RPZRenderer.ownerKey(probe), item.record, key: item.key) < 0 {
                    low = middle + 1
                } else {
                    high = middle
                }
            }
            return low
        }
        /// How many records equal to `item` the zone holds from `start` on.
        func occurrences(of item: Keyed, from start: Int) -> Int {
            var end = start
            while end < records.count && records[end] == item.record { end += 1 }
            return end - start
        }
        // The positions to drop; the records whose last occurrence goes are the step's deletions.
        var drop: [Int] = []
        var deleted: [DNSRecord] = []
        var k = 0
        while k < removed.count {
            var run = k + 1
            while run < removed.count && removed[run].record == removed[k].record { run += 1 }
            let start = lowerBound(removed[k])
            let present = occurrences(of: removed[k], from: start)
            guard present >= run - k else { return .inconsistent }
            drop += start..<(start + run - k)
            if present == run - k { deleted += removed[k..<run].map(\.record) }
            k = run
        }
        // Where each addition goes; a record the zone did not hold is one of the step's additions.
        var insert: [(at: Int, record: DNSRecord)] = []
        var newlyAdded: [DNSRecord] = []
        for item in added {
            let at = lowerBound(item)
            insert.append((at, item.record))
            if occurrences(of: item, from: at) == 0 { newlyAdded.append(item.record) }
        }
        var next: [DNSRecord] = []
        next.reserveCapacity(records.count - drop.count + insert.count)
        var position = 0
        var (d, n) = (0, 0)
        while d < drop.count || n < insert.count {
            // Additions go before the record at their index, and before a dropped one there.
            if n < insert.count && (d == drop.count || insert[n].at <= drop[d]) {
                next += records[position..<insert[n].at]
                position = insert[n].at
                next.append(insert[n].record)
                n += 1
            } else {
                next += records[position..<drop[d]]
                position = drop[d] + 1
                d += 1
            }
        }
        next += records[position...]
        let version = zone.with(records: next, serial: zone.serial)
        if deleted.isEmpty && newlyAdded.isEmpty {
            // Only how many times a record appears changed: no new serial (as `update(to:)` gives none).
            zone = version
            return .applied(nil)
        }
        return .applied(commit(version, deleted: deleted, added: newlyAdded))
    }

    /// The steps from `serial` to the current version: empty when `serial` is current, nil when
    /// the journal does not reach back to it (or it is not a serial this zone had): answer with
    /// the whole zone.
    public func differences(from serial: DNSSerial) -> [JournalStep]? {
        if serial == zone.serial { return [] }
        guard let index = journal.firstIndex(where: { $0.oldSerial == serial }) else { return nil }
        return Array(journal[index...])
    }
}

/// The two zones of the sinkhole, kept in step with a policy: the sinkhole zone and the
/// exemption zone, each with its own serial and journal.
public struct RPZPublication: Sendable {
    public let configuration: RPZZoneConfiguration
    public private(set) var sinkhole: RPZZoneHistory
    public private(set) var exemptions: RPZZoneHistory
    /// The policy's change log as of the sinkhole zone's current version.
    var sinkholePosition: SinkholeChangeLog.Position

    /// Both zones rendered from `policy`, starting at `initialSerial` (see `RPZZoneHistory` on
    /// choosing it from the time).
    public init(
        policy: SinkholePolicy, configuration: RPZZoneConfiguration, initialSerial: DNSSerial,
        limits: RPZZoneHistory.Limits = .init()
    ) {
        self.configuration = configuration
        sinkhole = RPZZoneHistory(
            zone: RPZRenderer.sinkholeZone(policy, configuration: configuration, serial: initialSerial), limits: limits)
        sinkholePosition = policy.changeLog.position
        exemptions = RPZZoneHistory(
            zone: RPZRenderer.exemptionZone(policy, configuration: configuration, serial: initialSerial), limits: limits)
    }

    /// Renders `policy` after a batch of changes and publishes each zone that changed (one new
    /// serial per zone per batch).
    ///
    /// The sinkhole zone is rendered incrementally when `policy` descends from the policy last
    /// published (or given to `init`): only the records of the entries that changed since are
    /// rendered and put in or taken out, which gives the same zone, serial and step as rendering
    /// the whole policy, which is done otherwise (another policy, or one whose recent changes no
    /// longer reach back to the last publication).
    /// - Returns: the step of each zone, nil for a zone that did not change.
    @discardableResult
    public mutating func publish(_ policy: SinkholePolicy) -> (sinkhole: JournalStep?, exemptions: JournalStep?) {
        let a = publishSinkhole(policy)
        let b = exemptions.update(
            to: RPZRenderer.exemptionZone(policy, configuration: configuration, serial: exemptions.zone.serial))
        return (a, b)
    }

    /// Publishes the sinkhole zone of `policy`: incrementally when its change log continues from
    /// the last publication, else the whole zone rendered.
    mutating func publishSinkhole(_ policy: SinkholePolicy) -> JournalStep? {
        defer { sinkholePosition = policy.changeLog.position }
        if let changes = policy.changeLog.changes(since: sinkholePosition) {
            // Each trigger's entry as last published: the one before its first change since.
            var touched: [SinkholeTrigger: SinkholeEntry?] = [:]
            var order: [SinkholeTrigger] = []
            for change in changes where touched.index(forKey: change.trigger) == nil {
                touched[change.trigger] = .some(change.before)
                order.append(change.trigger)
            }
            var removing: [DNSRecord] = []
            var adding: [DNSRecord] = []
            for trigger in order {
                if case .some(.some(let before)) = touched[trigger] {
                    removing += RPZRenderer.records(for: before, configuration: configuration)
                }
                if let after = policy.entries[trigger] { adding += RPZRenderer.records(for: after, configuration: configuration) }
            }
            if case .applied(let step) = sinkhole.update(removing: removing, adding: adding) { return step }
        }
        return sinkhole.update(to: RPZRenderer.sinkholeZone(policy, configuration: configuration, serial: sinkhole.zone.serial))
    }

    /// Both zones' histories, for the responder.
    public var zones: [RPZZoneHistory] { [sinkhole, exemptions] }
}
