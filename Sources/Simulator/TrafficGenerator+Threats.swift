import FlowCodec
import MamoriCore

/// The threats real captures showed and the first detectors missed (issue 17): an IRC bot's one
/// long-lived connection, a slow scanner, an ICMP flood and a single host's SYN flood.
extension TrafficGenerator {
    // MARK: IRC

    /// A drop of a bot's IRC connection: in each hour slot, with probability 0.1, the connection
    /// breaks (server restart, NAT timeout, line resync) and the bot reconnects 10–120 s later
    /// from a new source port. Drops stay inside their slot, so at most one per hour.
    struct IRCDrop {
        var at: Int64
        var reconnect: Int64
    }

    func ircDrop(bot key: UInt64, slot h: Int64) -> IRCDrop? {
        var r = StableHash.generator(model.configuration.seed, Tag.irc, key, UInt64(bitPattern: h))
        guard r.chance(0.1) else { return nil }
        let at = h * 3_600_000 + r.int64(in: 0..<3_470_000)
        return IRCDrop(at: at, reconnect: at + 10_000 + r.int64(in: 0..<110_000))
    }

    /// The bot's connection at `t`: when it was established and its identity (which picks the
    /// source port), or nil between a drop and the reconnect.
    func ircConnection(_ inf: Infection, bot key: UInt64, at t: Int64) -> (since: Int64, id: UInt64)? {
        let seed = model.configuration.seed
        let first = floorDivide(inf.infectedAt, 3_600_000)
        var h = floorDivide(t, 3_600_000)
        var steps = 0
        while h >= first && steps < 500 { // 0.9^500: a connection older than that is as good as "since infection"
            if let d = ircDrop(bot: key, slot: h), d.at > inf.infectedAt, d.at <= t {
                return t < d.reconnect ? nil : (d.reconnect, StableHash.of(seed, Tag.irc, key, 1, UInt64(bitPattern: h)))
            }
            h -= 1
            steps += 1
        }
        return (inf.infectedAt, StableHash.of(seed, Tag.irc, key, 2))
    }

    /// One IRC bot in one window: everything its connection carried in the window as ONE record
    /// per direction for its 5-tuple — what a router exports when its active timeout (the window)
    /// expires. Registration (NICK/USER/JOIN, the MOTD) when the connection starts, the server's
    /// PING and the bot's PONG every ``Infection/periodMilliseconds``, and now and then a command
    /// in the channel. No packets in a window, no record.
    func irc(_ inf: Infection, index: Int, subscriber s: Subscriber, context w: inout WindowContext) {
        let seed = model.configuration.seed
        let key = UInt64(index)
        let (server, port) = AddressPlan.ircCommandAndControl[inf.commandAndControlIndex]
        // The window cut where the connection or the infection changes.
        var cuts: [Int64] = [w.start, w.end]
        for h in floorDivide(w.start, 3_600_000)...floorDivide(w.end - 1, 3_600_000) {
            guard let d = ircDrop(bot: key, slot: h), d.at > inf.infectedAt else { continue }
            cuts += [d.at, d.reconnect].filter { $0 > w.start && $0 < w.end }
        }
        cuts += [inf.infectedAt, inf.cleanedAt ?? .max].filter { $0 > w.start && $0 < w.end }
        cuts.sort()
        struct Traffic {
            var id: UInt64
            var first: Int64
            var last: Int64
            var up: (UInt64, UInt64)
            var down: (UInt64, UInt64)
            var opened: Bool
        }
        var traffic: [Traffic] = []
        func add(_ id: UInt64, _ t: Int64, up: (UInt64, UInt64), down: (UInt64, UInt64), opened: Bool = false) {
            if let i = traffic.firstIndex(where: { $0.id == id }) {
                traffic[i].first = min(traffic[i].first, t)
                traffic[i].last = max(traffic[i].last, t)
                traffic[i].up = (traffic[i].up.0 + up.0, traffic[i].up.1 + up.1)
                traffic[i].down = (traffic[i].down.0 + down.0, traffic[i].down.1 + down.1)
                traffic[i].opened = traffic[i].opened || opened
            } else {
                traffic.append(Traffic(id: id, first: t, last: t, up: up, down: down, opened: opened))
            }
        }
        let period = inf.periodMilliseconds
        let jitter = inf.jitterMilliseconds
        for (a, b) in zip(cuts, cuts.dropFirst()) where b > a && inf.isActive(at: a) {
            guard let connection = ircConnection(inf, bot: key, at: a) else { continue }
            let since = connection.since
            if since >= a && since < b {
                // SYN, NICK/USER, JOIN #channel; the server's welcome, MOTD and topic (the command).
                add(connection.id, since, up: (7, 520), down: (9, 3_400), opened: true)
            }
            // The server pings an idle client every `period` (ircd connection class "pingfreq").
            let firstPing = max(1, floorDivide(a - since - jitter, period))
            var k = firstPing
            while since + k * period - jitter < b {
                let j =
                    jitter > 0
                    ? Int64(StableHash.of(seed, Tag.irc, connection.id, UInt64(bitPattern: k)) % UInt64(2 * jitter + 1)) - jitter : 0
                let t = since + k * period + j
                if t >= a && t < b && t > since { add(connection.id, t, up: (1, 72), down: (2, 124)) } // PING; PONG; ACK
                k += 1
            }
            // Commands in the channel, about two an hour: a line from the herder, an ACK (a report now and then).
            var r = StableHash.generator(seed, Tag.irc, connection.id, 3, UInt64(bitPattern: a))
            for _ in 0..<r.poisson(Double(b - a) / 1_800_000) {
                let t = r.int64(in: a..<b)
                let line = UInt64(90 + r.below(400))
                let report: UInt64 = r.chance(0.3) ? UInt64(60 + r.below(200)) : 0
                add(connection.id, t, up: (report > 0 ? 2 : 1, 52 + report), down: (1, line))
            }
        }
        for c in traffic {
            w.session(
                s, v6: nil, t: c.first, server: server, port: port, proto: 6, up: c.up, down: c.down, duration: c.last - c.first + 60,
                key: c.id, flags: c.opened ? 0x1A : 0x18)
        }
    }

    // MARK: Slow scanner

    /// Ports a Hide'n'Seek-like scanner probes (telnet, its alternate, web servers and the
    /// camera DVR service on 9527), in per-mille shares.
    static let slowScanPorts: [(port: UInt16, share: Int)] = [(23, 350), (2323, 150), (80, 150), (8080, 150), (9527, 120), (81, 80)]

    /// A slow scanner in one window: Poisson SYN-only probes (one packet, one record each, a new
    /// source port each) to random addresses, at 1000 / ``Infection/periodMilliseconds`` per second.
    func slowScan(_ inf: Infection, index: Int, subscriber s: Subscriber, context w: inout WindowContext) {
        var r = StableHash.generator(model.configuration.seed, Tag.slowScan, UInt64(index), UInt64(bitPattern: w.windowIndex))
        let rate = 1000 / Double(inf.periodMilliseconds)
        for _ in 0..<r.poisson(rate * w.seconds) {
            let t = r.int64(in: w.start..<w.end)
            let target = AddressPlan.scanTarget(r.next())
            var roll = r.below(1000)
            let port =
                Self.slowScanPorts.first { p in
                    roll -= p.share
                    return roll < 0
                }?.port ?? 23
            let sourceKey = r.next()
            guard inf.isActive(at: t) else { continue }
            w.oneWay(s, t: t, destination: target, port: port, proto: 6, packets: 1, bytes: 44, duration: 0, key: sourceKey, flags: 0x02)
        }
    }

    // MARK: Rate-driven floods

    /// ICMP echo floods and the single host's SYN flood: attacks whose labels give each
    /// participant's packet rate.
    func rateFlood(_ a: AttackPlan, context w: inout WindowContext) {
        let seed = model.configuration.seed
        let from = max(a.from, w.start)
        let until = min(a.until, w.end)
        guard until > from else { return }
        let seconds = Double(until - from) / 1000
        for (j, p) in a.participants.enumerated() {
            let inf = threats.infections[p]
            let s = model.subscribers[inf.subscriberIndex]
            let rate = a.packetsPerSecond[j]
            switch a.kind {
            case .icmpFlood:
                // One 5-tuple per participant (ICMP has no ports: type 8 code 0 goes in the
                // destination port as 8 × 256, as NetFlow exporters do), so one record per window.
                var r = StableHash.generator(seed, Tag.icmpFlood, 3, UInt64(j), UInt64(bitPattern: w.windowIndex))
                let packets = UInt64(rate * seconds * (0.95 + 0.1 * r.unit()))
                guard packets > 0 else { continue }
                let size: UInt64 = [84, 84, 1_052, 1_500][Int(StableHash.of(seed, Tag.icmpFlood, 4, UInt64(j)) % 4)]
                w.oneWay(
                    s, t: from, destination: a.victim, port: 0x0800, proto: 1, packets: packets, bytes: packets * size,
                    duration: until - from - 1, key: 0, flags: 0, sourcePort: 0)
                // The victim answers part of it (echo reply, type 0) until it is overwhelmed.
                let answered = UInt64(Double(packets) * (0.2 + 0.6 * Double(StableHash.of(seed, Tag.icmpFlood, 5) % 100) / 100))
                if answered > 0 {
                    let t = min(from + 3, until - 1)
                    w.inbound(
                        from: a.victim, sourcePort: 0, to: s.publicAddress, port: 0, proto: 1, packets: answered, bytes: answered * size,
                        t: t, duration: until - 1 - t, exporter: Int(s.exporterIndex))
                }
            case .synFlood:
                // One SYN per record: a new source port each, never answered.
                var r = StableHash.generator(seed, Tag.singleSYNFlood, 3, UInt64(j), UInt64(bitPattern: w.windowIndex))
                for _ in 0..<r.poisson(rate * seconds) {
                    let t = r.int64(in: from..<until)
                    w.oneWay(
                        s, t: t, destination: a.victim, port: a.victimPort, proto: 6, packets: 1, bytes: 60, duration: 0, key: r.next(),
                        flags: 0x02)
                }
            case .udpFlood, .reflection:
                continue
            }
        }
    }
}
