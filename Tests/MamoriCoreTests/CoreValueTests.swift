import FlowCodec
import MamoriCore
import Testing

/// SplitMix64: the published sequence, so that a seed printed by a failing test replays it.
@Suite struct SplitMix64Tests {
    @Test("seed 0 gives the reference outputs of Vigna's splitmix64.c")
    func referenceSequence() {
        var g = SplitMix64(seed: 0)
        #expect([g.next(), g.next(), g.next()] == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
    }

    @Test("the same seed gives the same numbers and bytes; another seed does not")
    func reproducible() {
        var a = SplitMix64(seed: 18)
        var b = SplitMix64(seed: 18)
        var c = SplitMix64(seed: 19)
        let first = (0..<100).map { _ in a.next() }
        #expect(first == (0..<100).map { _ in b.next() })
        #expect(first != (0..<100).map { _ in c.next() })
        #expect(a.bytes(33) == b.bytes(33))
        var d = SplitMix64(seed: 18)
        #expect(d.bytes(2) == first.prefix(2).map { UInt8(truncatingIfNeeded: $0) }, "each byte is the low byte of one output")
        var e = SplitMix64(seed: 7)
        var f = SplitMix64(seed: 7)
        #expect(
            Int.random(in: 0..<1_000_000, using: &e) == Int.random(in: 0..<1_000_000, using: &f),
            "a RandomNumberGenerator for the standard library")
    }
}

/// BoundedSet: never more than its capacity, forgetting the oldest first, counting what it forgot.
@Suite struct BoundedSetTests {
    @Test("inserting past the capacity forgets the oldest member and counts it")
    func forgetsOldest() {
        var s = BoundedSet<Int>(capacity: 3)
        let inserted = [s.insert(1), s.insert(2), s.insert(3), s.insert(2)]
        #expect(inserted == [true, true, true, false], "2 was already a member")
        #expect(s.count == 3 && s.evicted == 0)
        let fourth = s.insert(4)
        #expect(fourth)
        #expect(!s.contains(1) && s.contains(2) && s.contains(3) && s.contains(4))
        #expect(s.count == 3 && s.evicted == 1)
        let back = s.insert(1)
        #expect(back, "a forgotten member can come back")
        #expect(!s.contains(2))
        #expect(s.evicted == 2)
    }

    @Test("over many insertions (and compactions) exactly the last `capacity` distinct keys are kept")
    func manyInsertions() {
        var s = BoundedSet<Int>(capacity: 64)
        for i in 0..<10_000 { s.insert(i) }
        #expect(s.count == 64)
        #expect(s.evicted == 10_000 - 64)
        #expect((10_000 - 64..<10_000).allSatisfy { s.contains($0) })
        #expect(!(0..<10_000 - 64).contains { s.contains($0) })
    }

    @Test("a capacity below 1 is taken as 1")
    func minimumCapacity() {
        var s = BoundedSet<String>(capacity: 0)
        #expect(s.capacity == 1)
        s.insert("a")
        s.insert("b")
        #expect(s.count == 1 && s.contains("b") && !s.contains("a"))
    }
}

/// PrefixSet: membership and the longest matching prefix, IPv4 and IPv6.
@Suite struct PrefixSetTests {
    @Test("the longest prefix containing an address is its match, whatever the order given")
    func longestMatch() {
        let set = PrefixSet([IPPrefix("10.0.0.0/8")!, IPPrefix("10.1.0.0/16")!, IPPrefix("2001:db8::/32")!, IPPrefix("10.1.2.0/24")!])
        #expect(set.match(IPAddress("10.1.2.3")!) == IPPrefix("10.1.2.0/24"))
        #expect(set.match(IPAddress("10.1.9.9")!) == IPPrefix("10.1.0.0/16"))
        #expect(set.match(IPAddress("10.200.0.1")!) == IPPrefix("10.0.0.0/8"))
        #expect(set.match(IPAddress("2001:db8:5::1")!) == IPPrefix("2001:db8::/32"))
        #expect(set.contains(IPAddress("10.0.0.1")!))
        #expect(!set.contains(IPAddress("11.0.0.1")!))
        #expect(!set.contains(IPAddress("2001:db9::1")!))
        #expect(!set.isEmpty)
    }

    @Test("an empty set contains nothing")
    func empty() {
        let set = PrefixSet()
        #expect(set.isEmpty)
        #expect(!set.contains(IPAddress("127.0.0.1")!))
        #expect(set.match(IPAddress("::1")!) == nil)
    }
}

/// KeyedPseudonym: prefix + the first 8 bytes of HMAC-SHA256(key, label) in hex.
@Suite struct KeyedPseudonymTests {
    @Test("the pseudonym is the HMAC-SHA256 prefix computed independently (Python's hmac module)")
    func knownValues() {
        #expect(KeyedPseudonym(key: Array("pseudonym-key".utf8)).make(prefix: "s:", label: "cust-00000042") == "s:64669f68a0326973")
        #expect(KeyedPseudonym(key: []).make(prefix: "h:", label: "100.64.0.1") == "h:869c184e0005e06c", "an empty key is the key [0]")
    }

    @Test("same key and label, same pseudonym; another key or label, another")
    func keyed() {
        let a = KeyedPseudonym(key: Array("key-a".utf8))
        let b = KeyedPseudonym(key: Array("key-b".utf8))
        let p = a.make(prefix: "s:", label: "alice")
        #expect(p == a.make(prefix: "s:", label: "alice"))
        #expect(p != b.make(prefix: "s:", label: "alice"))
        #expect(p != a.make(prefix: "s:", label: "bob"))
        #expect(p.count == 2 + 16)
        #expect(p.dropFirst(2).allSatisfy { $0.isHexDigit && !$0.isUppercase })
    }
}

/// Hex and space trimming.
@Suite struct HexTests {
    @Test("bytes to lower-case hex and back, either case; odd lengths and non-digits are refused")
    func roundTrip() {
        let bytes: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xAB, 0xFF]
        #expect(bytes.hexEncoded == "00017f80abff")
        #expect([UInt8](hex: "00017f80abff") == bytes)
        #expect([UInt8](hex: "00017F80ABFF") == bytes)
        #expect([UInt8](hex: "") == [])
        #expect([UInt8](hex: "abc") == nil)
        #expect([UInt8](hex: "zz") == nil)
        #expect([UInt8](hex: "0g") == nil)
    }

    @Test("trimmingSpaces removes spaces and tabs at both ends, not newlines or inner spaces")
    func trimming() {
        #expect(" \t a b \t ".trimmingSpaces == "a b")
        #expect("\nx\n".trimmingSpaces == "\nx\n")
        #expect("   ".trimmingSpaces == "")
    }
}

/// SocketEndpoint: `HOST:PORT` as configuration and the command line write it.
@Suite struct SocketEndpointTests {
    @Test("IPv4, bracketed IPv6 and :PORT (all IPv4 addresses) are read; description writes them back")
    func parsing() throws {
        let v4 = try SocketEndpoint(parsing: " 127.0.0.1:2055 ")
        #expect(v4 == SocketEndpoint(host: "127.0.0.1", port: 2055) && !v4.isIPv6 && v4.description == "127.0.0.1:2055")
        let v6 = try SocketEndpoint(parsing: "[::]:4739")
        #expect(v6 == SocketEndpoint(host: "::", port: 4739) && v6.isIPv6 && v6.description == "[::]:4739")
        #expect(try SocketEndpoint(parsing: ":2055") == SocketEndpoint(host: "0.0.0.0", port: 2055))
        #expect(try SocketEndpoint(parsing: "collector.example.net:0").host == "collector.example.net")
    }

    @Test("malformed endpoints are refused with a message that says how to write them")
    func refused() {
        func message(_ text: String) -> String? {
            do {
                _ = try SocketEndpoint(parsing: text)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(message("2055")?.contains("expected HOST:PORT") == true)
        #expect(message("::1:2055")?.contains("put IPv6 addresses in brackets") == true)
        #expect(message("[::1:2055")?.contains("missing ']'") == true)
        #expect(message("[::1]2055")?.contains("expected ':PORT'") == true)
        #expect(message("[10.0.0.1]:2055")?.contains("is not an IPv6 address") == true)
        #expect(message("0.0.0.0:65536")?.contains("is not a number from 0 to 65535") == true)
        #expect(message("0.0.0.0:http")?.contains("is not a number from 0 to 65535") == true)
    }
}
