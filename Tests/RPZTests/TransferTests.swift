import DNSWire
import FlowCodec
import RPZ
import Testing

/// Zone transfer answers: AXFR over many messages, IXFR, SOA, TSIG, the allowlist, bad requests, NOTIFY.
@Suite struct TransferTests {
    static let now: Int64 = 1_780_000_000
    static let secondary = IPAddress("192.0.2.53")!
    static let signedSecondary = IPAddress("192.0.2.54")!

    static func responder(_ histories: [RPZZoneHistory]) -> ZoneTransferResponder {
        ZoneTransferResponder(
            zones: histories,
            secondaries: [
                SecondaryPolicy(prefix: IPPrefix("192.0.2.53/32")!, tsigKey: nil),
                SecondaryPolicy(prefix: IPPrefix("192.0.2.54/32")!, tsigKey: Fixture.key),
            ])
    }

    static func history(_ names: [String], serial: UInt32 = 1_000) -> RPZZoneHistory {
        RPZZoneHistory(
            zone: RPZRenderer.sinkholeZone(Fixture.policy(names), configuration: Fixture.zoneConfiguration, serial: DNSSerial(serial)))
    }

    /// A request for `type` of `zone`, with the client's SOA for IXFR, signed with `key` if given.
    static func request(
        _ type: DNSType, zone: DNSName = Fixture.apex, id: UInt16 = 77, clientSerial: UInt32? = nil, key: TSIGKey? = nil
    ) throws -> (bytes: [UInt8], mac: [UInt8]?) {
        var authorities: [DNSRecord] = []
        if let clientSerial {
            let soa = DNSSOA(
                mname: zone, rname: zone, serial: DNSSerial(clientSerial), refresh: 0, retry: 0, expire: 0, minimum: 0)
            authorities.append(DNSRecord(name: zone, type: .SOA, ttl: 0, rdata: .soa(soa)))
        }
        let bytes = try DNSMessage(
            header: DNSHeader(id: id), questions: [DNSQuestion(name: zone, type: type)], authorities: authorities
        ).serialize()
        guard let key else { return (bytes, nil) }
        var signer = TSIGSigner(key: key, requestMAC: nil)
        let signed = try signer.sign(bytes, now: now)
        return (signed, signer.priorMAC)
    }

    static func answers(_ messages: [[UInt8]]) throws -> [DNSRecord] {
        try messages.flatMap { try DNSMessage.parse($0).answers }
    }

    @Test("a SOA query is answered authoritatively with the current SOA")
    func soa() throws {
        let history = Self.history(["a.example"])
        let outcome = Self.responder([history]).respond(to: try Self.request(.SOA).bytes, from: Self.secondary, now: Self.now)
        #expect(outcome.kind == .soa && outcome.messages.count == 1 && outcome.records == 1)
        let message = try DNSMessage.parse(outcome.messages[0])
        #expect(message.header.aa && message.header.qr && message.header.id == 77 && message.header.rcode == .noError)
        #expect(message.answers == [history.zone.soaRecord])
    }

    @Test("an AXFR over several messages reassembles to exactly the zone, SOA first and last")
    func axfrSplit() throws {
        let history = Self.history((0..<6_000).map { "host-\($0).botnet-\($0 % 50).example" })
        let outcome = Self.responder([history]).respond(to: try Self.request(.AXFR).bytes, from: Self.secondary, now: Self.now)
        #expect(outcome.kind == .axfr && outcome.messages.count > 2)
        #expect(outcome.messages.allSatisfy { $0.count <= 65535 })
        let parsed = try outcome.messages.map { try DNSMessage.parse($0) }
        #expect(parsed[0].questions.count == 1 && parsed.dropFirst().allSatisfy { $0.questions.isEmpty })
        let records = parsed.flatMap(\.answers)
        #expect(records == [history.zone.soaRecord] + history.zone.records + [history.zone.soaRecord])
        #expect(outcome.records == records.count)
    }

    @Test("IXFR over two steps: new SOA, per step old SOA, deletions, new SOA, additions, then the new SOA")
    func ixfrTwoSteps() throws {
        var history = Self.history(["a.example", "b.example"], serial: 1_000)
        let oneResult = history.update(to: Self.history(["b.example", "c.example"]).zone)
        let one = try #require(oneResult)
        let twoResult = history.update(to: Self.history(["c.example", "d.example"]).zone)
        let two = try #require(twoResult)
        let zone = history.zone
        let responder = Self.responder([history])
        let outcome = responder.respond(to: try Self.request(.IXFR, clientSerial: 1_000).bytes, from: Self.secondary, now: Self.now)
        #expect(outcome.kind == .ixfr)
        let expected =
            [zone.soaRecord, zone.soaRecord(serial: DNSSerial(1_000))] + one.deleted + [zone.soaRecord(serial: DNSSerial(1_001))]
            + one.added + [zone.soaRecord(serial: DNSSerial(1_001))] + two.deleted + [zone.soaRecord(serial: DNSSerial(1_002))]
            + two.added + [zone.soaRecord]
        #expect(try Self.answers(outcome.messages) == expected)
        #expect(one.deleted.count == 2 && one.added.count == 2)

        let current = responder.respond(to: try Self.request(.IXFR, clientSerial: 1_002).bytes, from: Self.secondary, now: Self.now)
        #expect(current.kind == .ixfrUpToDate)
        #expect(try Self.answers(current.messages) == [zone.soaRecord])
        let ahead = responder.respond(to: try Self.request(.IXFR, clientSerial: 1_500).bytes, from: Self.secondary, now: Self.now)
        #expect(ahead.kind == .ixfrUpToDate)
        let unknown = responder.respond(to: try Self.request(.IXFR, clientSerial: 900).bytes, from: Self.secondary, now: Self.now)
        #expect(unknown.kind == .ixfrFullZone)
        #expect(try Self.answers(unknown.messages) == [zone.soaRecord] + zone.records + [zone.soaRecord])
        let udp = responder.respond(
            to: try Self.request(.IXFR, clientSerial: 1_001).bytes, from: Self.secondary, now: Self.now, overTCP: false)
        #expect(udp.kind == .ixfr && udp.messages.count == 1 && udp.messages[0].count <= 512)
        let udpAXFR = responder.respond(to: try Self.request(.AXFR).bytes, from: Self.secondary, now: Self.now, overTCP: false)
        #expect(udpAXFR.kind == .formatError)
    }

    @Test("a signed AXFR is signed in every message and verifies with TSIGResponseVerifier")
    func signedTransfer() throws {
        let history = Self.history((0..<3_000).map { "n\($0).example" })
        let (bytes, mac) = try Self.request(.AXFR, key: Fixture.key)
        let outcome = Self.responder([history]).respond(to: bytes, from: Self.signedSecondary, now: Self.now)
        #expect(outcome.kind == .axfr && outcome.signed && outcome.messages.count > 1)
        var verifier = TSIGResponseVerifier(key: Fixture.key, requestMAC: mac)
        var records: [DNSRecord] = []
        for message in outcome.messages {
            #expect(message.count <= 65535)
            records += try verifier.verify(message, now: Self.now + 1).answers
        }
        #expect(records.count == history.zone.records.count + 2)
    }

    @Test("a wrong key is BADKEY (NOTAUTH); no key where one is required, or an unlisted client, is REFUSED")
    func refusals() throws {
        let responder = Self.responder([Self.history(["a.example"])])
        let wrong = responder.respond(
            to: try Self.request(.AXFR, key: Fixture.otherKey).bytes, from: Self.signedSecondary, now: Self.now)
        #expect(wrong.kind == .tsigRejected(.badKey))
        let reply = try DNSMessage.parse(wrong.messages[0])
        #expect(reply.header.rcode == .notAuth && reply.answers.isEmpty)
        guard case .tsig(let tsig)? = reply.tsig?.rdata else {
            Issue.record("no TSIG record in the BADKEY answer")
            return
        }
        #expect(tsig.error == .badKey)

        let unsigned = responder.respond(to: try Self.request(.AXFR).bytes, from: Self.signedSecondary, now: Self.now)
        #expect(unsigned.kind == .refused)
        #expect(try DNSMessage.parse(unsigned.messages[0]).header.rcode == .refused)
        let stranger = responder.respond(to: try Self.request(.AXFR).bytes, from: IPAddress("198.51.100.1")!, now: Self.now)
        #expect(stranger.kind == .refused)
        #expect(try DNSMessage.parse(stranger.messages[0]).header.rcode == .refused)
        // A key the responder knows, but not the one this secondary's entry requires.
        let otherSecondarys = ZoneTransferResponder(
            zones: Array(responder.zones.values),
            secondaries: [
                SecondaryPolicy(prefix: IPPrefix("192.0.2.54/32")!, tsigKey: Fixture.key),
                SecondaryPolicy(prefix: IPPrefix("192.0.2.55/32")!, tsigKey: Fixture.otherKey),
            ])
        let borrowed = otherSecondarys.respond(
            to: try Self.request(.AXFR, key: Fixture.otherKey).bytes, from: Self.signedSecondary, now: Self.now)
        #expect(borrowed.kind == .refused && borrowed.signed)
        // A forged MAC is BADSIG; a stale one BADTIME.
        var forged = try Self.request(.AXFR, key: Fixture.key).bytes
        forged[forged.count - 10] ^= 0xFF
        #expect(responder.respond(to: forged, from: Self.signedSecondary, now: Self.now).kind == .tsigRejected(.badSig))
        let stale = responder.respond(
            to: try Self.request(.AXFR, key: Fixture.key).bytes, from: Self.signedSecondary, now: Self.now + 3_600)
        #expect(stale.kind == .tsigRejected(.badTime))
        let signedStranger = responder.respond(
            to: try Self.request(.SOA, key: Fixture.key).bytes, from: IPAddress("198.51.100.1")!, now: Self.now)
        #expect(signedStranger.kind == .refused && signedStranger.signed)
    }

    @Test("another zone is NOTAUTH for a transfer, REFUSED for a SOA query; malformed is FORMERR; responses are dropped")
    func badRequests() throws {
        let responder = Self.responder([Self.history(["a.example"])])
        let other = Fixture.name("example.org.")
        let axfr = responder.respond(to: try Self.request(.AXFR, zone: other).bytes, from: Self.secondary, now: Self.now)
        #expect(axfr.kind == .notAuthoritative)
        #expect(try DNSMessage.parse(axfr.messages[0]).header.rcode == .notAuth)
        let soa = responder.respond(to: try Self.request(.SOA, zone: other).bytes, from: Self.secondary, now: Self.now)
        #expect(soa.kind == .refused)
        let a = responder.respond(to: try Self.request(.A).bytes, from: Self.secondary, now: Self.now)
        #expect(a.kind == .refused)

        var garbage = try Self.request(.AXFR).bytes
        garbage += [1, 2, 3]
        let malformed = responder.respond(to: garbage, from: Self.secondary, now: Self.now)
        #expect(malformed.kind == .formatError)
        let header = try DNSMessage.parse(malformed.messages[0]).header
        #expect(header.rcode == .formErr && header.id == 77 && header.qr)
        let noSOA = responder.respond(to: try Self.request(.IXFR).bytes, from: Self.secondary, now: Self.now)
        #expect(noSOA.kind == .formatError)
        #expect(responder.respond(to: [1, 2, 3], from: Self.secondary, now: Self.now).kind == .dropped)
        var response = try Self.request(.AXFR).bytes
        response[2] |= 0x80
        #expect(responder.respond(to: response, from: Self.secondary, now: Self.now).kind == .dropped)
    }

    @Test("NOTIFY: built with the zone's SOA, signed; its reply is checked by ID, zone and TSIG")
    func notify() throws {
        let zone = Self.history(["a.example"]).zone
        let request = try ZoneTransferResponder.notify(zone: zone, id: 4242, key: Fixture.key, now: Self.now)
        let sent = try DNSMessage.parse(request.bytes)
        #expect(sent.header.opcode == .notify && sent.header.aa && sent.answers == [zone.soaRecord] && sent.tsig != nil)
        let replyHeader = DNSHeader(id: 4242, qr: true, opcode: .notify, aa: true)
        let reply = try DNSMessage(header: replyHeader, questions: sent.questions).serialize()
        var signer = TSIGSigner(key: Fixture.key, requestMAC: request.mac)
        let signedReply = try signer.sign(reply, now: Self.now)
        #expect(ZoneTransferResponder.checkNotifyReply(signedReply, to: request, now: Self.now) == .acknowledged)
        #expect(ZoneTransferResponder.checkNotifyReply(reply, to: request, now: Self.now) == .tsigFailed(.tsigMissing))

        let plain = try ZoneTransferResponder.notify(zone: zone, id: 9, key: nil, now: Self.now)
        #expect(ZoneTransferResponder.checkNotifyReply(reply, to: plain, now: Self.now) == .mismatch)
        var refusedHeader = replyHeader
        refusedHeader.id = 9
        refusedHeader.rcode = .notAuth
        let refused = try DNSMessage(header: refusedHeader, questions: sent.questions).serialize()
        #expect(ZoneTransferResponder.checkNotifyReply(refused, to: plain, now: Self.now) == .error(.notAuth))
    }

    @Test("a policy of 100,000 entries renders, publishes and transfers completely")
    func large() throws {
        var policy = Fixture.policy((0..<100_000).map { "c2-\($0).example" })
        #expect(policy.count == 100_000)
        #expect(PolicyTests.refusal(policy.add(Fixture.entry("one-more.example"), now: 1_000)) == .full(maximum: 100_000))
        var publication = RPZPublication(policy: policy, configuration: Fixture.zoneConfiguration, initialSerial: DNSSerial(1))
        #expect(publication.sinkhole.zone.records.count == 200_001)
        _ = policy.remove(trigger: .name(Fixture.name("c2-5.example")), now: 2_000)
        let stepResult = publication.publish(policy).sinkhole
        let step = try #require(stepResult)
        #expect(step.deleted.count == 2 && step.added.isEmpty)
        let responder = Self.responder(publication.zones)
        let axfr = responder.respond(to: try Self.request(.AXFR).bytes, from: Self.secondary, now: Self.now)
        #expect(axfr.kind == .axfr && axfr.records == 200_001)
        let records = try Self.answers(axfr.messages)
        #expect(records.count == 200_001 && records.dropFirst().dropLast() == publication.sinkhole.zone.records[...])
        var updated = responder
        updated.update(publication.sinkhole)
        #expect(updated.zones[Fixture.apex]?.zone.serial == publication.sinkhole.zone.serial)
        let ixfr = responder.respond(to: try Self.request(.IXFR, clientSerial: 1).bytes, from: Self.secondary, now: Self.now)
        #expect(ixfr.kind == .ixfr && ixfr.records == 6)
    }
}
