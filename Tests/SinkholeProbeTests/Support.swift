import Foundation
import SinkholeProbe

/// Bytes of a fixture under `Fixtures/` (see its README.md).
func fixture(_ name: String) throws -> [UInt8] {
    guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil) else {
        throw FixtureMissing(name: name)
    }
    return Array(try Data(contentsOf: url))
}

struct FixtureMissing: Error { var name: String }

/// The fixtures with what each asks for.
let captured: [(file: String, result: SinkholeProbeResult)] = [
    ("curl-http.bin", .http(ProbedHTTPRequest(method: "GET", host: "c2.example.test", path: "/x"))),
    ("curl-https.bin", .tls(ProbedClientHello(serverName: "c2.example.test"))),
    ("openssl-s_client-tls13.bin", .tls(ProbedClientHello(serverName: "c2.example.test"))),
    ("openssl-s_client-tls12-trailing-dot.bin", .tls(ProbedClientHello(serverName: "legacy.example.test"))),
    ("openssl-s_client-noservername.bin", .tls(ProbedClientHello(serverName: nil))),
]

/// Bytes from hex, ignoring spaces and line breaks.
func hex(_ s: String) -> [UInt8] {
    let digits = s.filter(\.isHexDigit)
    var out: [UInt8] = []
    var i = digits.startIndex
    while i < digits.endIndex {
        let j = digits.index(after: i)
        out.append(UInt8(digits[i...j], radix: 16)!)
        i = digits.index(after: j)
    }
    return out
}

/// RFC 8448 §3 ("Simple 1-RTT Handshake"): the client's ClientHello handshake message, SNI `server`.
let rfc8448ClientHello = hex(
    """
    01 00 00 c0 03 03 cb 34 ec b1 e7 81 63 ba 1c 38 c6 da cb 19 6a 6d ff a2 1a 8d 99 12 ec 18 a2 ef 62 83
    02 4d ec e7 00 00 06 13 01 13 03 13 02 01 00 00 91 00 00 00 0b 00 09 00 00 06 73 65 72 76 65 72 ff 01
    00 01 00 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01 03 01 04 00 23 00 00 00 33 00
    26 00 24 00 1d 00 20 99 38 1d e5 60 e4 bd 43 d2 3d 8e 43 5a 7d ba fe b3 c0 6e 51 c1 3c ae 4d 54 13 69
    1e 52 9a af 2c 00 2b 00 03 02 03 04 00 0d 00 20 00 1e 04 03 05 03 06 03 02 03 08 04 08 05 08 06 04 01
    05 01 06 01 02 01 04 02 05 02 06 02 02 02 00 2d 00 02 01 01 00 1c 00 02 40 01
    """)

/// A handshake message in TLS records: one record unless `pieces` sizes are given (the last takes the rest).
func records(_ handshake: [UInt8], pieces: [Int] = [], type: UInt8 = 22, version: UInt16 = 0x0301) -> [UInt8] {
    var out: [UInt8] = []
    var rest = handshake[...]
    for n in pieces + [Int.max] where !rest.isEmpty {
        let piece = rest.prefix(n)
        rest = rest.dropFirst(piece.count)
        out += [type, UInt8(version >> 8), UInt8(version & 0xFF), UInt8(piece.count >> 8), UInt8(piece.count & 0xFF)] + piece
    }
    return out
}

func u16(_ v: Int) -> [UInt8] { [UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

/// A server_name extension's data with these (type, name) entries.
func serverNameList(_ names: [(UInt8, [UInt8])]) -> [UInt8] {
    let entries = names.flatMap { [$0.0] + u16($0.1.count) + $0.1 }
    return u16(entries.count) + entries
}

/// A ClientHello handshake message built field by field; every length can be overridden.
struct HelloBuilder {
    var version: UInt16 = 0x0303
    var sessionID = [UInt8](repeating: 7, count: 32)
    var suites: [UInt8] = [0x13, 0x01, 0x13, 0x02]
    var compression: [UInt8] = [0]
    var extensions: [(UInt16, [UInt8])] = []
    var omitExtensions = false
    var extensionsLength: Int?
    var bodyLength: Int?
    var handshakeType: UInt8 = 1

    init(serverName: String? = "c2.example.test") {
        if let serverName { extensions.append((0, serverNameList([(0, Array(serverName.utf8))]))) }
        extensions.append((43, [2, 3, 4]))
    }

    var bytes: [UInt8] {
        var body = u16(Int(version)) + [UInt8](repeating: 0xAB, count: 32)
        body += [UInt8(sessionID.count)] + sessionID
        body += u16(suites.count) + suites
        body += [UInt8(compression.count)] + compression
        if !omitExtensions {
            let ext = extensions.flatMap { u16(Int($0.0)) + u16($0.1.count) + $0.1 }
            body += u16(extensionsLength ?? ext.count) + ext
        }
        let n = bodyLength ?? body.count
        return [handshakeType, UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + body
    }

    var wire: [UInt8] { records(bytes) }
}

extension SinkholeProbeResult {
    var malformedCode: SinkholeProbeError.Code? {
        if case .malformed(_, let e) = self { return e.code }
        return nil
    }

    var isIncomplete: Bool {
        if case .incomplete = self { return true }
        return false
    }

    var request: ProbedHTTPRequest? {
        if case .http(let r) = self { return r }
        return nil
    }
}

func examine(_ s: String, maximumBytes: Int = SinkholeProbe.defaultMaximumBytes) -> SinkholeProbeResult {
    SinkholeProbe.examine(Array(s.utf8), maximumBytes: maximumBytes)
}
