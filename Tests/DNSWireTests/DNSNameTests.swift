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
