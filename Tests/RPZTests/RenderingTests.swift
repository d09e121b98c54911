import DNSWire
import FlowCodec
import RPZ
import Testing

/// Rendering: owner names of every trigger kind, the actions, the wildcard, the SOA and NS.
@Suite struct RenderingTests {
    @Test("rpz-ip owner names: IPv4 reversed with the length first, IPv6 with zz for the longest zero run")
    func addressOwners() throws {
        let apex = try DNSName("rpz.mamori.")
        func owner(_ text: String) throws -> String {
            try RPZRenderer.addressOwner(#require(IPPrefix(text)), label: Array("rpz-ip".utf8), apex: apex).description
        }
        #expect(try owner("1.2.3.4/32") == "32.4.3.2.1.rpz-ip.rpz.mamori.")
        #expect(try owner("198.51.100.0/24") == "24.0.100.51.198.rpz-ip.rpz.mamori.")
        #expect(try owner("2001:db8::1/128") == "128.1.zz.db8.2001.rpz-ip.rpz.mamori.")
        #expect(try owner("2001:db8::/48") == "48.zz.db8.2001.rpz-ip.rpz.mamori.")
        // Equal runs: the first in address order is compressed (BIND: 1.0.0.1.zz.db8.2001).
        #expect(try owner("2001:db8:0:0:1:0:0:1/128") == "128.1.0.0.1.zz.db8.2001.rpz-ip.rpz.mamori.")
        // A single zero group is not compressed.
        #expect(try owner("2001:db8:0:1:2:3:4:5/128") == "128.5.4.3.2.1.0.db8.2001.rpz-ip.rpz.mamori.")
    }
}

extension RenderingTests {
    static func texts(_ zone: RPZZone) -> [String] {
        zone.records.map { record in
            switch record.rdata {
            case .cname(let target): "\(record.name) CNAME \(target)"
            case .ns(let target): "\(record.name) NS \(target)"
            default: "\(record.name) \(record.type)"
            }
        }
    }

    @Test("name triggers: the name and its wildcard; CNAME to the sinkhole, to . and to rpz-passthru.")
    func nameTriggers() throws {
        var policy = Fixture.policy(["evil.example"])
        #expect(policy.add(Fixture.entry("gone.example", action: .nxdomain), now: 1_000).altersZone)
        #expect(policy.add(Fixture.entry("ok.evil.example", action: .passthru), now: 1_000).altersZone)
        #expect(policy.add(Fixture.addressEntry("198.51.100.7/32"), now: 1_000).altersZone)
        let zone = RPZRenderer.sinkholeZone(policy, configuration: Fixture.zoneConfiguration, serial: DNSSerial(42))
        #expect(zone.apex == Fixture.apex && zone.serial == DNSSerial(42))
        #expect(zone.soa.mname == Fixture.name("ns1.mamori.example.") && zone.soa.minimum == 60)
        #expect(
            Self.texts(zone) == [
                "rpz.mamori. NS ns1.mamori.example.",
                "evil.example.rpz.mamori. CNAME sinkhole.mamori.example.",
                "*.evil.example.rpz.mamori. CNAME sinkhole.mamori.example.",
                "ok.evil.example.rpz.mamori. CNAME rpz-passthru.",
                "*.ok.evil.example.rpz.mamori. CNAME rpz-passthru.",
                "gone.example.rpz.mamori. CNAME .",
                "*.gone.example.rpz.mamori. CNAME .",
                "32.7.100.51.198.rpz-ip.rpz.mamori. CNAME sinkhole.mamori.example.",
            ])
        var noWildcards = Fixture.zoneConfiguration
        noWildcards.includeWildcards = false
        let plain = RPZRenderer.sinkholeZone(policy, configuration: noWildcards, serial: DNSSerial(42))
        #expect(plain.records.count == 5 && !Self.texts(plain).contains { $0.hasPrefix("*") })
        #expect(zone.soaRecord.type == .SOA && zone.soaRecord.name == Fixture.apex)
    }

    @Test("exemption zone: rpz-client-ip PASSTHRU for each exempted address, /32 and /128")
    func exemptionOwners() {
        var policy = Fixture.policy([])
        _ = policy.setExemption(pseudonym: "p-1", addresses: [IPAddress("1.2.3.4")!, IPAddress("2001:db8::1")!])
        let zone = RPZRenderer.exemptionZone(policy, configuration: Fixture.zoneConfiguration, serial: DNSSerial(7))
        #expect(zone.apex == Fixture.exemptionApex)
        #expect(
            Self.texts(zone) == [
                "exempt.rpz.mamori. NS ns1.mamori.example.",
                "32.4.3.2.1.rpz-client-ip.exempt.rpz.mamori. CNAME rpz-passthru.",
                "128.1.zz.db8.2001.rpz-client-ip.exempt.rpz.mamori. CNAME rpz-passthru.",
            ])
    }

    @Test("the same policy renders the same records whatever the order entries came in")
    func deterministic() {
        let names = (0..<200).map { "host\($0).evil\($0 % 7).example" }
        let a = Fixture.policy(names)
        let b = Fixture.policy(names.reversed())
        let c = Fixture.zoneConfiguration
        #expect(
            RPZRenderer.sinkholeZone(a, configuration: c, serial: DNSSerial(1))
                == RPZRenderer.sinkholeZone(b, configuration: c, serial: DNSSerial(1)))
    }
}
