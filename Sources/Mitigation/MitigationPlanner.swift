import FlowCodec
import Lawful
import MamoriCore

/// A rule the planner proposes for a finding, with what the legal-basis engine needs to decide it.
public struct MitigationProposal: Sendable, Hashable {
    public var rule: MitigationRule
    public var trigger: MitigationTrigger
    public var direction: AttackMitigation.Direction
    /// The subscriber whose traffic an outbound filter touches (the finding's attribution), if known.
    public var subscriber: String?
    /// The attack as measured, for the engine.
    public var evidence: InfectionEvidence

    public init(
        rule: MitigationRule, trigger: MitigationTrigger, direction: AttackMitigation.Direction, subscriber: String?,
        evidence: InfectionEvidence
    ) {
        self.rule = rule
        self.trigger = trigger
        self.direction = direction
        self.subscriber = subscriber
        self.evidence = evidence
    }

    /// The question for ``LegalBasisEngine``, given the subscriber's consent state.
    public func request(consent: ConsentState) -> ActionRequest {
        .mitigateAttack(
            subscriber: direction == .outboundFromSubscriber ? subscriber : nil, consent: consent,
            mitigation: AttackMitigation(direction: direction, rule: rule.summary, evidence: evidence))
    }
}

/// Findings → proposed rules. Pure: the finding and the time in, proposals out.
///
/// - Inbound DDoS on a subscriber address: FlowSpec on the victim, UDP, the amplifier's source
///   port (and packet length when evident) when the flood has a reflection signature — the
///   victim stays reachable — otherwise RTBH of the victim's host route.
/// - An infected device's floods (its `attack_packets_per_second` features): FlowSpec from the
///   device to each target, with the protocol when the sampled flows agree on one.
/// - Scanning: FlowSpec from the device (its CGNAT port block when known) on TCP to the scanned ports.
///
/// Outbound-DDoS findings are about the external target and name the participants only by
/// pseudonym: the devices' own infected-device findings carry the addresses, so they are planned there.
public struct MitigationPlanner: Sendable {
    public var policy: MitigationPolicy

    public init(policy: MitigationPolicy) {
        self.policy = policy
    }

    public func plan(_ finding: Finding, now: Int64) -> [MitigationProposal] {
        switch finding.kind {
        case .inboundDDoS: inbound(finding, now: now)
        case .infectedDevice: outboundAttacks(finding, now: now)
        case .scanning: scan(finding, now: now)
        case .commandAndControl, .knownIndicator, .outboundDDoS: []
        }
    }

    /// The reflection signature of a flood: the amplifier port, and the packet length range when evident.
    public func reflection(_ flows: [FlowSample]) -> (port: UInt16, service: String, length: ValueRange?)? {
        let udp = flows.filter { $0.protocol == "udp" }
        let total = flows.reduce(0.0) { $0 + Double(max(1, $1.packets)) }
        guard !udp.isEmpty, total > 0 else { return nil }
        var perPort: [UInt16: Double] = [:]
        for f in udp { perPort[f.sourcePort, default: 0] += Double(max(1, f.packets)) }
        guard let top = perPort.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }),
            let service = policy.reflectionPorts[top.key], top.value / total >= policy.reflectionMinimumShare
        else { return nil }
        let port = top.key
        let lengths = udp.filter { $0.sourcePort == port && $0.packets > 0 }.map { Double($0.bytes) / Double($0.packets) }
        var length: ValueRange? = nil
        if policy.reflectionMinimumPacketLength > 0, let low = lengths.min(), let high = lengths.max(),
            low >= Double(policy.reflectionMinimumPacketLength)
        {
            length = ValueRange(UInt16(min(65_535, (low * 0.9).rounded(.down))), UInt16(min(65_535, (high * 1.1).rounded(.up))))
        }
        return (port, service, length)
    }

    // MARK: Inbound

    private func inbound(_ f: Finding, now: Int64) -> [MitigationProposal] {
        guard let victim = victimAddress(f) else { return [] }
        let host = IPPrefix(address: victim, length: victim.isIPv6 ? 128 : 32)!
        let pps = feature(.peakPacketsPerSecond, in: f)
        let bps = feature(.peakBitsPerSecond, in: f)
        if let r = reflection(f.evidence.flows) {
            let s = policy.settings(.inboundReflection)
            guard s.mode != .off else { return [] }
            let match = FlowSpecMatch(
                destination: host, protocols: [17], sourcePorts: [ValueRange(r.port)], packetLength: r.length)
            let rule = MitigationRule(
                kind: .flowSpec, match: match, action: s.action, trigger: .inboundReflection, findingID: f.id,
                reason: "\(r.service) reflection flood against \(victim) (UDP from port \(r.port)): \(f.summary)",
                createdAt: now, expiresAt: now + s.ttlMilliseconds, origin: .finding(id: f.id))
            let evidence = InfectionEvidence(
                from: f.firstSeen, to: f.lastSeen, attackPacketsPerSecond: pps, attackBitsPerSecond: bps,
                attackKind: "\(r.service) reflection flood")
            return [
                MitigationProposal(
                    rule: rule, trigger: .inboundReflection, direction: .inboundToVictim, subscriber: nil, evidence: evidence)
            ]
        }
        let s = policy.settings(.inboundFlood)
        guard s.mode != .off else { return [] }
        let rule = MitigationRule(
            kind: .blackhole, match: FlowSpecMatch(destination: host), trigger: .inboundFlood, findingID: f.id,
            reason: "flood against \(victim) with no reflection signature: \(f.summary)", createdAt: now,
            expiresAt: now + s.ttlMilliseconds, origin: .finding(id: f.id))
        let evidence = InfectionEvidence(
            from: f.firstSeen, to: f.lastSeen, attackPacketsPerSecond: pps, attackBitsPerSecond: bps, attackKind: "flood")
        return [MitigationProposal(rule: rule, trigger: .inboundFlood, direction: .inboundToVictim, subscriber: nil, evidence: evidence)]
    }

    /// The victim's own address: the subject when it is one address, else the most frequent
    /// sampled destination inside the subject's prefix (an IPv6 subscriber's /64).
    private func victimAddress(_ f: Finding) -> IPAddress? {
        guard let subject = IPPrefix(f.subject.address) else { return nil }
        if subject.length == (subject.isIPv4 ? 32 : 128) { return subject.network }
        var counts: [IPAddress: Int] = [:]
        for flow in f.evidence.flows {
            if let a = IPAddress(flow.destination), subject.contains(a) { counts[a, default: 0] += 1 }
        }
        return counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
    }

    // MARK: Outbound

    private func outboundAttacks(_ f: Finding, now: Int64) -> [MitigationProposal] {
        let s = policy.settings(.outboundAttack)
        guard s.mode != .off, let source = IPPrefix(f.subject.address) else { return [] }
        var out: [MitigationProposal] = []
        for feature in f.evidence.features where feature.name == .attackPacketsPerSecond {
            guard let about = feature.about, let target = IPAddress(about) else { continue }
            let toTarget = f.evidence.flows.filter { $0.destination == about }
            let protocols = Set(toTarget.compactMap { Self.protocolNumber($0.protocol) })
            let match = FlowSpecMatch(
                destination: IPPrefix(address: target, length: target.isIPv6 ? 128 : 32), source: source,
                protocols: protocols.count == 1 ? Array(protocols) : [], sourcePorts: sourcePorts(f))
            let rule = MitigationRule(
                kind: .flowSpec, match: match, action: s.action, trigger: .outboundAttack, findingID: f.id,
                reason: "\(f.subject) floods \(target) at \(Int(feature.value)) packets/s", createdAt: now,
                expiresAt: now + s.ttlMilliseconds, origin: .finding(id: f.id))
            let evidence = InfectionEvidence(
                from: f.firstSeen, to: f.lastSeen, attackPacketsPerSecond: feature.value, attackKind: "flood against \(target)")
            out.append(
                MitigationProposal(
                    rule: rule, trigger: .outboundAttack, direction: .outboundFromSubscriber, subscriber: f.subscriber?.pseudonym,
                    evidence: evidence))
        }
        return out
    }

    private func scan(_ f: Finding, now: Int64) -> [MitigationProposal] {
        let s = policy.settings(.scanning)
        guard s.mode != .off, let source = IPPrefix(f.subject.address) else { return [] }
        let prefix = "destinations_port_"
        let ports = f.evidence.features.compactMap { feature -> UInt16? in
            feature.name.rawValue.hasPrefix(prefix) ? UInt16(feature.name.rawValue.dropFirst(prefix.count)) : nil
        }
        let match = FlowSpecMatch(
            source: source, protocols: [6], destinationPorts: ports.map { ValueRange($0) }, sourcePorts: sourcePorts(f))
        let distinct = feature(.distinctDestinations, in: f) ?? 0
        let minutes = max(1, Double(f.lastSeen - f.firstSeen) / 60_000)
        let rule = MitigationRule(
            kind: .flowSpec, match: match, action: s.action, trigger: .scanning, findingID: f.id,
            reason: "\(f.subject) scans port(s) \(ports.map(String.init).joined(separator: ", ")): \(f.summary)", createdAt: now,
            expiresAt: now + s.ttlMilliseconds, origin: .finding(id: f.id))
        let evidence = InfectionEvidence(
            from: f.firstSeen, to: f.lastSeen, scanDestinationsPerMinute: distinct / minutes, scanPort: ports.first)
        return [
            MitigationProposal(
                rule: rule, trigger: .scanning, direction: .outboundFromSubscriber, subscriber: f.subscriber?.pseudonym, evidence: evidence)
        ]
    }

    /// A CGNAT subscriber's port block: the filter must not touch the neighbours sharing the address.
    private func sourcePorts(_ f: Finding) -> [ValueRange] {
        f.subject.ports.map { [ValueRange($0.first, $0.last)] } ?? []
    }

    private func feature(_ name: FeatureName, in f: Finding) -> Double? {
        f.evidence.features.first { $0.name == name }?.value
    }

    static func protocolNumber(_ name: String) -> UInt8? {
        switch name {
        case "tcp": 6
        case "udp": 17
        case "icmp": 1
        case "icmpv6": 58
        default: UInt8(name)
        }
    }
}
