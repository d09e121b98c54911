import FlowCodec
import MamoriCore
import MamoriTesting
import SinkholeProbe
import Testing

/// Names, contacts, and hostile input: seeded mutations of every capture and random bytes.
@Suite struct SinkholeProbeTests {
    @Test("Names are lower-cased, lose one trailing dot, and must be DNS names")
    func names() {
        #expect(HostName.normalise(Array("C2.Example.TEST.".utf8)) == "c2.example.test")
        #expect(HostName.normalise(Array("localhost".utf8)) == "localhost")
        #expect(HostName.normalise(Array("_dmarc.a-b.example".utf8)) == "_dmarc.a-b.example")
        let label63 = String(repeating: "a", count: 63)
        #expect(HostName.normalise(Array("\(label63).example".utf8)) == "\(label63).example")
        let name253 = [label63, label63, label63, String(repeating: "c", count: 61)].joined(separator: ".")
        #expect(name253.count == 253)
        #expect(HostName.normalise(Array(name253.utf8)) == name253)
        #expect(HostName.normalise(Array((name253 + ".").utf8)) == name253)
        for bad in [
            "", ".", "..", "a..b", ".a", "a.example..", "\(label63)a.example", name253 + "d", "a b", "a/b", "a:b", "ä.example", "a\u{0}b",
        ] {
            #expect(HostName.normalise(Array(bad.utf8)) == nil, "\(bad.debugDescription)")
        }
    }

    @Test("A contact says what the probe found, or why there was nothing to find")
    func contacts() {
        let client = IPAddress("192.0.2.7")!
        func contact(_ received: Int, _ result: SinkholeProbeResult, _ ending: SinkholeContact.Ending) -> SinkholeContact {
            SinkholeContact(
                client: client, clientPort: 40000, localPort: 80, milliseconds: 5, received: received, result: result, ending: ending)
        }
        let http = contact(40, .http(ProbedHTTPRequest(method: "GET", host: "c2.example", path: "/")), .decided)
        #expect(http.protocol == .http && http.name == "c2.example" && http.problem == nil && http.receivedBytes == 40)
        let tls = contact(300, .tls(ProbedClientHello(serverName: "c2.example")), .decided)
        #expect(tls.protocol == .tls && tls.name == "c2.example" && tls.problem == nil)
        let silent = contact(0, .incomplete(nil), .timedOut)
        #expect(silent.protocol == .noneSent && silent.name == nil && silent.problem == .timeout)
        let hung = contact(1, .incomplete(nil), .closedByClient)
        #expect(hung.protocol == .unknown && hung.problem == .closedEarly)
        let slow = contact(100, .incomplete(.tls), .timedOut)
        #expect(slow.protocol == .tls && slow.problem == .timeout)
        let bad = contact(60, .malformed(.http, SinkholeProbeError(.host, "x")), .decided)
        #expect(bad.protocol == .http && bad.name == nil && bad.problem == .malformed(.host))
        let other = contact(3, .unknownProtocol, .decided)
        #expect(other.protocol == .unknown && other.problem == nil)
        #expect("\(http)" == "192.0.2.7:40000 → :80 http c2.example")
        #expect(SinkholeProtocol.noneSent.rawValue == "none-sent")
    }

    /// Checks what any result must satisfy.
    static func check(_ result: SinkholeProbeResult, _ what: String) {
        if let name = result.name {
            #expect(HostName.normalise(Array(name.utf8)) == name, "\(what): a name that is not normalised: \(name)")
        }
        if let request = result.request {
            #expect(request.path.count <= ProbedHTTPRequest.maximumPathLength, "\(what)")
        }
    }

    @Test("Seeded mutations of every capture never trap and give only normalised names")
    func mutations() throws {
        let seeds = try captured.map { try fixture($0.file) } + [records(rfc8448ClientHello), HelloBuilder().wire]
        var mutator = HostileMutator(seed: 2026_12_06)
        for k in 0..<20000 {
            let input = seeds[k % seeds.count]
            let mutated = mutator.mutate(input, other: seeds[(k / 7) % seeds.count])
            let cap = [64, 512, SinkholeProbe.defaultMaximumBytes][k % 3]
            let result = SinkholeProbe.examine(mutated, maximumBytes: cap)
            Self.check(result, "mutation \(k)")
            // A prefix that is already decided decides the whole input the same way (the listener stops reading there).
            let n = mutated.count / 2
            let prefix = SinkholeProbe.examine(mutated.prefix(n), maximumBytes: cap)
            if !prefix.isIncomplete, n < cap { #expect(prefix == result, "mutation \(k): prefix \(prefix), whole \(result)") }
        }
    }

    @Test("Random bytes, with and without a TLS or HTTP start, never trap")
    func random() {
        var rng = SplitMix64(seed: 99)
        let starts: [[UInt8]] = [
            [], [0x16, 0x03, 0x01], Array("GET / HTTP/1.1\r\nHost: ".utf8), [0x16, 0x03, 0x03, 0x00, 0x40, 0x01, 0x00, 0x00],
        ]
        for k in 0..<20000 {
            let n = Int(rng.next() % 600)
            let bytes = starts[k % starts.count] + (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            Self.check(SinkholeProbe.examine(bytes), "random \(k)")
        }
    }

    @Test("Only the bytes up to the cap are examined, whatever follows")
    func cap() throws {
        let hello = try fixture("curl-https.bin")
        let junk = [UInt8](repeating: 0xFF, count: 1_000_000)
        #expect(SinkholeProbe.examine(hello + junk).name == "c2.example.test")
        #expect(SinkholeProbe.examine(hello + junk, maximumBytes: 0).malformedCode == .tooLarge)
        #expect(SinkholeProbe.examine([UInt8](repeating: 0x16, count: 3)) == .unknownProtocol)
    }
}
