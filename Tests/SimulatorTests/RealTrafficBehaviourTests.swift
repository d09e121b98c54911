import FlowCodec
import Foundation
import MamoriTesting
import Simulator
import Testing

/// What real captures showed and the first detectors got wrong (issue 17), in the simulated
/// world: IRC C&C, a slow scanner, an ICMP flood and a single host's SYN flood (labelled threats);
/// BitTorrent swarms, SSDP/mDNS, public NTP and game consoles (labelled decoys).
@Suite(.heavyWork) struct RealTrafficBehaviourTests {
    /// FNV-1a of the labels as `mamori simulate --labels` writes them (sorted keys).
    static func labelsDigest(_ labels: Labels) throws -> UInt64 {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in try e.encode(labels) { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }

    static func from(_ d: Labels.InfectedDevice, _ r: FlowRecord) -> Bool {
        r.sourceAddress == IPAddress(d.publicAddress) && (d.portBlock?.contains(r.sourcePort) ?? true)
    }

    static func from(_ p: Labels.Participant, _ r: FlowRecord) -> Bool {
        r.sourceAddress == IPAddress(p.publicAddress) && (r.ipProtocol == 1 || (p.portBlock?.contains(r.sourcePort) ?? true))
    }

    @Test(
        "with the new behaviours off, the world is the parent commit's, datagram for datagram",
        arguments: [
            (UInt64(7), UInt64(16_621_656_809_334_038_432), 36_428, UInt64(6_403_811_403_802_789_041)),
            (UInt64(42), UInt64(12_987_585_428_322_112_317), 32_650, UInt64(2_780_631_027_934_435_109)),
        ])
    func classicWorldIsUnchanged(seed: UInt64, datagramDigest: UInt64, flows: Int, labels: UInt64) throws {
        var c = smallConfiguration(seed: seed)
        c.useClassicBehavioursOnly()
        let (sim, datagrams) = try runAll(c)
        // Figures printed by commit 2c03429 (before issue 17) for smallConfiguration(seed:).
        #expect(sim.statistics.generatedFlows == flows)
        #expect(digest(datagrams) == datagramDigest)
        #expect(try Self.labelsDigest(sim.labels) == labels)
    }

    @Test func theNewBehavioursLeaveTheOldThreatLabelsAlone() throws {
        for seed: UInt64 in [7, 42, 1234] {
            var classic = smallConfiguration(seed: seed)
            classic.useClassicBehavioursOnly()
            let old = try Simulation(configuration: classic).labels
            let new = try Simulation(configuration: smallConfiguration(seed: seed)).labels
            let oldFamilies = Set(old.infectedDevices.map(\.family))
            #expect(new.infectedDevices.filter { oldFamilies.contains($0.family) } == old.infectedDevices)
            #expect(new.commandAndControl.filter { oldFamilies.contains($0.family) } == old.commandAndControl)
            #expect(Array(new.attacks.prefix(old.attacks.count)) == old.attacks)
            #expect(Set(new.infectedDevices.map(\.family)) == Set(BotFamily.allCases))
            #expect(Set(new.attacks.map(\.kind)).isSuperset(of: [.icmpFlood, .synFlood]))
            // Services are the same; BitTorrent gains its bootstrap nodes and users.
            #expect(Array(new.decoys.prefix(old.decoys.count)).map(\.name) == old.decoys.map(\.name))
            #expect(
                new.decoys.filter { $0.name != "bittorrent" }.prefix(old.decoys.count - 1)
                    == old.decoys.filter { $0.name != "bittorrent" }[...])
        }
        // Same seed, same world with everything on.
        let (_, a) = try runAll(smallConfiguration(seed: 9))
        let (_, b) = try runAll(smallConfiguration(seed: 9))
        #expect(digest(a) == digest(b))
    }

    @Test func ircBotsHoldOneLongLivedConnection() throws {
        var c = smallConfiguration(seed: 11)
        c.durationMilliseconds = 1_800_000
        c.windowMilliseconds = 60_000 // a router's 60 s active timeout
        c.botnets.ircBots = 4
        c.botnets.cleanupFraction = 0
        let (sim, datagrams) = try runAll(c)
        let labels = sim.labels
        let records = decodeAll(datagrams)
        let servers = labels.commandAndControl.filter { $0.family == .ircLongLived }
        #expect(servers.map(\.port).sorted() == [6667, 6697, 7000] && servers.allSatisfy { $0.kind == "server" && $0.protocol == "tcp" })
        let bots = labels.infectedDevices.filter { $0.family == .ircLongLived }
        #expect(bots.count == 4)
        var checked = 0
        for bot in bots where bot.infectedAt < labels.start {
            let toServer = records.filter { r in
                Self.from(bot, r) && servers.contains { IPAddress($0.address) == r.destinationAddress && $0.port == r.destinationPort }
            }
            let byTuple = Dictionary(grouping: toServer) { "\($0.sourcePort)>\($0.destinationAddress):\($0.destinationPort)" }
            let main = try #require(byTuple.values.max { $0.count < $1.count })
            // One 5-tuple, a record in most active-timeout windows (a PING every 90–180 s), few packets each.
            let expected = Int(c.durationMilliseconds / (bot.contactPeriod + bot.contactJitter)) - 2
            #expect(main.count >= expected, "\(main.count) records of the bot's connection, expected ≥ \(expected)")
            #expect(main.allSatisfy { $0.packets <= 4 && $0.ipProtocol == 6 })
            #expect(byTuple.count <= 2, "\(byTuple.count) connections in 30 min")
            // Records with exactly one PING/PONG (72 bytes up) are at least a ping interval apart.
            let starts = main.filter { $0.bytes == 72 }.map(\.startMilliseconds).sorted()
            let gaps = zip(starts.dropFirst(), starts).map { $0 - $1 }
            #expect(
                gaps.allSatisfy { $0 >= bot.contactPeriod - 2 * bot.contactJitter }, "PING gaps \(gaps) for period \(bot.contactPeriod)")
            checked += 1
        }
        #expect(checked >= 2)
    }

    @Test func ircBotsReconnectFromANewPortAfterADrop() throws {
        var c = ISPModel.Configuration(seed: 3, subscribers: 40)
        c.durationMilliseconds = 12 * 3_600_000
        c.windowMilliseconds = 60_000
        c.useClassicBehavioursOnly()
        (c.botnets.miraiBots, c.botnets.beaconBots, c.botnets.dgaBots, c.botnets.peerToPeerBots) = (0, 0, 0, 0)
        c.botnets.outboundAttack = false
        c.botnets.inboundAttack = false
        c.botnets.ircBots = 4
        c.botnets.cleanupFraction = 0
        c.botnets.lateInfectionFraction = 0
        c.exporters = 1 // enough datagrams that templates are refreshed before the decoder forgets them
        let (sim, datagrams) = try runAll(c)
        let records = decodeAll(datagrams)
        let ircPorts: Set<UInt16> = [6667, 6697, 7000]
        var connections: [Int] = []
        for bot in sim.labels.infectedDevices {
            let flows = records.filter { Self.from(bot, $0) && ircPorts.contains($0.destinationPort) }
            let tuples = Dictionary(grouping: flows, by: \.sourcePort)
            connections.append(tuples.count)
            // Each connection is a long run of records; a new one opens with a SYN.
            for (_, run) in tuples where run.count > 1 {
                let first = run.min { $0.startMilliseconds < $1.startMilliseconds }!
                if first.startMilliseconds > sim.labels.start + bot.contactPeriod + 60_000 { #expect(first.tcpFlags & 0x02 != 0) }
            }
        }
        #expect(connections.contains { $0 >= 2 }, "no IRC bot reconnected in 12 h: \(connections)")
        #expect(connections.allSatisfy { $0 <= 6 }, "\(connections)")
    }

    @Test func slowScannerProbesAboutOneAddressASecond() throws {
        var c = smallConfiguration(seed: 5)
        c.botnets.slowScanBots = 3
        c.botnets.cleanupFraction = 0
        let (sim, datagrams) = try runAll(c)
        let labels = sim.labels
        let records = decodeAll(datagrams)
        let scanners = labels.infectedDevices.filter { $0.family == .hnsSlowScan }
        #expect(scanners.count == 3 && scanners.allSatisfy { $0.deviceKind == .camera || $0.deviceKind == .homeRouter })
        #expect(!labels.commandAndControl.contains { $0.family == .hnsSlowScan })
        var checked = 0
        for bot in scanners where bot.infectedAt < labels.start {
            let probes = records.filter { r in
                Self.from(bot, r) && r.ipProtocol == 6 && r.tcpFlags == 0x02 && r.packets == 1
                    && r.destinationAddress.ipv4.map { $0 >> 23 == 0xF080_0000 >> 23 } == true
            }
            let perSecond = Double(probes.count) / Double(labels.end - labels.start) * 1000
            #expect((0.7...1.3).contains(perSecond), "\(perSecond) probes/s")
            #expect(
                abs(perSecond - 1000 / Double(bot.contactPeriod)) < 0.12,
                "labelled interval \(bot.contactPeriod) ms, measured \(perSecond)/s")
            let ports = Set(probes.map(\.destinationPort))
            #expect(ports.count >= 3 && ports.isSubset(of: [23, 2323, 80, 81, 8080, 9527]), "\(ports)")
            #expect(Set(probes.map(\.destinationAddress)).count >= probes.count * 99 / 100)
            checked += 1
        }
        #expect(checked >= 1)
    }

    @Test func icmpFloodAndSingleHostSYNFlood() throws {
        let (sim, datagrams) = try runAll(smallConfiguration(seed: 8))
        let labels = sim.labels
        let records = decodeAll(datagrams)
        let icmp = try #require(labels.attacks.first { $0.kind == .icmpFlood })
        #expect(icmp.direction == "outbound" && icmp.participants.count == 3)
        #expect(Set(icmp.participants.map(\.subscriberId)).count == 3)
        let seconds = Double(icmp.until - icmp.from) / 1000
        for p in icmp.participants {
            let pps = try #require(p.packetsPerSecond)
            #expect((100...2000).contains(pps))
            let echo = records.filter { $0.destinationAddress == IPAddress(icmp.victimAddress) && $0.ipProtocol == 1 && Self.from(p, $0) }
            #expect(
                echo.allSatisfy { $0.destinationPort == 0x0800 && $0.startMilliseconds >= icmp.from && $0.endMilliseconds < icmp.until })
            let measured = Double(echo.reduce(0) { $0 + $1.packets }) / seconds
            #expect(abs(measured - pps) / pps < 0.06, "participant \(p.subscriberId): \(measured) pps, labelled \(pps)")
        }
        // The victim answers some of it (echo replies, type 0).
        #expect(records.contains { $0.sourceAddress == IPAddress(icmp.victimAddress) && $0.ipProtocol == 1 && $0.destinationPort == 0 })

        let syn = try #require(
            labels.attacks.first { $0.kind == .synFlood && $0.participants.count == 1 && $0.participants[0].packetsPerSecond != nil })
        let flooder = syn.participants[0]
        let floods = records.filter { $0.destinationAddress == IPAddress(syn.victimAddress) }
        #expect(
            floods.allSatisfy { Self.from(flooder, $0) && $0.tcpFlags == 0x02 && $0.packets == 1 && $0.destinationPort == syn.victimPort })
        #expect(!records.contains { $0.sourceAddress == IPAddress(syn.victimAddress) }, "the SYN flood is never answered")
        let rate = Double(floods.count) / (Double(syn.until - syn.from) / 1000)
        #expect((60...80).contains(rate), "\(rate) SYN/s")
        #expect(Set(floods.map(\.sourcePort)).count >= min(floods.count / 2, 900))
    }

    @Test func decoysOfRealTrafficAreLabelledAndInTheFlows() throws {
        var c = smallConfiguration(seed: 13)
        c.subscribers = 600
        c.startMilliseconds += 12 * 3_600_000 // 21:00 JST, peak hour
        let (sim, datagrams) = try runAll(c)
        let labels = sim.labels
        let records = decodeAll(datagrams)
        let decoys = Dictionary(uniqueKeysWithValues: labels.decoys.map { ($0.name, $0) })
        for name in [
            "ntp-public", "ssdp-multicast", "mdns-multicast", "console-presence", "console-keepalive", "console-p2p", "bittorrent",
        ] {
            #expect(decoys[name] != nil, "no decoy \(name)")
        }
        // SSDP NOTIFY every 120 s per household, from port 1900 (own address) to 239.255.255.250:1900.
        let ssdp = IPAddress("239.255.255.250")!
        let notify = Dictionary(grouping: records.filter { $0.destinationAddress == ssdp && $0.packets >= 6 }) {
            "\($0.sourceAddress):\($0.sourcePort)"
        }
        #expect(notify.count >= 60, "\(notify.count) households announce over SSDP")
        let notifyGaps = notify.values.flatMap { r in
            let t = r.map(\.startMilliseconds).sorted()
            return zip(t.dropFirst(), t).map { $0 - $1 }
        }
        #expect(!notifyGaps.isEmpty && notifyGaps.allSatisfy { (117_000...123_000).contains($0) })
        #expect(records.contains { $0.destinationAddress == ssdp && $0.packets == 3 }, "no M-SEARCH")
        #expect(records.contains { $0.destinationAddress == IPAddress("224.0.0.251") && $0.destinationPort == 5353 })
        #expect(records.contains { $0.destinationAddress == IPAddress("ff02::fb") && $0.sourcePort == 5353 })
        // Public NTP: many lines, each at a poll interval of 2^6–2^10 s.
        let ntp = Set(decoys["ntp-public"]!.addresses.compactMap { IPAddress($0) })
        let ntpFlows = records.filter { ntp.contains($0.destinationAddress) && $0.destinationPort == 123 }
        #expect(ntpFlows.allSatisfy { $0.packets == 1 && $0.bytes == 76 })
        #expect(Set(ntpFlows.map { "\($0.sourceAddress) \(($0.sourcePort &- 1024) / 1008)" }).count >= 150)
        // Consoles: a NAT keepalive every 60 s from one port; P2P play with several players in 245/8.
        let stun = Set(decoys["console-keepalive"]!.addresses.compactMap { IPAddress($0) })
        let keepalives = Dictionary(grouping: records.filter { stun.contains($0.destinationAddress) }) {
            "\($0.sourceAddress):\($0.sourcePort)"
        }
        #expect(keepalives.count >= 20)
        let keepaliveGaps = keepalives.values.flatMap { r in
            let t = r.map(\.startMilliseconds).sorted()
            return zip(t.dropFirst(), t).map { $0 - $1 }
        }
        #expect(keepaliveGaps.allSatisfy { (58_000...62_000).contains($0) })
        let play = Dictionary(grouping: records.filter { $0.destinationAddress.ipv4.map { $0 >> 24 == 245 } == true }) {
            "\($0.sourceAddress):\($0.sourcePort)"
        }
        #expect(play.count >= 2 && play.values.contains { Set($0.map(\.destinationAddress)).count >= 3 })
        #expect(decoys["console-p2p"]!.users!.count == keepalives.count)
        // BitTorrent as a swarm member: bootstrap nodes on 6881, inbound peers on the listening
        // port of lines with their own address, uTP bulk transfers, TCP tries on 6881.
        let bootstrap = Set(decoys["bittorrent"]!.addresses.compactMap { IPAddress($0) })
        #expect(bootstrap.count == 3)
        #expect(records.contains { bootstrap.contains($0.destinationAddress) && $0.destinationPort == 6881 && $0.ipProtocol == 17 })
        let torrent = records.filter {
            $0.sourceAddress.ipv4.map { $0 >> 24 == 243 } == true || $0.destinationAddress.ipv4.map { $0 >> 24 == 243 } == true
        }
        let users = decoys["bittorrent"]!.users!
        #expect(!users.isEmpty && users.count < c.subscribers / 10)
        let ownAddressUsers = Set(users.filter { $0.portBlock == nil }.compactMap { IPAddress($0.publicAddress) })
        let inbound = torrent.filter {
            $0.sourceAddress.ipv4.map { $0 >> 24 == 243 } == true && ownAddressUsers.contains($0.destinationAddress)
        }
        #expect(ownAddressUsers.isEmpty || inbound.contains { $0.ipProtocol == 6 && $0.tcpFlags & 0x02 != 0 })
        #expect(torrent.contains { $0.ipProtocol == 17 && $0.bytes > 100_000 }, "no uTP bulk transfer")
        #expect(torrent.contains { $0.ipProtocol == 6 && $0.destinationPort == 6881 })
        // Every torrenting line is a labelled user.
        #expect(
            torrent.allSatisfy { r in
                r.destinationAddress.ipv4.map { $0 >> 24 == 243 } != true
                    || users.contains { IPAddress($0.publicAddress) == r.sourceAddress && ($0.portBlock?.contains(r.sourcePort) ?? true) }
            })
    }
}
