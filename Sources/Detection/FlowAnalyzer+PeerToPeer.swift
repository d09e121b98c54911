import FlowCodec

/// One host's exchanges with peers on high ports: the evidence for (or against) the benign
/// hypothesis "a peer-to-peer application" (BitTorrent over TCP, uTP and the DHT; Gnutella;
/// eMule; game consoles' peer-to-peer sessions).
///
/// Such a host talks to many distinct peers on high ports with traffic both ways, has a port
/// of its own that many of them share (its DHT/uTP socket, its inbound peer port), and moves
/// content. Each of its peers may look like a beacon (a DHT node pinged on a timer, a peer
/// kept in the swarm), so its contacts with peers on high ports are not C&C evidence for that
/// alone. A P2P botnet's bots also gossip with peers on a high port and listen on one, but they
/// move no content: the hypothesis is rejected for them and the finding says why.
///
/// Kept small (a few hundred bytes per host): rings of the latest remotes each way, the
/// two-way peers up to what the verdict needs, and a handful of local ports.
struct PeerActivity: Sendable {
    var lastSeen: Int64
    /// Hashes of the latest remote addresses the host sent to / heard from on high ports.
    var sentTo: [UInt32] = []
    var heardFrom: [UInt32] = []
    /// Distinct remotes seen both ways (up to ``PeerActivity/peerCapacity``).
    var peers: [UInt32] = []
    /// Local high ports with the two-way peers each has exchanged packets with (up to
    /// ``PeerActivity/portCapacity`` ports, each up to `minimumListeningPeers` peers).
    var ports: [(port: UInt16, peers: [UInt32])] = []
    /// A record of at least `contentBytes` with a two-way peer was seen.
    var contentMoved = false

    static let ringCapacity = 64
    static let peerCapacity = 64
    static let portCapacity = 8

    init(lastSeen: Int64) { self.lastSeen = lastSeen }

    /// The local port most peers share, and how many.
    var listeningPort: (port: UInt16, peers: Int)? {
        ports.max { $0.peers.count < $1.peers.count }.map { ($0.port, $0.peers.count) }
    }

    /// Folds in one record between the host's `localPort` and `remote` (both ports high).
    mutating func note(
        remote: UInt32, localPort: UInt16, bytes: UInt64, heardFrom incoming: Bool, at t: Int64, _ c: DetectionConfiguration.PeerToPeer
    ) {
        lastSeen = max(lastSeen, t)
        let twoWay: Bool
        if incoming {
            Self.remember(remote, in: &heardFrom)
            twoWay = sentTo.contains(remote)
        } else {
            Self.remember(remote, in: &sentTo)
            twoWay = heardFrom.contains(remote)
        }
        guard twoWay else { return }
        if peers.count < Self.peerCapacity, !peers.contains(remote) { peers.append(remote) }
        if bytes >= c.contentBytes { contentMoved = true }
        if let i = ports.firstIndex(where: { $0.port == localPort }) {
            if ports[i].peers.count < c.minimumListeningPeers, !ports[i].peers.contains(remote) { ports[i].peers.append(remote) }
        } else if ports.count < Self.portCapacity {
            ports.append((localPort, [remote]))
        } else if let i = ports.indices.min(by: { ports[$0].peers.count < ports[$1].peers.count }), ports[i].peers.count <= 1 {
            // A client's ephemeral ports each see one peer: the newest replaces one of them.
            ports[i] = (localPort, [remote])
        }
    }

    private static func remember(_ value: UInt32, in ring: inout [UInt32]) {
        if let i = ring.firstIndex(of: value) {
            if i == ring.count - 1 { return }
            ring.remove(at: i)
        } else if ring.count >= ringCapacity {
            ring.removeFirst()
        }
        ring.append(value)
    }
}

/// The verdict on the peer-to-peer application hypothesis for one host, with what decided it.
struct PeerToPeerVerdict: Sendable {
    var isApplication: Bool
    var peers: Int
    var listeningPeers: Int
    var contentMoved: Bool

    /// Why the hypothesis fails (or "holds"), in the words a finding's reasons use.
    func explanation(_ c: DetectionConfiguration.PeerToPeer) -> String {
        if isApplication { return "holds" }
        var why: [String] = []
        if peers < c.minimumPeers { why.append("\(peers) peer(s) answer on high ports (< \(c.minimumPeers))") }
        if listeningPeers < c.minimumListeningPeers { why.append("no port of its own shared by \(c.minimumListeningPeers) peers") }
        if !contentMoved { why.append("no content moved with a peer (no record ≥ \(c.contentBytes) bytes)") }
        return why.joined(separator: ", ")
    }
}

extension FlowAnalyzer {
    /// Records one exchange on high ports both sides (called for every such record crossing).
    mutating func notePeerExchange(_ r: FlowRecord, host: InternalHost, remote: IPAddress, localPort: UInt16, heardFrom: Bool) {
        let hash = UInt32(truncatingIfNeeded: mix64(remote.high ^ mix64(remote.low)))
        let t = r.startMilliseconds
        if let i = peerHosts.index(forKey: host) {
            peerHosts.values[i].note(
                remote: hash, localPort: localPort, bytes: r.bytes, heardFrom: heardFrom, at: t, configuration.peerToPeer)
        } else {
            var a = PeerActivity(lastSeen: t)
            a.note(remote: hash, localPort: localPort, bytes: r.bytes, heardFrom: heardFrom, at: t, configuration.peerToPeer)
            peerHosts[host] = a
        }
    }

    /// The peer-to-peer application hypothesis for `host`.
    func peerToPeerVerdict(_ host: InternalHost) -> PeerToPeerVerdict {
        let c = configuration.peerToPeer
        guard let a = peerHosts[host] else {
            return PeerToPeerVerdict(isApplication: false, peers: 0, listeningPeers: 0, contentMoved: false)
        }
        let listening = a.listeningPort?.peers ?? 0
        return PeerToPeerVerdict(
            isApplication: a.peers.count >= c.minimumPeers && listening >= c.minimumListeningPeers && a.contentMoved,
            peers: a.peers.count, listeningPeers: listening, contentMoved: a.contentMoved)
    }

    /// Whether `host`'s periodic contacts with `endpoint` are explained by a peer-to-peer
    /// application: the endpoint is on a high port and the host is such an application's host.
    func isPeerOfApplication(_ host: InternalHost, _ endpoint: Endpoint) -> Bool {
        endpoint.port >= 1024 && peerToPeerVerdict(host).isApplication
    }

    mutating func forgetQuietPeerHosts() {
        let limit = now - configuration.peerToPeer.idleTimeout
        guard peerHosts.values.contains(where: { $0.lastSeen < limit }) else { return }
        peerHosts = peerHosts.filter { $0.value.lastSeen >= limit }
    }
}

extension FlowAnalyzer {
    /// The peer-to-peer hypothesis as a finding states it was rejected for `endpoint`'s cohort.
    func peerToPeerRejection(_ endpoint: Endpoint, firstHost: (host: InternalHost, verdict: PeerToPeerVerdict)?) -> String {
        guard endpoint.port >= 1024 else {
            return "a peer of a peer-to-peer application (not on a well-known port like \(endpoint.port))"
        }
        // Every cohort member failed it (members that pass are left out of the cohort); the
        // first one's reasons stand for the rest.
        guard let first = firstHost else { return "a peer of a peer-to-peer application" }
        let c = configuration.peerToPeer
        return
            "a peer of a peer-to-peer application (the beaconing host(s) are not such a host: \(first.verdict.explanation(c)))"
    }

    /// Whether a cohort's contacts look like NTP: about one datagram per record, each of an NTP
    /// packet's size (48-byte header, up to 68 bytes of MAC or extensions, plus the IP and UDP
    /// headers). `meanBytes` are upstream bytes per contact, `recordPackets` packets per record.
    func ntpShaped(_ meanBytes: [Double], _ recordPackets: [Double], v6: Bool) -> Bool {
        guard !meanBytes.isEmpty, !recordPackets.isEmpty else { return false }
        let packets = max(1, median(recordPackets).rounded())
        guard packets <= 2 else { return false }
        let perPacket = median(meanBytes) / packets
        let header = v6 ? 48.0 : 28.0
        return perPacket >= header + 48 && perPacket <= header + 48 + 68
    }
}
