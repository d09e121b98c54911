import FlowCodec
import Simulator

/// A flow as a collector reported it: what both Mamori's decoder and nfdump can say.
struct ObservedFlow: Hashable, CustomStringConvertible {
    var startMilliseconds: Int64
    var source: IPAddress
    var sourcePort: UInt16
    var destination: IPAddress
    var destinationPort: UInt16
    var ipProtocol: UInt8
    var packets: UInt64
    var bytes: UInt64

    /// ICMP's type and code are no ports: NetFlow v9 carries them in the destination port field,
    /// which nfdump reads as type.code from IPFIX but as 0 from v9. Both sides compare them as 0.
    init(
        startMilliseconds: Int64, source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16, ipProtocol: UInt8,
        packets: UInt64, bytes: UInt64
    ) {
        let icmp = ipProtocol == 1 || ipProtocol == 58
        self.startMilliseconds = startMilliseconds
        self.source = source
        self.sourcePort = icmp ? 0 : sourcePort
        self.destination = destination
        self.destinationPort = icmp ? 0 : destinationPort
        self.ipProtocol = ipProtocol
        self.packets = packets
        self.bytes = bytes
    }

    init(_ r: FlowRecord) {
        self.init(
            startMilliseconds: r.startMilliseconds, source: r.sourceAddress, sourcePort: r.sourcePort, destination: r.destinationAddress,
            destinationPort: r.destinationPort, ipProtocol: r.ipProtocol, packets: r.packets, bytes: r.bytes)
    }

    var description: String { "\(source):\(sourcePort) → \(destination):\(destinationPort)/\(ipProtocol) at \(startMilliseconds)" }
}

/// Checks the promise on what one collector saw: flows to every labelled C&C endpoint
/// come from exactly the labelled infected devices of its family that were infected at the time
/// (public address, plus a port in the device's CGNAT block), and from no one else; the C&C side
/// answers only them; outbound floods come exactly from the labelled participants; the reflection
/// attack's sources are exactly the labelled reflectors, inside the attack.
///
/// Returns one line per broken promise (empty when all hold).
func groundTruthViolations(_ flows: [ObservedFlow], labels: Labels) -> [String] {
    var problems: [String] = []
    func note(_ s: String) { if problems.count < 20 { problems.append(s) } }
    struct Endpoint: Hashable {
        var address: IPAddress
        var port: UInt16
        var ipProtocol: UInt8
    }
    var endpoints: [Endpoint: [Labels.CommandAndControl]] = [:]
    for c in labels.commandAndControl {
        endpoints[Endpoint(address: IPAddress(c.address)!, port: c.port, ipProtocol: c.protocol == "udp" ? 17 : 6), default: []].append(c)
    }
    let commandAndControlAddresses = Set(endpoints.keys.map(\.address))
    let devices = labels.infectedDevices

    /// The infected devices of `family` active at `t` that may have sent from `address`:`port`.
    func senders(_ address: IPAddress, _ port: UInt16, family: BotFamily, at t: Int64) -> [Int] {
        devices.indices.filter { i in
            let d = devices[i]
            guard d.family == family, t >= d.infectedAt, t < (d.cleanedAt ?? .max) else { return false }
            if let v6 = d.ipv6Address, IPAddress(v6) == address { return true }
            return IPAddress(d.publicAddress) == address && (d.portBlock?.contains(port) ?? true)
        }
    }

    var contacted: [BotFamily: Set<Int>] = [:]
    for f in flows {
        if commandAndControlAddresses.contains(f.destination) {
            guard let ccs = endpoints[Endpoint(address: f.destination, port: f.destinationPort, ipProtocol: f.ipProtocol)] else {
                note("flow to a C&C address on an unlabelled port or protocol: \(f)")
                continue
            }
            let live = ccs.filter { f.startMilliseconds >= $0.activeFrom && f.startMilliseconds < $0.activeUntil }
            guard let family = live.first?.family else {
                note("flow to C&C outside its active interval: \(f)")
                continue
            }
            let from = senders(f.source, f.sourcePort, family: family, at: f.startMilliseconds)
            if from.isEmpty { note("flow to \(family.rawValue) C&C from no labelled infected device: \(f)") }
            contacted[family, default: []].formUnion(from)
        } else if commandAndControlAddresses.contains(f.source) {
            let families = Set(labels.commandAndControl.filter { IPAddress($0.address) == f.source }.map(\.family))
            if !families.contains(where: { !senders(f.destination, f.destinationPort, family: $0, at: f.startMilliseconds).isEmpty }) {
                note("C&C \(f.source) answers someone who is not a labelled infected device: \(f)")
            }
        }
    }
    // Exactly: every device infected long enough to contact its C&C in the run did so.
    for (i, d) in devices.enumerated() where d.family.hasCommandAndControl {
        let from = max(d.infectedAt, labels.start)
        let until = min(d.cleanedAt ?? .max, labels.end)
        if until - from >= 2 * (d.contactPeriod + d.contactJitter) + 20_000, !(contacted[d.family]?.contains(i) ?? false) {
            note("infected device \(d.subscriberId)/\(d.deviceIndex) (\(d.family.rawValue)) never reached its C&C")
        }
    }
    for attack in labels.attacks {
        let victim = IPAddress(attack.victimAddress)!
        if attack.direction == "outbound" {
            let hits = flows.filter { $0.destination == victim }
            if hits.isEmpty { note("no flow of the outbound \(attack.kind.rawValue)") }
            var seen = Set<UInt32>()
            for f in hits {
                // ICMP has no ports: behind CGNAT only the address says who it is.
                let p = attack.participants.filter {
                    IPAddress($0.publicAddress) == f.source && (f.ipProtocol == 1 || ($0.portBlock?.contains(f.sourcePort) ?? true))
                }
                if p.isEmpty || f.startMilliseconds < attack.from || f.startMilliseconds >= attack.until {
                    note("flood flow not from a labelled participant in the attack: \(f)")
                }
                seen.formUnion(p.map(\.subscriberId))
            }
            if seen != Set(attack.participants.map(\.subscriberId)) {
                note("outbound attack: \(seen.count) of \(Set(attack.participants.map(\.subscriberId)).count) participating lines seen")
            }
        } else {
            let sources = Set(attack.sources.compactMap { IPAddress($0) })
            let hits = flows.filter { sources.contains($0.source) }
            if hits.contains(where: {
                $0.destination != victim || $0.startMilliseconds < attack.from || $0.startMilliseconds >= attack.until
            }) {
                note("a reflector sent outside the labelled attack")
            }
            if Set(hits.map(\.source)) != sources {
                note("inbound attack: \(Set(hits.map(\.source)).count) of \(sources.count) reflectors seen")
            }
        }
    }
    return problems
}
