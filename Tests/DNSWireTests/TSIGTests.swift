import DNSWire
import Testing

/// RFC 8945 TSIG against dnspython's signed messages: verifying theirs, signing ours the same,
/// and the server's answers to bad signatures.
@Suite struct TSIGTests {
    static let key = try! TSIGKey(name: DNSName(DNSVectors.keyName), secretBase64: DNSVectors.keySecret)
    static let keys = [key.name: key]
    static let now = DNSVectors.now
    static let stream = [DNSVectors.axfrResponse1, DNSVectors.axfrResponse2, DNSVectors.axfrResponse3]

    static func requestMAC() throws -> [UInt8] {
        guard case .verified(_, let mac) = try DNSMessage.checkTSIG(DNSVectors.axfrRequest, keys: keys, now: now) else {
            throw DNSWireError.tsigMissing
        }
        return mac
    }

    /// `bytes` without its TSIG record, written again.
    static func strip(_ bytes: [UInt8]) throws -> [UInt8] {
        var m = try DNSMessage.parse(bytes)
        m.additionals.removeLast()
        return try m.serialize()
    }

    @Test("dnspython's signed NOTIFY and AXFR request verify; an unsigned one is unsigned")
    func verifyRequests() throws {
        guard case .verified(let key, let mac) = try DNSMessage.checkTSIG(DNSVectors.signedNotify, keys: Self.keys, now: Self.now)
        else {
            Issue.record("NOTIFY did not verify")
            return
        }
        #expect(key == Self.key && mac.count == 32)
        #expect(try Self.requestMAC().count == 32)
        guard case .unsigned = try DNSMessage.checkTSIG(DNSVectors.notify, keys: Self.keys, now: Self.now) else {
            Issue.record("an unsigned NOTIFY")
            return
        }
        // 300 s of fudge either way, not 301.
        for skew: Int64 in [-300, 300] {
            guard case .verified = try DNSMessage.checkTSIG(DNSVectors.axfrRequest, keys: Self.keys, now: Self.now + skew) else {
                Issue.record("skew \(skew)")
                return
            }
        }
    }

    @Test("dnspython's three-message signed AXFR verifies as a stream; tampering, reordering and time fail")
    func verifyStream() throws {
        let mac = try Self.requestMAC()
        var verifier = TSIGResponseVerifier(key: Self.key, requestMAC: mac)
        var records = 0
        for message in Self.stream { records += try verifier.verify(message, now: Self.now).answers.count }
        #expect(records == 9)

        var tampered = Self.stream[1]
        tampered[14] ^= 1 // a letter of the first owner name
        var v2 = TSIGResponseVerifier(key: Self.key, requestMAC: mac)
        _ = try v2.verify(Self.stream[0], now: Self.now)
        #expect(throws: DNSWireError.tsigRejected(.badSig)) { try v2.verify(tampered, now: Self.now) }

        var v3 = TSIGResponseVerifier(key: Self.key, requestMAC: mac)
        _ = try v3.verify(Self.stream[0], now: Self.now)
        #expect(throws: DNSWireError.tsigRejected(.badSig)) { try v3.verify(Self.stream[2], now: Self.now) }

        var v4 = TSIGResponseVerifier(key: Self.key, requestMAC: mac)
        #expect(throws: DNSWireError.tsigRejected(.badTime)) { try v4.verify(Self.stream[0], now: Self.now + 301) }

        var v5 = TSIGResponseVerifier(key: Self.key, requestMAC: [1, 2, 3])
        #expect(throws: DNSWireError.tsigRejected(.badSig)) { try v5.verify(Self.stream[0], now: Self.now) }

        var v6 = TSIGResponseVerifier(key: Self.key, requestMAC: mac)
        #expect(throws: DNSWireError.tsigMissing) { try v6.verify(DNSVectors.notify, now: Self.now) }

        let other = try TSIGKey(name: DNSName("other-key"), secretBase64: DNSVectors.keySecret)
        var v7 = TSIGResponseVerifier(key: other, requestMAC: mac)
        #expect(throws: DNSWireError.tsigRejected(.badKey)) { try v7.verify(Self.stream[0], now: Self.now) }
    }

    @Test("our signatures are dnspython's, octet for octet: NOTIFY, AXFR request, the three-message stream")
    func signLikeDnspython() throws {
        var notifySigner = TSIGSigner(key: Self.key, requestMAC: nil)
        #expect(try notifySigner.sign(DNSVectors.notify, now: Self.now) == DNSVectors.signedNotify)

        var requestSigner = TSIGSigner(key: Self.key, requestMAC: nil)
        #expect(try requestSigner.sign(Self.strip(DNSVectors.axfrRequest), now: Self.now) == DNSVectors.axfrRequest)

        var signer = TSIGSigner(key: Self.key, requestMAC: try Self.requestMAC())
        for message in Self.stream {
            #expect(try signer.sign(Self.strip(message), now: Self.now) == message)
        }
        #expect(signer.signedCount == 3)
    }

    @Test("unsigned messages inside a stream: covered by the next MAC, at most 99 in a row")
    func unsignedInside() throws {
        let mac = try Self.requestMAC()
        let bodies = try Self.stream.map(Self.strip)
        var signer = TSIGSigner(key: Self.key, requestMAC: mac)
        let skipped1 = signer.skip(bodies[0])
        #expect(!skipped1) // the first must be signed
        let first = try signer.sign(bodies[0], now: Self.now)
        let skipped2 = signer.skip(bodies[1])
        #expect(skipped2)
        let third = try signer.sign(bodies[2], now: Self.now)
        #expect(third != Self.stream[2])

        var verifier = TSIGResponseVerifier(key: Self.key, requestMAC: mac)
        _ = try verifier.verify(first, now: Self.now)
        _ = try verifier.verify(bodies[1], now: Self.now)
        _ = try verifier.verify(third, now: Self.now)

        // Dropping the unsigned message in between breaks the chain.
        var skipping = TSIGResponseVerifier(key: Self.key, requestMAC: mac)
        _ = try skipping.verify(first, now: Self.now)
        #expect(throws: DNSWireError.tsigRejected(.badSig)) { try skipping.verify(third, now: Self.now) }

        var long = TSIGSigner(key: Self.key, requestMAC: mac)
        var longVerifier = TSIGResponseVerifier(key: Self.key, requestMAC: mac)
        _ = try longVerifier.verify(try long.sign(bodies[0], now: Self.now), now: Self.now)
        for _ in 0..<99 {
            let skipped3 = long.skip(bodies[1])
            #expect(skipped3)
            _ = try longVerifier.verify(bodies[1], now: Self.now)
        }
        let skipped4 = long.skip(bodies[1])
        #expect(!skipped4)
        #expect(throws: DNSWireError.tsigMissing) { try longVerifier.verify(bodies[1], now: Self.now) }
        // The 100th is signed instead, and verifies.
        var again = TSIGResponseVerifier(key: Self.key, requestMAC: mac)
        var signer2 = TSIGSigner(key: Self.key, requestMAC: mac)
        _ = try again.verify(try signer2.sign(bodies[0], now: Self.now), now: Self.now)
        for _ in 0..<99 {
            _ = signer2.skip(bodies[1])
            _ = try again.verify(bodies[1], now: Self.now)
        }
        _ = try again.verify(try signer2.sign(bodies[2], now: Self.now), now: Self.now)
    }

    @Test("a stream we sign with SHA-1 and SHA-512 keys verifies with TSIGResponseVerifier")
    func otherAlgorithms() throws {
        for algorithm in [TSIGAlgorithm.hmacSHA1, .hmacSHA384, .hmacSHA512] {
            let key = TSIGKey(name: try DNSName("k.example"), secret: Array("secret".utf8), algorithm: algorithm)
            var signer = TSIGSigner(key: key, requestMAC: [9, 9, 9])
            var verifier = TSIGResponseVerifier(key: key, requestMAC: [9, 9, 9])
            for message in Self.stream {
                let signed = try signer.sign(Self.strip(message), now: 1000)
                _ = try verifier.verify(signed, now: 1000)
            }
            let signed = try signer.sign(Self.strip(Self.stream[0]), now: 1000)
            var v = TSIGResponseVerifier(key: Self.key, requestMAC: [9, 9, 9])
            #expect(throws: DNSWireError.tsigRejected(.badKey)) { try v.verify(signed, now: 1000) }
        }
    }

    static func rejection(_ request: [UInt8], keys: [DNSName: TSIGKey], now: Int64) throws -> TSIGRejection? {
        guard case .rejected(let r) = try DNSMessage.checkTSIG(request, keys: keys, now: now) else { return nil }
        return r
    }

    @Test("an unknown key: BADKEY, answered NOTAUTH with an unsigned TSIG carrying BADKEY")
    func badKey() throws {
        let other = try TSIGKey(name: DNSName("another-key"), secretBase64: DNSVectors.keySecret)
        let r = try #require(try Self.rejection(DNSVectors.axfrRequest, keys: [other.name: other], now: Self.now))
        #expect(r.error == .badKey && r.rcode == .notAuth)
        let response = try DNSMessage.parse(try r.response(now: Self.now + 5))
        #expect(response.header.rcode == .notAuth && response.header.qr && response.header.id == 0x5151)
        #expect(response.questions == r.request.questions)
        guard case .tsig(let t) = response.tsig?.rdata else {
            Issue.record("no TSIG")
            return
        }
        #expect(t.error == .badKey && t.mac.isEmpty && t.originalID == 0x5151)
        // The wrong algorithm for a known name is BADKEY too.
        let sha1 = try TSIGKey(name: DNSName(DNSVectors.keyName), secretBase64: DNSVectors.keySecret, algorithm: .hmacSHA1)
        #expect(try Self.rejection(DNSVectors.axfrRequest, keys: [sha1.name: sha1], now: Self.now)?.error == .badKey)
        // A client verifying that answer learns BADKEY.
        var v = TSIGResponseVerifier(key: Self.key, requestMAC: try Self.requestMAC())
        let answer = try r.response(now: Self.now)
        #expect(throws: DNSWireError.tsigRejected(.badKey)) { try v.verify(answer, now: Self.now) }
    }

    @Test("a wrong secret: BADSIG, unsigned NOTAUTH answer")
    func badSig() throws {
        let wrong = try TSIGKey(name: DNSName(DNSVectors.keyName), secretBase64: "c29tZSBvdGhlciBzZWNyZXQ=")
        let r = try #require(try Self.rejection(DNSVectors.axfrRequest, keys: [wrong.name: wrong], now: Self.now))
        #expect(r.error == .badSig)
        let response = try DNSMessage.parse(try r.response(now: Self.now))
        guard case .tsig(let t) = response.tsig?.rdata else {
            Issue.record("no TSIG")
            return
        }
        #expect(response.header.rcode == .notAuth && t.error == .badSig && t.mac.isEmpty)
        var tampered = DNSVectors.axfrRequest
        tampered[13] ^= 0x20 // a letter of the question's case: the MAC covers the octets as sent
        #expect(try Self.rejection(tampered, keys: Self.keys, now: Self.now)?.error == .badSig)
    }

    @Test("outside the fudge: BADTIME, answered with a signed TSIG holding the server's time")
    func badTime() throws {
        let late = Self.now + 301
        let r = try #require(try Self.rejection(DNSVectors.axfrRequest, keys: Self.keys, now: late))
        #expect(r.error == .badTime && r.key == Self.key)
        let bytes = try r.response(now: late)
        let response = try DNSMessage.parse(bytes)
        guard case .tsig(let t) = response.tsig?.rdata else {
            Issue.record("no TSIG")
            return
        }
        #expect(response.header.rcode == .notAuth && t.error == .badTime && t.mac.count == 32)
        #expect(t.timeSigned == UInt64(Self.now))
        #expect(t.other == [0, 0, 0x69, 0x2c, 0xdb, 0xad])
        // The client checks the signature over its request's MAC, then learns BADTIME.
        var v = TSIGResponseVerifier(key: Self.key, requestMAC: try Self.requestMAC())
        #expect(throws: DNSWireError.tsigRejected(.badTime)) { try v.verify(bytes, now: Self.now) }
        var forged = bytes
        forged[forged.count - 3] ^= 1
        var v2 = TSIGResponseVerifier(key: Self.key, requestMAC: try Self.requestMAC())
        #expect(throws: DNSWireError.tsigRejected(.badSig)) { try v2.verify(forged, now: Self.now) }
    }

    /// The AXFR request with its MAC cut to `n` octets.
    static func truncatedMAC(_ n: Int) throws -> [UInt8] {
        var m = try DNSMessage.parse(DNSVectors.axfrRequest)
        guard var last = m.additionals.last, case .tsig(var t) = last.rdata else { throw DNSWireError.tsigMissing }
        t.mac = Array(t.mac.prefix(n))
        last.rdata = .tsig(t)
        m.additionals[m.additionals.count - 1] = last
        return try m.serialize()
    }

    @Test("a MAC truncated to 16 octets (half of SHA-256's) verifies; to 15 or 10, it is FORMERR, answered unsigned")
    func truncatedMACs() throws {
        guard case .verified(_, let mac) = try DNSMessage.checkTSIG(try Self.truncatedMAC(16), keys: Self.keys, now: Self.now)
        else {
            Issue.record("16 octets")
            return
        }
        #expect(mac.count == 16)
        for n in [15, 10, 1] {
            let r = try #require(try Self.rejection(try Self.truncatedMAC(n), keys: Self.keys, now: Self.now))
            #expect(r.error == .formErr)
            let response = try DNSMessage.parse(try r.response(now: Self.now))
            #expect(response.header.rcode == .formErr && response.tsig == nil)
        }
        // An empty MAC is FORMERR as well, not a pass.
        #expect(try Self.rejection(try Self.truncatedMAC(0), keys: Self.keys, now: Self.now)?.error == .formErr)
    }

    @Test("a TSIG anywhere but last in the additional section is refused")
    func misplaced() throws {
        var m = try DNSMessage.parse(DNSVectors.signedNotify)
        let tsig = try #require(m.tsig)
        m.additionals.append(DNSRecord(name: .root, type: .OPT, class: DNSClass(rawValue: 1232), ttl: 0, rdata: .other([])))
        #expect(throws: DNSWireError.misplacedTSIG) { try DNSMessage.parse(try m.serialize()) }
        m.additionals = [tsig]
        m.answers.append(tsig)
        #expect(throws: DNSWireError.misplacedTSIG) { try DNSMessage.parse(try m.serialize()) }
    }

    @Test("key secrets: base64 with or without padding; not base64 or empty is refused")
    func secrets() throws {
        #expect(try TSIGKey(name: .root, secretBase64: "YWJj").secret == Array("abc".utf8))
        #expect(try TSIGKey(name: .root, secretBase64: "YWI=").secret == Array("ab".utf8))
        #expect(try TSIGKey(name: .root, secretBase64: "YQ==").secret == Array("a".utf8))
        #expect(try TSIGKey(name: .root, secretBase64: "YQ").secret == Array("a".utf8))
        for bad in ["", "Y", "YW=j", "a b", "YQ===", "YR=="] {
            #expect(throws: DNSWireError.badSecret) { try TSIGKey(name: .root, secretBase64: bad) }
        }
    }
}
