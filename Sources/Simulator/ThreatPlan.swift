import FlowCodec

/// A botnet family of the simulation.
public enum BotFamily: String, Sendable, Hashable, Codable, CaseIterable {
    /// IoT bots: telnet scanning of random addresses, a persistent C&C connection to a fixed IP:port.
    case miraiLike = "mirai-like"
    /// PC bots beaconing over HTTPS with a jittered period (30 s – 1 h) and small regular payloads.
    case httpsBeacon = "https-beacon"
    /// PC bots whose C&C address changes every rotation period (domain generation), with DNS bursts.
    case dgaRotating = "dga-rotating"
    /// IoT bots without a central C&C: every ~2 min they gossip over UDP (and now and then TCP) on
    /// one fixed high port with peers elsewhere on the Internet and with each other.
    case peerToPeer = "p2p-gossip"
    /// PCs, cameras and home routers of an IRC botnet (Kaiten/Tsunami-like): ONE long-lived TCP
    /// connection to the C&C on 6667, 6697 or 7000, the server's PING answered every 90–180 s,
    /// a reconnect from a new source port after a drop now and then.
    case ircLongLived = "irc-longlived"
    /// Cameras and home routers scanning slowly (Hide'n'Seek-like): about one SYN per second to a
    /// random address on 23, 2323, 80, 81, 8080 or 9527, for hours. Its peer-to-peer control
    /// traffic is not simulated: it has no C&C endpoints in the labels.
    case hnsSlowScan = "hns-slow-scan"

    /// Whether the family's bots contact C&C endpoints listed in the labels.
    public var hasCommandAndControl: Bool { self != .hnsSlowScan }
    /// Whether the family's bots scan the Internet (what a scan detector should find).
    public var scans: Bool { self == .miraiLike || self == .hnsSlowScan }
}

/// One infected device and what it does.
public struct Infection: Sendable, Hashable {
    public let family: BotFamily
    public let subscriberIndex: Int
    public let deviceIndex: Int
    public let infectedAt: Int64
    /// When the device was cleaned; nil if it stays infected past the end.
    public let cleanedAt: Int64?
    /// Contact period and ± jitter, ms (the IRC family: the server's PING interval; the slow
    /// scanner: the mean time between probes).
    public let periodMilliseconds: Int64
    public let jitterMilliseconds: Int64
    /// Phase of the first contact after infection, ms.
    public let phaseMilliseconds: Int64
    /// Which of the family's fixed C&C servers the bot uses (Mirai-like, beacon).
    public let commandAndControlIndex: Int
    /// Mirai-like infections during the run: the earlier bot (index into ``ThreatPlan/infections``)
    /// whose telnet brute force infected this device 30 s before ``infectedAt``.
    public let infectedBy: Int?
    /// … or the scanner elsewhere on the Internet that did (a fifth of the time, and always when no
    /// bot of the ISP was active then).
    public let infectedFrom: IPAddress?

    /// Whether the bot runs at `t`: from ``infectedAt`` until ``cleanedAt``; its traffic stops when cleaned.
    public func isActive(at t: Int64) -> Bool { t >= infectedAt && t < (cleanedAt ?? .max) }
}

/// A DDoS attack of the simulation.
public struct AttackPlan: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case udpFlood = "udp-flood"
        case synFlood = "syn-flood"
        case reflection = "ntp-dns-memcached-reflection"
        case icmpFlood = "icmp-flood"
    }
    public let kind: Kind
    public let outbound: Bool
    public let from: Int64
    public let until: Int64
    public let victim: IPAddress
    public let victimPort: UInt16
    /// Outbound: indices into ``ThreatPlan/infections`` of the participating bots.
    public let participants: [Int]
    /// Inbound: the reflectors sending to the victim.
    public let sources: [IPAddress]
    /// Inbound: the victim subscriber.
    public let victimSubscriberIndex: Int?
    /// Outbound attacks driven by a rate (the ICMP flood, the single host's SYN flood): packets
    /// per second of each participant, in the order of ``participants``. Empty for the others.
    public var packetsPerSecond: [Double] = []
}

/// Who is infected when, which C&C servers exist, and which attacks happen. Built once from the
/// model; small (proportional to the number of bots).
public struct ThreatPlan: Sendable {
    public let infections: [Infection]
    public let attacks: [AttackPlan]
    /// P2P bots on lines with their own public address: the only ones other bots can reach.
    public let publicPeerToPeerBots: [Int]

    public init(model: ISPModel) {
        let c = model.configuration
        let b = c.botnets
        let seed = c.seed
        let n = c.subscribers
        var taken = Set<UInt64>()
        var list: [Infection] = []
        let families: [(BotFamily, Int, Set<DeviceKind>)] = [
            (.miraiLike, b.count(b.miraiBots, per: 250, minimum: 3, subscribers: n), [.camera, .homeRouter]),
            (.httpsBeacon, b.count(b.beaconBots, per: 500, minimum: 2, subscribers: n), [.pc]),
            (.dgaRotating, b.count(b.dgaBots, per: 1000, minimum: 2, subscribers: n), [.pc]),
            (.peerToPeer, b.count(b.peerToPeerBots, per: 1000, minimum: 2, subscribers: n), [.homeRouter, .camera]),
            // Issue 17: after the families above, so that their draws (and labels) stay as they were.
            (.ircLongLived, b.count(b.ircBots, per: 1500, minimum: 3, subscribers: n), [.pc, .camera, .homeRouter]),
            (.hnsSlowScan, b.count(b.slowScanBots, per: 2500, minimum: 1, subscribers: n), [.camera, .homeRouter]),
        ]
        for (familyIndex, (family, count, kinds)) in families.enumerated() {
            var made = 0
            var attempt: UInt64 = 0
            while made < count && attempt < UInt64(count) * 200 + 1000 {
                var r = StableHash.generator(seed, Tag.infection, UInt64(familyIndex), attempt)
                attempt += 1
                let s = model.subscribers[r.below(n)]
                // Decided per bot, not per attempt, so that retries below do not bias the share.
                var slot = StableHash.generator(seed, Tag.infection, UInt64(familyIndex), 0x1A7E, UInt64(made))
                let late = slot.chance(b.lateInfectionFraction)
                // Mirai-like infections during the run spread by telnet brute force, which reaches
                // only devices with their own public address: not those behind CGNAT.
                if family == .miraiLike && late && s.isBehindCGNAT { continue }
                // Mirai-like prefers cameras (home routers a third of the time); the P2P family home routers.
                let wanted: DeviceKind? =
                    switch family {
                    case .miraiLike: r.chance(0.33) ? .homeRouter : .camera
                    case .peerToPeer: r.chance(0.7) ? .homeRouter : .camera
                    case .ircLongLived: r.chance(0.5) ? .pc : r.chance(0.6) ? .camera : .homeRouter
                    case .hnsSlowScan: r.chance(0.6) ? .camera : .homeRouter
                    default: nil
                    }
                guard
                    let d = (0..<Int(s.deviceCount)).first(where: { i in
                        let k = model.deviceKind(s, i)
                        return kinds.contains(k) && (wanted == nil || k == wanted)
                    })
                else { continue }
                let key = UInt64(s.id) << 8 | UInt64(d)
                guard taken.insert(key).inserted else { continue }
                let infectedAt: Int64 =
                    late
                    ? c.startMilliseconds + r.int64(in: 60_000..<max(60_001, c.durationMilliseconds * 8 / 10))
                    : c.startMilliseconds - r.int64(in: 3_600_000..<30 * 86_400_000)
                var cleanedAt: Int64? = nil
                if r.chance(b.cleanupFraction) {
                    let from = max(infectedAt, c.startMilliseconds) + 1
                    if from < c.endMilliseconds { cleanedAt = r.int64(in: from..<c.endMilliseconds) }
                }
                let period: Int64
                let jitter: Int64
                switch family {
                case .miraiLike:
                    period = 60_000
                    jitter = 500
                case .httpsBeacon:
                    period = Int64(b.beaconPeriodSeconds.lowerBound + r.below(b.beaconPeriodSeconds.count)) * 1000
                    jitter = period * Int64(5 + r.below(21)) / 100 // ±5–25 %
                case .dgaRotating:
                    period = Int64(300 + r.below(601)) * 1000
                    jitter = period / 10
                case .peerToPeer:
                    period = 120_000
                    jitter = 20_000
                case .ircLongLived:
                    period = Int64(90 + 30 * r.below(4)) * 1000
                    jitter = 1_000
                case .hnsSlowScan:
                    period = Int64((1000 / (b.slowScanProbesPerSecond * (0.85 + 0.3 * r.unit()))).rounded())
                    jitter = 0
                }
                let servers =
                    switch family {
                    case .miraiLike: AddressPlan.miraiCommandAndControl.count
                    case .ircLongLived: AddressPlan.ircCommandAndControl.count
                    default: AddressPlan.beaconCommandAndControl.count
                    }
                list.append(
                    Infection(
                        family: family, subscriberIndex: Int(s.id), deviceIndex: d, infectedAt: infectedAt, cleanedAt: cleanedAt,
                        periodMilliseconds: period, jitterMilliseconds: jitter, phaseMilliseconds: r.int64(in: 0..<period),
                        commandAndControlIndex: r.below(servers), infectedBy: nil, infectedFrom: nil
                    ))
                made += 1
            }
        }
        // Spreading: each Mirai-like infection during the run follows a brute force by a bot that was
        // active 30 s earlier — an earlier bot of the ISP (so infections chain and the population
        // grows), or a scanner elsewhere (a fifth of the time, and whenever no bot of the ISP was active).
        for i in list.indices where list[i].family == .miraiLike && list[i].infectedAt > c.startMilliseconds {
            let inf = list[i]
            let scanAt = inf.infectedAt - 30_000
            let candidates = list.indices.filter { j in
                j != i && list[j].family == .miraiLike && list[j].infectedAt < scanAt - 60_000 && list[j].isActive(at: scanAt)
            }
            var r = StableHash.generator(seed, Tag.spread, UInt64(i))
            let by = candidates.isEmpty || r.chance(0.2) ? nil : candidates[r.below(candidates.count)]
            list[i] = Infection(
                family: inf.family, subscriberIndex: inf.subscriberIndex, deviceIndex: inf.deviceIndex, infectedAt: inf.infectedAt,
                cleanedAt: inf.cleanedAt,
                periodMilliseconds: inf.periodMilliseconds, jitterMilliseconds: inf.jitterMilliseconds,
                phaseMilliseconds: inf.phaseMilliseconds,
                commandAndControlIndex: inf.commandAndControlIndex, infectedBy: by,
                infectedFrom: by == nil ? AddressPlan.telnetScanner(r.next()) : nil)
        }
        infections = list
        publicPeerToPeerBots = list.indices.filter {
            list[$0].family == .peerToPeer && !model.subscribers[list[$0].subscriberIndex].isBehindCGNAT
        }

        var attacks: [AttackPlan] = []
        var r = StableHash.generator(seed, Tag.attack)
        let w = c.windowMilliseconds
        func aligned(_ t: Int64) -> Int64 { c.startMilliseconds + (t - c.startMilliseconds) / w * w }
        if b.inboundAttack {
            let from = aligned(c.startMilliseconds + c.durationMilliseconds / 4)
            let until = min(c.endMilliseconds, from + max(w, min(300_000, c.durationMilliseconds * 15 / 100) / w * w))
            // Prefer a line with its own public address: the whole address is then one household.
            let start = r.below(n)
            let victimIndex = (0..<n).lazy.map { (start + $0) % n }.first { !model.subscribers[$0].isBehindCGNAT } ?? start
            let reflectors = (0..<400).map { AddressPlan.reflector(StableHash.of(seed, Tag.attack, 1, UInt64($0))) }
            attacks.append(
                AttackPlan(
                    kind: .reflection, outbound: false, from: from, until: until, victim: model.subscribers[victimIndex].publicAddress,
                    victimPort: 0, participants: [], sources: reflectors, victimSubscriberIndex: victimIndex))
        }
        if b.outboundAttack {
            let from = aligned(c.startMilliseconds + c.durationMilliseconds / 2)
            let until = min(c.endMilliseconds, from + max(w, min(300_000, c.durationMilliseconds * 20 / 100) / w * w))
            let infections = list
            let participants = infections.indices.filter { i in
                let inf = infections[i]
                return inf.family == .miraiLike && inf.isActive(at: from) && inf.isActive(at: until - 1)
                    && StableHash.of(seed, Tag.attack, 2, UInt64(i)) % 10 < 8
            }
            if !participants.isEmpty {
                let syn = r.chance(0.5)
                attacks.append(
                    AttackPlan(
                        kind: syn ? .synFlood : .udpFlood, outbound: true, from: from, until: until,
                        victim: AddressPlan.outboundVictim(r.next()), victimPort: syn ? 443 : 0, participants: participants, sources: [],
                        victimSubscriberIndex: nil))
            }
        }
        // Issue 17's floods, each from its own random stream.
        /// Bots of the preferred families active all through [from, until), one per line; in each
        /// family those on lines with their own address first (their flows need no port block to
        /// be attributed), shuffled by `salt`.
        func bots(activeFrom from: Int64, until: Int64, preferring families: [BotFamily], salt: UInt64) -> [Int] {
            var out: [Int] = []
            var lines = Set<Int>()
            for family in families {
                let found = list.indices.filter {
                    list[$0].family == family && list[$0].isActive(at: from) && list[$0].isActive(at: until - 1)
                }
                let ordered = found.sorted { i, j in
                    let (a, b) = (
                        model.subscribers[list[i].subscriberIndex].isBehindCGNAT, model.subscribers[list[j].subscriberIndex].isBehindCGNAT
                    )
                    return a != b ? !a : StableHash.of(seed, salt, UInt64(i)) < StableHash.of(seed, salt, UInt64(j))
                }
                for i in ordered where lines.insert(list[i].subscriberIndex).inserted { out.append(i) }
            }
            return out
        }
        if b.singleHostSYNFlood {
            var r = StableHash.generator(seed, Tag.singleSYNFlood)
            let from = aligned(c.startMilliseconds + c.durationMilliseconds * 35 / 100)
            let until = min(c.endMilliseconds, from + max(w, min(300_000, c.durationMilliseconds * 10 / 100) / w * w))
            if let host = bots(
                activeFrom: from, until: until, preferring: [.ircLongLived, .miraiLike, .httpsBeacon, .dgaRotating],
                salt: Tag.singleSYNFlood
            ).first {
                attacks.append(
                    AttackPlan(
                        kind: .synFlood, outbound: true, from: from, until: until, victim: AddressPlan.outboundVictim(r.next()),
                        victimPort: r.chance(0.5) ? 80 : 443,
                        participants: [host], sources: [], victimSubscriberIndex: nil, packetsPerSecond: [b.singleHostSYNPerSecond]))
            }
        }
        if b.icmpFlood {
            var r = StableHash.generator(seed, Tag.icmpFlood)
            let from = aligned(c.startMilliseconds + c.durationMilliseconds * 70 / 100)
            let until = min(c.endMilliseconds, from + max(w, min(240_000, c.durationMilliseconds * 10 / 100) / w * w))
            let hosts = Array(
                bots(
                    activeFrom: from, until: until, preferring: [.ircLongLived, .miraiLike, .httpsBeacon, .dgaRotating, .peerToPeer],
                    salt: Tag.icmpFlood
                ).prefix(3))
            if !hosts.isEmpty {
                let victim = AddressPlan.outboundVictim(r.next())
                attacks.append(
                    AttackPlan(
                        kind: .icmpFlood, outbound: true, from: from, until: until, victim: victim, victimPort: 0, participants: hosts,
                        sources: [],
                        victimSubscriberIndex: nil, packetsPerSecond: hosts.map { _ in Double(100 + r.below(1_901)) }))
            }
        }
        self.attacks = attacks
    }
}
