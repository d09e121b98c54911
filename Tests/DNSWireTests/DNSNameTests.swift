import DNSWire
import Testing

/// Names: presentation text and escapes, RFC 4343 case rules, the length limits.
@Suite struct DNSNameTests {
    @Test("presentation text round-trips, with escapes")
    func presentation() throws {
        #expect(try DNSName("www.Example.com").description == "www.Example.com.")
        #expect(try DNSName(".") == DNSName.root)
        #expect(DNSName.root.description == ".")
        let escaped = try DNSName(#"a\.b.c\032d\\.example."#)
        #expect(escaped.labels == [Array("a.b".utf8), Array("c d\\".utf8), Array("example".utf8)])
        #expect(escaped.description == #"a\.b.c\032d\\.example."#)
        #expect(try DNSName(escaped.description) == escaped)
    }
}

extension DNSNameTests {
    @Test("equality and hashing ignore ASCII case only (RFC 4343)")
    func caseRules() throws {
        let a = try DNSName("Evil.EXAMPLE")
        let b = try DNSName("evil.example.")
        #expect(a == b && Set([a, b]).count == 1)
        #expect(try DNSName(#"\200"#) != DNSName(#"\232"#)) // 0xC8 and 0xE8 differ by 0x20 but are not ASCII
        #expect(a.lowercased.labels == b.labels)
        #expect(a.description == "Evil.EXAMPLE.")
    }

    @Test("subdomains, prepending and appending (RPZ owner names)")
    func composition() throws {
        let zone = try DNSName("rpz.mamori.")
        let owner = try DNSName("evil.example").appending(zone)
        #expect(owner.description == "evil.example.rpz.mamori." && owner.labelCount == 4)
        #expect(owner.isSubdomain(of: zone) && owner.isSubdomain(of: owner) && owner.isSubdomain(of: .root))
        #expect(!zone.isSubdomain(of: owner))
        #expect(!name("xrpz.mamori").isSubdomain(of: zone))
        #expect(try owner.prepending(Array("*".utf8)).description == "*.evil.example.rpz.mamori.")
        #expect(throws: DNSWireError.emptyLabel) { try owner.prepending([]) }
        #expect(throws: DNSWireError.labelTooLong) { try owner.prepending([UInt8](repeating: 97, count: 64)) }
        #expect(DNSName.root.labelCount == 0 && DNSName.root.wireLength == 1)
    }

    @Test("the limits: 63-octet labels, 255-octet names; bad escapes and empty labels")
    func limits() throws {
        let l63 = String(repeating: "a", count: 63)
        #expect(try DNSName(l63).wireLength == 65)
        #expect(throws: DNSWireError.labelTooLong) { try DNSName(l63 + "a") }
        let name255 = [l63, l63, l63, String(repeating: "b", count: 61)].joined(separator: ".")
        #expect(try DNSName(name255).wireLength == 255)
        #expect(throws: DNSWireError.nameTooLong) { try DNSName(name255 + "b") }
        #expect(throws: DNSWireError.nameTooLong) { try DNSName(name255).prepending([97]) }
        #expect(throws: DNSWireError.nameTooLong) { try DNSName(l63 + "." + l63).appending(DNSName(l63 + "." + l63)) }
        #expect(throws: DNSWireError.nameTooLong) {
            try DNSName(labels: [[UInt8]](repeating: [97], count: 128))
        }
        for bad in [#"a\"#, #"a\25"#, #"a\256"#, #"\2x5"#] {
            #expect(throws: DNSWireError.badEscape) { try DNSName(bad) }
        }
        for bad in ["a..b", ".a", "a.."] {
            #expect(throws: DNSWireError.emptyLabel) { try DNSName(bad) }
        }
        #expect(try DNSName(#"\065\.b"#).labels == [Array("A.b".utf8)])
        #expect(try DNSName(#"\000"#).description == #"\000."#)
    }
}

/// RFC 1982 serial number arithmetic.
@Suite struct DNSSerialTests {
    @Test("comparison wraps, is undefined 2^31 apart; next skips 0")
    func arithmetic() {
        #expect(DNSSerial(1) < DNSSerial(2))
        #expect(DNSSerial(0xFFFF_FFFF) < DNSSerial(5))
        #expect(DNSSerial(5) > DNSSerial(0xFFFF_FFFF))
        #expect(DNSSerial(0).adding(0x7FFF_FFFF) > DNSSerial(0))
        let a = DNSSerial(0)
        let b = DNSSerial(0x8000_0000)
        #expect(!(a < b) && !(a > b) && !(b < a) && !(b > a) && a.compare(b) == nil)
        #expect(DNSSerial(7).compare(DNSSerial(7)) == 0)
        #expect(DNSSerial(0xFFFF_FFFF).next == DNSSerial(1))
        #expect(DNSSerial(41).next == DNSSerial(42))
        #expect(DNSSerial(0xFFFF_FFFF).adding(2) == DNSSerial(1))
    }
}

/// Mnemonics and error texts.
@Suite struct DNSDescriptionTests {
    @Test("types, classes, codes and errors describe themselves; unknown values as RFC 3597 does")
    func descriptions() {
        #expect(DNSType.AXFR.description == "AXFR" && DNSType(rawValue: 65280).description == "TYPE65280")
        #expect(DNSClass.IN.description == "IN" && DNSClass(rawValue: 7).description == "CLASS7")
        #expect(DNSOpcode.notify.description == "NOTIFY" && DNSOpcode(rawValue: 0xF4).rawValue == 4)
        #expect(DNSRCode.badTime.description == "BADTIME" && DNSRCode.notAuth.rawValue == 9)
        #expect(DNSRCode.badSig.rawValue == 16 && DNSRCode.badKey.rawValue == 17 && DNSRCode.badTime.rawValue == 18)
        #expect(DNSWireError.badRData(.SOA).description == "malformed SOA record data")
        #expect(DNSWireError.truncated(at: 7).description.contains("7"))
    }
}
