import Detection
import FlowCodec
import Foundation
import MamoriCore
import Simulator

/// Precision, recall and time-to-detect of findings against a simulator's ground truth.
public struct LabelEvaluation: Sendable, Codable {
    /// Per finding kind.
    public var kinds: [KindResult]
    /// Benign decoy services reported as C&C (must be 0).
    public var decoysFlagged: [String]
    /// C&C endpoints with at least this many bots observed are the "large" ones of the target.
    public var largeBotnetThreshold: Int
    /// Per decoy kind (the decoy's `name` in the labels), everything reported about it: findings
    /// of any kind on its addresses or prefix (a C&C, a DDoS victim …), and findings about the
    /// lines of its listed users (BitTorrent, game consoles) that are not infected. Every row
    /// should be empty. Nil in evaluations written before it existed.
    public var decoyFalsePositives: [DecoyResult]?

    public struct DecoyResult: Sendable, Codable {
        /// The decoy's kind: its `name` in the labels.
        public var decoy: String
        /// `kind subject` of every finding about it.
        public var flagged: [String]
    }

    public struct KindResult: Sendable, Codable {
        public var kind: String
        public var truth: Int
        public var reported: Int
        public var truePositives: Int
        public var precision: Double?
        public var recall: Double?
        /// Seconds from onset (infection, attack start, or start of the run) to the first report.
        public var medianTimeToDetect: Double?
        public var maximumTimeToDetect: Double?
        public var missed: [String]
        public var falsePositives: [String]
    }

    /// The simulator's synthetic Internet (its AddressPlan): special-purpose space that plays the
    /// Internet there, 240.0.0.0/4, the IPv4 TEST-NETs and 3fff::/20.
    public static let simulatorInternet = ["240.0.0.0/4", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "3fff::/20"].map {
        IPPrefix($0)!
    }

    /// The detection layout the simulated ISP would configure.
    public static func networkLayout(_ labels: Labels) -> NetworkLayout? {
        guard let n = labels.network else { return nil }
        let pools = n.cgnatPools.flatMap { p in
            p.prefixes.compactMap(IPPrefix.init).map { CGNATPool(prefix: $0, firstPort: p.firstPort, portsPerBlock: p.portsPerBlock) }
        }
        return NetworkLayout(
            subscriberPrefixes: n.subscriberPrefixes.compactMap(IPPrefix.init),
            infrastructurePrefixes: n.infrastructurePrefixes.compactMap(IPPrefix.init), cgnatPools: pools,
            laboratoryInternet: simulatorInternet)
    }

    /// - Parameters:
    ///   - findings: the final state of every finding.
    ///   - c2Contacts: distinct internal hosts seen contacting each labelled C&C endpoint in the data
    ///     (the bots a detector could see), keyed by `Endpoint.description`.
    public init(labels: Labels, layout: NetworkLayout, findings: [Finding], c2Contacts: [String: Int], largeBotnetThreshold: Int = 10) {
        self.largeBotnetThreshold = largeBotnetThreshold
        func ofKind(_ k: FindingKind) -> [Finding] { findings.filter { $0.kind == k } }
        func seconds(_ ms: Int64) -> Double { Double(ms) / 1000 }

        // C&C servers.
        var c2Onset: [String: Int64] = [:]
        for c in labels.commandAndControl {
            guard let a = IPAddress(c.address) else { continue }
            let key = Endpoint(address: a, port: c.port, ipProtocol: c.protocol == "udp" ? 17 : 6).description
            c2Onset[key] = min(c2Onset[key] ?? .max, max(c.activeFrom, labels.start))
        }
        let c2Findings = ofKind(.commandAndControl)
        let reportedC2 = Dictionary(c2Findings.map { ($0.subject.description, $0) }, uniquingKeysWith: { a, _ in a })
        let large = c2Onset.keys.filter { (c2Contacts[$0] ?? 0) >= largeBotnetThreshold }
        let c2Hits = c2Findings.filter { c2Onset[$0.subject.description] != nil }
        var result: [KindResult] = []
        result.append(
            Self.result(
                kind: "c2-server (≥ \(largeBotnetThreshold) bots)", truth: Set(large), reported: Set(reportedC2.keys),
                precisionOver: Set(c2Onset.keys),
                detectedAt: { reportedC2[$0]?.detectedAt }, onset: { c2Onset[$0] ?? labels.start }))
        result.append(
            Self.result(
                kind: "c2-server (all)", truth: Set(c2Onset.keys.filter { (c2Contacts[$0] ?? 0) > 0 }), reported: Set(reportedC2.keys),
                precisionOver: Set(c2Onset.keys),
                detectedAt: { reportedC2[$0]?.detectedAt }, onset: { c2Onset[$0] ?? labels.start }))
        _ = c2Hits

        var decoyAddresses = Set<String>()
        var decoyPrefixes: [IPPrefix] = []
        for d in labels.decoys {
            decoyAddresses.formUnion(d.addresses)
            for p in (d.prefix ?? "").split(separator: ",") {
                if let x = IPPrefix(p.trimmingCharacters(in: .whitespaces)) { decoyPrefixes.append(x) }
            }
        }
        decoysFlagged = c2Findings.filter { f in
            decoyAddresses.contains(f.subject.address)
                || IPAddress(f.subject.address).map { a in decoyPrefixes.contains { $0.contains(a) } } == true
        }.map(\.subject.description).sorted()

        // Infected devices (IPv4 bots, as the simulator's bots use IPv4).
        func hostKey(_ publicAddress: String, _ block: PortBlock?) -> String? {
            guard let a = IPAddress(publicAddress) else { return nil }
            return FindingSubject.host(layout.host(a, port: block?.first ?? 0)).description
        }
        var infectedOnset: [String: Int64] = [:]
        var scannerOnset: [String: Int64] = [:]
        // Bots active long enough for 8 contacts with their C&C, or that scan or attack: the ones
        // flow analysis can be expected to see (a separate row; the full row above counts all).
        var observable = Set<String>()
        let attackers = Set(labels.attacks.flatMap { a in a.participants.compactMap { hostKey($0.publicAddress, $0.portBlock) } })
        for d in labels.infectedDevices where d.infectedAt < labels.end && (d.cleanedAt ?? .max) > labels.start {
            guard let k = hostKey(d.publicAddress, d.portBlock) else { continue }
            let onset = max(d.infectedAt, labels.start)
            infectedOnset[k] = min(infectedOnset[k] ?? .max, onset)
            if d.family.scans { scannerOnset[k] = min(scannerOnset[k] ?? .max, onset) }
            let active = min(labels.end, d.cleanedAt ?? labels.end) - onset
            if d.family.scans || attackers.contains(k) || active >= 8 * max(1, d.contactPeriod) { observable.insert(k) }
        }
        let devices = Dictionary(ofKind(.infectedDevice).map { ($0.subject.description, $0) }, uniquingKeysWith: { a, _ in a })
        result.append(
            Self.result(
                kind: "infected-device", truth: Set(infectedOnset.keys), reported: Set(devices.keys),
                precisionOver: Set(infectedOnset.keys),
                detectedAt: { devices[$0]?.detectedAt }, onset: { infectedOnset[$0] ?? labels.start }))
        result.append(
            Self.result(
                kind: "infected-device (observable)", truth: observable, reported: Set(devices.keys),
                precisionOver: Set(infectedOnset.keys),
                detectedAt: { devices[$0]?.detectedAt }, onset: { infectedOnset[$0] ?? labels.start }))
        let scanners = Dictionary(ofKind(.scanning).map { ($0.subject.description, $0) }, uniquingKeysWith: { a, _ in a })
        result.append(
            Self.result(
                kind: "scanning", truth: Set(scannerOnset.keys), reported: Set(scanners.keys), precisionOver: Set(infectedOnset.keys),
                detectedAt: { scanners[$0]?.detectedAt }, onset: { scannerOnset[$0] ?? labels.start }))

        // Attacks.
        var outOnset: [String: Int64] = [:]
        var inOnset: [String: Int64] = [:]
        for a in labels.attacks {
            if a.direction == "outbound" {
                outOnset[a.victimAddress] = a.from
            } else {
                guard let v = IPAddress(a.victimAddress) else { continue }
                inOnset[FindingSubject.host(InternalHost(address: layout.host(v, port: 0).address)).description] = a.from
            }
        }
        let outbound = Dictionary(ofKind(.outboundDDoS).map { ($0.subject.address, $0) }, uniquingKeysWith: { a, _ in a })
        result.append(
            Self.result(
                kind: "outbound-ddos", truth: Set(outOnset.keys), reported: Set(outbound.keys), precisionOver: Set(outOnset.keys),
                detectedAt: { outbound[$0]?.detectedAt }, onset: { outOnset[$0] ?? labels.start }))
        let inbound = Dictionary(ofKind(.inboundDDoS).map { ($0.subject.description, $0) }, uniquingKeysWith: { a, _ in a })
        result.append(
            Self.result(
                kind: "inbound-ddos", truth: Set(inOnset.keys), reported: Set(inbound.keys), precisionOver: Set(inOnset.keys),
                detectedAt: { inbound[$0]?.detectedAt }, onset: { inOnset[$0] ?? labels.start }))
        kinds = result

        // Per decoy kind.
        var perDecoy: [DecoyResult] = []
        for d in labels.decoys {
            let addresses = Set(d.addresses.compactMap(IPAddress.init))
            let prefixes = (d.prefix ?? "").split(separator: ",").compactMap { IPPrefix($0.trimmingCharacters(in: .whitespaces)) }
            let users = Set((d.users ?? []).compactMap { hostKey($0.publicAddress, $0.portBlock) }).subtracting(infectedOnset.keys)
                .subtracting(inOnset.keys)
            let flagged = findings.filter { f in
                if f.subject.type == .host { return users.contains(f.subject.description) }
                guard let a = IPAddress(f.subject.address) else { return false }
                return addresses.contains(a) || prefixes.contains { $0.contains(a) }
            }.map { "\($0.kind.rawValue) \($0.subject.description)" }
            perDecoy.append(DecoyResult(decoy: d.name, flagged: Array(Set(flagged)).sorted()))
        }
        decoyFalsePositives = perDecoy
    }

    /// - Parameter precisionOver: reports counted as correct (a superset of `truth`: a C&C with few
    ///   bots is still a C&C; a cleaned device was still infected).
    static func result(
        kind: String, truth: Set<String>, reported: Set<String>, precisionOver correct: Set<String>,
        detectedAt: (String) -> Int64?, onset: (String) -> Int64
    ) -> KindResult {
        let hits = truth.intersection(reported)
        let correctReports = reported.intersection(correct.union(truth))
        var delays: [Double] = []
        for k in hits { if let t = detectedAt(k) { delays.append(max(0, Double(t - onset(k)) / 1000)) } }
        delays.sort()
        return KindResult(
            kind: kind, truth: truth.count, reported: reported.count, truePositives: hits.count,
            precision: reported.isEmpty ? nil : Double(correctReports.count) / Double(reported.count),
            recall: truth.isEmpty ? nil : Double(hits.count) / Double(truth.count),
            medianTimeToDetect: delays.isEmpty ? nil : delays[delays.count / 2], maximumTimeToDetect: delays.last,
            missed: truth.subtracting(reported).sorted(), falsePositives: reported.subtracting(correct.union(truth)).sorted())
    }

    /// A readable table.
    public var table: String {
        func f(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "-" }
        var s = "kind                        truth  reported  TP   precision  recall  ttd-median  ttd-max\n"
        for k in kinds {
            s += k.kind.padding(toLength: 28, withPad: " ", startingAt: 0)
            s += String(k.truth).leftPadded(5) + String(k.reported).leftPadded(10) + String(k.truePositives).leftPadded(4)
            s += "  " + f(k.precision).leftPadded(10) + "  " + f(k.recall).leftPadded(6)
            s +=
                (k.medianTimeToDetect.map { "\(Int($0)) s" } ?? "-").leftPadded(12)
                + (k.maximumTimeToDetect.map { "\(Int($0)) s" } ?? "-").leftPadded(9) + "\n"
        }
        s +=
            "benign decoys flagged as C&C: \(decoysFlagged.count)"
            + (decoysFlagged.isEmpty ? "" : " (\(decoysFlagged.joined(separator: ", ")))")
        if let decoyFalsePositives {
            s += "\ndecoy kind                  flagged  examples\n"
            for d in decoyFalsePositives {
                s += d.decoy.padding(toLength: 28, withPad: " ", startingAt: 0) + String(d.flagged.count).leftPadded(7)
                s +=
                    d.flagged.isEmpty
                    ? "\n" : "  " + d.flagged.prefix(3).joined(separator: ", ") + (d.flagged.count > 3 ? ", …" : "") + "\n"
            }
            s.removeLast()
        }
        return s
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
