import DNSWire

extension FuzzTarget {
    /// The one key the `dns-message` target knows: `mamori-xfr-key.`, HMAC-SHA256, the key of
    /// `Tests/DNSWireTests/make-vectors.py` (so its signed seeds get past the MAC check).
    static let dnsKey = TSIGKey(
        name: try! DNSName("mamori-xfr-key."), secret: Array("mamori-test-key-32-bytes-long-!!".utf8),
        algorithm: .hmacSHA256)

    /// The input as one DNS message: parsed; if it parses, written again (compressed), which must
    /// succeed unless it no longer fits 65535 octets, and parsed again to the same sections. Then
    /// its TSIG is checked against one key as a server checks a request, a rejection's answer is
    /// built and must parse, and the input is fed to a response verifier with that key.
    static func dnsMessage(_ bytes: UnsafeRawBufferPointer) {
        let input = Array(bytes)
        let key = dnsKey
        if let message = try? DNSMessage.parse(input) {
            do throws(DNSWireError) {
                let again = try message.serialize()
                let reparsed = try DNSMessage.parse(again)
                precondition(reparsed.questions == message.questions, "the questions survive a round trip")
                precondition(reparsed.answers == message.answers, "the answers survive a round trip")
                precondition(reparsed.authorities == message.authorities, "the authorities survive a round trip")
                precondition(reparsed.additionals == message.additionals, "the additionals survive a round trip")
                let third = try reparsed.serialize()
                precondition(third == again, "writing a parsed message again is stable")
            } catch {
                // Only size: what parsed can be written, but a pointer into opaque data cannot be
                // rebuilt, so the written message may grow past 65535 octets.
                precondition(error == .tooLarge, "a parsed message could not be written: \(error)")
            }
        }
        switch try? DNSMessage.checkTSIG(input, keys: [key.name: key], now: Self.now / 1000) {
        case .rejected(let rejection):
            let answer = try? rejection.response(now: Self.now / 1000)
            precondition(answer.map { (try? DNSMessage.parse($0)) != nil } ?? true, "a rejection's answer parses")
        case .verified(_, let mac):
            precondition(mac.count >= key.algorithm.minimumMACSize, "no MAC shorter than the minimum verifies")
        case .unsigned, nil:
            break
        }
        var verifier = TSIGResponseVerifier(key: key, requestMAC: nil)
        _ = try? verifier.verify(input, now: Self.now / 1000)
    }
}
