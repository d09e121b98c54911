import FlowCodec
import MamoriCore

/// Unanswered TCP connection attempts (SYN without ACK) from one host in the current window.
struct ScanState: Sendable {
    var windowStart: Int64
    var window: Int64
    var lastSeen: Int64
    /// The first probe of the window.
    var firstProbe: Int64
    var destinations: [UInt16: DistinctCounter] = [:]
    var observed: [UInt16: Int] = [:]
    /// Answered connections (SYN and ACK) per port since the host's first probe of the window.
    var answered: [UInt16: Int] = [:]
    /// The host's most probed target in the current attack bucket, and its probes' packets.
    var floodBucket: Int64 = .min
    var floodTarget: IPAddress = .unspecifiedV4
    var floodPackets = 0.0
    var floodReported = false
    /// The last target the host was found flooding (kept across buckets: its SYNs are not contacts).
    var floodedTarget: IPAddress? = nil
    var samplingInterval: UInt32 = 1
    var samples: [FlowRecord] = []
}

/// Traffic to one external target in the current rate bucket.
struct TargetBucket: Sendable {
    var index: Int64
    var packets = 0.0
    var bytes = 0.0
    var perHost: [InternalHost: Double] = [:]
    /// The SYN-only part of `perHost`.
    var synPerHost: [InternalHost: Double] = [:]
    /// SYN-only packets as observed (before scaling by the sampling interval).
    var synObservedPerHost: [InternalHost: Double] = [:]
    /// ICMP packets per host (scaled) and as observed.
    var icmpPerHost: [InternalHost: Double] = [:]
    var icmpObservedPerHost: [InternalHost: Double] = [:]
    var samples: [FlowRecord] = []
}

/// Per-second inbound packet and byte counts for one subscriber address.
struct VictimRate: Sendable {
    static let slots = 8
    /// Second (ms / 1000) of the newest slot.
    var head: Int64
    var packets = [Float](repeating: 0, count: VictimRate.slots)
    var bytes = [Float](repeating: 0, count: VictimRate.slots)
    var flows = [Float](repeating: 0, count: VictimRate.slots)
    var baseline = 0.0
    var learnedSeconds = 0
    var lastSeen: Int64
    var sources: [IPAddress] = []
    var samples: [FlowRecord] = []
}

/// An inbound attack crossing a threshold, waiting to be reported.
/// One destination's low-rate packets in its latest second.
struct InboundTally: Sendable {
    var second: Int64
    var packets: Double = 0
    var flows: Double = 0
}

/// Attack-shaped traffic a shard saw, for the coordinator (``FlowAnalyzer/recordAttackTraffic(_:host:target:)``).
struct DeferredAttackTraffic: Sendable {
    var record: FlowRecord
    var host: InternalHost
    var target: IPAddress
    /// The record's place in the batch the shards were given.
    var sequence: Int
}

struct InboundAlert: Sendable {
    var onset: Int64
    var last: Int64
    var peakPackets: Double
    var peakBits: Double
    var baseline: Double
    var reason: String
    var sources: [IPAddress]
    var samples: [FlowRecord]
}

extension FlowAnalyzer {
    // MARK: Scanning

    /// `reportedAsAttack`: the record already went to ``recordAttackTraffic(_:host:target:)``.
    mutating func recordProbe(_ r: FlowRecord, host: InternalHost, target: IPAddress, port: UInt16, reportedAsAttack: Bool = false) {
        // Sampled exports see few probes: the window grows with the sampling interval (up to 6×)
        // so that enough distinct destinations can be observed.
        let window = configuration.scan.window * Int64(min(6, max(1, r.samplingInterval / 100)))
        let t = r.startMilliseconds
        let i =
            scans.index(forKey: host)
            ?? {
                scans[host] = ScanState(windowStart: t - floorMod(t, window), window: window, lastSeen: t, firstProbe: t)
                return scans.index(forKey: host)!
            }()
        scans.values[i].destinations[port, default: DistinctCounter(precision: 8, exactLimit: 32)].insert(
            mix64(target.high ^ mix64(target.low)))
        scans.values[i].observed[port, default: 0] += 1
        // Its most probed target in this attack bucket (one Misra–Gries counter): a SYN flood of a
        // few dozen connections a second from one host is one-packet records, none attack-shaped
        // on its own; summed by target they are.
        let bucket = floorDivideMs(t, configuration.outboundAttack.bucket)
        if scans.values[i].floodBucket != bucket {
            scans.values[i].floodBucket = bucket
            scans.values[i].floodTarget = target
            scans.values[i].floodPackets = 0
            scans.values[i].floodReported = false
        }
        // Packets as observed, not as scaled by sampling: one sampled probe is not a thousand SYNs
        // to one address (a sampled scan would look like floods of every target).
        let observed = Double(max(1, r.packets / UInt64(max(1, r.samplingInterval))))
        if scans.values[i].floodTarget == target {
            scans.values[i].floodPackets += observed
        } else if scans.values[i].floodPackets <= observed {
            scans.values[i].floodTarget = target
            scans.values[i].floodPackets = observed
            scans.values[i].floodReported = false
        } else {
            scans.values[i].floodPackets -= observed
        }
        let floodLimit = configuration.outboundAttack.synFloodHostPacketsPerSecond * Double(configuration.outboundAttack.bucket) / 1000
        if scans.values[i].floodTarget == target, scans.values[i].floodPackets >= floodLimit, !reportedAsAttack {
            var sum = r
            if !scans.values[i].floodReported {
                // The bucket's probes so far, once; each later one as it comes.
                sum.packets = UInt64(scans.values[i].floodPackets)
                sum.bytes = UInt64(
                    min(Double(FlowAnalyzer.maximumCounter), Double(r.bytes) / Double(max(1, r.packets)) * scans.values[i].floodPackets))
                scans.values[i].floodReported = true
                scans.values[i].floodedTarget = target
            }
            recordAttackTraffic(sum, host: host, target: target)
        }
        scans.values[i].samplingInterval = max(scans.values[i].samplingInterval, r.samplingInterval)
        scans.values[i].lastSeen = max(scans.values[i].lastSeen, t)
        if scans.values[i].samples.count < configuration.evidenceFlows { scans.values[i].samples.append(r) }
    }

    /// A connection to `port` that was answered (SYN and ACK seen) by a host already probing:
    /// scanners are rarely answered, peer-to-peer clients and browsers mostly are.
    mutating func recordAnsweredConnection(host: InternalHost, port: UInt16) {
        guard let i = scans.index(forKey: host) else { return }
        scans.values[i].answered[port, default: 0] += 1
    }

    /// Horizontal scanning: unanswered connection attempts from one host to many distinct
    /// addresses on the few ports it probes most (a Mirai-like bot: 23 and 2323; Hide'n'Seek:
    /// 23, 2323, 8080, 9527; the corpus's IoT bot: 23 and 81), counted over a window long enough
    /// (an hour) that one probe a second adds up within a minute. A port counts only while most
    /// of its attempts go unanswered: a peer-to-peer client's attempts on its swarm's ports are
    /// mostly answered, a scanner's are not.
    mutating func evaluateScans(into changed: inout [String], closeAll: Bool = false) {
        let c = configuration.scan
        for (host, s) in scans {
            var ports: [(port: UInt16, distinct: Int, observed: Int)] = []
            for (port, counter) in s.destinations {
                let distinct = counter.count
                let answered = s.answered[port] ?? 0
                guard distinct >= c.minimumObserved, Double(distinct) >= c.minimumUnansweredShare * Double(distinct + answered) else {
                    continue
                }
                ports.append((port, distinct, s.observed[port] ?? 0))
            }
            ports.sort { ($0.distinct, $1.port) > ($1.distinct, $0.port) }
            ports = Array(ports.prefix(c.portsPerScan))
            // One sampled probe to a new address stands for `interval` probes to as many
            // addresses; at least `minimumObserved` distinct addresses per port must really be
            // seen (a SYN flood at one target is not a scan, however it is scaled).
            let distinct = ports.reduce(0) { $0 + $1.distinct }
            let estimate = distinct * Int(s.samplingInterval)
            if !ports.isEmpty, estimate >= c.minimumDestinations {
                let subject = FindingSubject.host(host)
                let id = Finding.id(kind: .scanning, subject: subject)
                let portList = ports.map { "\($0.port)" }.joined(separator: ", ")
                var evidence = findings[id]?.evidence ?? Evidence()
                evidence.features =
                    [
                        Feature(.distinctDestinations, Double(estimate)), Feature(.observedDestinations, Double(distinct)),
                        Feature(.observedProbes, Double(ports.reduce(0) { $0 + $1.observed })),
                        Feature(.samplingInterval, Double(s.samplingInterval)), Feature(.window, Double(s.window / 1000), unit: "s"),
                    ] + ports.map { Feature(.destinations(port: $0.port), Double($0.distinct)) }
                evidence.thresholds = [
                    .atLeast("distinct_destinations", Double(estimate), Double(c.minimumDestinations)),
                    .atLeast("observed_destinations_per_port", Double(ports.map(\.distinct).min() ?? 0), Double(c.minimumObserved)),
                ]
                evidence.flows = s.samples.prefix(configuration.evidenceFlows).map { sample($0, revealing: host) }
                let span = max(1, s.lastSeen - s.firstProbe)
                evidence.reasons = [
                    "\(host) sent unanswered TCP SYNs to ~\(estimate) distinct addresses on port(s) \(portList) in \(formatSeconds(Double(span)))"
                        + " (\(ports.map { "\($0.port): \($0.distinct)" }.joined(separator: ", ")))",
                    "most attempts on these ports went unanswered (at most \(wholeNumber((1 - c.minimumUnansweredShare) * 100)) % answered): not a client of a service or a peer-to-peer swarm",
                ]
                let score = min(0.99, 0.7 + 0.3 * min(1, Double(estimate) / Double(10 * c.minimumDestinations)))
                upsert(
                    Finding(
                        id: id, kind: .scanning, subject: subject, score: score, firstSeen: s.firstProbe, lastSeen: s.lastSeen,
                        detectedAt: now, updatedAt: now, family: nil,
                        summary: "\(host) scans port(s) \(portList): ~\(estimate) addresses in \(formatSeconds(Double(span)))",
                        evidence: evidence), into: &changed)
                var d = devices[host] ?? DeviceEvidence(firstSeen: s.firstProbe, lastSeen: s.lastSeen)
                for p in ports {
                    d.noteScan(
                        id: id, port: p.port, destinations: p.distinct * Int(s.samplingInterval), first: s.firstProbe, last: s.lastSeen,
                        sample: s.samples.first)
                }
                devices[host] = d
            }
            if closeAll || now >= s.windowStart + s.window {
                scans[host] = nil
            }
        }
    }

    // MARK: Outbound attacks

    mutating func recordAttackTraffic(_ r: FlowRecord, host: InternalHost, target: IPAddress) {
        // A shard holds no target's buckets (their participants are anyone's hosts): the
        // traffic is handed to the coordinator, which adds it up in the order it came.
        if role == .shard {
            deferredAttackTraffic.append(DeferredAttackTraffic(record: r, host: host, target: target, sequence: sequence))
            return
        }
        let index = floorDivideMs(r.startMilliseconds, configuration.outboundAttack.bucket)
        if let current = targets[target], index > current.index {
            // A new bucket: judge the finished one first.
            var changed: [String] = []
            judgeAttack(target: target, bucket: current, into: &changed)
            pendingAttackChanges += changed
            targets[target] = nil
        }
        let i =
            targets.index(forKey: target)
            ?? {
                targets[target] = TargetBucket(index: index)
                return targets.index(forKey: target)!
            }()
        targets.values[i].packets += Double(r.packets)
        targets.values[i].bytes += Double(r.bytes)
        targets.values[i].perHost[host, default: 0] += Double(r.packets)
        if r.ipProtocol == 1 || r.ipProtocol == 58 {
            targets.values[i].icmpPerHost[host, default: 0] += Double(r.packets)
            targets.values[i].icmpObservedPerHost[host, default: 0] += Double(max(1, r.packets / UInt64(max(1, r.samplingInterval))))
        }
        if r.ipProtocol == 6 {
            targets.values[i].synPerHost[host, default: 0] += Double(r.packets)
            targets.values[i].synObservedPerHost[host, default: 0] += Double(max(1, r.packets / UInt64(max(1, r.samplingInterval))))
        }
        if targets.values[i].samples.count < configuration.evidenceFlows { targets.values[i].samples.append(r) }
    }

    mutating func evaluateOutboundAttacks(final: Bool, into changed: inout [String]) {
        changed += pendingAttackChanges
        pendingAttackChanges = []
        let current = floorDivideMs(now, configuration.outboundAttack.bucket)
        // Judged and removed in table order, after the walk (removing during it copied the table).
        var due: [(IPAddress, TargetBucket)] = []
        for (target, b) in targets where final || b.index < current - 1 { due.append((target, b)) }
        for (target, b) in due {
            judgeAttack(target: target, bucket: b, into: &changed)
            targets[target] = nil
        }
    }

    private mutating func judgeAttack(target: IPAddress, bucket b: TargetBucket, into changed: inout [String]) {
        let c = configuration.outboundAttack
        let seconds = Double(c.bucket) / 1000
        let pps = b.packets / seconds
        let bps = b.bytes * 8 / seconds
        // A SYN flooder sends ≥ 20 a second to the target — in SYNs really observed, so that one
        // sampled probe scaled by 1:1000 does not make one.
        // Likewise an ICMP flooder: ping sends one echo a second; a hundred a second to one
        // address for ten seconds is a flood, whatever the total.
        func floods(_ host: InternalHost) -> Bool {
            ((b.synPerHost[host] ?? 0) / seconds >= c.synFloodHostPacketsPerSecond
                && (b.synObservedPerHost[host] ?? 0) / seconds >= c.synFloodHostPacketsPerSecond)
                || ((b.icmpPerHost[host] ?? 0) / seconds >= c.icmpFloodHostPacketsPerSecond
                    && (b.icmpObservedPerHost[host] ?? 0) / seconds >= c.synFloodHostPacketsPerSecond)
        }
        let synFlooders = b.perHost.keys.filter(floods).count
        guard pps >= c.packetsPerSecond || bps >= c.bitsPerSecond || synFlooders > 0 else { return }
        let participants = b.perHost.filter { host, packets in
            packets / seconds >= c.participantPacketsPerSecond || floods(host)
        }.keys.sorted()
        guard !participants.isEmpty else { return }
        let subject = FindingSubject.address(target)
        let id = Finding.id(kind: .outboundDDoS, subject: subject)
        let from = b.index * c.bucket
        var evidence = findings[id]?.evidence ?? Evidence()
        let peak = max(pps, evidence.features.first { $0.name == .peakPacketsPerSecond }?.value ?? 0)
        let peakBits = max(bps, evidence.features.first { $0.name == .peakBitsPerSecond }?.value ?? 0)
        let known = Set(evidence.cohort)
        let names = participants.map { pseudonyms.pseudonym($0) }
        let cohort = (evidence.cohort + names.filter { !known.contains($0) })
        evidence.cohortSize = cohort.count
        evidence.cohort = Array(cohort.prefix(64))
        evidence.features = [
            Feature(.peakPacketsPerSecond, peak), Feature(.peakBitsPerSecond, peakBits),
            Feature(.participants, Double(cohort.count)),
        ]
        evidence.thresholds = [
            .atLeast("packets_per_second", pps, c.packetsPerSecond), .atLeast("bits_per_second", bps, c.bitsPerSecond),
            .atLeast("participant_packets_per_second", c.participantPacketsPerSecond, c.participantPacketsPerSecond),
            .atLeast("hosts_over_syn_or_icmp_flood_packets_per_second", Double(synFlooders), 1),
        ]
        if evidence.flows.isEmpty { evidence.flows = b.samples.map { sample($0, revealing: nil) } }
        evidence.reasons = [
            "\(cohort.count) subscriber host(s) sent up to \(wholeNumber(peak)) packets/s (\(fmt(peakBits / 1e6)) Mbit/s) of SYN-only, UDP or ICMP traffic to \(target)"
        ]
        upsert(
            Finding(
                id: id, kind: .outboundDDoS, subject: subject, score: min(0.99, 0.8 + 0.2 * min(1, pps / (10 * c.packetsPerSecond))),
                firstSeen: from, lastSeen: from + c.bucket, detectedAt: now, updatedAt: now, family: nil,
                summary: "Outbound DDoS against \(target): \(cohort.count) participant(s), peak \(wholeNumber(peak)) pps",
                evidence: evidence), into: &changed)
        for h in participants {
            // ICMP has no ports: behind a CGNAT address shared by many subscribers the flood's
            // device cannot be told from its neighbours, so no device is named (the attack finding
            // lists the address).
            if h.block == InternalHost.wholeAddress && configuration.network.sharing(h.address) > 1 { continue }
            noteDevice(
                h,
                .attack(
                    id: id, target: target, packetsPerSecond: (b.perHost[h] ?? 0) / seconds, first: from, last: from + c.bucket,
                    sample: b.samples.first { configuration.network.host($0.sourceAddress, port: $0.sourcePort) == h }))
        }
    }

    // MARK: Inbound attacks

    /// Adds a low-rate record's packets to its destination's count for the second it ended in;
    /// a destination reaching ``DetectionConfiguration/InboundAttack/tallyPacketsPerSecond`` in
    /// one second gets a rate window of its own (``recordInboundVolume(_:victim:)``), which then
    /// sees every record.
    mutating func tallyInbound(_ r: FlowRecord, victim: IPAddress) {
        let second = floorDivideMs(r.endMilliseconds, 1000)
        if second > inboundTallySecond { inboundTallySecond = second }
        let i =
            inboundTally.index(forKey: victim)
            ?? {
                guard inboundTally.count < configuration.maximumTableEntries else { return nil }
                inboundTally[victim] = InboundTally(second: second)
                return inboundTally.index(forKey: victim)
            }()
        guard let i else { return }
        // Each destination's own second: what other subscribers receive does not move it on,
        // so the tally is the same whichever shard of the subscriber base holds it.
        if second > inboundTally.values[i].second { inboundTally.values[i] = InboundTally(second: second) }
        inboundTally.values[i].packets += Double(r.packets)
        inboundTally.values[i].flows += 1
        let packets = inboundTally.values[i].packets
        guard packets >= configuration.inboundAttack.tallyPacketsPerSecond else { return }
        let flows = inboundTally.values[i].flows
        inboundTally.remove(at: i)
        // The second's packets so far, as one record ending now.
        var sum = r
        sum.startMilliseconds = second * 1000
        sum.endMilliseconds = max(sum.startMilliseconds, r.endMilliseconds)
        sum.bytes = UInt64(min(Double(FlowAnalyzer.maximumCounter), Double(r.bytes) / Double(max(1, r.packets)) * packets))
        sum.packets = UInt64(packets)
        recordInboundVolume(sum, victim: victim, flows: flows)
    }

    /// Drops the tallies of seconds before the latest one (at each evaluation).
    mutating func forgetPastTallies() {
        guard inboundTally.values.contains(where: { $0.second < inboundTallySecond }) else { return }
        inboundTally = inboundTally.filter { $0.value.second >= inboundTallySecond }
    }

    /// `flows`: the records `r` stands for (one, or a second's tally).
    mutating func recordInboundVolume(_ r: FlowRecord, victim: IPAddress, flows: Double = 1) {
        let c = configuration.inboundAttack
        let startSecond = floorDivideMs(r.startMilliseconds, 1000)
        let endSecond = max(startSecond, floorDivideMs(r.endMilliseconds, 1000))
        let span = Double(endSecond - startSecond + 1)
        let pps = Double(r.packets) / span
        // A CGNAT address carries the traffic of every subscriber sharing it: its limits scale
        // with the sharing; its learned baseline still catches floods against it.
        let share = Double(configuration.network.sharing(victim))
        var v = victims[victim] ?? VictimRate(head: endSecond, lastSeen: r.endMilliseconds)
        if endSecond > v.head {
            // Slots leaving the window teach the baseline (unless they were an attack).
            let shift = Int(min(Int64(VictimRate.slots), endSecond - v.head))
            for k in 0..<shift {
                let leaving = Double(v.packets[k])
                if leaving < c.baselineMinimumPacketsPerSecond * share && leaving < c.packetsPerSecond * share {
                    // A running mean at first, then exponential smoothing.
                    v.learnedSeconds += 1
                    v.baseline += max(c.baselineSmoothing, 1 / Double(v.learnedSeconds)) * (leaving - v.baseline)
                }
            }
            v.packets.removeFirst(shift)
            v.packets += [Float](repeating: 0, count: shift)
            v.bytes.removeFirst(shift)
            v.bytes += [Float](repeating: 0, count: shift)
            v.flows.removeFirst(shift)
            v.flows += [Float](repeating: 0, count: shift)
            v.head = endSecond
        }
        let oldest = v.head - Int64(VictimRate.slots) + 1
        guard endSecond >= oldest else {
            // Older than the rate window (a late export): too late to matter for the alarm.
            victims[victim] = v
            return
        }
        var touched: [Int] = []
        for second in max(startSecond, oldest)...endSecond {
            let i = Int(second - oldest)
            v.packets[i] += Float(pps)
            v.bytes[i] += Float(Double(r.bytes) / span)
            v.flows[i] += Float(flows / span)
            touched.append(i)
        }
        v.lastSeen = max(v.lastSeen, r.endMilliseconds)
        if v.sources.count < 64 && !v.sources.contains(r.sourceAddress) { v.sources.append(r.sourceAddress) }
        if v.samples.count < configuration.evidenceFlows { v.samples.append(r) }
        victims[victim] = v

        let packetLimit = c.packetsPerSecond * share
        let bitLimit = c.bitsPerSecond * share
        for i in touched {
            let packets = Double(v.packets[i])
            let bits = Double(v.bytes[i]) * 8
            var reason: String? = nil
            if packets >= packetLimit {
                reason =
                    "\(wholeNumber(packets)) packets/s ≥ \(wholeNumber(packetLimit))"
                    + (share > 1 ? " (\(wholeNumber(share)) subscribers share the address)" : "")
            } else if bits >= bitLimit {
                reason =
                    "\(fmt(bits / 1e6)) Mbit/s ≥ \(fmt(bitLimit / 1e6))"
                    + (share > 1 ? " (\(wholeNumber(share)) subscribers share the address)" : "")
            } else if packets >= c.distributedPacketsPerSecond * share, Double(v.flows[i]) >= c.distributedFlowsPerSecond * share {
                reason =
                    "\(wholeNumber(packets)) packets/s in \(wholeNumber(Double(v.flows[i]))) flows/s of unsolicited traffic (SYN-only, UDP or ICMP) ≥ \(wholeNumber(c.distributedPacketsPerSecond * share)) packets/s from ≥ \(wholeNumber(c.distributedFlowsPerSecond * share)) flows: a distributed flood"
            } else if v.learnedSeconds >= 60, packets >= c.baselineMinimumPacketsPerSecond * share,
                packets >= c.baselineFactor * max(1, v.baseline)
            {
                reason =
                    "\(wholeNumber(packets)) packets/s is \(wholeNumber(packets / max(1, v.baseline)))× the learned baseline \(fmt(v.baseline))"
            }
            guard let reason else { continue }
            let second = (oldest + Int64(i)) * 1000
            if var a = pendingInbound[victim] {
                a.onset = min(a.onset, second)
                a.last = max(a.last, second + 999)
                if packets > a.peakPackets {
                    a.peakPackets = packets
                    a.reason = reason
                }
                a.peakBits = max(a.peakBits, bits)
                a.sources = v.sources
                pendingInbound[victim] = a
            } else {
                pendingInbound[victim] = InboundAlert(
                    onset: second, last: second + 999, peakPackets: packets, peakBits: bits, baseline: v.baseline, reason: reason,
                    sources: v.sources, samples: v.samples)
            }
        }
    }

    mutating func flushInboundAlerts(into changed: inout [String]) {
        for (victim, a) in pendingInbound {
            let host = configuration.network.host(victim, port: 0)
            let subject = FindingSubject.host(InternalHost(address: host.address))
            let id = Finding.id(kind: .inboundDDoS, subject: subject)
            var evidence = findings[id]?.evidence ?? Evidence()
            let peak = max(a.peakPackets, evidence.features.first { $0.name == .peakPacketsPerSecond }?.value ?? 0)
            let peakBits = max(a.peakBits, evidence.features.first { $0.name == .peakBitsPerSecond }?.value ?? 0)
            let c = configuration.inboundAttack
            evidence.features = [
                Feature(.peakPacketsPerSecond, peak), Feature(.peakBitsPerSecond, peakBits),
                Feature(.baselinePacketsPerSecond, a.baseline), Feature(.sourcesSeen, Double(a.sources.count)),
            ]
            evidence.thresholds = [
                .atLeast("packets_per_second", peak, c.packetsPerSecond), .atLeast("bits_per_second", peakBits, c.bitsPerSecond),
                .atLeast("baseline_factor", peak / max(1, a.baseline), c.baselineFactor),
            ]
            if evidence.flows.isEmpty { evidence.flows = a.samples.map { sample($0, revealing: host) } }
            evidence.reasons = [
                "inbound traffic to \(victim): \(a.reason), from \(a.sources.count)\(a.sources.count >= 64 ? "+" : "") sources"
            ]
            upsert(
                Finding(
                    id: id, kind: .inboundDDoS, subject: subject, score: min(0.99, 0.8 + 0.2 * min(1, peak / (10 * c.packetsPerSecond))),
                    firstSeen: a.onset, lastSeen: a.last, detectedAt: now, updatedAt: now, family: nil,
                    summary: "Inbound DDoS against \(victim): peak \(wholeNumber(peak)) pps, \(fmt(peakBits / 1e6)) Mbit/s",
                    evidence: evidence), into: &changed)
        }
        pendingInbound = [:]
    }

    /// Forgets subscriber addresses that received nothing for ten minutes (their baseline with them).
    mutating func forgetQuietVictims() {
        let now = self.now
        victims.removeEntries { _, v in now - v.lastSeen > 600_000 }
    }
}

func floorDivideMs(_ a: Int64, _ b: Int64) -> Int64 {
    a >= 0 ? a / b : -((-a + b - 1) / b)
}

func floorMod(_ a: Int64, _ b: Int64) -> Int64 {
    a - floorDivideMs(a, b) * b
}
