import SinkholeProbe
import Testing

/// ClientHellos: captured from curl and OpenSSL, RFC 8448's, and built to break one rule each.
@Suite struct ClientHelloProbeTests {
    @Test("Captured ClientHellos and the HTTP request give their server names", arguments: captured.map(\.file))
    func captures(file: String) throws {
        let bytes = try fixture(file)
        let expected = captured.first { $0.file == file }!.result
        #expect(SinkholeProbe.examine(bytes) == expected)
    }

    @Test(
        "Every proper prefix of a capture is incomplete, never malformed, and says its protocol once it can",
        arguments: captured.map(\.file))
    func prefixes(file: String) throws {
        let bytes = try fixture(file)
        let kind = try #require(SinkholeProbe.examine(bytes).recognisedProtocol)
        for n in 0..<bytes.count {
            let result = SinkholeProbe.examine(bytes.prefix(n))
            #expect(result.isIncomplete, "prefix of \(n) bytes: \(result)")
            if n >= 5, case .incomplete(let p) = result { #expect(p == kind, "prefix of \(n) bytes") }
        }
    }

    @Test("Bytes after a complete ClientHello (early data, the next flight) are not looked at")
    func trailing() throws {
        let bytes = try fixture("openssl-s_client-tls13.bin") + [23, 3, 3, 0, 5, 1, 2, 3]
        #expect(SinkholeProbe.examine(bytes).name == "c2.example.test")
    }

    @Test("RFC 8448's ClientHello in one record, and split over records of 1, 7 and 100 bytes")
    func rfc8448() {
        #expect(SinkholeProbe.examine(records(rfc8448ClientHello)) == .tls(ProbedClientHello(serverName: "server")))
        for pieces in [[1], [7, 1, 1], [100], [3, 3, 3, 3, 3]] {
            let wire = records(rfc8448ClientHello, pieces: pieces)
            #expect(SinkholeProbe.examine(wire).name == "server", "pieces \(pieces)")
            for n in 0..<wire.count { #expect(SinkholeProbe.examine(wire.prefix(n)).isIncomplete, "prefix \(n) of pieces \(pieces)") }
        }
    }

    @Test("A ClientHello without extensions (TLS 1.0 style) or without server_name has no name")
    func noName() {
        var b = HelloBuilder(serverName: nil)
        #expect(SinkholeProbe.examine(b.wire) == .tls(ProbedClientHello(serverName: nil)))
        b.omitExtensions = true
        #expect(SinkholeProbe.examine(b.wire) == .tls(ProbedClientHello(serverName: nil)))
    }

    @Test("An unknown name type beside host_name is skipped; the host_name is taken")
    func otherNameType() {
        var b = HelloBuilder(serverName: nil)
        b.extensions.insert((0, serverNameList([(7, [1, 2, 3]), (0, Array("C2.EXAMPLE.test.".utf8))])), at: 0)
        #expect(SinkholeProbe.examine(b.wire).name == "c2.example.test")
    }

    static let hostile: [(String, [UInt8], SinkholeProbeError.Code)] = {
        var cases: [(String, [UInt8], SinkholeProbeError.Code)] = []
        let good = HelloBuilder()
        cases.append(("a record of length 0", [22, 3, 1, 0, 0] + good.bytes, .record))
        cases.append(("a record longer than 2^14", [22, 3, 1, 0x40, 0x01] + good.bytes, .record))
        cases.append(("a record version 0x0307", records(good.bytes, version: 0x0307), .record))
        cases.append(
            ("an alert between the ClientHello's records", records(Array(good.bytes.prefix(10))) + [21, 3, 3, 0, 2, 2, 40], .record))
        var b = good
        b.handshakeType = 2
        cases.append(("a ServerHello", b.wire, .handshake))
        b = good
        b.bodyLength = 0xFF_FFFF
        cases.append(("a ClientHello of 16 MiB", b.wire, .tooLarge))
        b = good
        b.bodyLength = 10
        cases.append(("a ClientHello of 10 bytes", b.wire, .handshake))
        b = good
        b.bodyLength = good.bytes.count - 4 + 5
        cases.append(
            ("a handshake length past the ClientHello's fields (padding after it)", records(b.bytes + [0, 0, 0, 0, 0]), .clientHello))
        b = good
        b.version = 0x0200
        cases.append(("legacy_version 0x0200", b.wire, .clientHello))
        b = good
        b.sessionID = [UInt8](repeating: 1, count: 33)
        cases.append(("a session id of 33 bytes", b.wire, .clientHello))
        b = good
        b.suites = [0x13]
        cases.append(("an odd cipher_suites length", b.wire, .clientHello))
        b = good
        b.suites = []
        cases.append(("no cipher suites", b.wire, .clientHello))
        b = good
        b.compression = []
        cases.append(("no compression methods", b.wire, .clientHello))
        b = good
        b.extensionsLength = 2
        cases.append(("an extensions length shorter than the extensions", b.wire, .clientHello))
        b = good
        b.extensionsLength = 0xFFFF
        cases.append(("an extensions length past the message", b.wire, .clientHello))
        b = good
        b.extensions.append((43, [2, 3, 4]))
        cases.append(("an extension twice", b.wire, .clientHello))
        b = good
        b.extensions.append((0xFE0D, [1, 2]))
        b.extensions[b.extensions.count - 1].1 = []
        b.extensions.append((5, [UInt8](repeating: 0, count: 3)))
        b.extensionsLength = nil
        var raw = b.bytes
        raw[raw.count - 4] = 0xFF // the last extension's length past the end
        cases.append(("an extension's length past the end", records(raw), .clientHello))
        func sni(_ data: [UInt8]) -> [UInt8] {
            var b = HelloBuilder(serverName: nil)
            b.extensions.insert((0, data), at: 0)
            return b.wire
        }
        cases.append(("an empty server_name extension", sni([]), .serverName))
        cases.append(("a server_name_list length past its extension", sni(u16(50) + [0, 0, 1, 0x61]), .serverName))
        cases.append(("a server_name_list length short of its extension", sni(u16(4) + [0, 0, 1, 0x61, 0]), .serverName))
        cases.append(("a name length past the list", sni(u16(4) + [0, 0, 9, 0x61]), .serverName))
        cases.append(("an empty host_name", sni(serverNameList([(0, [])])), .serverName))
        cases.append(("two host_names", sni(serverNameList([(0, Array("a.example".utf8)), (0, Array("b.example".utf8))])), .serverName))
        cases.append(("an IPv4 address as host_name", sni(serverNameList([(0, Array("192.0.2.1".utf8))])), .serverName))
        cases.append(("a space in host_name", sni(serverNameList([(0, Array("c2 example".utf8))])), .serverName))
        cases.append(("UTF-8 in host_name", sni(serverNameList([(0, Array("例え.テスト".utf8))])), .serverName))
        cases.append(("NUL in host_name", sni(serverNameList([(0, Array("c2.example\u{0}.evil".utf8))])), .serverName))
        cases.append(("an empty label", sni(serverNameList([(0, Array("c2..example".utf8))])), .serverName))
        cases.append(
            ("a label of 64", sni(serverNameList([(0, Array((String(repeating: "a", count: 64) + ".example").utf8))])), .serverName))
        let long = (0..<4).map { _ in String(repeating: "b", count: 63) }.joined(separator: ".") // 255
        cases.append(("a name of 255", sni(serverNameList([(0, Array(long.utf8))])), .serverName))
        return cases
    }()

    @Test("Hostile ClientHellos are malformed with the right code", arguments: hostile.indices)
    func malformed(index: Int) {
        let (what, bytes, code) = Self.hostile[index]
        let result = SinkholeProbe.examine(bytes)
        #expect(result.malformedCode == code, "\(what): \(result)")
        #expect(result.recognisedProtocol == .tls, "\(what)")
    }

    @Test("A ClientHello longer than the bytes examined is too large as soon as its header says so, or when the cap fills")
    func tooLarge() {
        var b = HelloBuilder()
        b.extensions.append((21, [UInt8](repeating: 0, count: 3000))) // padding
        let wire = b.wire
        #expect(SinkholeProbe.examine(wire).name == "c2.example.test")
        #expect(SinkholeProbe.examine(wire, maximumBytes: 1000).malformedCode == .tooLarge)
        #expect(SinkholeProbe.examine(wire.prefix(9), maximumBytes: 1000).malformedCode == .tooLarge)
        // Many small records, each within the cap but together past it.
        let split = records(b.bytes, pieces: [Int](repeating: 10, count: 400))
        #expect(SinkholeProbe.examine(split).name == "c2.example.test")
        #expect(SinkholeProbe.examine(split, maximumBytes: 3200).malformedCode == .tooLarge)
        #expect(SinkholeProbe.examine(split.prefix(3000), maximumBytes: 3200).isIncomplete)
    }

    @Test("Not TLS: a first byte of 0x16 not followed by 3, SSLv2's hello")
    func notTLS() {
        #expect(SinkholeProbe.examine([0x16]) == .incomplete(nil))
        #expect(SinkholeProbe.examine([0x16, 0x01, 0x00]) == .unknownProtocol)
        #expect(SinkholeProbe.examine(hex("80 2e 01 00 02 00 15 00 00 00 10")) == .unknownProtocol)
    }
}
