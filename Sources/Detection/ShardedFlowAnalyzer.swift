import Dispatch
import FlowCodec
import MamoriCore

/// Flow analysis on several cores: the subscriber base split into shards by subscriber address,
/// one ``FlowAnalyzer`` per shard, and a coordinator for what spans them.
///
/// The partitioning is the one a cluster's detector nodes use (issue 25): every record about a
/// subscriber address goes to the shard that owns the address, so each shard holds all of its
/// hosts' pairs, series, scans, peer activity, indicator contacts, inbound rates and device
/// evidence, and the per-record work needs nothing from another shard. What a decision needs
/// from the whole subscriber base is merged at each evaluation:
///
/// - **endpoints' users** (popularity): each shard counts its own hosts per endpoint; the sketches
///   are united (HyperLogLog registers: the union of shards' sketches is the sketch of all) and
///   the verdict (popular or not, idle or not) is handed back to every shard;
/// - **C&C cohorts**: each shard gathers its hosts' beaconing pairs and periodic series per
///   endpoint (``BeaconCandidate``); the coordinator merges them and decides over the union, so
///   that an endpoint beaconed to by one host in each of three shards has a cohort of three;
/// - **long sessions and indicator contacts**: gathered per shard, judged on the union;
/// - **outbound attacks**: a target's bucket adds up every subscriber's traffic, so shards hand
///   attack-shaped records to the coordinator, which adds them up in the order they came.
///
/// Device evidence found by the coordinator (a flood's participants, a session's hosts) goes to
/// the shard that owns the host, and the coordinator's C&C list to every shard. The findings are
/// the ones one ``FlowAnalyzer`` makes of the same records (a test compares them), except under
/// the pair and table caps, which each shard applies to its share.
///
/// With one shard it is one ``FlowAnalyzer``, unchanged.
public struct ShardedFlowAnalyzer: Sendable {
    /// Shards of the subscriber base (1: a single analyzer).
    public let shardCount: Int
    /// The single analyzer (one shard), or the coordinator.
    var coordinator: FlowAnalyzer
    var shards: [FlowAnalyzer]
    /// The batch being ingested, routed: per shard, each record with its receipt time, its place
    /// in the batch and its crossing (kept to reuse their capacity).
    var routed: [[RoutedRecord]]
    /// The analyzers' clock after each record of the batch (the coordinator's while it adds up
    /// the shards' attack traffic, as one analyzer's would have been).
    var clockAfter: [Int64] = []
    /// Records given one at a time, not yet analysed (``ingest(_:receivedAt:)``).
    var pending: [(record: FlowRecord, receivedAt: Int64)] = []

    struct RoutedRecord: Sendable {
        var record: FlowRecord
        var receivedAt: Int64
        var sequence: Int
        var crossing: NetworkLayout.Crossing
    }

    /// - Parameters:
    ///   - shards: how many shards (and cores) the analysis is spread over; 1 runs one analyzer.
    ///     ``DetectionConfiguration/maximumPairs`` bounds the pairs of all shards together
    ///     (after every batch, the least recently contacted over all shards go,
    ///     as one analyzer's would): a fixed share per shard would evict early in the shard that
    ///     hashing gave a few more hosts, and again and again. Each shard follows at most its
    ///     share of ``DetectionConfiguration/maximumTableEntries`` for its per-host tables; its
    ///     endpoint table may hold the whole bound (the shards' hosts reach the same popular
    ///     endpoints).
    public init(configuration: DetectionConfiguration, shards: Int) {
        shardCount = max(1, shards)
        coordinator = FlowAnalyzer(configuration: configuration)
        guard shardCount > 1 else {
            self.shards = []
            routed = []
            return
        }
        coordinator.role = .coordinator
        var share = configuration
        share.maximumTableEntries = max(1, configuration.maximumTableEntries / shardCount)
        self.shards = (0..<shardCount).map { _ in
            var a = FlowAnalyzer(configuration: share)
            a.role = .shard
            a.endpointTableLimit = configuration.maximumTableEntries
            return a
        }
        routed = Array(repeating: [], count: shardCount)
    }

    /// One analyzer, as it is (one shard).
    public init(_ analyzer: FlowAnalyzer) {
        shardCount = 1
        coordinator = analyzer
        shards = []
        routed = []
    }

    /// The analyzer itself when there is one shard (nil with several).
    public var whole: FlowAnalyzer? { shardCount == 1 ? coordinator : nil }

    /// The shard that owns a subscriber address.
    @inline(__always)
    func shard(of address: IPAddress) -> Int {
        SubscriberPartitioning.partition(of: address, count: shardCount)
    }

    // MARK: Ingest

    /// Feeds one record (``FlowAnalyzer/ingest(_:receivedAt:)``). With several shards, records
    /// given one at a time are gathered and analysed as a batch when 4,096 have come, or at the
    /// next ``evaluate(now:)`` or ``finish()``, in the order they came.
    public mutating func ingest(_ record: FlowRecord, receivedAt: Int64) {
        guard shardCount > 1 else { return coordinator.ingest(record, receivedAt: receivedAt) }
        pending.append((record, receivedAt))
        if pending.count >= 4_096 { flushPending() }
    }

    /// Analyses the records given one at a time so far (a caller that hands over a batch record
    /// by record calls it at the batch's end).
    public mutating func flushPending() {
        guard !pending.isEmpty else { return }
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        ingestBatch(batch)
    }

    /// Feeds a batch of records, each with the time it was received (ms since the Unix epoch),
    /// as ``FlowAnalyzer/ingest(_:receivedAt:)`` one by one would.
    public mutating func ingest(_ batch: [(record: FlowRecord, receivedAt: Int64)]) {
        guard shardCount > 1 else {
            for (r, t) in batch { coordinator.ingest(r, receivedAt: t) }
            return
        }
        flushPending()
        ingestBatch(batch)
    }

    mutating func ingestBatch(_ batch: [(record: FlowRecord, receivedAt: Int64)]) {
        let network = coordinator.configuration.network
        for i in routed.indices { routed[i].removeAll(keepingCapacity: true) }
        clockAfter.removeAll(keepingCapacity: true)
        var clock = max(coordinator.now, shards.map(\.now).max() ?? .min)
        for (sequence, (r, t)) in batch.enumerated() {
            if FlowTimeWindow.isSane(start: r.startMilliseconds, end: r.endMilliseconds), FlowTimeWindow.isSane(t), t > clock { clock = t }
            clockAfter.append(clock)
            let crossing = network.crossing(of: r)
            let owner: Int =
                switch crossing {
                case .outbound(let host, _, _, _), .inbound(let host, _, _, _): shard(of: host.address)
                case .other, .specialPurpose: sequence % shardCount
                }
            routed[owner].append(RoutedRecord(record: r, receivedAt: t, sequence: sequence, crossing: crossing))
        }
        let work = routed
        forEachShard { i, shard in
            for r in work[i] {
                shard.sequence = r.sequence
                shard.ingest(r.record, receivedAt: r.receivedAt, crossing: r.crossing)
            }
        }
        // The targets' buckets, in the order the traffic came.
        var deferred: [DeferredAttackTraffic] = []
        for i in shards.indices where !shards[i].deferredAttackTraffic.isEmpty {
            deferred += shards[i].deferredAttackTraffic
            shards[i].deferredAttackTraffic.removeAll(keepingCapacity: true)
        }
        deferred.sort { $0.sequence < $1.sequence }
        for d in deferred {
            coordinator.now = max(coordinator.now, clockAfter[d.sequence])
            coordinator.recordAttackTraffic(d.record, host: d.host, target: d.target)
        }
        coordinator.now = max(coordinator.now, clock)
        deliverDeviceNotes()
        boundPairs()
    }

    /// Keeps the shards' pairs together within ``DetectionConfiguration/maximumPairs``: over it,
    /// the least recently contacted go, down to nine tenths, over all shards (as
    /// ``FlowAnalyzer/evictPairs()`` does in one analyzer).
    mutating func boundPairs() {
        let total = shards.reduce(0) { $0 + $1.pairs.count }
        let bound = coordinator.configuration.maximumPairs
        guard total > bound else { return }
        let excess = total - bound * 9 / 10
        var times: [Int64] = []
        times.reserveCapacity(total)
        for s in shards { for (_, p) in s.pairs { times.append(p.lastContact) } }
        let cutoff = kthSmallest(&times, excess)
        var left = excess
        for i in shards.indices where left > 0 { left -= shards[i].evictPairs(lastContactBefore: cutoff, atMost: left) }
    }

    /// Runs `body` on every shard, in parallel (one thread per shard), and returns its results
    /// in shard order.
    mutating func mapShards<T>(_ body: (Int, inout FlowAnalyzer) -> T) -> [T] {
        var local = shards
        shards = []
        var results = [T?](repeating: nil, count: local.count)
        local.withUnsafeMutableBufferPointer { analyzers in
            results.withUnsafeMutableBufferPointer { out in
                withoutActuallyEscaping(body) { body in
                    // Each iteration touches its own element of each buffer only, and
                    // concurrentPerform returns when every iteration has.
                    let work = Unchecked((analyzers, out, body))
                    DispatchQueue.concurrentPerform(iterations: analyzers.count) { i in
                        let (analyzers, out, body) = work.value
                        out[i] = body(i, &analyzers[i])
                    }
                }
            }
        }
        shards = local
        return results.map { $0! }
    }

    /// ``mapShards(_:)`` for work without a result.
    mutating func forEachShard(_ body: (Int, inout FlowAnalyzer) -> Void) {
        _ = mapShards(body)
    }

    /// ``mapShards(_:)`` for evaluations: each shard's changed findings appended to its list.
    mutating func evaluateShards(_ changed: inout [[String]], _ body: (inout FlowAnalyzer, inout [String]) -> Void) {
        let lists = mapShards { i, s -> [String] in
            var c: [String] = []
            body(&s, &c)
            return c
        }
        for i in lists.indices { changed[i] += lists[i] }
    }

    /// Hands the coordinator's device evidence to the shards that own the hosts.
    mutating func deliverDeviceNotes() {
        guard !coordinator.pendingDeviceNotes.isEmpty else { return }
        for (host, note) in coordinator.pendingDeviceNotes { shards[shard(of: host.address)].noteDevice(host, note) }
        coordinator.pendingDeviceNotes.removeAll(keepingCapacity: true)
    }

    /// Gives every shard the coordinator's C&C endpoints and their findings' scores.
    mutating func shareCommandAndControl() {
        let list = coordinator.commandAndControl
        var scores: [String: Double] = [:]
        for (id, f) in coordinator.findings where f.kind == .commandAndControl { scores[id] = f.score }
        for i in shards.indices {
            shards[i].commandAndControl = list
            shards[i].commandAndControlScores = scores
        }
    }

    // MARK: Evaluation

    /// Runs the detectors that are due over every shard and returns the findings that are new or
    /// have changed materially (``FlowAnalyzer/evaluate(now:)``).
    public mutating func evaluate(now time: Int64) -> [Finding] {
        guard shardCount > 1 else { return coordinator.evaluate(now: time) }
        flushPending()
        guard synchroniseClocks(time) else { return [] }
        var changed = [String]()
        var shardChanged = [[String]](repeating: [], count: shardCount)
        evaluateShards(&shardChanged) { s, c in s.flushInboundAlerts(into: &c) }
        let now = coordinator.now
        if now >= coordinator.nextEvaluation {
            coordinator.nextEvaluation = now + coordinator.configuration.evaluationInterval
            let tallySecond = shards.map(\.inboundTallySecond).max() ?? .min
            evaluateShards(&shardChanged) { s, c in
                s.inboundTallySecond = tallySecond
                s.forgetPastTallies()
                s.evaluateScans(into: &c)
            }
            coordinator.evaluateOutboundAttacks(final: false, into: &changed)
            deliverDeviceNotes()
            if now >= coordinator.nextBeaconEvaluation {
                coordinator.nextBeaconEvaluation = now + coordinator.configuration.beacon.evaluationInterval
                evaluateCohorts(into: &changed)
                forEachShard { _, s in
                    s.forgetQuietVictims()
                    s.forgetQuietPeerHosts()
                    s.forgetOldFindings()
                }
                coordinator.forgetOldFindings()
            }
            evaluateIndicatorsAndDevices(into: &changed, &shardChanged)
            countTracked()
        }
        return report(changed, shardChanged)
    }

    /// Closes every open window (end of a file) and returns the findings that changed
    /// (``FlowAnalyzer/finish()``).
    public mutating func finish() -> [Finding] {
        guard shardCount > 1 else { return coordinator.finish() }
        flushPending()
        guard synchroniseClocks(.min) else { return [] }
        var changed = [String]()
        var shardChanged = [[String]](repeating: [], count: shardCount)
        evaluateShards(&shardChanged) { s, c in
            s.flushInboundAlerts(into: &c)
            s.evaluateScans(into: &c, closeAll: true)
        }
        coordinator.evaluateOutboundAttacks(final: true, into: &changed)
        deliverDeviceNotes()
        evaluateCohorts(into: &changed)
        evaluateIndicatorsAndDevices(into: &changed, &shardChanged)
        countTracked()
        return report(changed, shardChanged)
    }

    /// Brings every analyzer to the latest time any of them saw (or `time`, if later and sane);
    /// false when none has seen anything yet.
    mutating func synchroniseClocks(_ time: Int64) -> Bool {
        var now = max(coordinator.now, shards.map(\.now).max() ?? .min)
        if time > now, FlowTimeWindow.isSane(time) { now = time }
        guard now != .min else { return false }
        coordinator.now = now
        for i in shards.indices { shards[i].now = now }
        return true
    }

    /// Popularity over the whole base, then the C&C decisions over the shards' merged cohorts
    /// (beacons, then long sessions), and the shards' device evidence of contacts with C&C.
    mutating func evaluateCohorts(into changed: inout [String]) {
        let (endpoints, limitV4, limitV6) = mergePopularity()
        let gathered = mapShards { _, s in s.gatherBeaconCandidates() }
        var candidates: [Endpoint: BeaconCandidate] = [:]
        for part in gathered {
            for (endpoint, c) in part {
                if let i = candidates.index(forKey: endpoint) {
                    candidates.values[i].merge(c)
                } else {
                    candidates[endpoint] = c
                }
            }
        }
        // A peer series' contribution spans its endpoint's window over the whole base.
        for (endpoint, c) in candidates where c.fromSeries {
            guard let e = endpoints[endpoint] else { continue }
            candidates[endpoint]?.firstSeen = min(c.firstSeen, e.firstSeen)
            candidates[endpoint]?.lastSeen = max(c.lastSeen, e.lastSeen)
        }
        coordinator.decideCommandAndControl(candidates, endpoints: endpoints, limitV4: limitV4, limitV6: limitV6, into: &changed)
        shareCommandAndControl()
        forEachShard { _, s in s.noteCommandAndControlContacts() }

        let sessionParts = mapShards { _, s in s.gatherLongSessions() }
        var sessions: [Endpoint: [FlowAnalyzer.SessionMember]] = [:]
        for part in sessionParts {
            for (endpoint, members) in part { sessions[endpoint, default: []] += members }
        }
        coordinator.decideLongSessions(sessions, into: &changed)
        deliverDeviceNotes()
        shareCommandAndControl()
    }

    /// Every endpoint's users over the whole base: the shards' sketches united, each shard told
    /// which endpoints are popular and which are idle (forgotten everywhere). Returns the merged
    /// table and the popularity limits (IPv4, IPv6).
    mutating func mergePopularity() -> (FlatTable<Endpoint, EndpointState>, Double, Double) {
        var baseV4 = DistinctCounter(precision: 14, exactLimit: 64)
        var baseV6 = DistinctCounter(precision: 14, exactLimit: 64)
        for s in shards {
            baseV4.formUnion(s.baseV4)
            baseV6.formUnion(s.baseV6)
        }
        coordinator.baseV4 = baseV4
        coordinator.baseV6 = baseV6
        var merged = FlatTable<Endpoint, EndpointState>()
        for s in shards {
            for e in 0..<s.endpoints.count {
                let key = s.endpoints.key(at: e)
                let hash = key.tableHash
                if let m = merged.position(of: key, hash: hash) {
                    merged[position: m].users.formUnion(s.endpoints[position: e].users)
                    merged[position: m].firstSeen = min(merged[position: m].firstSeen, s.endpoints[position: e].firstSeen)
                    merged[position: m].lastSeen = max(merged[position: m].lastSeen, s.endpoints[position: e].lastSeen)
                } else {
                    _ = merged.insert(key, hash: hash, value: s.endpoints[position: e])
                }
            }
        }
        // The coordinator judges the union as one analyzer judges its own table (it holds no
        // endpoints of its own); what it forgot as idle, every shard forgets.
        coordinator.endpoints = merged
        let (limitV4, limitV6) = coordinator.updatePopularity()
        let verdicts = coordinator.endpoints
        coordinator.endpoints = FlatTable()
        forEachShard { _, s in
            var idle: [Endpoint] = []
            for e in 0..<s.endpoints.count {
                guard let m = verdicts.position(of: s.endpoints.key(at: e)) else {
                    idle.append(s.endpoints.key(at: e))
                    continue
                }
                s.endpoints[position: e].userCount = verdicts[position: m].userCount
                s.endpoints[position: e].popular = verdicts[position: m].popular
            }
            for key in idle { s.endpoints.remove(key) }
        }
        return (verdicts, limitV4, limitV6)
    }

    /// Indicator contacts gathered per shard and reported over their union; then each shard's
    /// devices scored.
    mutating func evaluateIndicatorsAndDevices(into changed: inout [String], _ shardChanged: inout [[String]]) {
        let parts = mapShards { _, s in s.gatherIndicatorContacts() }
        var byEndpoint: [Endpoint: [(InternalHost, IndicatorContact)]] = [:]
        for part in parts {
            for (endpoint, hosts) in part { byEndpoint[endpoint, default: []] += hosts }
        }
        coordinator.decideIndicators(byEndpoint, into: &changed)
        shareCommandAndControl()
        evaluateShards(&shardChanged) { s, c in s.evaluateDevices(into: &c) }
    }

    mutating func countTracked() {
        coordinator.statistics.trackedPairs = shards.reduce(0) { $0 + $1.pairs.count }
        coordinator.statistics.trackedEndpoints = shards.reduce(0) { $0 + $1.endpoints.count }
    }

    /// Each analyzer reports what changed among its own findings (the coordinator's are about
    /// endpoints and targets, a shard's about its hosts and addresses: no id is in two).
    mutating func report(_ changed: [String], _ shardChanged: [[String]]) -> [Finding] {
        var out = coordinator.report(changed)
        for i in shards.indices { out += shards[i].report(shardChanged[i]) }
        return out.sorted { ($0.kind, $0.id) < ($1.kind, $1.id) }
    }

    // MARK: State

    /// Every finding in its current state.
    public var currentFindings: [Finding] {
        guard shardCount > 1 else { return coordinator.currentFindings }
        return (coordinator.currentFindings + shards.flatMap(\.currentFindings)).sorted { ($0.kind, $0.id) < ($1.kind, $1.id) }
    }

    /// The analyzers' counters, added up.
    public var statistics: AnalyzerStatistics {
        shards.reduce(coordinator.statistics) { $0.adding($1.statistics) }
    }

    /// Entries held per table, added up over the analyzers.
    public var tableSizes: [String: Int] {
        shards.reduce(coordinator.tableSizes) { $0.merging($1.tableSizes, uniquingKeysWith: +) }
    }

    /// The detectors' configuration (the coordinator's: shards hold a share of the table caps).
    public var configuration: DetectionConfiguration { coordinator.configuration }

    /// The latest time any analyzer was given.
    public var clock: Int64 { max(coordinator.now, shards.map(\.now).max() ?? .min) }

    /// The clock as each record given one at a time leaves it, cheaply: one analyzer's own; with
    /// several shards records are analysed in batches (``flushPending()``), and this is `.min`.
    public var recordClock: Int64 { shardCount == 1 ? coordinator.now : .min }

    /// Whether the detectors' next evaluation is due at ``clock`` (``evaluate(now:)`` would run
    /// them). With several shards, records given one at a time move the clock when they are
    /// analysed (``flushPending()``).
    public var isEvaluationDue: Bool {
        let now = shardCount == 1 ? coordinator.now : clock
        return now != .min && now >= coordinator.nextEvaluation
    }

    /// ``FlowAnalyzer/allow(_:)`` on every analyzer.
    public mutating func allow(_ entry: EndpointList.Entry) {
        coordinator.allow(entry)
        for i in shards.indices { shards[i].allow(entry) }
        if shardCount > 1 { shareCommandAndControl() }
    }

    /// ``FlowAnalyzer/replaceIndicators(source:with:)`` on every analyzer; returns how many
    /// entries did not fit.
    @discardableResult
    public mutating func replaceIndicators(source: String, with entries: [EndpointList.Entry]) -> Int {
        for i in shards.indices { shards[i].replaceIndicators(source: source, with: entries) }
        return coordinator.replaceIndicators(source: source, with: entries)
    }
}

extension AnalyzerStatistics {
    /// The counters of two analyzers (shards) added up.
    func adding(_ o: AnalyzerStatistics) -> AnalyzerStatistics {
        var s = self
        s.records += o.records
        s.outbound += o.outbound
        s.inbound += o.inbound
        s.notCrossing += o.notCrossing
        s.specialPurpose += o.specialPurpose
        s.trackedPairs += o.trackedPairs
        s.trackedEndpoints += o.trackedEndpoints
        s.pairsEvicted += o.pairsEvicted
        s.suppressedPopular += o.suppressedPopular
        s.suppressedServicePool += o.suppressedServicePool
        s.suppressedBulk += o.suppressedBulk
        s.suppressedAllowlisted += o.suppressedAllowlisted
        s.suppressedPeerToPeer += o.suppressedPeerToPeer
        s.suppressedTimeService += o.suppressedTimeService
        s.findingsReported += o.findingsReported
        s.rejectedTimes += o.rejectedTimes
        s.clampedCounters += o.clampedCounters
        s.shiftedTimes += o.shiftedTimes
        s.tableEvictions += o.tableEvictions
        return s
    }
}

/// Hands values that are not Sendable to ``ShardedFlowAnalyzer/mapShards(_:)``'s threads, each of
/// which touches its own elements only.
private struct Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
