import DNSWire
import FlowCodec
import RPZ
import Server

extension FuzzTarget {
    /// The responder the `zone-transfer` target asks: the sinkhole zone and the exemption zone
    /// with a few entries and one journal step, a TSIG secondary (127.0.0.1, ``dnsKey``) and an
    /// unsigned one (127.0.0.2).
    static let transferResponder: ZoneTransferResponder = {
        let apex = try! DNSName("rpz.mamori.")
        let exempt = try! DNSName("exempt.rpz.mamori.")
        let sinkhole = try! DNSName("sinkhole.mamori.example.")
        var policy = SinkholePolicy(configuration: .init(zoneApex: apex, exemptionApex: exempt, sinkholeName: sinkhole))
        let zones = RPZZoneConfiguration(
            apex: apex, exemptionApex: exempt, sinkholeName: sinkhole, primaryName: try! DNSName("ns.mamori.example."),
            responsibleName: try! DNSName("hostmaster.mamori.example."))
        var publication = RPZPublication(policy: policy, configuration: zones, initialSerial: DNSSerial(1000))
        for name in ["cc.example.", "c2.evil.example.", "update.botnet.example."] {
            _ = policy.add(
                SinkholeEntry(
                    trigger: .name(try! DNSName(name)), source: .analyst(operator: "fuzz"), reason: "seed", addedAt: 0, expiresAt: nil),
                now: 0)
        }
        _ = policy.add(
            SinkholeEntry(
                trigger: .address(IPPrefix("203.0.113.7/32")!), source: .finding(id: "c2"), reason: "seed", addedAt: 0, expiresAt: nil),
            now: 0)
        _ = policy.setExemption(pseudonym: "s:1", addresses: [IPAddress("100.64.0.9")!])
        publication.publish(policy)
        return ZoneTransferResponder(
            zones: publication.zones,
            secondaries: [
                SecondaryPolicy(prefix: IPPrefix("127.0.0.1/32")!, tsigKey: dnsKey),
                SecondaryPolicy(prefix: IPPrefix("127.0.0.2/32")!, tsigKey: nil),
            ])
    }()

    /// The first byte picks the client (low two bits: the signed secondary, the unsigned one, an
    /// unlisted address) and the transport (bit 2: UDP); the rest is one request message, given
    /// to the zone transfer responder. Every answer message must parse and fit its transport; an
    /// unlisted client never gets records; a sinkhole trigger typed by an operator (the same bytes
    /// as text) parses or is refused without a trap.
    static func zoneTransfer(_ bytes: UnsafeRawBufferPointer) {
        guard let first = bytes.first else { return }
        let request = Array(bytes.dropFirst())
        let clients = [IPAddress("127.0.0.1")!, IPAddress("127.0.0.2")!, IPAddress("192.0.2.99")!, IPAddress("::1")!]
        let client = clients[Int(first & 3)]
        let overTCP = first & 4 == 0
        let outcome = transferResponder.respond(to: request, from: client, now: Self.now / 1000, overTCP: overTCP)
        precondition(outcome.messages.count <= 10_000, "a bounded number of messages")
        for m in outcome.messages {
            precondition(m.count <= (overTCP ? 65_535 : 512) || outcome.kind == .soa, "an answer fits its transport")
            precondition((try? DNSMessage.parse(m)) != nil, "every answer message parses")
        }
        if client == clients[2] || client == clients[3] {
            switch outcome.kind {
            case .axfr, .ixfr, .ixfrFullZone: preconditionFailure("an unlisted client got a transfer")
            default: break
            }
        }
        if let text = String(validating: request.prefix(300), as: UTF8.self), let trigger = SavedEntry.trigger(text) {
            if case .name(let n) = trigger { precondition(n.labelCount >= 1, "a parsed name has labels") }
        }
    }
}
