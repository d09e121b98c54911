import FlowCodec

/// A TLS ClientHello (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2) up to its server_name (RFC 6066 §3):
/// handshake records are reassembled (a ClientHello may span several), the handshake header must
/// be a ClientHello whose length fits the bytes examined, and every field inside it must fit the
/// message exactly.
enum ClientHelloProbe {
    static let handshakeRecord: UInt8 = 22
    static let clientHello: UInt8 = 1
    /// RFC 8446 §5.1: a record's fragment is at most 2^14 bytes.
    static let maximumFragment = 16384
    static let serverNameExtension: UInt16 = 0
    static let hostNameType: UInt8 = 0
    /// version(2) random(32) session_id(1+) cipher_suites(2+2) compression_methods(1+1).
    static let minimumClientHello = 2 + 32 + 1 + 2 + 2 + 1 + 1

    static func parse(_ input: ProbeInput) throws(ProbeStop) -> ProbedClientHello {
        let b = input.bytes
        var handshake: [UInt8] = []
        var needed: Int?
        var i = 0
        while needed.map({ handshake.count < $0 }) ?? true {
            guard i + 5 <= b.count else { throw input.missing("the ClientHello") }
            guard b[i] == handshakeRecord else {
                throw .bad(.record, "a record of content type \(b[i]) before the ClientHello ended")
            }
            guard b[i + 1] == 3, b[i + 2] <= 4 else {
                throw .bad(.record, "a record version of 0x\(String(Int(b[i + 1]) << 8 | Int(b[i + 2]), radix: 16))")
            }
            let length = Int(b[i + 3]) << 8 | Int(b[i + 4])
            guard length >= 1, length <= maximumFragment else { throw .bad(.record, "a handshake record of \(length) bytes") }
            let end = i + 5 + length
            handshake += b[(i + 5)..<min(end, b.count)]
            if needed == nil, handshake.count >= 4 {
                guard handshake[0] == clientHello else {
                    throw .bad(.handshake, "handshake message type \(handshake[0]), not a ClientHello")
                }
                let bodyLength = Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3])
                guard bodyLength >= minimumClientHello else { throw .bad(.handshake, "a ClientHello of \(bodyLength) bytes") }
                // It and its record header must fit in the bytes examined.
                guard 5 + 4 + bodyLength <= input.limit else {
                    throw .bad(.tooLarge, "a ClientHello of \(bodyLength) bytes, more than the \(input.limit) examined")
                }
                needed = 4 + bodyLength
            }
            if let n = needed, handshake.count >= n { break }
            guard end <= b.count else { throw input.missing("the ClientHello") }
            i = end
        }
        guard let n = needed else { throw input.missing("the ClientHello") }
        var body = Cursor(bytes: handshake, position: 4, end: n)
        return try parseBody(&body)
    }

    static func parseBody(_ c: inout Cursor) throws(ProbeStop) -> ProbedClientHello {
        let version = try c.u16("legacy_version")
        guard version >> 8 == 3 else { throw .bad(.clientHello, "legacy_version 0x\(String(version, radix: 16))") }
        try c.skip(32, "random")
        let sessionID = try c.u8("legacy_session_id length")
        guard sessionID <= 32 else { throw .bad(.clientHello, "a session id of \(sessionID) bytes") }
        try c.skip(Int(sessionID), "legacy_session_id")
        let suites = try c.u16("cipher_suites length")
        guard suites >= 2, suites % 2 == 0 else { throw .bad(.clientHello, "cipher_suites of \(suites) bytes") }
        try c.skip(Int(suites), "cipher_suites")
        let compression = try c.u8("legacy_compression_methods length")
        guard compression >= 1 else { throw .bad(.clientHello, "no compression methods") }
        try c.skip(Int(compression), "legacy_compression_methods")
        guard c.remaining > 0 else { return ProbedClientHello(serverName: nil, legacyVersion: version) }
        let extensionsLength = Int(try c.u16("extensions length"))
        guard extensionsLength == c.remaining else {
            throw .bad(.clientHello, "extensions of \(extensionsLength) bytes where \(c.remaining) remain")
        }
        var seen = Set<UInt16>()
        var serverName: String?
        while c.remaining > 0 {
            let type = try c.u16("extension type")
            let length = Int(try c.u16("extension length"))
            guard seen.insert(type).inserted else { throw .bad(.clientHello, "extension \(type) twice") }
            var data = try c.take(length, "extension \(type)")
            if type == serverNameExtension { serverName = try parseServerName(&data) }
        }
        return ProbedClientHello(serverName: serverName, legacyVersion: version)
    }

    /// ServerNameList: a 2-byte length, then entries of name_type(1) and a 2-byte-length name.
    static func parseServerName(_ c: inout Cursor) throws(ProbeStop) -> String? {
        let listLength = Int(try c.u16(serverName: "server_name_list length"))
        guard listLength >= 3, listLength == c.remaining else {
            throw .bad(.serverName, "a server_name_list of \(listLength) bytes where \(c.remaining) remain")
        }
        var name: String?
        while c.remaining > 0 {
            let type = try c.u8(serverName: "name_type")
            let length = Int(try c.u16(serverName: "name length"))
            guard length >= 1 else { throw .bad(.serverName, "an empty name") }
            let bytes = try c.take(length, serverName: "name")
            guard type == hostNameType else { continue }
            guard name == nil else { throw .bad(.serverName, "two host_names") }
            let text = bytes.bytes[bytes.position..<bytes.end]
            // RFC 6066 §3: literal IPv4 and IPv6 addresses are not permitted in HostName.
            if text.allSatisfy({ HTTPRequestProbe.isDigit($0) || $0 == UInt8(ascii: ".") }), text.count <= 16,
                IPAddress(String(decoding: text.last == UInt8(ascii: ".") ? text.dropLast() : text, as: UTF8.self)) != nil
            {
                throw .bad(.serverName, "an address as host_name")
            }
            guard let valid = HostName.normalise(text) else { throw .bad(.serverName, "a host_name that is not a valid DNS name") }
            name = valid
        }
        return name
    }
}

/// A bounded reader over `bytes[position..<end]`: every read checks what remains first, and a
/// short read is malformed (the message around it is complete).
struct Cursor {
    let bytes: [UInt8]
    var position: Int
    let end: Int

    var remaining: Int { end - position }

    mutating func u8(_ what: String, code: SinkholeProbeError.Code = .clientHello) throws(ProbeStop) -> UInt8 {
        guard remaining >= 1 else { throw short(what, code) }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16(_ what: String, code: SinkholeProbeError.Code = .clientHello) throws(ProbeStop) -> UInt16 {
        guard remaining >= 2 else { throw short(what, code) }
        defer { position += 2 }
        return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
    }

    mutating func u8(serverName what: String) throws(ProbeStop) -> UInt8 { try u8(what, code: .serverName) }
    mutating func u16(serverName what: String) throws(ProbeStop) -> UInt16 { try u16(what, code: .serverName) }

    mutating func skip(_ n: Int, _ what: String) throws(ProbeStop) { _ = try take(n, what) }

    /// The next `n` bytes as a cursor of their own.
    mutating func take(_ n: Int, _ what: String, code: SinkholeProbeError.Code = .clientHello) throws(ProbeStop) -> Cursor {
        guard n >= 0, remaining >= n else { throw short(what, code) }
        defer { position += n }
        return Cursor(bytes: bytes, position: position, end: position + n)
    }

    mutating func take(_ n: Int, serverName what: String) throws(ProbeStop) -> Cursor { try take(n, what, code: .serverName) }

    private func short(_ what: String, _ code: SinkholeProbeError.Code) -> ProbeStop {
        .bad(code, "\(what) runs past the end of its enclosing field (\(remaining) bytes left)")
    }
}
