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
