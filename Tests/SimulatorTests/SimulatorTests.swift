import FlowCodec
import FlowFiles
import MamoriTesting
import Simulator
import Testing

/// A small world: 300 subscribers for 10 simulated minutes, beacon periods short enough that
/// every bot contacts its C&C within the run.
func smallConfiguration(seed: UInt64 = 42, sampling: UInt32 = 1, protocol: ExportProtocol = .ipfix) -> ISPModel.Configuration {
    var c = ISPModel.Configuration(seed: seed, subscribers: 300)
    c.durationMilliseconds = 600_000
    c.exportProtocol = `protocol`
    c.samplingInterval = sampling
    c.botnets.miraiBots = 6
    c.botnets.beaconBots = 4
    c.botnets.dgaBots = 3
    c.botnets.peerToPeerBots = 3
    c.botnets.beaconPeriodSeconds = 30...120
    c.botnets.dgaRotationSeconds = 180
    c.botnets.scansPerSecond = 0.5
    return c
}

func runAll(_ c: ISPModel.Configuration) throws -> (Simulation, [SimulatedDatagram]) {
    var sim = try Simulation(configuration: c)
    var all: [SimulatedDatagram] = []
    while let window = sim.nextWindow() { all += window }
    return (sim, all)
}

func digest(_ datagrams: [SimulatedDatagram]) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325 // FNV-1a over exporter, time and payload
    for d in datagrams {
        for b in d.exporter.bytes + withUnsafeBytes(of: d.timeMilliseconds.bigEndian, Array.init) + d.payload {
            h = (h ^ UInt64(b)) &* 0x100_0000_01B3
        }
    }
    return h
}

func decodeAll(_ datagrams: [SimulatedDatagram]) -> [FlowRecord] {
    var decoder = FlowDecoder()
    var records: [FlowRecord] = []
    for d in datagrams {
        let report = d.payload.withUnsafeBytes {
            decoder.decode($0, from: d.exporter, receivedAtMilliseconds: d.timeMilliseconds, into: &records)
        }
        #expect(report.error == nil)
        #expect(report.templateMisses == 0)
    }
    return records
}

@Suite(.heavyWork) struct SimulatorTests {
    @Test func sameSeedSameBytesDifferentSeedDifferentWorld() throws {
        let (_, a) = try runAll(smallConfiguration(seed: 7))
        let (_, b) = try runAll(smallConfiguration(seed: 7))
        let (_, c) = try runAll(smallConfiguration(seed: 8))
        #expect(!a.isEmpty)
        #expect(digest(a) == digest(b))
        #expect(digest(a) != digest(c))
        #expect(
            try Simulation(configuration: smallConfiguration(seed: 7)).labels
                == Simulation(configuration: smallConfiguration(seed: 7)).labels)
        #expect(
            try Simulation(configuration: smallConfiguration(seed: 7)).labels
                != Simulation(configuration: smallConfiguration(seed: 8)).labels)
    }

    @Test(arguments: [ExportProtocol.ipfix, .netflowV9])
    func labelsAgreeWithPackets(protocol: ExportProtocol) throws {
        let (sim, datagrams) = try runAll(smallConfiguration(protocol: `protocol`))
        let labels = sim.labels
        let records = decodeAll(datagrams)
        #expect(records.count == sim.statistics.exportedFlows)
        #expect(records.allSatisfy { $0.exportProtocol == `protocol` })

        struct Endpoint: Hashable {
            var address: IPAddress
            var port: UInt16
        }
        var endpoints: [Endpoint: [Labels.CommandAndControl]] = [:]
        for c in labels.commandAndControl { endpoints[Endpoint(address: IPAddress(c.address)!, port: c.port), default: []].append(c) }
        #expect(!endpoints.isEmpty)
        var contacted = Set<Int>()
        var contacts = 0
        for r in records {
            guard let ccs = endpoints[Endpoint(address: r.destinationAddress, port: r.destinationPort)] else { continue }
            contacts += 1
            // Every flow to a labelled C&C comes from a labelled infected device of that family,
            // infected at the time, from its public address and (behind CGNAT) its port block.
            let matching = labels.infectedDevices.indices.filter { i in
                let d = labels.infectedDevices[i]
                return ccs.contains {
                    $0.family == d.family && r.startMilliseconds >= $0.activeFrom && r.startMilliseconds < $0.activeUntil
                }
                    && IPAddress(d.publicAddress) == r.sourceAddress
                    && (d.portBlock?.contains(r.sourcePort) ?? true)
                    && r.startMilliseconds >= d.infectedAt && r.startMilliseconds < (d.cleanedAt ?? .max)
            }
            #expect(
                !matching.isEmpty,
                "flow to C&C \(r.destinationAddress):\(r.destinationPort) from \(r.sourceAddress):\(r.sourcePort) matches no infected device"
            )
            contacted.formUnion(matching)
        }
        #expect(contacts > 0)
        // Every device infected for long enough to contact its C&C in the window appears.
        for (i, d) in labels.infectedDevices.enumerated() where d.family.hasCommandAndControl {
            let from = max(d.infectedAt, labels.start)
            let until = min(d.cleanedAt ?? .max, labels.end)
            if until - from >= 2 * (d.contactPeriod + d.contactJitter) + 20_000 {
                #expect(contacted.contains(i), "infected device \(d.subscriberId)/\(d.deviceIndex) (\(d.family)) never contacted its C&C")
            }
        }
        // Nobody else: no benign source ever reaches a C&C (checked above per flow), and the C&C
        // ranges are never the source of anything but answers to bots.
        let ccAddresses = Set(endpoints.keys.map(\.address))
        #expect(
            records.filter { ccAddresses.contains($0.sourceAddress) }.allSatisfy { r in
                labels.infectedDevices.contains { IPAddress($0.publicAddress) == r.destinationAddress }
            })
    }

    @Test func decoysAreUsedByManySubscribers() throws {
        let (sim, datagrams) = try runAll(smallConfiguration())
        let records = decodeAll(datagrams)
        for decoy in sim.labels.decoys where decoy.periodic {
            let addresses = Set(decoy.addresses.compactMap { IPAddress($0) })
            // Clients are (address, CGNAT port block): 64 lines share a public address.
            let clients = Set(
                records.filter { addresses.contains($0.destinationAddress) && $0.destinationPort == decoy.port }.map {
                    "\($0.sourceAddress) \(($0.sourcePort &- 1024) / 1008)"
                })
            #expect(clients.count >= 10, "\(decoy.name) contacted from only \(clients.count) addresses")
        }
        // Outbound and inbound attacks are in the packets, in their windows.
        #expect(Set(sim.labels.attacks.map(\.direction)) == ["inbound", "outbound"])
        for attack in sim.labels.attacks {
            let victim = IPAddress(attack.victimAddress)!
            let hits = records.filter { $0.destinationAddress == victim }
            #expect(hits.count > 10)
            #expect(
                hits.allSatisfy { $0.startMilliseconds >= attack.from && $0.startMilliseconds < attack.until }
                    || attack.direction == "inbound")
            if attack.direction == "outbound" {
                // Flood traffic comes exactly from the labelled participants (address + port block).
                // ICMP has no ports: behind CGNAT only the address says who it is.
                #expect(
                    hits.allSatisfy { r in
                        attack.participants.contains {
                            IPAddress($0.publicAddress) == r.sourceAddress
                                && (r.ipProtocol == 1 || ($0.portBlock?.contains(r.sourcePort) ?? true))
                        }
                    })
            } else {
                let sources = Set(attack.sources.compactMap { IPAddress($0) })
                #expect(hits.filter { sources.contains($0.sourceAddress) }.count > 100)
            }
        }
    }

    @Test func infectionsSpreadByBruteForceAndCleanedBotsFallSilent() throws {
        var c = smallConfiguration(seed: 5)
        c.subscribers = 1_000
        c.botnets.miraiBots = 24
        c.botnets.lateInfectionFraction = 0.5
        c.botnets.cleanupFraction = 0.3
        let (sim, datagrams) = try runAll(c)
        let labels = sim.labels
        let records = decodeAll(datagrams)
        let mirai = labels.infectedDevices.filter { $0.family == .miraiLike }
        let spread = mirai.filter { $0.infectedBy != nil }
        #expect(spread.contains { $0.infectedBy?.subscriberId != nil }, "no infection chain inside the ISP")
        // The infected population grows: more Mirai-like bots active at 80 % of the run than at its start.
        func active(_ t: Int64) -> Int { mirai.filter { t >= $0.infectedAt && t < ($0.cleanedAt ?? .max) }.count }
        #expect(
            active(labels.start + (labels.end - labels.start) * 8 / 10) > active(labels.start),
            "\(active(labels.start)) → \(active(labels.start + (labels.end - labels.start) * 8 / 10))")
        for d in spread {
            // A telnet brute force from the infector's address to the device's own public address, 30 s before.
            let infector = d.infectedBy!
            let bruteForce = records.filter { r in
                r.destinationAddress == IPAddress(d.publicAddress) && r.destinationPort == 23
                    && r.sourceAddress == IPAddress(infector.address)
                    && r.startMilliseconds >= d.infectedAt - 31_000 && r.startMilliseconds < d.infectedAt
            }
            #expect(!bruteForce.isEmpty, "no brute force before the infection of \(d.subscriberId)/\(d.deviceIndex)")
            if let by = infector.subscriberId, let source = mirai.first(where: { $0.subscriberId == by }) {
                #expect(source.infectedAt < d.infectedAt && (source.cleanedAt ?? .max) > d.infectedAt - 30_000)
                #expect(bruteForce.allSatisfy { source.portBlock?.contains($0.sourcePort) ?? true })
            }
        }
        // Cleaned bots fall silent: no scan and no C&C contact from their address and port block after cleanedAt.
        let cleaned = labels.infectedDevices.filter { $0.cleanedAt != nil }
        #expect(cleaned.count >= 3)
        let ccAddresses = Set(labels.commandAndControl.compactMap { IPAddress($0.address) })
        for d in cleaned {
            let after = records.filter { r in
                r.sourceAddress == IPAddress(d.publicAddress) && (d.portBlock?.contains(r.sourcePort) ?? true)
                    && r.startMilliseconds >= d.cleanedAt!
                    && (ccAddresses.contains(r.destinationAddress)
                        || (d.family == .miraiLike && (r.destinationPort == 23 || r.destinationPort == 2323)))
            }
            // Another infected device of the same household may still talk; only count this family's.
            let others = labels.infectedDevices.filter {
                $0.subscriberId == d.subscriberId && $0.family == d.family && $0.deviceIndex != d.deviceIndex
            }
            if others.isEmpty {
                #expect(
                    after.isEmpty,
                    "\(d.family.rawValue) device \(d.subscriberId)/\(d.deviceIndex) still active after cleanedAt: \(after.first!)")
            }
        }
    }

    @Test func peerToPeerBotsGossipOnTheirPortWithManyPeers() throws {
        let (sim, datagrams) = try runAll(smallConfiguration())
        let labels = sim.labels
        let records = decodeAll(datagrams)
        let peers = labels.commandAndControl.filter { $0.family == .peerToPeer }
        #expect(peers.allSatisfy { $0.kind == "p2p-peer" } && Set(peers.map(\.protocol)) == ["udp", "tcp"])
        let port = peers[0].port
        let bots = labels.infectedDevices.filter { $0.family == .peerToPeer }
        #expect(!bots.isEmpty)
        for bot in bots where bot.cleanedAt == nil && bot.infectedAt < labels.start {
            let gossip = records.filter {
                $0.sourceAddress == IPAddress(bot.publicAddress) && $0.destinationPort == port
                    && (bot.portBlock?.contains($0.sourcePort) ?? true)
            }
            #expect(
                Set(gossip.map(\.destinationAddress)).count >= 5,
                "bot \(bot.subscriberId) gossips with \(Set(gossip.map(\.destinationAddress)).count) peers")
            #expect(Set(gossip.filter { $0.ipProtocol == 17 }.map(\.sourcePort)).count == 1, "one UDP port (NAT binding) per bot")
            #expect(gossip.contains { $0.ipProtocol == 6 })
        }
    }

    @Test func bitTorrentAndMessagingDecoys() throws {
        var c = smallConfiguration()
        c.subscribers = 600
        c.startMilliseconds += 12 * 3_600_000 // 21:00 JST, peak hour
        let (sim, datagrams) = try runAll(c)
        let records = decodeAll(datagrams)
        // BitTorrent: a minority of lines, each talking to many random peers in 243/8 on high ports.
        var linesByAddress: [IPAddress: [Subscriber]] = [:]
        for line in sim.model.subscribers { linesByAddress[line.publicAddress, default: []].append(line) }
        var peersByLine: [UInt32: Set<IPAddress>] = [:]
        for r in records where r.destinationAddress.ipv4.map({ $0 >> 24 == 243 }) ?? false {
            #expect(r.destinationPort >= 1024)
            let line = linesByAddress[r.sourceAddress]?.first { $0.portBlock?.contains(r.sourcePort) ?? true }
            peersByLine[line?.id ?? .max, default: []].insert(r.destinationAddress)
        }
        #expect(peersByLine[.max] == nil, "BitTorrent flows from no subscriber line")
        #expect(peersByLine.count >= 3 && peersByLine.count < c.subscribers / 10, "\(peersByLine.count) of \(c.subscribers) lines torrent")
        #expect(peersByLine.values.contains { $0.count > 100 }, "no PC reaches many DHT peers")
        // Messaging: long-lived connections with keepalives ~270 s apart on the same 5-tuple.
        let messaging = Set(ServiceCatalog.messaging.addresses)
        var starts: [String: [Int64]] = [:]
        for r in records where messaging.contains(r.destinationAddress) && r.packets == 1 {
            starts["\(r.sourceAddress):\(r.sourcePort)>\(r.destinationAddress)", default: []].append(r.startMilliseconds)
        }
        let gaps = starts.values.flatMap { s in zip(s.sorted().dropFirst(), s.sorted()).map { $0 - $1 } }
        #expect(gaps.count > 30)
        #expect(
            gaps.allSatisfy { (260_000...280_000).contains($0) },
            "keepalive gaps \(gaps.filter { !(260_000...280_000).contains($0) }.prefix(5))")
        #expect(sim.labels.decoys.contains { $0.name == "bittorrent" && $0.prefix == "243.0.0.0/8" })
    }

    @Test func samplingIsAnnouncedAndCountersScale() throws {
        var unsampledConfig = smallConfiguration()
        unsampledConfig.durationMilliseconds = 120_000
        var sampledConfig = unsampledConfig
        sampledConfig.samplingInterval = 10
        let (_, plain) = try runAll(unsampledConfig)
        let (sim, sampled) = try runAll(sampledConfig)
        let truth = decodeAll(plain)
        let scaled = decodeAll(sampled)
        #expect(scaled.allSatisfy { $0.samplingInterval == 10 })
        #expect(sim.statistics.exportedFlows < sim.statistics.generatedFlows)
        let truePackets = Double(truth.reduce(0) { $0 + $1.packets })
        let estimated = Double(scaled.reduce(0) { $0 + $1.packets })
        #expect(abs(estimated - truePackets) / truePackets < 0.05, "estimated \(estimated) vs true \(truePackets)")
        let trueBytes = Double(truth.reduce(0) { $0 + $1.bytes })
        let estimatedBytes = Double(scaled.reduce(0) { $0 + $1.bytes })
        #expect(abs(estimatedBytes - trueBytes) / trueBytes < 0.05)
    }

    @Test func cgnatAddressing() throws {
        let model = try ISPModel(configuration: .init(seed: 3, subscribers: 2000))
        let behind = model.subscribers.filter(\.isBehindCGNAT)
        #expect(behind.count > 1500)
        var seen = Set<String>()
        for s in behind {
            #expect(s.insideAddress.ipv4! >> 22 == 0x6440_0000 >> 22) // 100.64.0.0/10
            #expect(seen.insert("\(s.publicAddress) \(s.portBlock!.first)").inserted) // no block handed out twice
        }
        #expect(model.subscribers.contains { $0.hasIPv6 && $0.ipv6PrefixText!.hasPrefix("2001:db8:") })
    }

    @Test func pcapRoundTrip() throws {
        var c = smallConfiguration()
        c.durationMilliseconds = 30_000
        let (_, datagrams) = try runAll(c)
        var writer = PcapWriter()
        for (n, d) in datagrams.enumerated() {
            writer.append(
                CapturedDatagram(
                    timestampMicroseconds: d.timeMilliseconds * 1000 + Int64(n), sourceAddress: d.exporter, sourcePort: 49152,
                    destinationAddress: AddressPlan.collectorAddress, destinationPort: 4739, payload: d.payload))
        }
        let pcap = try PcapFile(bytes: writer.bytes)
        #expect(pcap.datagrams.map(\.payload) == datagrams.map(\.payload))
        #expect(pcap.datagrams.map(\.sourceAddress) == datagrams.map(\.exporter))
    }
}

@Suite struct SimulatedDurationTests {
    @Test func parsesCommandLineDurations() {
        #expect(SimulatedDuration.milliseconds(parsing: "90s") == 90_000)
        #expect(SimulatedDuration.milliseconds(parsing: "10m") == 600_000)
        #expect(SimulatedDuration.milliseconds(parsing: "1h30m") == 5_400_000)
        #expect(SimulatedDuration.milliseconds(parsing: "2d") == 172_800_000)
        #expect(SimulatedDuration.milliseconds(parsing: "45") == 45_000)
        for bad in ["", "0", "h", "10x", "1h30", "-5m", "0s"] {
            #expect(SimulatedDuration.milliseconds(parsing: bad) == nil, "\(bad)")
        }
    }
}
