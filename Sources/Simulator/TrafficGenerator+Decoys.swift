import FlowCodec
import MamoriCore

/// Benign behaviours real captures showed and the first detectors flagged (issue 17): public
/// NTP, SSDP and mDNS chatter, game consoles, and BitTorrent as a real swarm member does it.
/// Each draws from its own random streams, so switching one on or off changes nothing else.
extension TrafficGenerator {
    /// A uniform value in [0, 1) from a hash: the share tests that pick who does what.
    static func unit(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64 = 0) -> Double {
        Double(StableHash.of(a, b, c, d) >> 11) * 0x1p-53
    }

    func realTrafficDecoys(subscriber s: Subscriber, device d: Int, kind: DeviceKind, context w: inout WindowContext) {
        let b = model.configuration.benign
        let seed = model.configuration.seed
        let dev = UInt64(s.id) << 8 | UInt64(d)
        // Public NTP: ntpd and chrony on home routers, chrony/systemd-timesyncd-like clients on
        // PCs, each polling one of three well-known servers at a fixed 2^6–2^10 s (RFC 5905
        // minpoll 6, maxpoll 10). ntpd sends from port 123; the others from a random port.
        if b.publicNTPFraction > 0, kind == .homeRouter || kind == .pc, Self.unit(seed, Tag.publicNTP, dev) < b.publicNTPFraction {
            let period = Int64(1 << (6 + StableHash.of(seed, Tag.publicNTP, dev, 1) % 5)) * 1000
            let server = ServiceCatalog.publicNTP.addresses[
                Int(StableHash.of(seed, Tag.publicNTP, dev, 2) % UInt64(ServiceCatalog.publicNTP.addresses.count))]
            w.periodic(seed, Tag.publicNTP, dev, period: period, jitter: period / 50) { t, k in
                w.session(
                    s, v6: nil, t: t, server: server, port: 123, proto: 17, up: (1, 76), down: (1, 76), duration: 25,
                    key: StableHash.of(seed, Tag.publicNTP, dev, 3, k), fixedClientPort: kind == .homeRouter ? 123 : nil)
            }
        }
        guard kind == .homeRouter else { return }
        if b.ssdpMDNSFraction > 0, Self.unit(seed, Tag.ssdp, UInt64(s.id)) < b.ssdpMDNSFraction {
            ssdpAndMDNS(subscriber: s, device: dev, context: &w)
        }
        if b.gameConsoleFraction > 0, Self.unit(seed, Tag.console, UInt64(s.id)) < b.gameConsoleFraction {
            gameConsole(subscriber: s, device: dev, context: &w)
        }
    }

    /// SSDP (UPnP Device Architecture 1.1 §1.2) and mDNS (RFC 6762) from a household's devices.
    /// They never leave the link; they appear in exports that see the access side, and are
    /// exported here as the border sees the line's other traffic (its public address and, behind
    /// CGNAT, a port of its block).
    private func ssdpAndMDNS(subscriber s: Subscriber, device dev: UInt64, context w: inout WindowContext) {
        let seed = model.configuration.seed
        // NOTIFY ssdp:alive every 120 s from the media device or the router's UPnP daemon: one
        // message per device, embedded device and service (3 + 2d + k, here 6–15), from 1900.
        let notifies = UInt64(6 + StableHash.of(seed, Tag.ssdp, dev, 1) % 10)
        let notifyKey = StableHash.of(seed, Tag.ssdp, dev, 2)
        w.periodic(seed, Tag.ssdp, dev, period: 120_000, jitter: 1_500) { t, _ in
            w.multicast(
                s, source: nil, sourcePort: 1900, t: t, group: AddressPlan.ssdpGroup, port: 1900, packets: notifies, bytes: notifies * 352,
                duration: 150, key: notifyKey)
        }
        // M-SEARCH when a phone or TV app looks for cast targets (about 4 an hour at peak):
        // three copies (MX = 3) from an ephemeral port; the answers are unicast on the LAN.
        var r = StableHash.generator(seed, Tag.ssdp, dev, 3, UInt64(bitPattern: w.windowIndex))
        for _ in 0..<r.poisson(w.activity * w.seconds / 900) {
            let t = r.int64(in: w.start..<w.end)
            w.multicast(
                s, source: nil, sourcePort: nil, t: t, group: AddressPlan.ssdpGroup, port: 1900, packets: 3, bytes: 3 * 165,
                duration: 2_000, key: r.next())
        }
        // mDNS: queries and announcements from 5353 to 5353 about every two minutes (records
        // with a 120 s TTL are re-queried at 80 % of it, RFC 6762 §5.2), over IPv6 too.
        let v6 = (1..<Int(s.deviceCount)).lazy.compactMap { model.deviceIPv6(s, $0) }.first
        let mdnsKey = StableHash.of(seed, Tag.mdns, dev)
        w.periodic(seed, Tag.mdns, dev, period: 120_000, jitter: 20_000) { t, k in
            let packets = UInt64(1 + StableHash.of(seed, Tag.mdns, dev, k) % 4)
            w.multicast(
                s, source: nil, sourcePort: 5353, t: t, group: AddressPlan.mdnsGroupV4, port: 5353, packets: packets, bytes: packets * 190,
                duration: 1_000, key: mdnsKey)
            if let v6 {
                w.multicast(
                    s, source: v6, sourcePort: 5353, t: t + 3, group: AddressPlan.mdnsGroupV6, port: 5353, packets: packets,
                    bytes: packets * 210, duration: 1_000, key: mdnsKey)
            }
        }
    }

    /// An online game console: a presence connection to the vendor's service (TLS on 443, one
    /// per hour, keepalive every 300 s), a NAT keepalive over UDP from the game port every 60 s
    /// (a STUN binding request, RFC 8489, to 3478), and while playing — 30-minute slots, mostly in
    /// the evening — UDP with 3–7 other players on their own high ports, 15–45 packets/s each way.
    private func gameConsole(subscriber s: Subscriber, device dev: UInt64, context w: inout WindowContext) {
        let seed = model.configuration.seed
        let presence = ServiceCatalog.consolePresence.addresses[
            Int(StableHash.of(seed, Tag.console, dev, 1) % UInt64(ServiceCatalog.consolePresence.addresses.count))]
        let stun = ServiceCatalog.consoleKeepalive.addresses[
            Int(StableHash.of(seed, Tag.console, dev, 2) % UInt64(ServiceCatalog.consoleKeepalive.addresses.count))]
        let gameKey = StableHash.of(seed, Tag.console, dev, 3)
        func connection(_ t: Int64) -> UInt64 { StableHash.of(seed, Tag.console, dev, 4, UInt64(t / 3_600_000)) }
        w.periodic(seed, Tag.console, dev, period: 300_000, jitter: 3_000) { t, _ in
            w.session(
                s, v6: nil, t: t, server: presence, port: 443, proto: 6, up: (1, 93), down: (1, 93), duration: 120, key: connection(t),
                flags: 0x18)
        }
        w.periodic(seed, Tag.console, dev | 1 << 63, period: 60_000, jitter: 1_000) { t, _ in
            w.session(
                s, v6: nil, t: t, server: stun, port: 3478, proto: 17, up: (1, 76), down: (1, 88), duration: 40, key: gameKey,
                fixedClientPort: 3074)
        }
        var r = StableHash.generator(seed, Tag.console, dev, 5, UInt64(w.start / 1_800_000))
        guard r.chance(0.3 * w.activity) else { return }
        for j in 0..<(3 + r.below(5)) {
            let peer = AddressPlan.gamePeer(r.next())
            let peerPort: UInt16 = r.chance(0.3) ? 3074 : UInt16(1024 + r.below(64_512))
            let packets = UInt64(Double(15 + r.below(31)) * w.seconds)
            w.session(
                s, v6: nil, t: w.start + Int64(j), server: peer, port: peerPort, proto: 17, up: (packets, packets * 110),
                down: (packets, packets * 130),
                duration: w.end - w.start - 1 - Int64(j), key: gameKey, fixedClientPort: 3074)
        }
    }

    /// Whether the BitTorrent client of PC `dev` runs in the window starting at `start` (the
    /// rule of ``benign(subscriber:device:context:)``).
    private func bitTorrentRuns(device dev: UInt64, windowStart start: Int64) -> Bool {
        let end = start + model.configuration.windowMilliseconds
        var slot = StableHash.generator(model.configuration.seed, Tag.bitTorrent, dev, UInt64(start / 3_600_000))
        return slot.chance(0.3 + 0.5 * DailyRhythm.activity(atMilliseconds: (start + end) / 2))
    }

    /// What a swarm member does besides the DHT queries and the few long peer connections of the
    /// earlier model, while its client runs: bootstrap on start-up (BEP 5: router.bittorrent.com,
    /// router.utorrent.com … on 6881), uTP transfers (BEP 29) from the listening port, short TCP
    /// connections to many peers (a fifth on 6881; many never answer), and — on lines with their
    /// own address, which peers can reach — inbound peer connections that download from it
    /// (seeding) and DHT queries from other nodes.
    func bitTorrentSwarm(
        subscriber s: Subscriber, device dev: UInt64, listenPort: UInt16, listenKey: UInt64, context w: inout WindowContext
    ) {
        let seed = model.configuration.seed
        var r = StableHash.generator(seed, Tag.bitTorrentSwarm, dev, UInt64(bitPattern: w.windowIndex))
        if !bitTorrentRuns(device: dev, windowStart: w.start - model.configuration.windowMilliseconds) {
            for (j, node) in AddressPlan.dhtBootstrapNodes.enumerated() {
                w.session(
                    s, v6: nil, t: w.start + Int64(j) * 40, server: node, port: 6881, proto: 17, up: (2, 2 * 110), down: (2, 2 * 330),
                    duration: 900, key: listenKey, fixedClientPort: listenPort)
            }
        }
        for j in 0..<UInt64(2) {
            var p = StableHash.generator(seed, Tag.bitTorrentSwarm, dev, 1, UInt64(w.start / 1_800_000) << 8 | j)
            let peer = AddressPlan.bitTorrentPeer(p.next())
            let peerPort: UInt16 = p.chance(0.15) ? 6881 : UInt16(1024 + p.below(64_512))
            guard r.chance(0.6) else { continue }
            let down = UInt64(r.pareto(minimum: 30_000, maximum: 10_000_000))
            let up = UInt64(r.pareto(minimum: 10_000, maximum: 4_000_000))
            let upPackets = up / 1_400 + down / 1_400 / 4 + 2
            let downPackets = down / 1_400 + up / 1_400 / 4 + 2
            w.session(
                s, v6: nil, t: w.start + 100, server: peer, port: peerPort, proto: 17, up: (upPackets, up + upPackets * 40),
                down: (downPackets, down + downPackets * 40),
                duration: w.end - w.start - 101, key: listenKey, fixedClientPort: listenPort)
        }
        for _ in 0..<r.poisson(0.08 * w.seconds) {
            let t = r.int64(in: w.start..<w.end)
            let peer = AddressPlan.bitTorrentPeer(r.next())
            let port: UInt16 = r.chance(0.2) ? 6881 : UInt16(1024 + r.below(64_512))
            let key = r.next()
            if r.chance(0.6) { // handshake, bitfield, interested / choked
                w.session(s, v6: nil, t: t, server: peer, port: port, proto: 6, up: (6, 900), down: (5, 1_600), duration: 1_500, key: key)
            } else { // a stale peer: the SYN and its retransmission go unanswered
                w.oneWay(s, t: t, destination: peer, port: port, proto: 6, packets: 2, bytes: 120, duration: 1_000, key: key, flags: 0x02)
            }
        }
        guard !s.isBehindCGNAT else { return }
        let exporter = Int(s.exporterIndex)
        for _ in 0..<r.poisson(0.03 * w.seconds) {
            let t = r.int64(in: w.start..<(w.end - 1))
            let peer = AddressPlan.bitTorrentPeer(r.next())
            let peerPort = UInt16(1024 + r.below(64_512))
            let up = UInt64(r.pareto(minimum: 50_000, maximum: 20_000_000))
            let duration = min(Int64(r.below(8_000)) + 500, w.end - 1 - t)
            let requests = up / 1_400 / 3 + 4
            w.inbound(
                from: peer, sourcePort: peerPort, to: s.publicAddress, port: listenPort, proto: 6, packets: requests, bytes: requests * 60,
                t: t, duration: duration, exporter: exporter, flags: 0x1B)
            w.oneWay(
                s, t: min(t + 5, w.end - 1), destination: peer, port: peerPort, proto: 6, packets: up / 1_400 + 3, bytes: up,
                duration: duration, key: 0, flags: 0x1B, sourcePort: listenPort)
        }
        for _ in 0..<r.poisson(0.25 * w.seconds) {
            let t = r.int64(in: w.start..<(w.end - 1))
            let node = AddressPlan.bitTorrentPeer(r.next())
            let nodePort = UInt16(1024 + r.below(64_512))
            let query = UInt64(90 + r.below(60))
            w.inbound(
                from: node, sourcePort: nodePort, to: s.publicAddress, port: listenPort, proto: 17, packets: 1, bytes: query, t: t,
                duration: 0, exporter: exporter)
            w.oneWay(
                s, t: min(t + 20, w.end - 1), destination: node, port: nodePort, proto: 17, packets: 1, bytes: query + UInt64(r.below(300)),
                duration: 0, key: 0, flags: 0, sourcePort: listenPort)
        }
    }
}

extension WindowContext {
    /// Link-local chatter to a multicast group: one record, no answer, not forwarded (output
    /// interface 0). `source` nil = the line's IPv4 as the border sees it; `sourcePort` nil = an
    /// ephemeral port; behind CGNAT a port of the block chosen by `key`.
    func multicast(
        _ s: Subscriber, source: IPAddress?, sourcePort: UInt16?, t: Int64, group: IPAddress, port: UInt16, packets: UInt64, bytes: UInt64,
        duration: Int64, key: UInt64
    ) {
        let port4: UInt16 = s.isBehindCGNAT || sourcePort == nil ? model.sourcePort(s, key) : sourcePort!
        let port6: UInt16 = sourcePort ?? 32768 + UInt16(key % 28232)
        let t = min(max(t, start), end - 1)
        emit(
            FlowRecord(
                exporter: AddressPlan.exporterAddress(Int(s.exporterIndex)), sourceAddress: source ?? s.publicAddress,
                destinationAddress: group,
                sourcePort: source == nil ? port4 : port6, destinationPort: port, ipProtocol: 17, tcpFlags: 0, bytes: bytes,
                packets: packets,
                startMilliseconds: t, endMilliseconds: min(t + duration, end - 1), inputInterface: 10 + UInt32(s.id % 8),
                outputInterface: 0,
                direction: .ingress, sourceAS: AddressPlan.ispAS, destinationAS: 0))
    }
}
