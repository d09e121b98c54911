import FlowCodec
import STIX
import Testing

@Suite struct STIXPatternTests {
    let c2 = IPAddress("203.0.113.5")!

    @Test func writesTheForms() {
        #expect(STIXPattern.address(c2) == "[ipv4-addr:value = '203.0.113.5']")
        #expect(STIXPattern.address(IPAddress("2001:db8::5")!) == "[ipv6-addr:value = '2001:db8::5']")
        #expect(STIXPattern.prefix(IPPrefix("198.51.100.0/24")!) == "[ipv4-addr:value = '198.51.100.0/24']")
        #expect(STIXPattern.prefix(IPPrefix("198.51.100.7/32")!) == "[ipv4-addr:value = '198.51.100.7']")
        #expect(STIXPattern.domain("C2.Example.Net.") == "[domain-name:value = 'c2.example.net']")
        #expect(
            STIXPattern.networkTraffic(to: c2, port: 443, protocol: "TCP")
                == "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.5' AND network-traffic:dst_port = 443 AND network-traffic:protocols[*] = 'tcp']"
        )
        #expect(STIXPattern.quoted(#"it's a \ test"#) == #"'it\'s a \\ test'"#)
    }

    /// What Mamori writes, it reads back to the same match.
    @Test func writtenPatternsEvaluate() throws {
        let traffic = try STIXPattern.evaluate(STIXPattern.networkTraffic(to: c2, port: 443, protocol: "tcp"))
        #expect(traffic.matches(address: c2, destinationPort: 443, protocol: "tcp"))
        #expect(traffic.matches(address: c2, destinationPort: 443, protocol: "TCP"))
        #expect(!traffic.matches(address: c2, destinationPort: 80, protocol: "tcp"))
        #expect(!traffic.matches(address: c2, destinationPort: 443, protocol: "udp"))
        #expect(!traffic.matches(address: c2), "an unknown port is not a match")
        #expect(!traffic.matches(address: IPAddress("203.0.113.6")!, destinationPort: 443, protocol: "tcp"))
        let v6 = try STIXPattern.evaluate(STIXPattern.address(IPAddress("2001:db8::5")!))
        #expect(v6.matches(address: IPAddress("2001:db8::5")!) && !v6.matches(address: IPAddress("2001:db8::6")!))
        let name = try STIXPattern.evaluate(STIXPattern.domain("c2.example.net"))
        #expect(name.matches(domain: "C2.example.net.") && !name.matches(domain: "www.c2.example.net"))
        let quoted = try STIXPattern.evaluate("[domain-name:value = " + STIXPattern.quoted("we'ird.example") + "]")
        #expect(quoted.domains == ["we'ird.example"])
    }

    @Test func evaluatesTheSubset() throws {
        let subnet = try STIXPattern.evaluate("[ipv4-addr:value ISSUBSET '198.51.100.0/24' AND ipv4-addr:value != '198.51.100.1']")
        #expect(subnet.matches(address: IPAddress("198.51.100.77")!))
        #expect(!subnet.matches(address: IPAddress("198.51.100.1")!))
        #expect(!subnet.matches(address: IPAddress("198.51.101.1")!))
        #expect(subnet.prefixes == [IPPrefix("198.51.100.0/24")!])

        let cidr = try STIXPattern.evaluate("[ipv6-addr:value = '2001:db8:1::/48']")
        #expect(cidr.matches(address: IPAddress("2001:db8:1:2::3")!) && !cidr.matches(address: IPAddress("2001:db8:2::1")!))

        let set = try STIXPattern.evaluate("[ipv4-addr:value IN ('192.0.2.1', '192.0.2.2')] OR [domain-name:value = 'a.example']")
        #expect(set.matches(address: IPAddress("192.0.2.2")!) && set.matches(domain: "a.example"))
        #expect(set.alternatives.count == 2)

        let ports = try STIXPattern.evaluate(
            "[network-traffic:dst_ref.value = '192.0.2.9' AND network-traffic:dst_port IN (80, 443) AND network-traffic:dst_port NOT = 80]")
        #expect(ports.matches(address: IPAddress("192.0.2.9")!, destinationPort: 443))
        #expect(!ports.matches(address: IPAddress("192.0.2.9")!, destinationPort: 80))

        let source = try STIXPattern.evaluate("[network-traffic:dst_ref.value = '192.0.2.9' AND network-traffic:src_port = 2048]")
        #expect(source.matches(address: IPAddress("192.0.2.9")!, sourcePort: 2048))
        #expect(!source.matches(address: IPAddress("192.0.2.9")!, sourcePort: 2049))

        let nested = try STIXPattern.evaluate(
            "([ipv4-addr:value = '192.0.2.1' OR (ipv4-addr:value = '192.0.2.2' AND ipv4-addr:value ISSUBSET '192.0.2.0/30')]) OR [ipv4-addr:value = '192.0.2.5']"
        )
        #expect(nested.prefixes.map(\.description) == ["192.0.2.1/32", "192.0.2.2/32", "192.0.2.5/32"])

        // Keywords in any case, `==` and `<>`.
        let spelled = try STIXPattern.evaluate(
            "[ipv4-addr:value == '192.0.2.1' and ipv4-addr:value <> '192.0.2.2'] or [ipv4-addr:value = '192.0.2.3']")
        #expect(spelled.alternatives.count == 2)

        // A family filter: dst_ref.type keeps only addresses of its kind.
        let typed = try STIXPattern.evaluate(
            "[network-traffic:dst_ref.type = 'ipv6-addr' AND network-traffic:dst_ref.value IN ('192.0.2.1', '2001:db8::1')]")
        #expect(typed.prefixes.map(\.description) == ["2001:db8::1/128"])
    }

    @Test(
        "what cannot be evaluated is a clear error, never a partial match",
        arguments: [
            "[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']",
            "[url:value = 'http://x4z9arb.cn/4712']",
            "[ipv4-addr:value = '198.51.100.1'] WITHIN 300 SECONDS",
            "[ipv4-addr:value = '198.51.100.1'] REPEATS 5 TIMES",
            "[ipv4-addr:value = '198.51.100.1'] START t'2026-01-01T00:00:00Z' STOP t'2026-02-01T00:00:00Z'",
            "[ipv4-addr:value = '198.51.100.1'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.2']",
            "[ipv4-addr:value = '198.51.100.1'] AND [ipv4-addr:value = '198.51.100.2']",
            "[domain-name:value LIKE '%.example']",
            "[domain-name:value MATCHES '^c2']",
            "[network-traffic:dst_port > 1024]",
            "[network-traffic:dst_port = 443]",
            "[ipv4-addr:value != '198.51.100.1']",
            "[ipv4-addr:value = '198.51.100.1' AND domain-name:value = 'a.example']",
            "[ipv4-addr:value = '2001:db8::1']",
            "[ipv4-addr:value = 'not an address']",
            "[ipv4-addr:value = '198.51.100.1' AND ipv4-addr:value = '198.51.100.2']",
            "[network-traffic:dst_port = 70000 AND network-traffic:dst_ref.value = '198.51.100.1']",
            "[network-traffic:src_ref.value = '198.51.100.1']",
            "[ipv4-addr:value ISSUPERSET '198.51.100.0/24']",
            "[EXISTS ipv4-addr:value]",
            "[domain-name:value = 'bad name.example']",
        ])
    func notEvaluable(pattern: String) {
        #expect(STIXPattern.isValid(pattern), "\(pattern) is valid STIX")
        #expect(throws: STIXError(.notEvaluable)) { try STIXPattern.evaluate(pattern) }
    }

    @Test(
        "what is not STIX is a syntax error",
        arguments: [
            "", "ipv4-addr:value = '1.2.3.4'", "[ipv4-addr:value = '1.2.3.4'", "[ipv4-addr:value = 1.2.3.4]", "[ipv4-addr value = 'x']",
            "[ipv4-addr:value = 'x' AND]", "[ipv4-addr:value 'x']", "[ipv4-addr:value = 'x\\n']", "[ipv4-addr:value = 'x'] WITHIN SECONDS",
            "[ipv4-addr:value = 'x'] extra", "[ipv4-addr:value IN ()]", "[ipv4-addr:value = 'x' ! 'y']",
            "[ipv4-addr:value LIKE 5]", "[network-traffic:protocols[a] = 'tcp']", "[ipv4-addr:value = t'yesterday']",
        ])
    func syntax(pattern: String) {
        #expect(!STIXPattern.isValid(pattern))
        #expect(throws: STIXError(.patternSyntax)) { try STIXPattern.evaluate(pattern) }
    }

    @Test func hostilePatternsAreBounded() {
        let long = "[ipv4-addr:value = '" + String(repeating: "1", count: 70_000) + "']"
        #expect(throws: STIXError(.limitExceeded)) { try STIXPattern.evaluate(long) }
        let deep = String(repeating: "(", count: 40) + "[ipv4-addr:value = '192.0.2.1']" + String(repeating: ")", count: 40)
        #expect(throws: STIXError(.limitExceeded)) { try STIXPattern.evaluate(deep) }
        let deepInside = "[" + String(repeating: "(", count: 40) + "ipv4-addr:value = '192.0.2.1'" + String(repeating: ")", count: 40) + "]"
        #expect(throws: STIXError(.limitExceeded)) { try STIXPattern.evaluate(deepInside) }
        let many = "[ipv4-addr:value IN (" + (0..<5_000).map { "'10.0.\($0 / 256).\($0 % 256)'" }.joined(separator: ",") + ")]"
        #expect(throws: STIXError(.limitExceeded)) { try STIXPattern.evaluate(many) }
        // ORs inside ANDs multiply: (a OR b) AND (c OR d) … 11 times is 2^11 alternatives.
        let product =
            "[" + (0..<11).map { "(ipv4-addr:value != '10.0.\($0).1' OR ipv4-addr:value != '10.0.\($0).2')" }.joined(separator: " AND ")
            + "]"
        #expect(throws: STIXError(.limitExceeded)) { try STIXPattern.evaluate(product) }
        // Within bounds, the same shapes are fine.
        let fine = String(repeating: "(", count: 10) + "[ipv4-addr:value = '192.0.2.1']" + String(repeating: ")", count: 10)
        #expect((try? STIXPattern.evaluate(fine)) != nil)
    }

    /// Seeded random patterns made of the grammar's pieces never trap.
    @Test func randomPatternsNeverTrap() {
        let pieces = [
            "[", "]", "(", ")", " AND ", " OR ", " NOT ", " IN ", " = ", " != ", " > ", "ipv4-addr:value", "network-traffic:dst_port",
            "network-traffic:protocols[*]", "domain-name:value", "'192.0.2.1'", "'10.0.0.0/8'", "443", "-1", ",", " WITHIN 5 SECONDS",
            " FOLLOWEDBY ", "'tcp'", "'a.example'", "h'00'", "t'2026-01-01T00:00:00Z'", " ISSUBSET ", "'\\''", "1.5", "true",
        ]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {
            var p = ""
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let n = Int(state >> 59) + 1
            for _ in 0..<n {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                p += pieces[Int(state >> 33) % pieces.count]
            }
            _ = try? STIXPattern.evaluate(p)
        }
    }
}
