import FlowCodec
import Lawful
import MamoriCore

@testable import Mitigation

/// Findings, engines and policies the mitigation tests share.
enum Fixture {
    static let t0: Int64 = 1_795_000_000_000
    static let minute: Int64 = 60_000

    /// Engine whose terms (in force since 2020) disclose BGP filtering: outbound floods and mass
    /// scans pass on the legitimate-business route.
    static let permissive = LegalBasisEngine(
        policy: LawfulPolicy(terms: [LawfulPolicy.Terms(version: "v1", effective: 0, discloses: [.mitigateAttack])]))
    /// No terms at all: an outbound filter has no ground.
    static let strict = LegalBasisEngine(policy: LawfulPolicy())

    static func policy(_ change: (inout MitigationPolicy) -> Void = { _ in }) -> MitigationPolicy {
        var p = MitigationPolicy()
        for t in MitigationTrigger.allCases {
            p.triggers[t] = MitigationPolicy.TriggerSettings(mode: .automatic, ttlMilliseconds: 10 * minute)
        }
        change(&p)
        return p
    }

    static func flow(
        from source: String, _ sourcePort: UInt16, to destination: String, _ destinationPort: UInt16, _ proto: String, packets: UInt64,
        bytes: UInt64
    ) -> FlowSample {
        FlowSample(
            start: t0, end: t0 + 1000, source: source, sourcePort: sourcePort, destination: destination, destinationPort: destinationPort,
            protocol: proto, tcpFlags: 0, packets: packets, bytes: bytes, samplingInterval: 1)
    }

    /// NTP monlist answers from three amplifiers: 468-byte UDP packets from port 123.
    static func ntpReflection(to victim: String) -> [FlowSample] {
        ["198.51.100.1", "198.51.100.2", "198.51.100.3"].map {
            flow(from: $0, 123, to: victim, 40_000, "udp", packets: 1000, bytes: 468_000)
        }
    }

    /// A SYN and UDP flood from random ports.
    static func plainFlood(to victim: String) -> [FlowSample] {
        (0..<5).map { i in
            flow(
                from: "198.51.100.\(i + 1)", UInt16(30_000 + i), to: victim, 80, i % 2 == 0 ? "tcp" : "udp", packets: 1000,
                bytes: 60_000)
        }
    }

    static func inbound(victim: String, flows: [FlowSample]) -> Finding {
        let subject = FindingSubject(type: .host, address: victim, port: nil, protocol: nil, ports: nil)
        var e = Evidence()
        e.features = [Feature(.peakPacketsPerSecond, 120_000), Feature(.peakBitsPerSecond, 900_000_000)]
        e.flows = flows
        return Finding(
            id: Finding.id(kind: .inboundDDoS, subject: subject), kind: .inboundDDoS, subject: subject, score: 0.9, firstSeen: t0,
            lastSeen: t0 + 10_000, detectedAt: t0, updatedAt: t0, family: nil, summary: "Inbound DDoS against \(victim)",
            evidence: e)
    }

    static func attributed(_ pseudonym: String?) -> FindingSubscriber? {
        pseudonym.map {
            FindingSubscriber(
                outcome: .attributed, pseudonym: $0, candidates: [], confidence: 1, source: "radius", reason: "test", at: [t0])
        }
    }

    /// An infected device flooding `target` at 50 kpps over UDP.
    static func device(host: String, target: String, subscriber: String? = "s:00000000000000aa") -> Finding {
        let subject = FindingSubject(type: .host, address: host, port: nil, protocol: nil, ports: nil)
        var e = Evidence()
        e.features = [Feature(.attackPacketsPerSecond, 50_000, unit: "packets/s", about: target)]
        e.flows = [flow(from: host, 5555, to: target, 53, "udp", packets: 5000, bytes: 300_000)]
        var f = Finding(
            id: Finding.id(kind: .infectedDevice, subject: subject), kind: .infectedDevice, subject: subject, score: 0.9, firstSeen: t0,
            lastSeen: t0 + 10_000, detectedAt: t0, updatedAt: t0, family: nil, summary: "Likely infected: \(host)", evidence: e)
        f.subscriber = attributed(subscriber)
        return f
    }

    /// A host behind CGNAT (ports 1024–2047) scanning port 23 at 500 destinations a minute.
    static func scan(host: String, subscriber: String? = "s:00000000000000bb") -> Finding {
        let subject = FindingSubject(
            type: .host, address: host, port: nil, protocol: nil, ports: FindingSubject.PortRange(first: 1024, last: 2047))
        var e = Evidence()
        e.features = [Feature(.distinctDestinations, 30_000), Feature(.destinations(port: 23), 30_000)]
        var f = Finding(
            id: Finding.id(kind: .scanning, subject: subject), kind: .scanning, subject: subject, score: 0.9, firstSeen: t0,
            lastSeen: t0 + 60 * minute, detectedAt: t0, updatedAt: t0, family: nil, summary: "\(host) scans port 23", evidence: e)
        f.subscriber = attributed(subscriber)
        return f
    }

    static func prefix(_ text: String) -> IPPrefix { IPPrefix(text)! }

    /// Plans the finding and submits every proposal.
    static func submit(
        _ finding: Finding, to book: inout MitigationBook, engine: LegalBasisEngine = permissive, now: Int64 = t0
    ) -> [MitigationEvent] {
        MitigationPlanner(policy: book.policy).plan(finding, now: now).flatMap {
            book.submit($0, engine: engine, consent: .none, now: now)
        }
    }
}

extension MitigationEvent {
    var isAnnounce: Bool { if case .announce = self { true } else { false } }
    var isWithdraw: Bool { if case .withdraw = self { true } else { false } }
    var isExtended: Bool { if case .extended = self { true } else { false } }
    var isPending: Bool { if case .pending = self { true } else { false } }
    var isDryRun: Bool { if case .dryRun = self { true } else { false } }
    var refusedRail: MitigationRail? { if case .refused(_, let rail, _, _) = self { rail } else { nil } }
    var withdrawReason: MitigationWithdrawReason? { if case .withdraw(_, let reason, _) = self { reason } else { nil } }
}
