import MamoriTesting
import Testing

@testable import Dnstap

/// Seeded hostile mutations (MamoriTesting's ``HostileMutator``) of well-formed sessions, dnstap
/// payloads and DNS responses: every one is decoded or refused with a ``DnstapError``, never a trap.
@Suite struct HostileInputTests {
    static let query = Wire.query("cc.example.net")
    static let response = Wire.response("cc.example.net", answers: [[198, 51, 100, 9], [203, 0, 113, 1]])
    static let payload = Wire.dnstap(.clientResponse, query: query, response: response, identity: "r1")
    static let session =
        FrameStreamControl(.ready, contentTypes: [Array(FrameStreamControl.dnstapContentType.utf8)]).encoded()
        + FrameStreamControl(.start).encoded() + Wire.dataFrame(Wire.dnstap(.clientQuery, query: query)) + Wire.dataFrame(payload)
        + FrameStreamControl(.stop).encoded()

    @Test("mutated DNS responses, inside and outside a dnstap payload", arguments: [1, 2, 3] as [UInt64])
    func dns(seed: UInt64) {
        var m = HostileMutator(seed: seed)
        for _ in 0..<3000 {
            let r = m.mutate(Self.response, other: Self.query)
            if let s = try? DNSMessageSummary.decode(r) {
                #expect(s.answerAddresses.count <= r.count / 11)
            }
            _ = try? ResolverEvent.decode(Wire.dnstap(.clientResponse, response: r))
        }
    }

    @Test("mutated dnstap payloads", arguments: [4, 5] as [UInt64])
    func payloads(seed: UInt64) {
        var m = HostileMutator(seed: seed)
        for _ in 0..<3000 { _ = try? ResolverEvent.decode(m.mutate(Self.payload)) }
    }

    @Test("mutated sessions, fed in pieces, through the reader", arguments: [6, 7] as [UInt64])
    func sessions(seed: UInt64) {
        var m = HostileMutator(seed: seed)
        for k in 0..<2000 {
            let bytes = m.mutate(Self.session)
            var decoder = FrameStreamDecoder(maximumFrameSize: 4096)
            var reader = FrameStreamReader()
            var i = 0
            let step = 1 + k % 17
            loop: while i < bytes.count {
                decoder.append(bytes[i..<min(bytes.count, i + step)])
                i += step
                while true {
                    guard let frame = try? decoder.next() else { break }
                    guard (try? reader.receive(frame)) != nil else { break loop }
                    if case .data(let p) = frame { _ = try? ResolverEvent.decode(p) }
                }
                #expect(decoder.bufferedBytes <= i)
            }
        }
    }
}
