import FlowCodec
import MamoriCore

/// A host's contacts with one high port (and protocol) on any unpopular address.
struct SeriesKey: Hashable, Sendable {
    var host: InternalHost
    var port: UInt16
    var ipProtocol: UInt8
}

struct SeriesState: Sendable {
    var contacts: PairState
    /// The latest distinct addresses contacted (up to 32).
    var recent: [IPAddress]
    var score: BeaconScore?
    /// Contacts when `score` was computed (scoring is redone only when contacts were added).
    var scoredContacts = 0

    mutating func noteAddress(_ a: IPAddress) {
        if let i = recent.firstIndex(of: a) {
            if i == recent.count - 1 { return }
            recent.remove(at: i)
        }
        recent.append(a)
        if recent.count > 32 { recent.removeFirst() }
    }
}

struct PairKey: Hashable, Sendable, FlatTableKey {
    var host: InternalHost
    var endpoint: Endpoint

    /// The table hash of a pair from its host's ``InternalHost/stableHash`` and its endpoint's
    /// ``Endpoint/tableHash`` (computed once per record for the endpoint table and the sketches).
    @inline(__always)
    static func tableHash(host: UInt64, endpoint: UInt64) -> UInt64 { mix64(host ^ endpoint &* 0xC2B2_AE3D_27D4_EB4F) }

    var tableHash: UInt64 { Self.tableHash(host: host.stableHash, endpoint: endpoint.tableHash) }
}

extension Endpoint: FlatTableKey {
    @inline(__always)
    var tableHash: UInt64 { mix64(mix64(address.high ^ address.low &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(port) << 8 ^ UInt64(ipProtocol)) }
}

/// One host's contacts with one endpoint.
///
/// Kept small: an ISP's detectors follow millions of pairs, most of them one web request that is
/// never contacted again. A pair with one contact holds no heap memory; the contact times are
/// kept as intervals (4 bytes each) once there are two; what only a periodic pair needs (its
/// score, a sample flow) lives in ``PairDetail`` beside the table. The fields are ordered so that
/// none pads another (Swift lays a struct out in declaration order): 136 bytes, where three
/// ``ByteStatistics`` with 64-bit counts and 64-bit connection ends made 176.
struct PairState: Sendable {
    var firstSeen: Int64
    var lastContact: Int64
    /// The latest connections (subscriber-side port) and the end of their latest record, to
    /// recognise further records of a connection already counted (several devices of a household
    /// may hold connections to one endpoint at once).
    var connections: ConnectionSlots
    var lastContactHasBytes = false
    /// Whether a sample flow is kept in the pair's ``PairDetail``.
    var hasSample = false
    var contacts: Int32 = 0
    /// Contacts that opened a connection not among `connections` (a keepalive on one long
    /// connection keeps this at 1).
    var newConnections: Int32 = 1
    /// Records that continued a connection already counted (active-timeout exports of a session
    /// held open): a bot's IRC session is a long run of records with a PING and a PONG each.
    /// Saturates at `Int32.max` (a flood on one connection must not trap).
    var continuations: Int32 = 0
    /// Contacts whose upstream bytes are known (the count of ``bytes``).
    private var byteCount: Int32 = 0
    /// Records with packets (the count of ``recordPackets``); saturates at `Int32.max`.
    private var packetCount: Int32 = 0
    /// Bytes both ways of the contact in progress, and the mean over the contacts before it
    /// (``volumes``): a beacon's check-ins move little data, a stream of downloads a lot.
    var contactVolume: Float = 0
    /// Intervals between the latest contacts (up to ``PairState/capacity`` − 1), oldest first, ms.
    var intervals: [UInt32] = []
    private var byteMoments = Moments()
    private var volumeMoments = Moments()
    private var packetMoments = Moments()

    /// Contact times kept for scoring.
    static let capacity = 32

    /// Upstream bytes per contact.
    var bytes: ByteStatistics { ByteStatistics(count: Int(byteCount), byteMoments) }
    /// Bytes both ways per finished contact: one per contact before the one in progress.
    var volumes: ByteStatistics { ByteStatistics(count: Int(contacts) - 1, volumeMoments) }
    /// Packets per record of the pair.
    var recordPackets: ByteStatistics { ByteStatistics(count: Int(packetCount), packetMoments) }

    /// Mean bytes (both directions) per contact, the contact in progress included.
    var meanVolume: Double {
        let finished = Double(contacts - 1)
        return (volumeMoments.mean * finished + Double(contactVolume)) / (finished + 1)
    }

    /// A pair (or series) opened by one record at `t`.
    init(firstContact t: Int64, end: Int64, port: UInt16, bytes: Double?, volume: Double = 0, packets: UInt64 = 0) {
        firstSeen = t
        contactVolume = Float(volume)
        lastContact = t
        connections = ConnectionSlots(port: port, end: end)
        contacts = 1
        if packets > 0 { addPackets(packets) }
        if let bytes {
            addBytes(bytes)
            lastContactHasBytes = true
        }
    }

    private mutating func addBytes(_ b: Double) {
        byteCount += 1
        byteMoments.add(b, count: byteCount)
    }

    private mutating func addPackets(_ p: UInt64) {
        // Past 2^31 records the mean is that of the first 2^31, nearly.
        if packetCount < Int32.max { packetCount += 1 }
        packetMoments.add(Double(p), count: packetCount)
    }

    /// The latest contact times, ascending.
    var times: [Int64] {
        var out = [Int64](repeating: lastContact, count: intervals.count + 1)
        var t = lastContact
        for i in intervals.indices.reversed() {
            t -= Int64(intervals[i])
            out[i] = t
        }
        return out
    }

    /// Folds one record in; returns whether it began a new contact.
    @discardableResult
    mutating func observe(
        _ t: Int64, end: Int64, port: UInt16, bytes: Double?, volume: Double = 0, packets: UInt64 = 0, _ b: DetectionConfiguration.Beacon
    ) -> Bool {
        var isNew = false
        defer { contactVolume += Float(volume) }
        if packets > 0 { addPackets(packets) }
        if abs(t - lastContact) < b.contactMergeGap {
            // The other direction, or another record, of the same contact.
            if let bytes, !lastContactHasBytes {
                addBytes(bytes)
                lastContactHasBytes = true
            }
        } else if t > lastContact, let e = connections.end(of: port) {
            // The same connection exported again: within the continuation gap (active timeout)
            // not a new contact; after a quiet spell (the inactive timeout cut it) a keepalive on
            // a session held open is one. Either way a record of the session.
            if continuations < Int32.max { continuations += 1 }
            if t - e > b.continuationGap {
                addContact(t, bytes: bytes)
                isNew = true
            }
        } else if t > lastContact, t - lastContact <= b.visitSpan, t <= connections.latestEnd {
            // Another connection opened while the contact's first is still open: one check-in
            // that uses two connections (a beacon fetching its orders, then reporting), not two.
        } else if t > lastContact {
            addContact(t, bytes: bytes)
            isNew = true
        }
        if !connections.extend(port: port, to: end) {
            if isNew { newConnections += 1 }
            connections.add(port: port, end: end)
        }
        return isNew
    }

    /// A contact at `t`, later than ``lastContact``, that sent `bytes` upstream (nil: unknown).
    mutating func addContact(_ t: Int64, bytes: Double?) {
        // The finished contact's volume is the `contacts`-th of `volumes` (one per contact before
        // the one in progress).
        volumeMoments.add(Double(contactVolume), count: contacts)
        contactVolume = 0
        lastContactHasBytes = bytes != nil
        if let bytes { addBytes(bytes) }
        contacts += 1
        if intervals.count == Self.capacity - 1 { intervals.removeFirst() }
        // Pairs idle for hours are forgotten, so an interval fits 32 bits (49 days) by far.
        intervals.append(UInt32(clamping: t - lastContact))
        lastContact = t
    }
}

/// The last four connections of a pair, inline (no heap memory): subscriber-side port and the end
/// of the connection's latest record, newest last. The ends are kept as their distance behind
/// the latest (32 bits, ms): 33 bytes where four 64-bit ends made 41; a connection that ended
/// more than 49 days before the pair's latest reads as ended 49 days before it.
struct ConnectionSlots: Sendable {
    /// The latest end of a kept connection.
    private(set) var latestEnd: Int64
    private var ports: (UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0)
    private var behind: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var count: UInt8 = 0

    init(port: UInt16, end: Int64) {
        latestEnd = end
        add(port: port, end: end)
    }

    private func port(_ i: Int) -> UInt16 {
        switch i {
        case 0: ports.0
        case 1: ports.1
        case 2: ports.2
        default: ports.3
        }
    }
    private func behind(_ i: Int) -> UInt32 {
        switch i {
        case 0: behind.0
        case 1: behind.1
        case 2: behind.2
        default: behind.3
        }
    }
    // Wrapping: a hostile record's end near Int64.min must not trap (sane ends never wrap).
    private func end(_ i: Int) -> Int64 { latestEnd &- Int64(behind(i)) }

    /// How far `end` lies behind `latest`, clamped to 32 bits (no overflow, whatever the record).
    @inline(__always)
    private static func distance(_ end: Int64, behind latest: Int64) -> UInt32 {
        let (d, overflow) = latest.subtractingReportingOverflow(end)
        return overflow ? UInt32.max : UInt32(clamping: d)
    }

    private mutating func set(_ i: Int, _ p: UInt16, _ e: Int64) {
        if e > latestEnd { moveLatest(to: e) }
        let d = Self.distance(e, behind: latestEnd)
        switch i {
        case 0:
            ports.0 = p
            behind.0 = d
        case 1:
            ports.1 = p
            behind.1 = d
        case 2:
            ports.2 = p
            behind.2 = d
        default:
            ports.3 = p
            behind.3 = d
        }
    }

    /// Makes `e` (later than `latestEnd`) the latest end, keeping every kept end.
    private mutating func moveLatest(to e: Int64) {
        let shift = Self.distance(latestEnd, behind: e)
        latestEnd = e
        func moved(_ b: UInt32) -> UInt32 { b.addingReportingOverflow(shift).overflow ? .max : b + shift }
        behind = (moved(behind.0), moved(behind.1), moved(behind.2), moved(behind.3))
    }

    /// The end of the connection on `port`, if one is kept.
    func end(of port: UInt16) -> Int64? {
        for i in 0..<Int(count) where self.port(i) == port { return end(i) }
        return nil
    }

    /// Extends the connection on `port` to `end` (if later); false if none is kept.
    mutating func extend(port: UInt16, to end: Int64) -> Bool {
        for i in 0..<Int(count) where self.port(i) == port {
            if end > self.end(i) { set(i, port, end) }
            return true
        }
        return false
    }

    /// Adds a connection, dropping the oldest of four.
    mutating func add(port: UInt16, end: Int64) {
        if count == 4 {
            // Dropping the oldest may drop the latest end: the latest is then the kept ones' latest.
            let (p1, p2, p3) = (self.port(1), self.port(2), self.port(3))
            let (e1, e2, e3) = (self.end(1), self.end(2), self.end(3))
            latestEnd = max(end, e1, e2, e3)
            set(0, p1, e1)
            set(1, p2, e2)
            set(2, p3, e3)
            set(3, port, end)
        } else {
            set(Int(count), port, end)
            count += 1
        }
    }
}

/// What only a pair with enough contacts to be scored needs, kept beside the pair table.
struct PairDetail: Sendable {
    /// An outbound record of the pair from when it had enough contacts to be scored: evidence.
    var sample: FlowRecord?
    var score: BeaconScore?
    /// Contacts when `score` was computed (scoring is redone only when contacts were added).
    var scoredContacts: Int32 = 0
}

/// What is known about an external endpoint.
struct EndpointState: Sendable {
    var users = DistinctCounter(precision: 8, exactLimit: 16)
    var firstSeen: Int64
    var lastSeen: Int64
    /// Set at each evaluation: whether the endpoint is popular (then no new pairs are followed),
    /// and its distinct users then.
    var popular = false
    var userCount = 0
}

struct IndicatorContact: Sendable {
    var contacts = 0
    var firstSeen: Int64
    var lastSeen: Int64
    /// The indicator's family, if known.
    var note: String
    /// Where the indicator came from (nil: the configured file).
    var source: String?
    var confidence: Double
    var sample: FlowRecord
}

/// An endpoint's beaconing cohort as one analyzer's pairs and series show it: the input of the
/// C&C decision. Shards of the subscriber base (``ShardedFlowAnalyzer``) each gather their own;
/// their hosts are disjoint, so the merged candidate is the one a single analyzer would gather.
struct BeaconCandidate: Sendable {
    var cohort: [(host: InternalHost, score: BeaconScore)] = []
    var firstSeen = Int64.max
    var lastSeen = Int64.min
    var sample: FlowRecord?
    /// Cohort members that opened new connections (not one kept-alive connection).
    var reconnecting = 0
    /// Cohort members that reach it as one peer of a periodic peer-to-peer series.
    var peerSeries = 0
    /// Mean bytes per contact (both directions) of each pair of the cohort.
    var volumes: [Double] = []
    /// Mean packets per record of each pair of the cohort.
    var recordPackets: [Double] = []
    /// The contact times of the first few pairs of the cohort, in host order (evidence for
    /// the analyst).
    var contactTimes: [(host: InternalHost, times: [Int64])] = []
    /// The host whose pair gave `sample`.
    var sampleHost: InternalHost?
    /// Cohort members that also scan, attack or contact indicators.
    var bots = 0
    /// Whether a periodic peer series reached it (its window then spans the endpoint's).
    var fromSeries = false
    /// The first cohort member in host order, and its peer-to-peer verdict (a finding states
    /// why the hypothesis was rejected from it).
    var firstHostVerdict: (host: InternalHost, verdict: PeerToPeerVerdict)?

    /// Keeps the contact times of the ``ContactTimes/maximumHosts`` first hosts in order,
    /// whatever order the pairs are walked in.
    mutating func noteContactTimes(_ host: InternalHost, _ times: () -> [Int64]) {
        if contactTimes.count == ContactTimes.maximumHosts {
            guard let last = contactTimes.last, host < last.host else { return }
            contactTimes.removeLast()
        }
        let at = contactTimes.firstIndex { host < $0.host } ?? contactTimes.count
        contactTimes.insert((host, times()), at: at)
    }

    /// Keeps the sample flow of the first host in order that has one.
    mutating func noteSample(_ host: InternalHost, _ flow: FlowRecord?) {
        guard let flow, sampleHost.map({ host < $0 }) ?? true else { return }
        sample = flow
        sampleHost = host
    }

    /// Keeps the peer-to-peer verdict of the first member in host order.
    mutating func noteFirstHost(_ host: InternalHost, _ verdict: () -> PeerToPeerVerdict) {
        guard firstHostVerdict.map({ host < $0.host }) ?? true else { return }
        firstHostVerdict = (host, verdict())
    }

    /// Adds another shard's view of the same endpoint (its hosts are not among this one's).
    mutating func merge(_ other: BeaconCandidate) {
        cohort += other.cohort
        firstSeen = min(firstSeen, other.firstSeen)
        lastSeen = max(lastSeen, other.lastSeen)
        reconnecting += other.reconnecting
        peerSeries += other.peerSeries
        volumes += other.volumes
        recordPackets += other.recordPackets
        for c in other.contactTimes { noteContactTimes(c.host) { c.times } }
        if let host = other.sampleHost { noteSample(host, other.sample) }
        bots += other.bots
        fromSeries = fromSeries || other.fromSeries
        if let f = other.firstHostVerdict { noteFirstHost(f.host) { f.verdict } }
    }
}

extension FlowAnalyzer {
    mutating func recordContact(_ r: FlowRecord, host: InternalHost, endpoint: Endpoint, outbound: Bool) {
        let t = r.startMilliseconds
        if !configuration.indicators.isEmpty, let entry = configuration.indicators.match(endpoint, at: t) {
            let key = PairKey(host: host, endpoint: endpoint)
            if let i = indicatorContacts.index(forKey: key) {
                let gap = configuration.beacon.contactMergeGap
                indicatorContacts.values[i].contacts += abs(t - indicatorContacts.values[i].lastSeen) >= gap ? 1 : 0
                indicatorContacts.values[i].lastSeen = max(indicatorContacts.values[i].lastSeen, t)
                indicatorContacts.values[i].firstSeen = min(indicatorContacts.values[i].firstSeen, t)
            } else {
                indicatorContacts[key] = IndicatorContact(
                    contacts: 1, firstSeen: t, lastSeen: t, note: entry.note, source: entry.source, confidence: entry.confidence ?? 1,
                    sample: r)
            }
        }

        // State is updated in place (through their positions in the tables): taking a copy out and writing
        // it back would copy its arrays on every record. Each hash is computed once.
        let hostHash = host.stableHash
        let endpointHash = endpoint.tableHash
        let popular: Bool
        if let i = endpoints.position(of: endpoint, hash: endpointHash) {
            endpoints[position: i].users.insert(hostHash)
            if t > endpoints[position: i].lastSeen { endpoints[position: i].lastSeen = t }
            popular = endpoints[position: i].popular
        } else {
            var e = EndpointState(firstSeen: t, lastSeen: t)
            e.users.insert(hostHash)
            endpoints.insert(endpoint, hash: endpointHash, value: e)
            popular = false
        }

        let localPort = outbound ? r.sourcePort : r.destinationPort
        let bytes = outbound && r.bytes <= configuration.beacon.maximumContactBytes ? Double(r.bytes) : nil
        let eligible = !popular && (!outbound || r.bytes <= configuration.beacon.maximumContactBytes)
        let key = PairKey(host: host, endpoint: endpoint)
        let pairHash = PairKey.tableHash(host: hostHash, endpoint: endpointHash)
        if let i = pairs.position(of: key, hash: pairHash) {
            pairs[position: i].observe(
                t, end: r.endMilliseconds, port: localPort, bytes: bytes, volume: Double(r.bytes), packets: r.packets, configuration.beacon)
            // A sample flow for the evidence, once the pair can be scored or reaches a reported C&C.
            if outbound && !pairs[position: i].hasSample
                && (Int(pairs[position: i].contacts) >= configuration.beacon.minimumContacts
                    || (!commandAndControl.isEmpty && commandAndControl[endpoint] != nil))
            {
                pairs[position: i].hasSample = true
                pairDetails[key, default: PairDetail()].sample = r
            }
        } else if eligible {
            pairs.insert(
                key, hash: pairHash,
                value: PairState(
                    firstContact: t, end: r.endMilliseconds, port: localPort, bytes: bytes, volume: Double(r.bytes), packets: r.packets))
        }
        // A host's contacts with many peers on one high port (a P2P botnet's gossip) are periodic
        // only taken together. Well-known ports (web, DNS, NTP) are left out: there the many
        // addresses are ordinary browsing.
        guard eligible, endpoint.port >= 1024 else { return }
        let seriesKey = SeriesKey(host: host, port: endpoint.port, ipProtocol: endpoint.ipProtocol)
        if let i = series.index(forKey: seriesKey) {
            series.values[i].contacts.observe(t, end: r.endMilliseconds, port: localPort, bytes: bytes, configuration.beacon)
            series.values[i].noteAddress(endpoint.address)
        } else {
            series[seriesKey] = SeriesState(
                contacts: PairState(firstContact: t, end: r.endMilliseconds, port: localPort, bytes: bytes), recent: [endpoint.address])
        }
    }

    func popularityLimit(_ address: IPAddress) -> Double {
        let base = address.isIPv6 ? baseV6.count : baseV4.count
        return max(Double(configuration.popularity.minimumHosts), configuration.popularity.share * Double(base))
    }

    mutating func evaluateBeacons(into changed: inout [String]) {
        let (limitV4, limitV6) = updatePopularity()
        let candidates = gatherBeaconCandidates()
        decideCommandAndControl(candidates, endpoints: endpoints, limitV4: limitV4, limitV6: limitV6, into: &changed)
        noteCommandAndControlContacts()
    }

    /// Counts every endpoint's distinct users and marks the popular ones (no new pairs are
    /// followed to them); forgets idle endpoints. Returns the popularity limits (IPv4, IPv6).
    mutating func updatePopularity() -> (Double, Double) {
        let b = configuration.beacon
        // Popularity of every endpoint; idle endpoints are forgotten. Walked by index and
        // updated in place: iterating a copy while writing would copy the whole table.
        let limitV4 = popularityLimit(.v4(0))
        let limitV6 = popularityLimit(.v6(high: 1, low: 0))
        var idleEndpoints: [Endpoint] = []
        for e in 0..<endpoints.count {
            if now - endpoints[position: e].lastSeen > b.idleTimeout {
                idleEndpoints.append(endpoints.key(at: e))
            } else {
                let users = endpoints[position: e].users.count
                endpoints[position: e].userCount = users
                endpoints[position: e].popular = Double(users) >= (endpoints.key(at: e).address.isIPv6 ? limitV6 : limitV4)
            }
        }
        for key in idleEndpoints { endpoints.remove(key) }
        return (limitV4, limitV6)
    }

    /// Scores every pair with enough contacts and gathers each endpoint's beaconing cohort (and
    /// the hosts whose periodic peer series reach it); forgets idle pairs and series. What is
    /// gathered depends only on this analyzer's hosts: shards of the subscriber base gather
    /// apart and their candidates merge (``BeaconCandidate/merge(_:)``).
    mutating func gatherBeaconCandidates() -> [Endpoint: BeaconCandidate] {
        let b = configuration.beacon
        var candidates: [Endpoint: BeaconCandidate] = [:]
        var idle: [PairKey] = []
        for i in 0..<pairs.count {
            if now - pairs[position: i].lastContact > (pairs[position: i].contacts >= 2 ? b.slowIdleTimeout : b.idleTimeout) {
                idle.append(pairs.key(at: i))
                continue
            }
            guard Int(pairs[position: i].contacts) >= b.minimumContacts else { continue }
            let key = pairs.key(at: i)
            let contacts = pairs[position: i].contacts
            let score: BeaconScore?
            if let d = pairDetails.index(forKey: key), pairDetails.values[d].scoredContacts == contacts {
                score = pairDetails.values[d].score
            } else {
                // The detail table is not the one being walked: changing it here is safe.
                score = BeaconScore(times: pairs[position: i].times, bytes: pairs[position: i].bytes)
                var detail = pairDetails[key] ?? PairDetail()
                detail.score = score
                detail.scoredContacts = contacts
                pairDetails[key] = detail
            }
            guard let score, score.combined >= b.pairScore else { continue }
            // Benign hypothesis: one peer of a peer-to-peer application's swarm or DHT.
            if isPeerOfApplication(key.host, key.endpoint) {
                statistics.suppressedPeerToPeer += 1
                continue
            }
            let ci =
                candidates.index(forKey: key.endpoint)
                ?? {
                    candidates[key.endpoint] = BeaconCandidate()
                    return candidates.index(forKey: key.endpoint)!
                }()
            candidates.values[ci].cohort.append((key.host, score))
            if devices[key.host]?.hasBotBehaviour == true { candidates.values[ci].bots += 1 }
            candidates.values[ci].noteFirstHost(key.host) { peerToPeerVerdict(key.host) }
            candidates.values[ci].volumes.append(pairs[position: i].meanVolume)
            candidates.values[ci].recordPackets.append(
                pairs[position: i].recordPackets.count > 0 ? pairs[position: i].recordPackets.mean : 1)
            candidates.values[ci].noteContactTimes(key.host) { pairs[position: i].times }
            if pairs[position: i].newConnections * 2 >= pairs[position: i].contacts { candidates.values[ci].reconnecting += 1 }
            candidates.values[ci].firstSeen = min(candidates.values[ci].firstSeen, pairs[position: i].firstSeen)
            candidates.values[ci].lastSeen = max(candidates.values[ci].lastSeen, pairs[position: i].lastContact)
            candidates.values[ci].noteSample(key.host, pairDetails[key]?.sample)
        }
        for key in idle {
            pairs.remove(key)
            pairDetails[key] = nil
        }
        // Peer-to-peer series: one host's periodic contacts with many peers on one high port.
        var idleSeries: [SeriesKey] = []
        var j = series.startIndex
        while j != series.endIndex {
            defer { series.formIndex(after: &j) }
            if now - series.values[j].contacts.lastContact > b.idleTimeout {
                idleSeries.append(series.keys[j])
                continue
            }
            guard Int(series.values[j].contacts.contacts) >= b.minimumContacts, series.values[j].recent.count >= 3 else { continue }
            if series.values[j].scoredContacts != Int(series.values[j].contacts.contacts) {
                series.values[j].score = BeaconScore(times: series.values[j].contacts.times, bytes: series.values[j].contacts.bytes)
                series.values[j].scoredContacts = Int(series.values[j].contacts.contacts)
            }
            guard let score = series.values[j].score, score.combined >= b.pairScore else { continue }
            let key = series.keys[j]
            if peerToPeerVerdict(key.host).isApplication {
                statistics.suppressedPeerToPeer += 1
                continue
            }
            for address in series.values[j].recent {
                let endpoint = Endpoint(address: address, port: key.port, ipProtocol: key.ipProtocol)
                guard let e = endpoints[endpoint] else { continue }
                var c = candidates[endpoint] ?? BeaconCandidate()
                guard !c.cohort.contains(where: { $0.host == key.host }) else { continue }
                c.cohort.append((key.host, score))
                if devices[key.host]?.hasBotBehaviour == true { c.bots += 1 }
                c.noteFirstHost(key.host) { peerToPeerVerdict(key.host) }
                c.fromSeries = true
                // The host's periodic series (its contacts with every address of the rotation).
                c.noteContactTimes(key.host) { series.values[j].contacts.times }
                c.peerSeries += 1
                c.firstSeen = min(c.firstSeen, e.firstSeen)
                c.lastSeen = max(c.lastSeen, e.lastSeen)
                candidates[endpoint] = c
            }
        }
        for key in idleSeries { series[key] = nil }

        if pairs.count > configuration.maximumPairs { evictPairs() }
        return candidates
    }

    /// Decides which candidates are C&C servers and reports them. `endpoints` gives each
    /// endpoint's users over the whole subscriber base (this analyzer's own table, or the merge
    /// of every shard's).
    mutating func decideCommandAndControl(
        _ candidates: [Endpoint: BeaconCandidate], endpoints: FlatTable<Endpoint, EndpointState>, limitV4: Double, limitV6: Double,
        into changed: inout [String]
    ) {
        let b = configuration.beacon
        let pools = servicePools(
            candidates.compactMapValues { c in
                c.cohort.count >= b.minimumCohort ? median(c.cohort.map { $0.score.medianInterval }) : nil
            }, endpoints: endpoints)

        for (endpoint, c) in candidates where c.cohort.count >= b.minimumCohort {
            if configuration.allowlist.match(endpoint) != nil {
                statistics.suppressedAllowlisted += 1
                continue
            }
            // One host keeping one connection alive (a BitTorrent peer, a chat session) is not
            // C&C evidence on its own; nor is one host's peer series. Shared infrastructure
            // (two or more hosts) or repeated new connections is.
            guard c.cohort.count >= 2 || (c.reconnecting >= 1 && c.peerSeries == 0) else { continue }
            let pool = pools[endpoint]
            // The endpoint's own users say how much of its use is beaconing; its pool's users how
            // popular the service it belongs to is.
            let ownUsers = max(endpoints[endpoint]?.userCount ?? 0, c.cohort.count)
            let users = max(ownUsers, pool?.users ?? 0)
            let limit = endpoint.address.isIPv6 ? limitV6 : limitV4
            let cohortShare = min(1, Double(c.cohort.count) / Double(ownUsers))
            let bots = c.bots
            let botShare = Double(bots) / Double(c.cohort.count)
            let popular = Double(users) >= limit
            if popular && botShare < configuration.popularity.botCohortOverride {
                statistics.suppressedPopular += 1
                if pool != nil { statistics.suppressedServicePool += 1 }
                continue
            }
            // Benign hypothesis: content, not check-ins. A stream of downloads (media segments,
            // a page polled with its images) can be as regular as a timer, but a beacon's
            // check-ins move little data.
            let volume = median(c.volumes)
            if !c.volumes.isEmpty, volume >= b.bulkBytesPerContact {
                statistics.suppressedBulk += 1
                continue
            }
            // Benign hypothesis: a time server. NTP clients poll on a timer (systemd-timesyncd every
            // 34 min once settled) with one NTP-sized datagram each way.
            let timeService =
                endpoint.ipProtocol == 17 && endpoint.port == 123
                ? ntpShaped(c.cohort.map { $0.score.meanBytes }, c.recordPackets, v6: endpoint.address.isIPv6) : nil
            if timeService == true && bots == 0 {
                statistics.suppressedTimeService += 1
                continue
            }
            let rarity = max(0, 1 - Double(users) / limit)
            let periodicity = median(c.cohort.map { $0.score.timing })
            let uniformity = median(c.cohort.map { $0.score.sizeUniformity })
            let score = min(1, 0.4 * periodicity + 0.15 * uniformity + 0.2 * cohortShare + 0.25 * rarity + 0.2 * botShare)
            guard score >= b.endpointScore else { continue }

            let subject = FindingSubject.endpoint(endpoint)
            var evidence = Evidence()
            let medianInterval = median(c.cohort.map { $0.score.medianInterval })
            evidence.features = [
                Feature(.periodicity, periodicity), Feature(.payloadUniformity, uniformity),
                Feature(.medianInterval, medianInterval / 1000, unit: "s"),
                Feature(.medianContacts, median(c.cohort.map { Double($0.score.contacts) })),
                Feature(.meanUpstreamBytes, median(c.cohort.map { $0.score.meanBytes }), unit: "bytes"),
                Feature(.beaconingHosts, Double(c.cohort.count)), Feature(.distinctHosts, Double(ownUsers)),
                Feature(.cohortShare, cohortShare), Feature(.rarity, rarity), Feature(.cohortBotShare, botShare),
            ]
            if let pool {
                evidence.features += [
                    Feature(.servicePoolAddresses, Double(pool.addresses)), Feature(.servicePoolHosts, Double(pool.users)),
                ]
            }
            evidence.thresholds = [
                .atLeast("pair_score", median(c.cohort.map { $0.score.combined }), b.pairScore),
                .atLeast("beaconing_hosts", Double(c.cohort.count), Double(b.minimumCohort)),
                .below("distinct_hosts (popularity)", Double(users), limit),
                .atLeast("endpoint_score", score, b.endpointScore),
            ]
            let hosts = c.cohort.map(\.host).sorted()
            evidence.cohortSize = hosts.count
            evidence.cohort = hosts.prefix(64).map { pseudonyms.pseudonym($0) }
            if !c.contactTimes.isEmpty {
                // Within the finding's window (a rotation's series reaches other addresses before and after).
                let inWindow = c.contactTimes.map { ($0.host, $0.times.filter { t in t >= c.firstSeen && t <= c.lastSeen }) }
                evidence.contacts = inWindow.filter { !$0.1.isEmpty }.map { ContactTimes(host: pseudonyms.pseudonym($0.0), times: $0.1) }
            }
            if let s = c.sample { evidence.flows = [sample(s, revealing: nil)] }
            evidence.reasons = [
                "\(hosts.count) internal host(s) contact \(endpoint) every \(formatSeconds(medianInterval)) (median) with regular timing (periodicity \(fmt(periodicity))) and uniform payloads (\(fmt(uniformity)))",
                "used by \(ownUsers) internal host(s); popular from \(wholeNumber(limit.rounded(.up)))"
                    + (popular ? ", but \(bots) of the cohort also scan, attack or contact indicators" : ""),
            ]
            evidence.reasons.append(
                "benign hypotheses tested and rejected: a popular service (\(ownUsers) user(s) < \(wholeNumber(limit.rounded(.up))))"
                    + (c.volumes.isEmpty
                        ? ""
                        : "; content rather than check-ins (\(wholeNumber(volume)) bytes per contact both ways < \(wholeNumber(b.bulkBytesPerContact)))")
                    + "; a special-purpose address (multicast, broadcast, link-local, private, documentation: none is a host on the Internet)"
                    + "; " + peerToPeerRejection(endpoint, firstHost: c.firstHostVerdict)
                    + (timeService == nil
                        ? ""
                        : timeService == true
                            ? "; a time server (NTP-sized datagrams, but \(bots) of the cohort also scan, attack or contact indicators)"
                            : "; a time server (the datagrams are not NTP-sized: \(fmt(median(c.cohort.map { $0.score.meanBytes }))) bytes per contact)")
            )
            if let pool {
                evidence.reasons.append(
                    "\(pool.addresses) addresses of \(pool.network) are beaconed to on \(endpoint.port)/\(protocolName(endpoint.ipProtocol)) at a similar period by \(pool.users) internal host(s) in all; counted as one service"
                )
            }
            if bots > 0 && !popular { evidence.reasons.append("\(bots) of the cohort also scan, attack or contact indicators") }
            if c.peerSeries > 0 {
                evidence.reasons.append(
                    "\(c.peerSeries) host(s) reach it as one of several peers they contact periodically on \(endpoint.port)/\(protocolName(endpoint.ipProtocol)) (peer-to-peer)"
                )
            }
            let id = Finding.id(kind: .commandAndControl, subject: subject)
            commandAndControl[endpoint] = id
            upsert(
                Finding(
                    id: id, kind: .commandAndControl, subject: subject, score: score, firstSeen: c.firstSeen, lastSeen: c.lastSeen,
                    detectedAt: now, updatedAt: now, family: nil,
                    summary: "Likely C&C server \(endpoint): \(hosts.count) beaconing host(s), period ~\(formatSeconds(medianInterval))",
                    evidence: evidence), into: &changed)
        }

    }

    /// Notes, as device evidence, the contacts of this analyzer's hosts with reported C&C.
    mutating func noteCommandAndControlContacts() {
        // Hosts that repeatedly contact reported C&C endpoints are infected. Contacts add up across
        // endpoints: a DGA bot reaches each rotated address only a few times, a slow beacon its
        // server once an hour, yet both keep coming back to confirmed C&C.
        // Noted in (host, endpoint) order: a device keeps the sample flows of the first few.
        if !commandAndControl.isEmpty {
            var total: [InternalHost: Int] = [:]
            var contacted: [(key: PairKey, pair: PairState)] = []
            for (key, p) in pairs where commandAndControl[key.endpoint] != nil {
                total[key.host, default: 0] += Int(p.contacts)
                contacted.append((key, p))
            }
            contacted.sort { ($0.key.host, $0.key.endpoint) < ($1.key.host, $1.key.endpoint) }
            for (key, p) in contacted where (total[key.host] ?? 0) >= configuration.infectedDevice.minimumContacts {
                guard let id = commandAndControl[key.endpoint] else { continue }
                var d = devices[key.host] ?? DeviceEvidence(firstSeen: p.firstSeen, lastSeen: p.lastContact)
                d.noteCommandAndControl(
                    id: id, endpoint: key.endpoint, contacts: Int(p.contacts), first: p.firstSeen, last: p.lastContact,
                    sample: pairDetails[key]?.sample)
                devices[key.host] = d
            }
        }
    }

    /// A service spread over sibling addresses: the pool an endpoint belongs to.
    struct ServicePool {
        var network: IPPrefix
        /// Sibling addresses in the pool, the endpoint's own included.
        var addresses: Int
        /// Distinct internal hosts using any of them.
        var users: Int
    }

    /// Groups beaconed-to endpoints (with their cohorts' median contact interval) into service
    /// pools: the same port and protocol, addresses in one /24 (IPv4) or /48 (IPv6), and a median
    /// interval within ``DetectionConfiguration/Popularity/servicePoolIntervalRatio`` of the
    /// endpoint's own. A camera vendor's cloud behind eight round-robin addresses is used by eight
    /// times the hosts any one address sees; a botnet's C&C addresses, however many, by its bots only.
    /// Endpoints without siblings have no pool.
    func servicePools(_ intervals: [Endpoint: Double], endpoints: FlatTable<Endpoint, EndpointState>) -> [Endpoint: ServicePool] {
        struct Key: Hashable {
            var network: IPPrefix
            var port: UInt16
            var ipProtocol: UInt8
        }
        let p = configuration.popularity
        var groups: [Key: [(endpoint: Endpoint, interval: Double)]] = [:]
        for (endpoint, interval) in intervals {
            let length = endpoint.address.isIPv6 ? p.servicePoolLengthV6 : p.servicePoolLengthV4
            guard let network = IPPrefix(address: endpoint.address, length: length) else { continue }
            groups[Key(network: network, port: endpoint.port, ipProtocol: endpoint.ipProtocol), default: []].append((endpoint, interval))
        }
        var pools: [Endpoint: ServicePool] = [:]
        for (key, members) in groups where members.count >= 2 {
            // Sorted by interval, a member's similar siblings are a contiguous run around it.
            let sorted = members.sorted { $0.interval < $1.interval }
            var low = 0
            var high = 0
            for (i, m) in sorted.enumerated() {
                while sorted[low].interval * p.servicePoolIntervalRatio < m.interval { low += 1 }
                if high < i { high = i }
                while high + 1 < sorted.count && sorted[high + 1].interval <= m.interval * p.servicePoolIntervalRatio { high += 1 }
                guard high > low else { continue }
                var users = DistinctCounter(precision: 8, exactLimit: 16)
                for sibling in sorted[low...high] {
                    if let e = endpoints[sibling.endpoint] { users.formUnion(e.users) }
                }
                pools[m.endpoint] = ServicePool(network: key.network, addresses: high - low + 1, users: users.count)
            }
        }
        return pools
    }

    /// Drops the least recently active pairs down to 90 % of the cap.
    mutating func evictPairs() {
        let keep = configuration.maximumPairs * 9 / 10
        let excess = pairs.count - keep
        guard excess > 0 else { return }
        var times = pairs.map(\.value.lastContact)
        evictPairs(lastContactBefore: kthSmallest(&times, excess), atMost: excess)
    }

    /// Drops pairs last contacted before `cutoff`, at most `limit` of them, in table order; how
    /// many it dropped. (The shards of a ``ShardedFlowAnalyzer`` are given a cutoff over them all.)
    @discardableResult
    mutating func evictPairs(lastContactBefore cutoff: Int64, atMost limit: Int) -> Int {
        var doomed: [PairKey] = []
        for (key, p) in pairs where p.lastContact < cutoff && doomed.count < limit { doomed.append(key) }
        for key in doomed {
            pairs.remove(key)
            pairDetails[key] = nil
        }
        statistics.pairsEvicted += doomed.count
        return doomed.count
    }

    mutating func evaluateIndicators(into changed: inout [String]) {
        decideIndicators(gatherIndicatorContacts(), into: &changed)
    }

    /// Forgets idle indicator contacts, notes the rest as device evidence, and returns them by
    /// endpoint (for ``decideIndicators(_:into:)``, here or after the shards' are merged).
    mutating func gatherIndicatorContacts() -> [Endpoint: [(InternalHost, IndicatorContact)]] {
        var byEndpoint: [Endpoint: [(InternalHost, IndicatorContact)]] = [:]
        var evidence: [(key: PairKey, contact: IndicatorContact)] = []
        var idle: [PairKey] = []
        for (key, c) in indicatorContacts {
            if now - c.lastSeen > configuration.beacon.idleTimeout {
                idle.append(key)
                continue
            }
            byEndpoint[key.endpoint, default: []].append((key.host, c))
            if c.contacts >= configuration.infectedDevice.minimumIndicatorContacts { evidence.append((key, c)) }
        }
        for key in idle { indicatorContacts[key] = nil }
        // Noted in (host, endpoint) order: a device keeps the sample flows of the first few,
        // whatever order the table is walked in (and whichever shard holds the host).
        evidence.sort { ($0.key.host, $0.key.endpoint) < ($1.key.host, $1.key.endpoint) }
        for (key, c) in evidence {
            var d = devices[key.host] ?? DeviceEvidence(firstSeen: c.firstSeen, lastSeen: c.lastSeen)
            d.noteIndicator(
                endpoint: key.endpoint, note: c.note, confidence: c.confidence, contacts: c.contacts, first: c.firstSeen,
                last: c.lastSeen, sample: c.sample)
            devices[key.host] = d
        }
        return byEndpoint
    }

    /// Reports each indicator endpoint contacted, with every host that contacted it.
    mutating func decideIndicators(_ byEndpoint: [Endpoint: [(InternalHost, IndicatorContact)]], into changed: inout [String]) {
        for (endpoint, hosts) in byEndpoint {
            let subject = FindingSubject.endpoint(endpoint)
            let sorted = hosts.sorted { $0.0 < $1.0 }
            var evidence = Evidence()
            let contacts = hosts.reduce(0) { $0 + $1.1.contacts }
            evidence.features = [Feature(.hosts, Double(hosts.count)), Feature(.contacts, Double(contacts))]
            evidence.cohortSize = hosts.count
            evidence.cohort = sorted.prefix(64).map { pseudonyms.pseudonym($0.0) }
            evidence.flows = sorted.prefix(configuration.evidenceFlows).map { sample($0.1.sample, revealing: nil) }
            let note = sorted.first?.1.note ?? ""
            let from = sorted.first?.1.source.map { " shared by \($0)" } ?? ""
            let confidence = sorted.first?.1.confidence ?? 1
            evidence.reasons = [
                "\(endpoint) is on the indicator list\(from)" + (note.isEmpty ? "" : " (\(note))")
                    + (confidence < 1 ? ", confidence \(Int((confidence * 100).rounded())) %" : "")
                    + "; \(hosts.count) internal host(s) contacted it \(contacts) time(s)"
            ]
            upsert(
                Finding(
                    id: Finding.id(kind: .knownIndicator, subject: subject), kind: .knownIndicator, subject: subject,
                    score: confidence,
                    firstSeen: hosts.map(\.1.firstSeen).min() ?? now, lastSeen: hosts.map(\.1.lastSeen).max() ?? now,
                    detectedAt: now, updatedAt: now, family: note.isEmpty ? nil : note,
                    summary: "Known indicator \(endpoint) contacted by \(hosts.count) host(s)", evidence: evidence), into: &changed)
        }
    }
}

func median(_ values: [Double]) -> Double {
    quantile(values.sorted(), 0.5)
}

func fmt(_ x: Double) -> String {
    let r = (x * 100).rounded() / 100
    return "\(r)"
}

func formatSeconds(_ ms: Double) -> String {
    let s = ms / 1000
    if s < 90 { return "\(fmt(s)) s" }
    if s < 5400 { return "\(fmt(s / 60)) min" }
    return "\(fmt(s / 3600)) h"
}
