import FlowCodec
import IdentityCodec
import MamoriCore

/// (address, port?, time) → subscriber: a time-interval index over everything the carrier's
/// identity systems said — RADIUS sessions, DHCP leases and delegations, CGNAT port blocks and
/// NAT44 sessions, deterministic CGNAT, static assignments. Pure: no I/O, no clock; every time is
/// the one the source stated (ms since the Unix epoch).
///
/// Two layers. **Holding claims** say a subscriber held an address or prefix during an interval
/// (RADIUS, DHCP, static). **Translation claims** say an inside address used a public address and
/// port range (CGNAT). A lookup of a public CGNAT address needs the port: translation claims lead
/// to the inside address, whose holding claims lead to the subscriber.
///
/// Rules, as the issue and RFC 6302 ask:
/// - A claim without an end (RADIUS session without Stop, port block without release) ends at the
///   next claim on the same address (or overlapping port range) from the same kind of source, or
///   ``Configuration/maximumOpenMilliseconds`` (translations: ``Configuration/maximumOpenTranslationMilliseconds``)
///   after its last sign of life (Start, Interim-Update, port-block interim) — whichever comes first.
///   Such ends are marked inferred.
/// - Clocks disagree: a claim also covers ``Configuration/clockSkewMilliseconds`` either side of
///   its interval. A time inside that margin only is evidence, but weaker.
/// - When claims of different subscribers cover the time, the answer is ``Attribution/Outcome/ambiguous``
///   with every candidate: never silently resolved.
///
/// Confidence of one claim: 1.0 inside its own interval with a known start; 0.8 when its end was
/// inferred; 0.7 when its start was inferred (a release or interim seen without its allocation);
/// 0.9 for a static assignment (configuration that can be stale); 0.5 when the time is only within
/// the skew margin. Behind a CGNAT the answer's confidence is the product of the two steps'.
///
/// Memory: one 32-byte claim per record plus a dictionary slot per distinct address or prefix
/// (measured in BENCHMARKS.md). Not thread-safe: the server owns it behind an actor.
public struct AttributionIndex: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// How far the clocks of NAS, DHCP server, CGNAT and flow exporters may disagree, ± ms.
        public var clockSkewMilliseconds: Int64 = 2_000
        /// How long after its last sign of life (Start, Interim-Update) a RADIUS session without a
        /// Stop stops counting. NASes send Interim-Updates every few minutes, so a day of silence
        /// means the Stop was lost.
        public var maximumOpenMilliseconds: Int64 = 86_400_000
        /// The same for a CGNAT port block or NAT44 session without a release. Longer: a CGNAT
        /// without interim logging never re-announces a block its subscriber keeps using, and the
        /// next allocation of the same ports ends a block anyway.
        public var maximumOpenTranslationMilliseconds: Int64 = 30 * 86_400_000
        /// Deterministic CGNAT pools (RFC 7422), consulted before the logged translations.
        public var deterministicNAT: [DeterministicNAT] = []
        /// Claims held per source (RADIUS, DHCP, NAT events, NAT syslog, static assignments);
        /// beyond it, new claims from that source are refused (``Change/refusedFull``) until
        /// retention forgets old ones. A bound on memory whatever a source sends, and far below
        /// the 2^31 claims the index can address.
        public var maximumClaimsPerSource = 20_000_000
        public init() {}
    }

    /// What one ingested record did, for metrics.
    public enum Change: String, Sendable, Hashable, CaseIterable {
        /// A new claim was recorded.
        case added
        /// A known claim was refreshed or extended (Interim-Update, lease renewal, interim log).
        case refreshed
        /// A known claim was closed (Stop, release, Accounting-On/Off).
        case closed
        /// Nothing to record (no address in it, a duplicate, a record kind that names nobody).
        case ignored
        /// Refused: a time in it lies outside 1970–2100 (``FlowTimeWindow``), so no claim could
        /// be computed with it safely. Nothing was recorded.
        case rejected
        /// Refused: its source holds ``Configuration/maximumClaimsPerSource`` claims already.
        case refusedFull = "refused_full"
    }

    public let configuration: Configuration

    // Claims live in one array; each address or prefix ("slot") heads a singly linked chain of
    // its claims, newest first. Chains are short (one per session or lease on that address in the
    // retention window), so a lookup is one hash probe per prefix length and a short walk.
    var claims: [Claim] = []
    /// Claims held per source, indexed by ``AttributionSource/rawValue``.
    var claimCounts = [Int](repeating: 0, count: 8)
    var holdingHeads = SlotTable()
    /// Translations are chained per (public address, 1024-port bucket) — a public address carries
    /// dozens of port blocks, and one chain per address would make every lookup walk them all.
    /// A block spanning several buckets is linked from each: `translationLinks` holds the chains'
    /// nodes, each pointing at its claim.
    var translationHeads = SlotTable()
    var translationLinks: [Link] = []
    /// Every public address with a logged translation (the value is unused).
    var translatedAddresses = SlotTable()
    /// One bit per IPv4 /24 that holds a public CGNAT address (2 MiB once the first translation
    /// arrives), so a lookup of an ordinary address rules out the CGNAT step without a probe.
    var translatedV4Slash24: [UInt64] = []
    var hasIPv6Translations = false
    let maximumOpen: Int64
    let maximumOpenTranslation: Int64
    let skew: Int64
    /// Prefix lengths (in the 128-bit space) that IPv4 and IPv6 holding claims use, longest first.
    var holdingLengthsV4: [UInt8] = []
    var holdingLengthsV6: [UInt8] = []
    var subscriberNames: [String] = []
    var subscriberNumbers: [String: UInt32] = [:]
    /// Inside addresses named by translation claims (a claim's `target` indexes this).
    var insideAddresses: [IPAddress] = []
    /// Open RADIUS sessions: (NAS, Acct-Session-Id) → their claims.
    var sessions: [SessionKey: [Int32]] = [:]
    /// Claims dropped by ``forget(endedBefore:)`` so far.
    public internal(set) var forgottenCount = 0

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        maximumOpen = configuration.maximumOpenMilliseconds
        maximumOpenTranslation = configuration.maximumOpenTranslationMilliseconds
        skew = configuration.clockSkewMilliseconds
    }

    /// Claims held.
    public var count: Int { claims.count }
    /// Distinct subscribers named.
    public var subscriberCount: Int { subscriberNames.count }
    /// Open RADIUS sessions.
    public var openSessionCount: Int { sessions.count }
    /// Mean probes per key of the holding and translation tables (1.0 is ideal), for benchmarks.
    public var meanProbes: (holding: Double, translation: Double, translationChains: Int) {
        (holdingHeads.meanProbes, translationHeads.meanProbes, translationHeads.count)
    }

    // MARK: - Ingesting

    /// Applies one RADIUS accounting record from `nas` (the client it came from), received at
    /// `receivedAt` ms. The subscriber is User-Name, else Calling-Station-Id. The session's start is
    /// the Start's Event-Timestamp, or for an Interim-Update/Stop whose Start was missed, the event
    /// time minus Acct-Session-Time. Accounting-On/Off closes every open session of that NAS.
    @discardableResult
    public mutating func apply(_ record: AccountingRecord, from nas: IPAddress, receivedAt: Int64) -> Change {
        let nasAddress = record.nasIPAddress ?? nas
        guard FlowTimeWindow.isSane(receivedAt) else { return .rejected }
        guard hasRoom(for: .radius) else { return .refusedFull }
        if let seconds = record.eventTime, seconds < 0 || seconds > FlowTimeWindow.latestMilliseconds / 1000 { return .rejected }
        // Both in range: Event-Timestamp (seconds, ≤ 2100) × 1000, and the delay (32-bit seconds) back from now.
        let eventTime = record.eventTime.map { $0 * 1000 } ?? (receivedAt - Int64(record.delayTime ?? 0) * 1000)
        switch record.status {
        case .accountingOn, .accountingOff:
            return closeSessions(of: nasAddress, at: eventTime)
        case .start, .interimUpdate, .stop:
            break
        }
        let key = SessionKey(nas: nasAddress, sessionID: record.sessionID)
        if let known = sessions[key] {
            for i in known {
                var c = claims[Int(i)]
                if record.status == .stop {
                    c.end = max(c.start, eventTime)
                    c.flags.remove(.open)
                    c.flags.remove(.endInferred)
                } else if c.flags.contains(.open) {
                    c.end = max(c.end, eventTime, receivedAt)
                } else if c.flags.contains(.endInferred) {
                    // Closed because another session started on the address, yet this one still
                    // reports: both claim it now. Extend, so lookups see the overlap.
                    c.end = max(c.end, eventTime)
                }
                claims[Int(i)] = c
            }
            if record.status == .stop { sessions[key] = nil }
            return record.status == .stop ? .closed : (record.status == .start ? .ignored : .refreshed)
        }
        let prefixes = Self.prefixes(of: record)
        guard !prefixes.isEmpty, let who = record.userName ?? record.callingStationID, !who.isEmpty else { return .ignored }
        let target = subscriberNumber(who)
        var start = eventTime
        var flags: ClaimFlags = [.open]
        if record.status != .start {
            if let seconds = record.sessionTime { start = eventTime - Int64(seconds) * 1000 } else { flags.insert(.startInferred) }
        }
        var end = max(eventTime, record.status == .stop ? eventTime : receivedAt)
        if record.status == .stop {
            flags.remove(.open)
            end = eventTime
        }
        var added: [Int32] = []
        for p in prefixes {
            added.append(addHolding(Slot(p), Claim(start: start, end: end, target: target, source: .radius, flags: flags)))
        }
        if record.status != .stop { sessions[key] = added }
        return .added
    }

    /// Applies one Kea DHCPv4 lease row. The subscriber is the account in the lease's user context
    /// (`{"account": …}` or `{"subscriber": …}`), else `hwaddr:` + the client's MAC. A row for the
    /// same client extends its lease; a row for another client ends the previous holder's lease;
    /// a released or reclaimed row ends it at the row's time.
    @discardableResult
    public mutating func apply(_ lease: KeaLeaseFile.Lease4) -> Change {
        let who =
            Self.account(inUserContext: lease.userContext)
            ?? (lease.hardwareAddress.isEmpty
                ? (lease.clientID.isEmpty ? nil : "client-id:" + lease.clientID) : "hwaddr:" + lease.hardwareAddress)
        guard let who, let prefix = IPPrefix(address: lease.address, length: 32) else { return .ignored }
        guard Self.saneLease(expire: lease.expire, cltt: lease.clientLastTransmission) else { return .rejected }
        guard hasRoom(for: .dhcp) else { return .refusedFull }
        return applyLease(
            slot: Slot(prefix), who: who, from: lease.clientLastTransmission * 1000, until: lease.expire * 1000,
            ends: lease.state != .default)
    }

    /// Applies one Kea DHCPv6 lease row: an address (IA_NA, /128) or a delegated prefix (IA_PD).
    /// The subscriber is the user-context account, else `duid:` + the client DUID.
    @discardableResult
    public mutating func apply(_ lease: KeaLeaseFile.Lease6) -> Change {
        guard lease.type != .temporaryAddress else { return .ignored }
        let who = Self.account(inUserContext: lease.userContext) ?? "duid:" + lease.duid
        let length = lease.type == .prefix ? Int(lease.prefixLength) : 128
        guard let prefix = IPPrefix(address: lease.address, length: length) else { return .ignored }
        guard Self.saneLease(expire: lease.expire, cltt: lease.clientLastTransmission) else { return .rejected }
        guard hasRoom(for: .dhcp) else { return .refusedFull }
        return applyLease(
            slot: Slot(prefix), who: who, from: lease.clientLastTransmission * 1000, until: lease.expire * 1000,
            ends: lease.state != .default)
    }

    /// Whether `source` may add a claim (it holds fewer than the configured maximum).
    func hasRoom(for source: AttributionSource) -> Bool {
        claimCounts[Int(source.rawValue) & 7] < configuration.maximumClaimsPerSource
    }

    /// Claims held from `source`.
    public func claimCount(from source: AttributionSource) -> Int { claimCounts[Int(source.rawValue) & 7] }

    /// Whether a lease's times (Unix seconds, from a file anyone with write access may have
    /// edited) are within 1970–2100 once in ms.
    static func saneLease(expire: Int64, cltt: Int64) -> Bool {
        let latest = FlowTimeWindow.latestMilliseconds / 1000
        return expire >= 0 && expire <= latest && cltt >= 0 && cltt <= latest
    }

    /// Applies one CGNAT port-block syslog line (allocate, interim `ACTIVE`, release).
    @discardableResult
    public mutating func apply(_ event: NATPortBlockEvent) -> Change {
        guard FlowTimeWindow.isSane(event.timeMilliseconds) else { return .rejected }
        guard hasRoom(for: .natSyslog) else { return .refusedFull }
        let kind: TranslationEvent =
            switch event.kind {
            case .allocate: .allocate
            case .active: .active
            case .release: .release
            }
        return applyTranslation(
            kind, inside: event.insideAddress, outside: event.outsideAddress,
            ports: event.firstPort...max(event.firstPort, event.lastPort), at: event.timeMilliseconds, source: .natSyslog)
    }

    /// Applies an IPFIX NAT event (RFC 8158) carried by a flow record: port block allocation (16)
    /// and de-allocation (17), NAT44 session create (4) and delete (5), and the historic Cisco
    /// NSEL translation create/delete (1/2). Other records and events are ignored.
    @discardableResult
    public mutating func apply(natEvent r: FlowRecord) -> Change {
        guard let nat = r.nat, let outside = nat.postSourceAddress else { return .ignored }
        guard FlowTimeWindow.isSane(start: r.startMilliseconds, end: max(r.startMilliseconds, r.endMilliseconds)) else { return .rejected }
        guard hasRoom(for: .natEvent) else { return .refusedFull }
        let time = r.startMilliseconds
        switch nat.event {
        case NATFields.portBlockAllocation, NATFields.portBlockDeallocation:
            let last =
                nat.portRangeEnd >= nat.portRangeStart
                ? nat.portRangeEnd
                : UInt16(clamping: Int(nat.portRangeStart) + max(1, Int(nat.portRangeNumPorts)) - 1)
            return applyTranslation(
                nat.event == NATFields.portBlockAllocation ? .allocate : .release,
                inside: r.sourceAddress, outside: outside, ports: nat.portRangeStart...last, at: time, source: .natEvent)
        case NATFields.nat44SessionCreate, NATFields.nat44SessionDelete, 1, 2:
            let create = nat.event == NATFields.nat44SessionCreate || nat.event == 1
            let end = max(r.endMilliseconds, time)
            return applyTranslation(
                create ? .allocate : .release, inside: r.sourceAddress, outside: outside,
                ports: nat.postSourcePort...nat.postSourcePort, at: create ? time : end, source: .natEvent)
        default:
            return .ignored
        }
    }

    /// Records a static assignment (a business line's prefix), valid over its interval.
    @discardableResult
    public mutating func add(_ assignment: StaticAssignment) -> Change {
        if let t = assignment.validFrom, !FlowTimeWindow.isSane(t) { return .rejected }
        if let t = assignment.validUntil, !FlowTimeWindow.isSane(t) { return .rejected }
        guard hasRoom(for: .staticAssignment) else { return .refusedFull }
        let target = subscriberNumber(assignment.subscriber)
        addHolding(
            Slot(assignment.prefix),
            Claim(
                start: assignment.validFrom ?? .min, end: assignment.validUntil ?? .max,
                target: target, source: .staticAssignment, flags: []), closingOpen: false)
        return .added
    }

    // MARK: - Looking up

    /// Who held `address` (and, behind a CGNAT, source `port`) at `time` (ms), with the evidence.
    public func lookup(_ address: IPAddress, port: UInt16? = nil, at time: Int64) -> Attribution {
        guard FlowTimeWindow.isSane(time) else { return Self.timeOutOfRange(time) }
        var evidence: [AttributionEvidence] = []
        let translations = translationCandidates(address, port: port, at: time)
        let isTranslated = !translations.isEmpty || isTranslated(address)
        if isTranslated {
            guard let port else {
                return Attribution(
                    outcome: .ambiguous, subscriber: nil, confidence: 0,
                    reason: "\(address) is a public CGNAT address, shared by many subscribers: the source port is needed",
                    evidence: [])
            }
            for t in translations {
                let holders = holdingCandidates(t.inside, at: time)
                if holders.isEmpty {
                    evidence.append(t.evidence)
                } else {
                    for h in holders {
                        var e = h.evidence
                        e.source = t.evidence.source
                        e.insideAddress = t.inside
                        e.matched = "\(t.evidence.matched) → \(h.evidence.matched)"
                        e.heldFrom = max(t.evidence.heldFrom, h.evidence.heldFrom)
                        e.heldUntil = [t.evidence.heldUntil, h.evidence.heldUntil].compactMap { $0 }.min()
                        e.startInferred = t.evidence.startInferred || h.evidence.startInferred
                        e.endInferred = t.evidence.endInferred || h.evidence.endInferred
                        e.withinSkewOnly = t.evidence.withinSkewOnly || h.evidence.withinSkewOnly
                        e.confidence = t.evidence.confidence * h.evidence.confidence
                        evidence.append(e)
                    }
                }
            }
            if evidence.isEmpty {
                return Attribution(
                    outcome: .unknown, subscriber: nil, confidence: 0,
                    reason: "no CGNAT translation of \(address) port \(port) covers that time", evidence: [])
            }
        } else {
            evidence = holdingCandidates(address, at: time).map(\.evidence)
            if evidence.isEmpty {
                return Attribution(
                    outcome: .unknown, subscriber: nil, confidence: 0,
                    reason: "no session, lease or assignment of \(address) covers that time", evidence: [])
            }
        }
        evidence.sort { ($0.confidence, $1.heldFrom) > ($1.confidence, $0.heldFrom) }
        let named = Set(evidence.compactMap(\.subscriber))
        if named.count == 1, let who = named.first {
            let best = evidence.filter { $0.subscriber == who }.map(\.confidence).max() ?? 0
            let e = evidence[0]
            return Attribution(
                outcome: .attributed, subscriber: who, confidence: best,
                reason: "\(e.source) claim on \(e.matched) covers the time"
                    + (evidence.count > 1 ? " (\(evidence.count) claims agree)" : ""),
                evidence: evidence)
        }
        if named.isEmpty {
            let inside = evidence.compactMap(\.insideAddress).map { "\($0)" }.joined(separator: ", ")
            return Attribution(
                outcome: .unknown, subscriber: nil, confidence: 0,
                reason:
                    "the CGNAT translated it from inside address \(inside), but no session, lease or assignment of that address covers the time",
                evidence: evidence)
        }
        return Attribution(
            outcome: .ambiguous, subscriber: nil, confidence: 0,
            reason:
                "\(named.count) subscribers have claims covering that time (within ±\(configuration.clockSkewMilliseconds) ms clock skew): the data cannot decide",
            evidence: evidence)
    }

    /// The answer to a question about a time outside 1970–2100: nobody, and why.
    static func timeOutOfRange(_ time: Int64) -> Attribution {
        Attribution(
            outcome: .unknown, subscriber: nil, confidence: 0,
            reason: "the time \(time) ms is outside 1970–2100: no claim can cover it", evidence: [])
    }

    /// The hot path of ``lookup(_:port:at:)`` without evidence: the outcome, the subscriber and the
    /// confidence, and no allocation (for bulk attribution and the benchmark).
    public func resolve(_ address: IPAddress, port: UInt16? = nil, at time: Int64) -> (
        outcome: Attribution.Outcome, subscriber: String?, confidence: Double
    ) {
        guard FlowTimeWindow.isSane(time) else { return (.unknown, nil, 0) }
        // Plain loops, no closures: this is the path measured in BENCHMARKS.md.
        var found = Found()
        // ``isTranslated(_:)``, but a translation chain for the port's bucket answers it without
        // probing `translatedAddresses` (which holds the address of every chain).
        var chain: Int32 = -1
        var translated = false
        if mayBeTranslated(address) {
            if let port, let head = translationHeads[Self.translationSlot(address, bucket: Self.bucket(port))] {
                chain = head
                translated = true
            } else {
                translated = translatedAddresses[Slot(address, length: 128)] != nil
            }
        }
        if !translated && !configuration.deterministicNAT.isEmpty {
            translated = configuration.deterministicNAT.contains { $0.outside.contains(address) }
        }
        if translated {
            guard let port else { return (.ambiguous, nil, 0) }
            var anyTranslation = false
            for pool in configuration.deterministicNAT where pool.isValid(at: time) {
                if let inside = pool.insideAddress(for: address, port: port) {
                    anyTranslation = true
                    scanHoldings(inside, at: time, factor: 1.0, into: &found)
                }
            }
            var l = chain
            while l >= 0 {
                let link = translationLinks[Int(l)]
                if link.portLow <= port && port <= link.portHigh {
                    let c = claims[Int(link.claim)]
                    let end = effectiveEnd(c)
                    if c.start <= time + skew && time - skew <= end {
                        anyTranslation = true
                        scanHoldings(
                            inside(of: c), at: time, factor: confidence(of: c, core: c.start <= time && time <= end), into: &found,
                            cachedHead: c.insideHead)
                    }
                }
                l = link.next
            }
            if !anyTranslation { return (.unknown, nil, 0) }
        } else {
            scanHoldings(address, at: time, factor: 1.0, into: &found)
        }
        if found.conflict { return (.ambiguous, nil, 0) }
        guard let target = found.target else { return (.unknown, nil, 0) }
        return (.attributed, subscriberNames[Int(target)], found.confidence)
    }

    /// Adds every holding claim on `address` covering `time` to `found`, confidence × `factor`.
    /// `cachedHead` is a translation's ``Claim/insideHead``: the head of the address's own slot
    /// (length 128) if that claim is still a chain head, in which case the probe is skipped.
    @inline(__always)
    func scanHoldings(_ address: IPAddress, at time: Int64, factor: Double, into found: inout Found, cachedHead: Int32 = -1) {
        for length in address.isIPv6 ? holdingLengthsV6 : holdingLengthsV4 {
            var i: Int32
            if length == 128, cachedHead >= 0, claims[Int(cachedHead)].flags.contains(.chainHead) {
                i = cachedHead
            } else {
                guard let head = holdingHeads[Slot(address, length: length)] else { continue }
                i = head
            }
            while i >= 0 {
                let c = claims[Int(i)]
                let end = effectiveEnd(c)
                if c.start <= time + skew && time - skew <= end {
                    found.add(c.target, factor * confidence(of: c, core: c.start <= time && time <= end))
                }
                i = c.next
            }
        }
    }

    /// The addresses and prefixes each subscriber `include` accepts holds at `time` (RADIUS sessions, DHCP
    /// leases and delegations, static assignments; not CGNAT translations, whose public address
    /// many subscribers share): the reverse of ``lookup(_:port:at:)``, for exempting an opted-out
    /// subscriber's addresses from the DNS sinkhole. Only claims covering `time` itself count, not
    /// the clock-skew margin, and an address whose claims at that time name several subscribers
    /// is given to none of them.
    ///
    /// One pass over every holding claim (a few seconds at tens of millions): for a periodic
    /// refresh of a short list, not for a lookup per flow.
    public func heldPrefixes(at time: Int64, of include: (String) -> Bool) -> [String: Set<IPPrefix>] {
        let wanted = Set(subscriberNames.indices.filter { include(subscriberNames[$0]) }.map { UInt32($0) })
        guard !wanted.isEmpty else { return [:] }
        var held: [String: Set<IPPrefix>] = [:]
        holdingHeads.visitSlots { slot, head in
            var holders = Set<UInt32>()
            var i = head
            while i >= 0 {
                let c = claims[Int(i)]
                if c.start <= time && time <= effectiveEnd(c) { holders.insert(c.target) }
                i = c.next
            }
            guard holders.count == 1, let target = holders.first, wanted.contains(target) else { return }
            let address = IPAddress.v6(high: slot.high, low: slot.low)
            let length = address.isIPv6 ? Int(slot.length) : Int(slot.length) - 96
            if let prefix = IPPrefix(address: address, length: length) {
                held[subscriberNames[Int(target)], default: []].insert(prefix)
            }
        }
        return held
    }

    // MARK: - Retention

    /// Drops every claim that ended before `cutoff` (ms) — open claims count as ending at their last
    /// sign of life plus ``Configuration/maximumOpenMilliseconds`` — and returns how many. The
    /// index is rebuilt; names no claim uses any more are dropped too.
    @discardableResult
    public mutating func forget(endedBefore cutoff: Int64) -> Int {
        let keep = claims.indices.filter { effectiveEnd(claims[$0]) >= cutoff }
        let dropped = claims.count - keep.count
        guard dropped > 0 else { return 0 }
        var renumbered = [Int32](repeating: -1, count: claims.count)
        var kept: [Claim] = []
        kept.reserveCapacity(keep.count)
        var names: [String] = []
        var numbers: [String: UInt32] = [:]
        var insides: [IPAddress] = []
        for i in keep {
            var c = claims[i]
            renumbered[i] = Int32(kept.count)
            if c.source.isTranslation {
                if !c.flags.contains(.insideV4) {
                    c.target = UInt32(insides.count)
                    insides.append(insideAddresses[Int(claims[i].target)])
                }
            } else {
                let name = subscriberNames[Int(c.target)]
                if let n = numbers[name] {
                    c.target = n
                } else {
                    c.target = UInt32(names.count)
                    numbers[name] = c.target
                    names.append(name)
                }
            }
            kept.append(c)
        }
        func relink(_ heads: SlotTable) -> SlotTable {
            var out = SlotTable(capacity: heads.count)
            for (slot, head) in heads.all {
                // Walk the old chain in order and keep survivors in order (newest first).
                var survivors: [Int32] = []
                var i = head
                while i >= 0 {
                    if renumbered[Int(i)] >= 0 { survivors.append(renumbered[Int(i)]) }
                    i = claims[Int(i)].next
                }
                guard let first = survivors.first else { continue }
                for (k, n) in survivors.enumerated() { kept[Int(n)].next = k + 1 < survivors.count ? survivors[k + 1] : -1 }
                out.set(slot, head: first)
            }
            return out
        }
        let newHolding = relink(holdingHeads)
        var newTranslation = SlotTable(capacity: translationHeads.count)
        var newLinks: [Link] = []
        var newTranslated = SlotTable(capacity: translatedAddresses.count)
        for (slot, head) in translationHeads.all {
            var survivors: [Int32] = []
            var l = head
            while l >= 0 {
                let claim = renumbered[Int(translationLinks[Int(l)].claim)]
                if claim >= 0 { survivors.append(claim) }
                l = translationLinks[Int(l)].next
            }
            guard !survivors.isEmpty else { continue }
            var next: Int32 = -1
            for claim in survivors.reversed() {
                newLinks.append(Link(next: next, claim: claim, ports: kept[Int(claim)].portLow...kept[Int(claim)].portHigh))
                next = Int32(newLinks.count - 1)
            }
            newTranslation.set(slot, head: next)
            newTranslated.set(Slot(high: slot.high, low: slot.low, length: 128), head: 0)
        }
        translationLinks = newLinks
        translatedAddresses = newTranslated
        var newSessions: [SessionKey: [Int32]] = [:]
        for (key, list) in sessions {
            let mapped = list.map { renumbered[Int($0)] }.filter { $0 >= 0 }
            if !mapped.isEmpty { newSessions[key] = mapped }
        }
        claims = kept
        claimCounts = [Int](repeating: 0, count: 8)
        for c in claims { claimCounts[Int(c.source.rawValue) & 7] += 1 }
        holdingHeads = newHolding
        translationHeads = newTranslation
        subscriberNames = names
        subscriberNumbers = numbers
        insideAddresses = insides
        sessions = newSessions
        let slots = holdingHeads.all.map(\.0)
        holdingLengthsV4 = Array(Set(slots.filter(\.isIPv4).map(\.length))).sorted(by: >)
        holdingLengthsV6 = Array(Set(slots.filter { !$0.isIPv4 }.map(\.length))).sorted(by: >)
        rebuildLookupCaches()
        forgottenCount += dropped
        return dropped
    }

    /// Recomputes what lookups cache — which holding claims head their chains, each
    /// translation's ``Claim/insideHead``, each link's ports — from the chains themselves, after
    /// the claims were renumbered or read back.
    mutating func rebuildLookupCaches() {
        for i in claims.indices { claims[i].flags.remove(.chainHead) }
        for (_, head) in holdingHeads.all where head >= 0 { claims[Int(head)].flags.insert(.chainHead) }
        for i in claims.indices where claims[i].source.isTranslation {
            claims[i].insideHead = holdingHeads[Slot(inside(of: claims[i]), length: 128)] ?? -1
        }
        for k in translationLinks.indices {
            let c = claims[Int(translationLinks[k].claim)]
            translationLinks[k].portLow = c.portLow
            translationLinks[k].portHigh = c.portHigh
        }
    }

    // MARK: - Internals

    struct ClaimFlags: OptionSet, Hashable {
        let rawValue: UInt8
        /// No end known yet: `end` holds the last sign of life.
        static let open = ClaimFlags(rawValue: 1)
        static let startInferred = ClaimFlags(rawValue: 2)
        static let endInferred = ClaimFlags(rawValue: 4)
        /// A translation whose `target` is the IPv4 inside address itself (no table entry).
        static let insideV4 = ClaimFlags(rawValue: 8)
        /// A holding claim at the head of its slot's chain: set when the claim is added, cleared
        /// when a newer one goes in front of it, recomputed when the claims are renumbered
        /// (``forget(endedBefore:)``, a snapshot). A translation's cached ``Claim/insideHead`` is
        /// trusted only while the claim it names still carries this flag.
        static let chainHead = ClaimFlags(rawValue: 16)
    }

    /// One claim, 32 bytes.
    struct Claim: Hashable {
        var start: Int64
        /// The end, or while open the last sign of life.
        var end: Int64
        /// A subscriber number (holding claims) or an inside-address number (translations).
        var target: UInt32
        /// Holding claims: the next (older) claim on the same slot, or -1. Translation claims are on
        /// no claim chain (links chain them), so they use the field as ``insideHead``.
        var next: Int32 = -1
        var portLow: UInt16 = 0
        var portHigh: UInt16 = .max
        var source: AttributionSource
        var flags: ClaimFlags

        init(
            start: Int64, end: Int64, target: UInt32, source: AttributionSource, flags: ClaimFlags,
            ports: ClosedRange<UInt16> = 0...UInt16.max
        ) {
            self.start = start
            self.end = end
            self.target = target
            self.source = source
            self.flags = flags
            portLow = ports.lowerBound
            portHigh = ports.upperBound
        }

        /// Translation claims only: the head of the holding chain of the inside address's own
        /// slot (its /32 or /128) when last looked at, or -1. Saves the CGNAT lookup its second
        /// hash probe: a lookup uses it only while that claim is still a ``ClaimFlags/chainHead``
        /// (no newer claim went in front of it since), and otherwise probes as before — so a
        /// stale value costs time, never a different answer. Set when the translation is added or
        /// refreshed, and for all translations when the claims are renumbered.
        var insideHead: Int32 {
            get { next }
            set { next = newValue }
        }
    }

    /// An address or prefix, masked, with its length in the 128-bit space.
    struct Slot: Hashable {
        var high: UInt64
        var low: UInt64
        var length: UInt8

        init(high: UInt64, low: UInt64, length: UInt8) {
            self.high = high
            self.low = low
            self.length = length
        }

        init(_ prefix: IPPrefix) {
            high = prefix.network.high
            low = prefix.network.low
            length = UInt8(prefix.storedLength)
        }

        init(_ address: IPAddress, length: UInt8) {
            let bits = Int(length)
            high = bits >= 64 ? address.high : bits == 0 ? 0 : address.high & ~(UInt64.max >> UInt64(bits))
            low = bits <= 64 ? 0 : bits >= 128 ? address.low : address.low & ~(UInt64.max >> UInt64(bits - 64))
            self.length = length
        }

        /// Whether this is an IPv4 address or prefix (IPv4-mapped, length ≥ 96).
        var isIPv4: Bool { length >= 96 && high == 0 && low >> 32 == 0xFFFF }
        var text: String {
            let address = IPAddress.v6(high: high, low: low)
            let bits = address.isIPv6 ? Int(length) : Int(length) - 96
            return bits == (address.isIPv6 ? 128 : 32) ? "\(address)" : "\(address)/\(bits)"
        }
    }

    struct SessionKey: Hashable {
        var nas: IPAddress
        var sessionID: String
    }

    enum TranslationEvent { case allocate, active, release }

    /// A node of a translation chain, 12 bytes.
    struct Link {
        var next: Int32
        var claim: Int32
        /// The claim's port range, copied (it never changes) so that a lookup skips the other
        /// blocks sharing the 1,024-port bucket without touching their claims.
        var portLow: UInt16
        var portHigh: UInt16

        init(next: Int32, claim: Int32, ports: ClosedRange<UInt16>) {
            self.next = next
            self.claim = claim
            portLow = ports.lowerBound
            portHigh = ports.upperBound
        }
    }

    /// The chain key of public `address`, ports `bucket` × 1024 …: the address with the bucket in
    /// the length field (the translation table holds addresses only).
    @inline(__always)
    static func translationSlot(_ address: IPAddress, bucket: Int) -> Slot {
        Slot(high: address.high, low: address.low, length: UInt8(bucket))
    }

    @inline(__always)
    static func bucket(_ port: UInt16) -> Int { Int(port >> 10) }

    /// Accumulates the distinct subscribers a lookup meets, without allocating.
    struct Found {
        var target: UInt32?
        var conflict = false
        var confidence = 0.0
        mutating func add(_ t: UInt32, _ c: Double) {
            if let target, target != t { conflict = true }
            target = t
            confidence = max(confidence, c)
        }
    }

    static func prefixes(of r: AccountingRecord) -> [IPPrefix] {
        var out: [IPPrefix] = []
        if let a = r.framedIPAddress, let p = IPPrefix(address: a, length: a.isIPv6 ? 128 : 32) { out.append(p) }
        out += r.framedIPv6Prefixes
        out += r.delegatedIPv6Prefixes
        return out
    }

    /// `account` or `subscriber` in a Kea user context such as `{ "account": "cust-00000042" }`.
    /// Read by hand: the context is a one-level JSON object and this avoids Foundation in a pure module.
    static func account(inUserContext context: String) -> String? {
        for key in ["\"account\"", "\"subscriber\""] {
            guard let k = context.firstRange(of: key) else { continue }
            let rest = context[k.upperBound...].drop { $0 == " " || $0 == ":" }
            guard rest.first == "\"" else { continue }
            let value = rest.dropFirst().prefix { $0 != "\"" }
            if !value.isEmpty { return String(value) }
        }
        return nil
    }

    mutating func subscriberNumber(_ name: String) -> UInt32 {
        if let n = subscriberNumbers[name] { return n }
        let n = UInt32(subscriberNames.count)
        subscriberNames.append(name)
        subscriberNumbers[name] = n
        return n
    }

    @inline(__always)
    func effectiveEnd(_ c: Claim) -> Int64 {
        guard c.flags.contains(.open) else { return c.end }
        return c.end &+ (c.source.isTranslation ? maximumOpenTranslation : maximumOpen)
    }

    /// The inside address a translation claim leads to.
    @inline(__always)
    func inside(of c: Claim) -> IPAddress {
        c.flags.contains(.insideV4) ? .v4(c.target) : insideAddresses[Int(c.target)]
    }

    /// Adds a holding claim at the head of its slot's chain. Unless `closingOpen` is false, open
    /// claims of another subscriber from the same source on that slot end where this one starts.
    @discardableResult
    mutating func addHolding(_ slot: Slot, _ claim: Claim, closingOpen: Bool = true) -> Int32 {
        var c = claim
        let head = holdingHeads[slot] ?? -1
        if closingOpen {
            closeOpen(from: head, source: claim.source, ports: 0...UInt16.max, before: claim.start) { $0.target == claim.target }
        }
        if head >= 0 { claims[Int(head)].flags.remove(.chainHead) }
        c.next = head
        c.flags.insert(.chainHead)
        let index = Int32(claims.count)
        claims.append(c)
        claimCounts[Int(c.source.rawValue) & 7] += 1
        holdingHeads.set(slot, head: index)
        if slot.isIPv4 {
            if !holdingLengthsV4.contains(slot.length) { holdingLengthsV4 = (holdingLengthsV4 + [slot.length]).sorted(by: >) }
        } else if !holdingLengthsV6.contains(slot.length) {
            holdingLengthsV6 = (holdingLengthsV6 + [slot.length]).sorted(by: >)
        }
        return index
    }

    /// Ends, at `time`, the open claims in the chain from `head` of the same layer as `source` that
    /// overlap `ports` and belong to someone else (`sameHolder` false).
    mutating func closeOpen(
        from head: Int32, source: AttributionSource, ports: ClosedRange<UInt16>, before time: Int64, sameHolder: (Claim) -> Bool
    ) {
        var i = head
        while i >= 0 {
            var c = claims[Int(i)]
            if c.flags.contains(.open), c.source.isTranslation == source.isTranslation, !sameHolder(c),
                c.portLow <= ports.upperBound, ports.lowerBound <= c.portHigh, c.start <= time
            {
                c.end = max(c.start, time)
                c.flags.remove(.open)
                c.flags.insert(.endInferred)
                claims[Int(i)] = c
            }
            i = c.next
        }
    }

    mutating func closeSessions(of nas: IPAddress, at time: Int64) -> Change {
        var closed = false
        for (key, list) in sessions where key.nas == nas {
            var all = true
            for i in list {
                var c = claims[Int(i)]
                guard c.start <= time else {
                    all = false
                    continue
                } // began after the NAS (re)booted
                if c.flags.contains(.open) {
                    c.end = max(c.start, time)
                    c.flags.remove(.open)
                    c.flags.insert(.endInferred)
                    claims[Int(i)] = c
                    closed = true
                }
            }
            if all { sessions[key] = nil }
        }
        return closed ? .closed : .ignored
    }

    mutating func applyLease(slot: Slot, who: String, from: Int64, until: Int64, ends: Bool) -> Change {
        let target = subscriberNumber(who)
        // The same client's lease on this slot that is still valid (or just lapsed) is extended.
        var i = holdingHeads[slot] ?? -1
        while i >= 0 {
            var c = claims[Int(i)]
            if c.source == .dhcp, c.target == target, c.end + configuration.clockSkewMilliseconds >= from, c.start <= until {
                if ends {
                    c.end = max(c.start, min(c.end, max(from, until)))
                    c.flags.remove(.open)
                    claims[Int(i)] = c
                    return .closed
                }
                c.end = max(c.end, until)
                claims[Int(i)] = c
                return .refreshed
            }
            i = c.next
        }
        if ends { return .ignored }
        // Another client's lease on this address ends where this one begins.
        var j = holdingHeads[slot] ?? -1
        while j >= 0 {
            var c = claims[Int(j)]
            if c.source == .dhcp, c.target != target, c.start <= from, c.end > from {
                c.end = from
                c.flags.insert(.endInferred)
                claims[Int(j)] = c
            }
            j = c.next
        }
        addHolding(slot, Claim(start: from, end: until, target: target, source: .dhcp, flags: []), closingOpen: false)
        return .added
    }

    mutating func applyTranslation(
        _ event: TranslationEvent, inside: IPAddress, outside: IPAddress, ports: ClosedRange<UInt16>, at time: Int64,
        source: AttributionSource
    ) -> Change {
        let buckets = Self.bucket(ports.lowerBound)...Self.bucket(ports.upperBound)
        // The open claim of this inside address on this exact range, if any (linked from the range's first bucket).
        var l = translationHeads[Self.translationSlot(outside, bucket: buckets.lowerBound)] ?? -1
        while l >= 0 {
            let i = Int(translationLinks[Int(l)].claim)
            var c = claims[i]
            if c.flags.contains(.open), c.portLow == ports.lowerBound, c.portHigh == ports.upperBound, self.inside(of: c) == inside {
                c.insideHead = holdingHeads[Slot(inside, length: 128)] ?? -1
                switch event {
                case .allocate, .active:
                    c.end = max(c.end, time)
                    claims[i] = c
                    return event == .allocate ? .ignored : .refreshed
                case .release:
                    c.end = max(c.start, time)
                    c.flags.remove(.open)
                    claims[i] = c
                    return .closed
                }
            }
            l = translationLinks[Int(l)].next
        }
        let v4Inside = inside.ipv4
        let target = v4Inside ?? UInt32(insideAddresses.count)
        var claim: Claim
        switch event {
        case .allocate:
            claim = Claim(start: time, end: time, target: target, source: source, flags: [.open], ports: ports)
        case .active:
            // Held since some time before this interim log: at least since now.
            claim = Claim(start: time, end: time, target: target, source: source, flags: [.open, .startInferred], ports: ports)
        case .release:
            // A release whose allocation was never seen: held for at most the open maximum before.
            claim = Claim(
                start: time - maximumOpenTranslation, end: time, target: target, source: source, flags: [.startInferred], ports: ports)
        }
        if v4Inside != nil { claim.flags.insert(.insideV4) } else { insideAddresses.append(inside) }
        claim.insideHead = holdingHeads[Slot(inside, length: 128)] ?? -1
        let index = Int32(claims.count)
        for b in buckets {
            let slot = Self.translationSlot(outside, bucket: b)
            let head = translationHeads[slot] ?? -1
            if event != .release {
                // Open blocks of other inside addresses on overlapping ports end where this begins.
                var l = head
                while l >= 0 {
                    let i = Int(translationLinks[Int(l)].claim)
                    var c = claims[i]
                    if c.flags.contains(.open), c.portLow <= ports.upperBound, ports.lowerBound <= c.portHigh, c.start <= time,
                        self.inside(of: c) != inside
                    {
                        c.end = max(c.start, time)
                        c.flags.remove(.open)
                        c.flags.insert(.endInferred)
                        claims[i] = c
                    }
                    l = translationLinks[Int(l)].next
                }
            }
            translationLinks.append(Link(next: head, claim: index, ports: ports))
            translationHeads.set(slot, head: Int32(translationLinks.count - 1))
        }
        claims.append(claim)
        claimCounts[Int(claim.source.rawValue) & 7] += 1
        translatedAddresses.set(Slot(outside, length: 128), head: 0)
        if let v4 = outside.ipv4 {
            if translatedV4Slash24.isEmpty { translatedV4Slash24 = Array(repeating: 0, count: 1 << 18) }
            translatedV4Slash24[Int(v4 >> 14)] |= 1 << UInt64((v4 >> 8) & 63)
        } else {
            hasIPv6Translations = true
        }
        return .added
    }

    /// Whether `address` is a public CGNAT address (logged translations or a deterministic pool).
    func isTranslated(_ address: IPAddress) -> Bool {
        mayBeTranslated(address) && translatedAddresses[Slot(address, length: 128)] != nil
            || configuration.deterministicNAT.contains { $0.outside.contains(address) }
    }

    /// False when `address` certainly has no logged translation: the /24 bitmap answers most
    /// ordinary addresses without a probe.
    @inline(__always)
    func mayBeTranslated(_ address: IPAddress) -> Bool {
        if let v4 = address.ipv4 {
            return !translatedV4Slash24.isEmpty && translatedV4Slash24[Int(v4 >> 14)] & (1 << UInt64((v4 >> 8) & 63)) != 0
        }
        return hasIPv6Translations
    }

    /// Calls `body` with every logged translation claim of `address` whose ports include `port`.
    @inline(__always)
    func forEachTranslationClaim(_ address: IPAddress, port: UInt16, _ body: (Claim) -> Void) {
        guard mayBeTranslated(address), var l = translationHeads[Self.translationSlot(address, bucket: Self.bucket(port))] else { return }
        while l >= 0 {
            let c = claims[Int(translationLinks[Int(l)].claim)]
            if c.portLow <= port && port <= c.portHigh { body(c) }
            l = translationLinks[Int(l)].next
        }
    }

    func confidence(of c: Claim, core: Bool) -> Double {
        guard core else { return 0.5 }
        if c.source == .staticAssignment { return 0.9 }
        if c.flags.contains(.startInferred) { return 0.7 }
        if c.flags.contains(.endInferred) { return 0.8 }
        return 1.0
    }

    struct Candidate {
        var inside: IPAddress
        var evidence: AttributionEvidence
    }

    func evidence(_ c: Claim, slot: String, time: Int64, subscriber: String?, inside: IPAddress? = nil) -> AttributionEvidence {
        let end = effectiveEnd(c)
        let core = c.start <= time && time <= end
        return AttributionEvidence(
            source: c.source, subscriber: subscriber, matched: slot, insideAddress: inside,
            heldFrom: c.start, heldUntil: c.flags.contains(.open) || c.end == .max ? nil : c.end,
            startInferred: c.flags.contains(.startInferred), endInferred: c.flags.contains(.endInferred),
            withinSkewOnly: !core, confidence: confidence(of: c, core: core))
    }

    func holdingCandidates(_ address: IPAddress, at time: Int64) -> [Candidate] {
        var out: [Candidate] = []
        for length in address.isIPv6 ? holdingLengthsV6 : holdingLengthsV4 {
            let slot = Slot(address, length: length)
            guard let head = holdingHeads[slot] else { continue }
            var i = head
            while i >= 0 {
                let c = claims[Int(i)]
                if c.start <= time + skew && time - skew <= effectiveEnd(c) {
                    out.append(
                        Candidate(
                            inside: address, evidence: evidence(c, slot: slot.text, time: time, subscriber: subscriberNames[Int(c.target)]))
                    )
                }
                i = c.next
            }
        }
        return out
    }

    func translationCandidates(_ address: IPAddress, port: UInt16?, at time: Int64) -> [Candidate] {
        guard let port else { return [] }
        var out: [Candidate] = []
        for pool in configuration.deterministicNAT {
            guard pool.isValid(at: time), let inside = pool.insideAddress(for: address, port: port), let block = pool.block(of: inside)
            else { continue }
            out.append(
                Candidate(
                    inside: inside,
                    evidence: AttributionEvidence(
                        source: .deterministicNAT, subscriber: nil,
                        matched: "\(block.outside):\(block.ports.lowerBound)-\(block.ports.upperBound)",
                        insideAddress: inside, heldFrom: pool.validFrom ?? .min, heldUntil: pool.validUntil, confidence: 1.0)))
        }
        let slot = Slot(address, length: 128)
        forEachTranslationClaim(address, port: port) { c in
            if c.start <= time + skew && time - skew <= effectiveEnd(c) {
                let inside = inside(of: c)
                out.append(
                    Candidate(
                        inside: inside,
                        evidence: evidence(c, slot: "\(slot.text):\(c.portLow)-\(c.portHigh)", time: time, subscriber: nil, inside: inside))
                )
            }
        }
        return out
    }
}

extension AttributionIndex.Slot {
    init(_ address: IPAddress, length: Int) { self.init(address, length: UInt8(length)) }
}
