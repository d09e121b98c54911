import FlowCodec
import MamoriCore

/// Produces the flow records the ISP's border routers would export for one time window.
///
/// **What the exporters observe.** Every exporter is a border router *outside* the CGNAT: it
/// sees a CGNAT subscriber's IPv4 traffic with the shared public address and a source port from
/// the subscriber's port block, exactly as a real edge router does. Attributing a flow to a
/// subscriber therefore needs (public address, port, time), as in practice; the labels give the
/// port block so the check "flows to a C&C come from exactly the infected subscribers" is
/// meaningful at port-block granularity. IPv6 traffic carries the device's own address. The
/// ISP's resolvers sit in its data centre behind the same routers (also post-CGNAT). Each
/// line's traffic leaves through one exporter (chosen by its public address); inbound attack
/// traffic enters through all of them (by source). Flows are unidirectional, both directions
/// exported, `flowDirection` ingress, like NetFlow on every interface.
///
/// Everything is a pure function of the configuration and the window: no state is carried
/// between windows, memory stays bounded, and any window can be generated on its own.
public struct TrafficGenerator: Sendable {
    public let model: ISPModel
    public let threats: ThreatPlan

    public init(model: ISPModel, threats: ThreatPlan) {
        self.model = model
        self.threats = threats
    }

    /// Calls `emit` for every flow record that starts in [`windowStart`, `windowEnd`), unsampled.
    public func generate(windowStart: Int64, windowEnd: Int64, emit: (FlowRecord) -> Void) {
        withoutActuallyEscaping(emit) { emit in
            var w = WindowContext(model: model, start: windowStart, end: windowEnd, emit: emit)
            generate(context: &w)
        }
    }

    private func generate(context w: inout WindowContext) {
        let windowStart = w.start
        let windowEnd = w.end
        for s in model.subscribers {
            for d in 0..<Int(s.deviceCount) {
                benign(subscriber: s, device: d, context: &w)
            }
        }
        for (i, infection) in threats.infections.enumerated() {
            bot(infection, index: i, context: &w)
        }
        for a in threats.attacks where a.from < windowEnd && a.until > windowStart {
            attack(a, context: &w)
        }
    }

    // MARK: Benign traffic

    private func benign(subscriber s: Subscriber, device d: Int, context w: inout WindowContext) {
        let seed = model.configuration.seed
        let kind = model.deviceKind(s, d)
        let v6 = model.deviceIPv6(s, d)
        let dev = UInt64(s.id) << 8 | UInt64(d)
        let activity = w.activity
        let window = w.start..<w.end
        // Periodic decoys.
        switch kind {
        case .pc, .tv, .camera, .homeRouter:
            let period: Int64 = kind == .pc ? 1_024_000 : kind == .tv ? 3_600_000 : kind == .camera ? 300_000 : 1_024_000
            w.periodic(seed, Tag.ntp, dev, period: period, jitter: period / 100) { t, k in
                let server = ServiceCatalog.ntp.addresses[Int(StableHash.of(seed, Tag.ntp, dev, UInt64(k / 16)) % 24)]
                let fixedPort = kind == .camera || kind == .homeRouter
                w.session(
                    s, v6: nil, t: t, server: server, port: 123, proto: 17, up: (1, 76), down: (1, 76), duration: 30, key: k,
                    fixedClientPort: fixedPort ? 123 : nil)
            }
        case .phone:
            let android = StableHash.of(seed, Tag.push, dev) % 10 < 7
            let svc = android ? ServiceCatalog.pushG : ServiceCatalog.pushA
            let server = svc.addresses[Int(StableHash.of(seed, Tag.push, dev, 1) % 4)]
            let server6 = AddressPlan.serviceV6(
                android ? ServiceCatalog.pushGService : ServiceCatalog.pushAService, UInt32(StableHash.of(seed, Tag.push, dev, 1) % 4))
            w.periodic(seed, Tag.push, dev, period: 1_680_000, jitter: 40_000) { t, k in
                w.session(
                    s, v6: v6, t: t, server: v6 == nil ? server : server6, port: svc.port, proto: 6, up: (2, 160), down: (2, 150),
                    duration: 120, key: k, flags: 0x18)
            }
        }
        let update: Int64? =
            switch kind {
            case .pc, .tv: 3_600_000
            case .camera: 21_600_000
            case .homeRouter: 43_200_000
            case .phone: nil
            }
        if let period = update {
            w.periodic(seed, Tag.update, dev, period: period, jitter: period / 10) { t, k in
                let server = ServiceCatalog.update.addresses[Int(StableHash.of(seed, Tag.update, dev) % 8)]
                w.dns(s, t: t - 40, key: k)
                w.session(s, v6: nil, t: t, server: server, port: 443, proto: 6, up: (12, 1_600), down: (14, 6_200), duration: 400, key: k)
            }
        }
        if kind == .camera {
            w.periodic(seed, Tag.camera, dev, period: 60_000, jitter: 600) { t, k in
                let server = ServiceCatalog.cameraCloud.addresses[Int(StableHash.of(seed, Tag.camera, dev) % 8)]
                w.session(
                    s, v6: nil, t: t, server: server, port: 8883, proto: 6, up: (2, 140), down: (2, 120), duration: 80, key: k, flags: 0x18)
            }
        }
        // Web browsing (Poisson sessions scaled by the daily rhythm), each with a DNS lookup.
        let webRate: Double =
            switch kind {
            case .pc: 1.0 / 45
            case .phone: 1.0 / 60
            case .tv: 1.0 / 900
            default: 0
            }
        if webRate > 0 {
            var r = StableHash.generator(seed, Tag.web, dev, UInt64(w.windowIndex))
            let sessions = r.poisson(webRate * activity * w.seconds)
            for _ in 0..<sessions {
                let t = r.int64(in: window)
                let key = r.next()
                w.dns(s, t: t, key: key)
                for _ in 0..<(1 + r.below(3)) {
                    let rank = UInt32(Double(AddressPlan.cdnServers) * r.unit() * r.unit() * r.unit()) // heavy head: popular CDNs
                    let ipv6 = v6 != nil && r.chance(0.6)
                    let server = ipv6 ? AddressPlan.serviceV6(ServiceCatalog.cdnService, rank) : AddressPlan.cdnV4(rank)
                    let quic = r.chance(0.25)
                    let upPackets = UInt64(5 + r.below(20))
                    let down = UInt64(r.pareto(minimum: 8_000, maximum: 8_000_000))
                    w.session(
                        s, v6: ipv6 ? v6 : nil, t: t + 30 + Int64(r.below(200)), server: server, port: 443, proto: quic ? 17 : 6,
                        up: (upPackets, upPackets * 90), down: (down / 1_400 + 1, down), duration: 100 + r.int64(in: 0..<15_000),
                        key: r.next())
                }
            }
        }
        // Messaging: most phones and some PCs hold one connection to one of a few servers, renewed
        // hourly (one NAT port per hour), with a keepalive every ~4.5 min and messages in between.
        if kind == .phone || kind == .pc, StableHash.of(seed, Tag.messaging, dev) % 100 < (kind == .phone ? 85 : 30) {
            let host = UInt32(StableHash.of(seed, Tag.messaging, dev, 1) % 8)
            let server =
                v6 == nil ? ServiceCatalog.messaging.addresses[Int(host)] : AddressPlan.serviceV6(ServiceCatalog.messagingService, host)
            func connection(_ t: Int64) -> UInt64 { StableHash.of(seed, Tag.messaging, dev, 2, UInt64(t / 3_600_000)) }
            w.periodic(seed, Tag.messaging, dev, period: 270_000, jitter: 5_000) { t, _ in
                w.session(
                    s, v6: v6, t: t, server: server, port: 443, proto: 6, up: (1, 93), down: (1, 93), duration: 200, key: connection(t),
                    flags: 0x18)
            }
            var r = StableHash.generator(seed, Tag.messaging, dev, UInt64(w.windowIndex))
            for _ in 0..<r.poisson(activity * w.seconds / (kind == .phone ? 240 : 900)) {
                let t = r.int64(in: window)
                let bytes = UInt64(r.pareto(minimum: 600, maximum: 2_000_000))
                w.session(
                    s, v6: v6, t: t, server: server, port: 443, proto: 6, up: (bytes / 1_300 + 2, bytes + 120), down: (4, 900),
                    duration: 500, key: connection(t), flags: 0x18)
            }
        }
        // BitTorrent on a minority of PCs (a decoy for P2P-botnet detection): while the client runs
        // (hour slots, more in the evening), DHT queries over UDP to many random peers from one
        // listening port, and a handful of TCP peer connections on high ports.
        if kind == .pc,
            StableHash.of(seed, Tag.bitTorrent, dev) % 100 < UInt64((model.configuration.benign.bitTorrentFraction * 100).rounded())
        {
            var slot = StableHash.generator(seed, Tag.bitTorrent, dev, UInt64(w.start / 3_600_000))
            if slot.chance(0.3 + 0.5 * activity) {
                let listenPort = UInt16(10_000 + StableHash.of(seed, Tag.bitTorrent, dev, 1) % 50_000)
                let listenKey = StableHash.of(seed, Tag.bitTorrent, dev, 2)
                var r = StableHash.generator(seed, Tag.bitTorrent, dev, 3, UInt64(w.windowIndex))
                for _ in 0..<r.poisson(0.4 * w.seconds) { // steady-state DHT: a query every few seconds
                    let peer = AddressPlan.bitTorrentPeer(r.next())
                    let peerPort = UInt16(1024 + r.below(64_512))
                    let size = UInt64(90 + r.below(60))
                    w.session(
                        s, v6: nil, t: r.int64(in: window), server: peer, port: peerPort, proto: 17, up: (1, size),
                        down: (1, size + UInt64(r.below(300))), duration: 300, key: listenKey, fixedClientPort: listenPort)
                }
                for j in 0..<4 {
                    var p = StableHash.generator(seed, Tag.bitTorrent, dev, 4, UInt64(w.start / 1_800_000) << 8 | UInt64(j))
                    let peer = AddressPlan.bitTorrentPeer(p.next())
                    let peerPort = UInt16(1024 + p.below(64_512))
                    let key = p.next()
                    guard r.chance(0.7) else { continue } // choked or idle in this window
                    let down = UInt64(r.pareto(minimum: 20_000, maximum: 12_000_000))
                    w.session(
                        s, v6: nil, t: w.start, server: peer, port: peerPort, proto: 6,
                        up: (down / 1_400 / 8 + 2, (down / 1_400 / 8 + 2) * 60 + down / 10), down: (down / 1_400 + 1, down),
                        duration: w.end - w.start - 1, key: key, flags: 0x18)
                }
                if model.configuration.benign.bitTorrentSwarm {
                    bitTorrentSwarm(subscriber: s, device: dev, listenPort: listenPort, listenKey: listenKey, context: &w)
                }
            }
        }
        // Video and games: 15- and 30-minute slots; while "on", one record pair per window (active timeout).
        let videoChance: Double =
            switch kind {
            case .tv: 0.35
            case .pc: 0.10
            case .phone: 0.08
            default: 0
            }
        if videoChance > 0 {
            let slot = w.start / 900_000
            var r = StableHash.generator(seed, Tag.video, dev, UInt64(slot))
            if r.chance(videoChance * activity) {
                let host = UInt32(r.below(256))
                let ipv6 = v6 != nil && r.chance(0.5)
                let server = ipv6 ? AddressPlan.serviceV6(ServiceCatalog.videoService, host) : ServiceCatalog.video.addresses[Int(host)]
                let bitrate = UInt64(2_000_000 + r.below(6_000_000)) / 8 // bytes per second
                let down = bitrate * UInt64(w.seconds)
                w.session(
                    s, v6: ipv6 ? v6 : nil, t: w.start, server: server, port: 443, proto: 6,
                    up: (down / 1_400 / 20 + 1, (down / 1_400 / 20 + 1) * 52), down: (down / 1_400 + 1, down),
                    duration: w.end - w.start - 1, key: r.next(), flags: 0x18)
            }
        }
        if kind == .pc {
            let slot = w.start / 1_800_000
            var r = StableHash.generator(seed, Tag.games, dev, UInt64(slot))
            if r.chance(0.06 * activity) {
                let server = ServiceCatalog.games.addresses[r.below(64)]
                let packets = UInt64(30 * w.seconds)
                w.session(
                    s, v6: nil, t: w.start, server: server, port: 3074, proto: 17, up: (packets, packets * 80),
                    down: (packets, packets * 120), duration: w.end - w.start - 1, key: r.next(), fixedClientPort: nil)
            }
        }
        realTrafficDecoys(subscriber: s, device: d, kind: kind, context: &w)
    }

    // MARK: Bots

    private func bot(_ inf: Infection, index: Int, context w: inout WindowContext) {
        if inf.infectedBy != nil || inf.infectedFrom != nil {
            infectionBruteForce(inf, index: index, context: &w) // before the infection, so before the guard
        }
        guard inf.infectedAt < w.end, (inf.cleanedAt ?? .max) > w.start else { return }
        let seed = model.configuration.seed
        let s = model.subscribers[inf.subscriberIndex]
        let key = UInt64(index)
        switch inf.family {
        case .ircLongLived: return irc(inf, index: index, subscriber: s, context: &w)
        case .hnsSlowScan: return slowScan(inf, index: index, subscriber: s, context: &w)
        default: break
        }
        // Contacts with the C&C: periodic from the infection time.
        w.periodic(
            seed, Tag.bot, key, period: inf.periodMilliseconds, jitter: inf.jitterMilliseconds,
            origin: inf.infectedAt + inf.phaseMilliseconds
        ) { t, k in
            guard inf.isActive(at: t) else { return }
            switch inf.family {
            case .miraiLike:
                let (server, port) = AddressPlan.miraiCommandAndControl[inf.commandAndControlIndex]
                // One long-lived connection per hour: the same NAT port for its keepalive records.
                let session = UInt64(t / 3_600_000)
                w.session(
                    s, v6: nil, t: t, server: server, port: port, proto: 6, up: (1, 66), down: (1, 66), duration: 50,
                    key: StableHash.of(seed, Tag.bot, key, session), flags: 0x18)
            case .httpsBeacon:
                let server = AddressPlan.beaconCommandAndControl[inf.commandAndControlIndex]
                let jitterBytes = UInt64(StableHash.of(seed, Tag.bot, key, k) % 16)
                w.session(
                    s, v6: nil, t: t, server: server, port: 443, proto: 6, up: (7, 1_212 + jitterBytes), down: (6, 980), duration: 240,
                    key: StableHash.of(seed, Tag.bot, key, k, 1))
            case .peerToPeer:
                // Gossip with three peers: external nodes mostly, now and then another bot of the ISP
                // on a line with its own address (bots behind CGNAT cannot be reached). One UDP port
                // for all of it (a long-lived NAT binding); every sixth round a TCP exchange.
                let port = AddressPlan.peerToPeerPort
                let binding = StableHash.of(seed, Tag.peerToPeer, key)
                for j in 0..<UInt64(3) where inf.isActive(at: t + Int64(j) * 150) {
                    let pick = StableHash.of(seed, Tag.peerToPeer, key, k, j)
                    var peer = AddressPlan.peerToPeerNodes[Int(pick >> 8 % UInt64(AddressPlan.peerToPeerNodes.count))]
                    if pick % 4 == 0, !threats.publicPeerToPeerBots.isEmpty {
                        let other = threats.publicPeerToPeerBots[Int(pick >> 16 % UInt64(threats.publicPeerToPeerBots.count))]
                        let o = threats.infections[other]
                        if other != index && o.isActive(at: t) { peer = model.subscribers[o.subscriberIndex].publicAddress }
                    }
                    w.session(
                        s, v6: nil, t: t + Int64(j) * 150, server: peer, port: port, proto: 17, up: (1, 120 + pick % 200),
                        down: (1, 140 + pick >> 32 % 400), duration: 400, key: binding, fixedClientPort: port)
                }
                if k % 6 == 0, inf.isActive(at: t + 1_000) {
                    let peer = AddressPlan.peerToPeerNodes[
                        Int(StableHash.of(seed, Tag.peerToPeer, key, k, 9) % UInt64(AddressPlan.peerToPeerNodes.count))]
                    w.session(
                        s, v6: nil, t: t + 1_000, server: peer, port: port, proto: 6, up: (9, 1_100), down: (14, 16_400), duration: 2_500,
                        key: StableHash.of(seed, Tag.peerToPeer, key, k, 10))
                }
            case .dgaRotating:
                let epoch = floorDivide(
                    t - model.configuration.startMilliseconds, Int64(model.configuration.botnets.dgaRotationSeconds) * 1000)
                let server = AddressPlan.dgaCommandAndControl(seed: seed, epoch: epoch)
                let lookups = 3 + StableHash.of(seed, Tag.bot, key, k, 2) % 8 // mostly NXDOMAIN names before the live one
                for q in 0..<lookups where inf.isActive(at: t - 900 + Int64(q) * 100) {
                    w.dns(s, t: t - 900 + Int64(q) * 100, key: StableHash.of(seed, Tag.bot, key, k, 3 + q))
                }
                w.session(
                    s, v6: nil, t: t, server: server, port: 443, proto: 6, up: (8, 1_400), down: (7, 2_100), duration: 300,
                    key: StableHash.of(seed, Tag.bot, key, k, 1))
            case .ircLongLived, .hnsSlowScan:
                break // above
            }
        }
        if inf.family == .miraiLike {
            var r = StableHash.generator(seed, Tag.scan, key, UInt64(w.windowIndex))
            let scans = r.poisson(model.configuration.botnets.scansPerSecond * w.seconds)
            for _ in 0..<scans {
                let t = r.int64(in: w.start..<w.end)
                guard inf.isActive(at: t) else { continue }
                let target = AddressPlan.scanTarget(r.next())
                let port: UInt16 = r.chance(0.9) ? 23 : 2323
                w.oneWay(s, t: t, destination: target, port: port, proto: 6, packets: 1, bytes: 40, duration: 0, key: r.next(), flags: 0x02)
            }
        }
    }

    /// How a Mirai-like infection during the run happened, 30 s before ``Infection/infectedAt``: a
    /// telnet SYN to the device's public address, then the brute-forced login and loader commands
    /// (an earlier bot of the ISP — exported by its router — or a scanner elsewhere).
    private func infectionBruteForce(_ inf: Infection, index: Int, context w: inout WindowContext) {
        let t = inf.infectedAt - 30_000
        guard t >= w.start, t < w.end else { return }
        let seed = model.configuration.seed
        let victim = model.subscribers[inf.subscriberIndex].publicAddress
        if let by = inf.infectedBy {
            let infector = model.subscribers[threats.infections[by].subscriberIndex]
            let key = StableHash.of(seed, Tag.spread, UInt64(index))
            w.oneWay(infector, t: t, destination: victim, port: 23, proto: 6, packets: 1, bytes: 40, duration: 0, key: key, flags: 0x02)
            w.session(
                infector, v6: nil, t: t + 500, server: victim, port: 23, proto: 6, up: (38, 2_300), down: (31, 2_900), duration: 12_000,
                key: key &+ 1)
        } else if let scanner = inf.infectedFrom {
            let victimLine = model.subscribers[inf.subscriberIndex]
            let sourcePort = UInt16(32_768 + StableHash.of(seed, Tag.spread, UInt64(index)) % 28_232)
            let exporter = Int(victimLine.exporterIndex)
            let duration = min(12_000, w.end - 1 - t)
            w.inbound(
                from: scanner, sourcePort: sourcePort, to: victim, port: 23, proto: 6, packets: 38, bytes: 2_300, t: t, duration: duration,
                exporter: exporter, flags: 0x1B)
            w.oneWay(
                victimLine, t: min(t + 5, w.end - 1), destination: scanner, port: sourcePort, proto: 6, packets: 31, bytes: 2_900,
                duration: duration, key: 0, flags: 0x1B, sourcePort: 23)
        }
    }

    // MARK: Attacks

    private func attack(_ a: AttackPlan, context w: inout WindowContext) {
        let seed = model.configuration.seed
        let from = max(a.from, w.start)
        let until = min(a.until, w.end)
        let seconds = Double(until - from) / 1000
        if a.outbound && !a.packetsPerSecond.isEmpty { return rateFlood(a, context: &w) }
        if a.outbound {
            for p in a.participants {
                let inf = threats.infections[p]
                let s = model.subscribers[inf.subscriberIndex]
                var r = StableHash.generator(seed, Tag.attack, UInt64(p), UInt64(w.windowIndex))
                // Random source ports: a few flow records per second and bot (a router aggregates per 5-tuple).
                for _ in 0..<Int(4 * seconds) {
                    let t = r.int64(in: from..<until)
                    if a.kind == .synFlood {
                        w.oneWay(
                            s, t: t, destination: a.victim, port: a.victimPort, proto: 6, packets: 250, bytes: 250 * 40, duration: 900,
                            key: r.next(), flags: 0x02)
                    } else {
                        w.oneWay(
                            s, t: t, destination: a.victim, port: UInt16(1 + r.below(65535)), proto: 17, packets: 500, bytes: 500 * 540,
                            duration: 900, key: r.next(), flags: 0)
                    }
                }
            }
        } else {
            for (i, source) in a.sources.enumerated() {
                var r = StableHash.generator(seed, Tag.attack, 9, UInt64(i), UInt64(w.windowIndex))
                let (port, size): (UInt16, UInt64) =
                    switch i % 10 {
                    case 0..<5: (123, 468)
                    case 5..<8: (53, 1_400)
                    default: (11211, 1_400)
                    }
                let packets = UInt64(Double(80 + r.below(80)) * seconds)
                guard packets > 0 else { continue }
                w.inbound(
                    from: source, sourcePort: port, to: a.victim, port: UInt16(1024 + r.below(64000)), proto: 17, packets: packets,
                    bytes: packets * size, t: from, duration: until - from - 1,
                    exporter: Int(StableHash.of(seed, UInt64(i)) % UInt64(model.configuration.exporters)))
            }
        }
    }
}

/// Per-window state and the flow-building helpers.
struct WindowContext {
    let model: ISPModel
    let start: Int64
    let end: Int64
    let emit: (FlowRecord) -> Void
    let seconds: Double
    let windowIndex: Int64
    /// Daily rhythm at the middle of the window (0.08 at 4 am, 1.0 at 9 pm, JST).
    let activity: Double

    init(model: ISPModel, start: Int64, end: Int64, emit: @escaping (FlowRecord) -> Void) {
        self.model = model
        self.start = start
        self.end = end
        self.emit = emit
        seconds = Double(end - start) / 1000
        windowIndex = floorDivide(start - model.configuration.startMilliseconds, model.configuration.windowMilliseconds)
        activity = DailyRhythm.activity(atMilliseconds: (start + end) / 2)
    }

    /// Occurrences k of a periodic event (nominal origin + k·period, ± jitter) that start in the window.
    func periodic(
        _ seed: UInt64, _ tag: UInt64, _ key: UInt64, period: Int64, jitter: Int64, origin: Int64? = nil, body: (Int64, UInt64) -> Void
    ) {
        let phase = origin ?? (model.configuration.startMilliseconds - Int64(StableHash.of(seed, tag, key, 0xFA5E) % UInt64(period)))
        let first = floorDivide(start - phase - jitter, period)
        let last = floorDivide(end - phase + jitter, period)
        guard last >= first else { return }
        for k in first...last {
            let j = jitter > 0 ? Int64(StableHash.of(seed, tag, key, UInt64(bitPattern: k)) % UInt64(2 * jitter + 1)) - jitter : 0
            let t = phase + k * period + j
            if t >= start && t < end { body(t, UInt64(bitPattern: k)) }
        }
    }

    private func exporter(_ s: Subscriber) -> IPAddress { AddressPlan.exporterAddress(Int(s.exporterIndex)) }

    /// A client–server exchange: one record per direction, as seen at the border.
    func session(
        _ s: Subscriber, v6: IPAddress?, t: Int64, server: IPAddress, port: UInt16, proto: UInt8,
        up: (UInt64, UInt64), down: (UInt64, UInt64), duration: Int64, key: UInt64,
        flags: UInt8 = 0x1B, fixedClientPort: UInt16? = nil
    ) {
        let t = min(max(t, start), end - 1) // a record never starts outside its window
        let clientAddress = v6 ?? s.publicAddress
        let clientPort: UInt16 =
            v6 != nil
            ? 32768 + UInt16(key % 28232)
            : (fixedClientPort.map { s.isBehindCGNAT ? model.sourcePort(s, key) : $0 } ?? model.sourcePort(s, key))
        let stop = min(t + duration, end - 1)
        let tcpFlags: UInt8 = proto == 6 ? flags : 0
        let edge = exporter(s)
        let userSide = 10 + UInt32(s.id % 8)
        let transit = 100 + UInt32(server.low % 4)
        let serverAS =
            server == AddressPlan.resolvers[0] || server == AddressPlan.resolvers[1]
            ? AddressPlan.ispAS : 64600 + UInt32(server.low >> 16 & 0xFF)
        emit(
            FlowRecord(
                exporter: edge, sourceAddress: clientAddress, destinationAddress: server, sourcePort: clientPort, destinationPort: port,
                ipProtocol: proto, tcpFlags: tcpFlags, bytes: up.1, packets: up.0, startMilliseconds: t, endMilliseconds: max(t, stop),
                inputInterface: userSide, outputInterface: transit, direction: .ingress, sourceAS: AddressPlan.ispAS,
                destinationAS: serverAS))
        emit(
            FlowRecord(
                exporter: edge, sourceAddress: server, destinationAddress: clientAddress, sourcePort: port, destinationPort: clientPort,
                ipProtocol: proto, tcpFlags: tcpFlags, bytes: down.1, packets: down.0, startMilliseconds: min(t + 5, max(t, stop)),
                endMilliseconds: max(t, stop), inputInterface: transit, outputInterface: userSide, direction: .ingress, sourceAS: serverAS,
                destinationAS: AddressPlan.ispAS))
    }

    /// A DNS lookup to one of the ISP's resolvers.
    func dns(_ s: Subscriber, t: Int64, key: UInt64) {
        let resolver = AddressPlan.resolvers[Int(key >> 40 & 1)]
        session(s, v6: nil, t: max(start, t), server: resolver, port: 53, proto: 17, up: (1, 72), down: (1, 180), duration: 15, key: key)
    }

    /// Traffic from the subscriber without an answer (scans, floods).
    func oneWay(
        _ s: Subscriber, t: Int64, destination: IPAddress, port: UInt16, proto: UInt8, packets: UInt64, bytes: UInt64, duration: Int64,
        key: UInt64, flags: UInt8, sourcePort: UInt16? = nil
    ) {
        emit(
            FlowRecord(
                exporter: exporter(s), sourceAddress: s.publicAddress, destinationAddress: destination,
                sourcePort: sourcePort ?? model.sourcePort(s, key), destinationPort: port, ipProtocol: proto, tcpFlags: flags, bytes: bytes,
                packets: packets, startMilliseconds: t, endMilliseconds: min(t + duration, end - 1), inputInterface: 10 + UInt32(s.id % 8),
                outputInterface: 100 + UInt32(destination.low % 4), direction: .ingress, sourceAS: AddressPlan.ispAS,
                destinationAS: 64600 + UInt32(destination.low >> 16 & 0xFF)))
    }

    /// Traffic from the Internet to a subscriber address.
    func inbound(
        from source: IPAddress, sourcePort: UInt16, to victim: IPAddress, port: UInt16, proto: UInt8, packets: UInt64, bytes: UInt64,
        t: Int64, duration: Int64, exporter: Int, flags: UInt8 = 0
    ) {
        emit(
            FlowRecord(
                exporter: AddressPlan.exporterAddress(exporter), sourceAddress: source, destinationAddress: victim, sourcePort: sourcePort,
                destinationPort: port, ipProtocol: proto, tcpFlags: flags, bytes: bytes, packets: packets, startMilliseconds: t,
                endMilliseconds: t + max(0, duration), inputInterface: 100 + UInt32(source.low % 4), outputInterface: 10,
                direction: .ingress, sourceAS: 64600 + UInt32(source.low >> 16 & 0xFF), destinationAS: AddressPlan.ispAS))
    }
}

/// The daily rhythm of use: a piecewise-linear curve over the hour of day in Japan (UTC+9).
public enum DailyRhythm {
    static let hourly: [Double] = [
        0.35, 0.22, 0.15, 0.10, 0.08, 0.10, 0.20, 0.35, 0.45, 0.45, 0.45, 0.50,
        0.60, 0.55, 0.50, 0.50, 0.55, 0.65, 0.75, 0.85, 0.95, 1.00, 0.90, 0.60,
    ]

    /// Activity factor in [0.08, 1] at a time (ms since the Unix epoch).
    public static func activity(atMilliseconds t: Int64) -> Double {
        let day: Int64 = 86_400_000
        let local = ((t + 9 * 3_600_000) % day + day) % day
        let hour = Double(local) / 3_600_000
        let h = Int(hour)
        let f = hour - Double(h)
        return hourly[h] * (1 - f) + hourly[(h + 1) % 24] * f
    }
}
