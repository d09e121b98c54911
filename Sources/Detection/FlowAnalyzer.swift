import FlowCodec
import MamoriCore

/// Counters of the analysis, for metrics and the benchmark.
public struct AnalyzerStatistics: Sendable, Hashable {
    public var records = 0
    public var outbound = 0
    public var inbound = 0
    /// Records with both ends inside, both outside, or touching infrastructure.
    public var notCrossing = 0
    /// Records between a subscriber and a special-purpose address (multicast, broadcast,
    /// link-local, private, documentation…): no host on the Internet, not analysed.
    public var specialPurpose = 0
    public var trackedPairs = 0
    public var trackedEndpoints = 0
    public var pairsEvicted = 0
    /// C&C candidates not reported because their endpoint is popular.
    public var suppressedPopular = 0
    /// … of which popular only as part of a service pool (sibling addresses beaconed to alike).
    public var suppressedServicePool = 0
    /// C&C candidates not reported because they move content (``DetectionConfiguration/Beacon/bulkBytesPerContact``).
    public var suppressedBulk = 0
    /// C&C candidates not reported because they are allowlisted.
    public var suppressedAllowlisted = 0
    /// Beaconing pairs and peer series of peer-to-peer application hosts left out of C&C cohorts
    /// (``DetectionConfiguration/PeerToPeer``).
    public var suppressedPeerToPeer = 0
    /// C&C candidates not reported because their contacts are NTP exchanges on 123/udp.
    public var suppressedTimeService = 0
    public var findingsReported = 0
    /// Records ignored because a time lay outside 1970–2100 or ended before it started, or the
    /// receive time itself did: what the collector's time screen lets through never is, but
    /// records from files and other callers are checked here too.
    public var rejectedTimes = 0
    /// Records whose byte or packet count exceeded ``FlowAnalyzer/maximumCounter`` (2^48) and
    /// was analysed as that many: no real flow comes near it, and below it every rate the
    /// detectors compute is a finite number that fits any integer it is shown as.
    public var clampedCounters = 0
    /// Records that ended after they were received, moved back to end on receipt.
    public var shiftedTimes = 0
    /// Entries dropped from the per-address tables at ``DetectionConfiguration/maximumTableEntries``.
    public var tableEvictions = 0

    public init() {}
}

/// Streaming, windowed detection over flow records: C&C servers, known indicators, scanning,
/// outbound and inbound DDoS, and the infected devices behind them.
///
/// Pure and single-threaded: no clock, no I/O. Time is what the caller says (`receivedAt` of each
/// record, `now` of each evaluation): wall time inside `mamori serve`, capture time in
/// `mamori analyze`. State is bounded: idle pairs, endpoints and hosts age out, and the
/// (host, endpoint) table has a hard cap. Raw flows are not kept, except a few per finding as evidence.
///
/// ```swift
/// var analyzer = FlowAnalyzer(configuration: configuration)
/// for (record, time) in flows { analyzer.ingest(record, receivedAt: time) }
/// let changed = analyzer.evaluate(now: time)   // call every second or so
/// ```
public struct FlowAnalyzer: Sendable {
    public private(set) var configuration: DetectionConfiguration
    public internal(set) var statistics = AnalyzerStatistics()
    let pseudonyms: Pseudonymizer
    var now: Int64 = .min
    var nextEvaluation: Int64 = .min
    var nextBeaconEvaluation: Int64 = .min

    // Beacon analysis.
    var pairs = FlatTable<PairKey, PairState>()
    /// Score and sample of the pairs with enough contacts to be scored.
    var pairDetails: [PairKey: PairDetail] = [:]
    var endpoints = FlatTable<Endpoint, EndpointState>()
    var series: [SeriesKey: SeriesState] = [:]
    var baseV4 = DistinctCounter(precision: 14, exactLimit: 64)
    var baseV6 = DistinctCounter(precision: 14, exactLimit: 64)
    // Attacks and scans.
    var scans: [InternalHost: ScanState] = [:]
    var targets: [IPAddress: TargetBucket] = [:]
    var victims: [IPAddress: VictimRate] = [:]
    var pendingInbound: [IPAddress: InboundAlert] = [:]
    /// Packets of low-rate records (SYN-only, UDP, ICMP) per subscriber address in the current
    /// second: a flood from thousands of spoofed sources sends one packet from each, and only the
    /// sum by destination shows it. Cleared every second.
    var inboundTally: [IPAddress: InboundTally] = [:]
    /// The latest second tallied.
    var inboundTallySecond: Int64 = .min
    /// Findings changed while ingesting (an attack bucket judged when the next one began).
    var pendingAttackChanges: [String] = []
    // Indicators.
    var indicatorContacts: [PairKey: IndicatorContact] = [:]
    // Findings and the per-host evidence that makes infected devices.
    var findings: [String: Finding] = [:]
    var lastReported: [String: ReportMark] = [:]
    var devices: [InternalHost: DeviceEvidence] = [:]
    /// Hosts' exchanges with peers on high ports (the peer-to-peer application hypothesis).
    var peerHosts: [InternalHost: PeerActivity] = [:]
    /// Endpoints reported as C&C (kept after their pairs age out, so later contacts still count).
    var commandAndControl: [Endpoint: String] = [:]

    // Sharding (``ShardedFlowAnalyzer``).
    /// What this analyzer holds: everything, or one shard's hosts, or what spans shards.
    var role = Role.whole
    /// A shard's attack-shaped traffic, for the coordinator.
    var deferredAttackTraffic: [DeferredAttackTraffic] = []
    /// The place in its batch of the record being ingested (a shard's deferred traffic keeps it).
    var sequence = 0
    /// A coordinator's device evidence for the shards' hosts.
    var pendingDeviceNotes: [(host: InternalHost, note: DeviceNote)] = []
    /// A shard's bound on its endpoint table: the whole ``DetectionConfiguration/maximumTableEntries``,
    /// not its share, since every shard's hosts reach the same popular endpoints.
    var endpointTableLimit: Int?
    /// A shard's copy of the coordinator's C&C findings' scores (its devices are scored with them).
    var commandAndControlScores: [String: Double] = [:]

    enum Role: Sendable {
        /// One analyzer for the whole subscriber base.
        case whole
        /// The per-host state of one share of the subscriber base.
        case shard
        /// What spans shards: endpoints' cohorts, attack targets, and their findings.
        case coordinator
    }

    public init(configuration: DetectionConfiguration) {
        self.configuration = configuration
        pseudonyms = Pseudonymizer(key: configuration.pseudonymKey)
    }

    /// Adds an allowlist entry (an analyst's false-positive verdict): the endpoint is not reported
    /// as C&C again, and a finding already made about it is withdrawn from the analyzer's state.
    public mutating func allow(_ entry: EndpointList.Entry) {
        configuration.allowlist.append(entry)
        for (endpoint, id) in commandAndControl where entry.matches(endpoint) {
            commandAndControl[endpoint] = nil
            findings[id] = nil
        }
    }

    /// Replaces the indicators from `source` (a sharing peer, a feed) with `entries`, leaving the
    /// configured file's and other sources' alone: an indicator the source revoked or no longer
    /// lists stops matching, the contacts counted with it are forgotten and its finding is
    /// withdrawn from the analyzer's state (a stored finding stays, as it was true when made).
    /// At most ``DetectionConfiguration/maximumIndicators`` are kept in all; returns how many of
    /// `entries` did not fit.
    @discardableResult
    public mutating func replaceIndicators(source: String, with entries: [EndpointList.Entry]) -> Int {
        var list = configuration.indicators.removingAll { $0.source == source }
        let room = max(0, configuration.maximumIndicators - list.count)
        for var e in entries.prefix(room) {
            e.source = source
            list.append(e)
        }
        configuration.indicators = list
        for (key, c) in indicatorContacts where c.source == source && list.match(key.endpoint) == nil {
            indicatorContacts[key] = nil
            findings[Finding.id(kind: .knownIndicator, subject: .endpoint(key.endpoint))] = nil
            devices[key.host]?.indicators[key.endpoint] = nil
        }
        return max(0, entries.count - room)
    }

    /// The largest byte or packet count analysed as given (2^48, 281 trillion); larger ones are
    /// analysed as this and counted in ``AnalyzerStatistics/clampedCounters``.
    public static let maximumCounter: UInt64 = 1 << 48

    /// The analyzer's clock: the latest time it was given.
    public var clock: Int64 { now }

    /// Every finding in its current state.
    public var currentFindings: [Finding] {
        findings.values.sorted { ($0.kind, $0.id) < ($1.kind, $1.id) }
    }

    /// Feeds one flow record received at `receivedAt` (ms since the Unix epoch).
    ///
    /// Every window, rate and period below computes with the record's times, so a record whose
    /// times (or `receivedAt`) lie outside 1970–2100, or whose end precedes its start, is counted
    /// in ``AnalyzerStatistics/rejectedTimes`` and otherwise ignored: within that range no sum or
    /// difference of times can overflow.
    public mutating func ingest(_ record: FlowRecord, receivedAt: Int64) {
        ingest(record, receivedAt: receivedAt, crossing: configuration.network.crossing(of: record))
    }

    /// ``ingest(_:receivedAt:)`` with the record's crossing already found (a shard's router
    /// finds it to choose the shard). It depends on the addresses and ports only.
    @inline(__always)
    mutating func ingest(_ record: FlowRecord, receivedAt: Int64, crossing: NetworkLayout.Crossing) {
        statistics.records += 1
        guard FlowTimeWindow.isSane(start: record.startMilliseconds, end: record.endMilliseconds), FlowTimeWindow.isSane(receivedAt) else {
            statistics.rejectedTimes += 1
            return
        }
        var r = record
        // A flow cannot end after it was received: one stamped later (a router's clock a little
        // fast, or a record spoofed ahead within the collector's allowance) is moved back, whole,
        // to end when it arrived — else it would push a victim's rate window or a scan window
        // ahead of the real traffic and blind them to it.
        if r.endMilliseconds > receivedAt {
            let shift = r.endMilliseconds - receivedAt
            r.startMilliseconds = max(FlowTimeWindow.earliestMilliseconds, r.startMilliseconds - shift)
            r.endMilliseconds = receivedAt
            statistics.shiftedTimes += 1
        }
        if r.bytes > Self.maximumCounter || r.packets > Self.maximumCounter {
            r.bytes = min(r.bytes, Self.maximumCounter)
            r.packets = min(r.packets, Self.maximumCounter)
            statistics.clampedCounters += 1
        }
        if receivedAt > now { now = receivedAt }
        switch crossing {
        case .outbound(let host, let remote, let localPort, let remotePort):
            statistics.outbound += 1
            outbound(r, host: host, remote: remote, localPort: localPort, remotePort: remotePort)
        case .inbound(let host, let remote, let localPort, let remotePort):
            statistics.inbound += 1
            inbound(r, host: host, remote: remote, localPort: localPort, remotePort: remotePort)
        case .other:
            statistics.notCrossing += 1
        case .specialPurpose:
            statistics.specialPurpose += 1
        }
        enforceTableLimits()
    }

    /// Entries held per table, for tests and metrics: pairs and every table
    /// ``enforceTableLimits()`` bounds.
    public var tableSizes: [String: Int] {
        [
            "pairs": pairs.count, "endpoints": endpoints.count, "series": series.count, "scans": scans.count, "targets": targets.count,
            "victims": victims.count, "inbound_tally": inboundTally.count, "indicator_contacts": indicatorContacts.count,
            "devices": devices.count,
            "peer_hosts": peerHosts.count, "findings": findings.count,
        ]
    }

    /// Keeps every per-address table within ``DetectionConfiguration/maximumTableEntries``: a
    /// table over it loses its least recently seen tenth (sorting it: amortised over the tenth of
    /// a table's inserts that precede the next trim).
    @inline(__always)
    mutating func enforceTableLimits() {
        if pairs.count > configuration.maximumPairs { evictPairs() }
        let limit = configuration.maximumTableEntries
        let endpointLimit = endpointTableLimit ?? limit
        guard
            endpoints.count > endpointLimit || series.count > limit || scans.count > limit || targets.count > limit
                || victims.count > limit || indicatorContacts.count > limit || devices.count > limit || peerHosts.count > limit
        else { return }
        statistics.tableEvictions += endpoints.trimOldest(to: endpointLimit) { $0.lastSeen }
        statistics.tableEvictions += series.trimOldest(to: limit) { $0.contacts.lastContact }
        statistics.tableEvictions += scans.trimOldest(to: limit) { $0.lastSeen }
        statistics.tableEvictions += targets.trimOldest(to: limit) { $0.index }
        statistics.tableEvictions += victims.trimOldest(to: limit) { $0.lastSeen }
        statistics.tableEvictions += indicatorContacts.trimOldest(to: limit) { $0.lastSeen }
        statistics.tableEvictions += devices.trimOldest(to: limit) { $0.lastSeen }
        statistics.tableEvictions += peerHosts.trimOldest(to: limit) { $0.lastSeen }
    }

    private mutating func outbound(_ r: FlowRecord, host: InternalHost, remote: IPAddress, localPort: UInt16, remotePort: UInt16) {
        if host.address.isIPv6 { baseV6.insert(host.stableHash) } else { baseV4.insert(host.stableHash) }
        if localPort >= 1024 && remotePort >= 1024 {
            notePeerExchange(r, host: host, remote: remote, localPort: localPort, heardFrom: false)
        }
        let isTCP = r.ipProtocol == 6
        let probe = isTCP && r.tcpFlags & 0x02 != 0 && r.tcpFlags & 0x10 == 0
        let seconds = max(0.001, Double(r.endMilliseconds - r.startMilliseconds) / 1000)
        let attackShaped = Double(r.packets) / max(1, seconds) >= configuration.outboundAttack.flowPacketsPerSecond
        if attackShaped, probe || !isTCP {
            recordAttackTraffic(r, host: host, target: remote)
        }
        if probe {
            recordProbe(r, host: host, target: remote, port: remotePort, reportedAsAttack: attackShaped)
            // A bot retrying a dead or filtered C&C sends nothing but SYNs, on a timer: its
            // attempts are contacts too (njRAT in the corpus, every 11.5 s) — unless the host
            // spreads them over many addresses on that port (a scan: one-contact pairs).
            // A flood's SYNs (attack-shaped records) are not contacts either.
            // Nor are SYNs to a target the host already hammers this bucket (a one-host flood).
            let scan = scans[host]
            let hammered = scan.map { $0.floodedTarget == remote || ($0.floodTarget == remote && $0.floodPackets >= 10) } ?? false
            if !attackShaped, !hammered, (scan?.destinations[remotePort]?.count ?? 0) <= configuration.scan.minimumObserved {
                recordContact(
                    r, host: host, endpoint: Endpoint(address: remote, port: remotePort, ipProtocol: r.ipProtocol), outbound: true)
            }
            return
        }
        if isTCP && r.tcpFlags & 0x12 == 0x12 && !scans.isEmpty { recordAnsweredConnection(host: host, port: remotePort) }
        // A subscriber's own server answering someone (well-known local port, ephemeral remote) is
        // not a contact with an external service.
        if localPort < 1024 && remotePort >= 1024 { return }
        let endpoint = Endpoint(address: remote, port: remotePort, ipProtocol: r.ipProtocol)
        recordContact(r, host: host, endpoint: endpoint, outbound: true)
    }

    private mutating func inbound(_ r: FlowRecord, host: InternalHost, remote: IPAddress, localPort: UInt16, remotePort: UInt16) {
        if localPort >= 1024 && remotePort >= 1024 {
            notePeerExchange(r, host: host, remote: remote, localPort: localPort, heardFrom: true)
        }
        // Volumetric attacks are UDP (reflection), ICMP or SYN floods: established TCP (ACK set)
        // is a download, however fast, and does not count towards the flood rate.
        if !(r.ipProtocol == 6 && r.tcpFlags & 0x10 != 0) {
            if victims[host.address] != nil
                || Double(r.packets) >= 20 * Double(max(1, (r.endMilliseconds - r.startMilliseconds) / 1000 + 1))
            {
                recordInboundVolume(r, victim: host.address)
            } else {
                tallyInbound(r, victim: host.address)
            }
        }
        // An external server answering (its port is the lower, or well-known): a contact seen from
        // the response side — what survives when sampling drops the request.
        guard remotePort < localPort || remotePort < 1024 else { return }
        let endpoint = Endpoint(address: remote, port: remotePort, ipProtocol: r.ipProtocol)
        recordContact(r, host: host, endpoint: endpoint, outbound: false)
    }

    /// Runs the detectors that are due and returns the findings that are new or have changed
    /// materially since they were last returned.
    public mutating func evaluate(now time: Int64) -> [Finding] {
        if time > now, FlowTimeWindow.isSane(time) { now = time }
        guard now != .min else { return [] } // nothing seen yet: no clock
        var changed: [String] = []
        flushInboundAlerts(into: &changed)
        if now >= nextEvaluation {
            nextEvaluation = now + configuration.evaluationInterval
            forgetPastTallies()
            evaluateScans(into: &changed)
            evaluateOutboundAttacks(final: false, into: &changed)
            if now >= nextBeaconEvaluation {
                nextBeaconEvaluation = now + configuration.beacon.evaluationInterval
                evaluateBeacons(into: &changed)
                evaluateLongSessions(into: &changed)
                forgetQuietVictims()
                forgetQuietPeerHosts()
                forgetOldFindings()
            }
            evaluateIndicators(into: &changed)
            evaluateDevices(into: &changed)
            statistics.trackedPairs = pairs.count
            statistics.trackedEndpoints = endpoints.count
        }
        return report(changed)
    }

    /// Closes every open window (end of a file) and returns the findings that changed.
    public mutating func finish() -> [Finding] {
        guard now != .min else { return [] }
        var changed: [String] = []
        flushInboundAlerts(into: &changed)
        evaluateScans(into: &changed, closeAll: true)
        evaluateOutboundAttacks(final: true, into: &changed)
        evaluateBeacons(into: &changed)
        evaluateLongSessions(into: &changed)
        evaluateIndicators(into: &changed)
        evaluateDevices(into: &changed)
        statistics.trackedPairs = pairs.count
        statistics.trackedEndpoints = endpoints.count
        return report(changed)
    }

    /// How long a finding (and the per-host evidence behind infected devices) stays in the
    /// analyzer after its last activity; the store keeps it for the configured retention.
    static let memoryHorizon: Int64 = 24 * 3_600_000

    /// Bounds memory over days of running: findings, device evidence and C&C endpoints quiet for
    /// a day are dropped from the analyzer (not from the store).
    mutating func forgetOldFindings() {
        let cutoff = now - Self.memoryHorizon
        var forgotten: [String] = []
        for (id, f) in findings where f.lastSeen < cutoff && f.updatedAt < cutoff { forgotten.append(id) }
        for id in forgotten {
            findings[id] = nil
            lastReported[id] = nil
        }
        devices.removeEntries { _, d in d.lastSeen < cutoff }
        // A shard's C&C list is the coordinator's copy: the coordinator forgets from it.
        guard role != .shard else { return }
        let findings = self.findings
        commandAndControl.removeEntries { _, id in findings[id] == nil }
    }

    struct ReportMark: Sendable {
        var score: Double
        var cohortSize: Int
        var lastSeen: Int64
    }

    mutating func report(_ ids: [String]) -> [Finding] {
        var out: [Finding] = []
        var seen = Set<String>()
        for id in ids where seen.insert(id).inserted {
            guard let f = findings[id] else { continue }
            let mark = ReportMark(score: f.score, cohortSize: f.evidence.cohortSize, lastSeen: f.lastSeen)
            if let old = lastReported[id], abs(old.score - mark.score) < 0.02, old.cohortSize == mark.cohortSize,
                mark.lastSeen - old.lastSeen < 300_000
            {
                continue
            }
            if lastReported[id] == nil { statistics.findingsReported += 1 }
            lastReported[id] = mark
            out.append(f)
        }
        return out.sorted { ($0.kind, $0.id) < ($1.kind, $1.id) }
    }

    /// Inserts or updates a finding, keeping its first detection time.
    mutating func upsert(_ f: Finding, into changed: inout [String]) {
        var f = f
        if let old = findings[f.id] {
            f.detectedAt = old.detectedAt
            f.firstSeen = min(old.firstSeen, f.firstSeen)
            f.lastSeen = max(old.lastSeen, f.lastSeen)
            if f.evidence.flows.isEmpty { f.evidence.flows = old.evidence.flows }
        }
        f.updatedAt = now
        findings[f.id] = f
        changed.append(f.id)
    }

    func sample(_ r: FlowRecord, revealing host: InternalHost?) -> FlowSample {
        func side(_ a: IPAddress, _ port: UInt16) -> String {
            let net = configuration.network
            guard net.isSubscriber(a) else { return "\(a)" }
            let h = net.host(a, port: port)
            if let host, h == host { return "\(a)" }
            return pseudonyms.pseudonym(h)
        }
        return FlowSample(
            start: r.startMilliseconds, end: r.endMilliseconds, source: side(r.sourceAddress, r.sourcePort), sourcePort: r.sourcePort,
            destination: side(r.destinationAddress, r.destinationPort), destinationPort: r.destinationPort,
            protocol: protocolName(r.ipProtocol),
            tcpFlags: r.tcpFlags, packets: r.packets, bytes: r.bytes, samplingInterval: r.samplingInterval)
    }
}

extension Dictionary {
    /// Removes the entries `shouldRemove` picks. Removing inside a `for … in self` loop makes
    /// Swift copy the whole dictionary first (the loop's iterator holds its storage): tables of
    /// hundreds of thousands of entries were copied at every evaluation that way.
    mutating func removeEntries(where shouldRemove: (Key, Value) -> Bool) {
        var doomed: [Key] = []
        for (key, value) in self where shouldRemove(key, value) { doomed.append(key) }
        for key in doomed { self[key] = nil }
    }

    /// When over `limit`, drops the entries with the smallest `age` down to nine tenths of it;
    /// returns how many were dropped.
    mutating func trimOldest(to limit: Int, by age: (Value) -> Int64) -> Int {
        guard count > limit else { return 0 }
        let excess = count - limit * 9 / 10
        var ages = values.map(age)
        let cutoff = kthSmallest(&ages, excess - 1)
        // The keys first, then the removals: removing while iterating made Swift copy the whole
        // dictionary (the iterator holds its storage) at every trim.
        var doomed: [Key] = []
        doomed.reserveCapacity(excess)
        for (key, value) in self where doomed.count < excess && age(value) <= cutoff { doomed.append(key) }
        for key in doomed { self[key] = nil }
        return doomed.count
    }
}
