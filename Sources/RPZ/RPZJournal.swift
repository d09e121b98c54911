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

    /// Both zones rendered from `policy`, starting at `initialSerial` (see `RPZZoneHistory` on
    /// choosing it from the time).
    public init(
        policy: SinkholePolicy, configuration: RPZZoneConfiguration, initialSerial: DNSSerial,
        limits: RPZZoneHistory.Limits = .init()
    ) {
        self.configuration = configuration
        sinkhole = RPZZoneHistory(
            zone: RPZRenderer.sinkholeZone(policy, configuration: configuration, serial: initialSerial), limits: limits)
        exemptions = RPZZoneHistory(
            zone: RPZRenderer.exemptionZone(policy, configuration: configuration, serial: initialSerial), limits: limits)
    }

    /// Renders `policy` after a batch of changes and publishes each zone that changed (one new
    /// serial per zone per batch).
    /// - Returns: the step of each zone, nil for a zone that did not change.
    @discardableResult
    public mutating func publish(_ policy: SinkholePolicy) -> (sinkhole: JournalStep?, exemptions: JournalStep?) {
        let a = sinkhole.update(to: RPZRenderer.sinkholeZone(policy, configuration: configuration, serial: sinkhole.zone.serial))
        let b = exemptions.update(
            to: RPZRenderer.exemptionZone(policy, configuration: configuration, serial: exemptions.zone.serial))
        return (a, b)
    }

    /// Both zones' histories, for the responder.
    public var zones: [RPZZoneHistory] { [sinkhole, exemptions] }
}
